import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentReporter } from "../../pipeline/reporter.ts";
import {
  SUMMARY_LIMIT_BYTES,
  createGitHubClient,
  fitBytes,
  publishCard,
  writeJobSummary,
  type PublishOptions,
} from "../../reports/github.ts";
import { CARD_MARKER, renderCard } from "../../reports/markdown.ts";
import { fixtureCard } from "../helpers/reports-fixture.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.ts";

let api: GitHubStandIn;
const sleeps: number[] = [];

beforeEach(async () => {
  api = await startGitHubStandIn();
  sleeps.length = 0;
});
afterEach(async () => {
  await api.close();
});

function options(
  body: string,
  extra: Partial<Omit<PublishOptions, "reporter">> = {},
): PublishOptions & { reporter: ReturnType<typeof silentReporter> } {
  return {
    octokit: createGitHubClient("test-token", api.baseUrl),
    owner: "acme",
    repo: "recs",
    issueNumber: 7,
    body,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...extra,
    reporter: silentReporter(),
  };
}

const writes = () => api.requests.filter((r) => r.method !== "GET");

describe("publishCard against the GitHub stand-in", () => {
  it("creates the comment when the PR has none, with the marker and the token", async () => {
    api.seed("acme", "recs", 7, "LGTM");
    const card = renderCard(fixtureCard());
    const result = await publishCard(options(card));
    expect(result).toMatchObject({ posted: true, action: "created" });
    expect(writes()).toHaveLength(1);
    expect(writes()[0]).toMatchObject({
      method: "POST",
      url: "/repos/acme/recs/issues/7/comments",
    });
    const mine = api.comments.filter((c) => c.body.includes(CARD_MARKER));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toBe(card);
    expect(api.requests[0]?.authorization).toBe("token test-token");
    expect(api.requests[0]?.url).toContain("per_page=100");
  });

  it("updates the existing comment on the next push instead of adding one", async () => {
    await publishCard(options(`${CARD_MARKER}\nfirst push`));
    const second = await publishCard(options(`${CARD_MARKER}\nsecond push`));
    expect(second).toMatchObject({ posted: true, action: "updated" });
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]?.body).toBe(`${CARD_MARKER}\nsecond push`);
    const patch = writes()[1];
    expect(patch?.method).toBe("PATCH");
    expect(patch?.url).toBe(`/repos/acme/recs/issues/comments/${api.comments[0]?.id}`);
  });

  it("prepends the marker to a body without one, so the next push finds it", async () => {
    await publishCard(options("plain card"));
    expect(api.comments[0]?.body.startsWith(`${CARD_MARKER}\n`)).toBe(true);
    expect(await publishCard(options("plain card again"))).toMatchObject({ action: "updated" });
    expect(api.comments).toHaveLength(1);
  });

  it("does not mistake a reply quoting the card for the card", async () => {
    api.seed("acme", "recs", 7, `> ${CARD_MARKER}\n> ## Model card\n\nwhy did HR@20 drop?`);
    expect(await publishCard(options(`${CARD_MARKER}\ncard`))).toMatchObject({ action: "created" });
    expect(api.comments[0]?.body).toContain("why did HR@20 drop?");
  });

  it("updates only its own comment: a marker planted by someone else is not the card", async () => {
    const planted = api.seed("acme", "recs", 7, `${CARD_MARKER}\nfake card`, "mallory");
    const result = await publishCard(options(`${CARD_MARKER}\nreal card`));
    expect(result).toMatchObject({ posted: true, action: "created" });
    expect(api.comments.find((c) => c.id === planted.id)?.body).toBe(`${CARD_MARKER}\nfake card`);
    // The next push updates the bot's card, not the planted one.
    expect(await publishCard(options(`${CARD_MARKER}\nnewer card`))).toMatchObject({
      action: "updated",
      commentId: (result as { commentId: number }).commentId,
    });
  });

  it("follows Link pagination to find the marker on page 2", async () => {
    for (let i = 0; i < 150; i++) api.seed("acme", "recs", 7, `review comment ${i}`);
    const sticky = api.seed("acme", "recs", 7, `${CARD_MARKER}\nold card`);
    api.seed("acme", "recs", 8, `${CARD_MARKER}\nanother PR's card`);
    const result = await publishCard(options(`${CARD_MARKER}\nnew card`));
    expect(result).toMatchObject({ posted: true, action: "updated", commentId: sticky.id });
    const gets = api.requests.filter((r) => r.method === "GET").map((r) => r.url);
    expect(gets).toEqual([
      "/repos/acme/recs/issues/7/comments?per_page=100",
      "/repos/acme/recs/issues/7/comments?per_page=100&page=2",
    ]);
    expect(
      api.comments.filter((c) => c.issue === "acme/recs#7" && c.body.includes(CARD_MARKER)),
    ).toHaveLength(1);
    expect(api.comments.find((c) => c.issue === "acme/recs#8")?.body).toContain(
      "another PR's card",
    );
  });

  it("falls back without failing when the token is read-only (fork PR: 403)", async () => {
    api.refuse({ kind: "read-only" });
    const opts = options("card");
    const result = await publishCard(opts);
    expect(result).toMatchObject({ posted: false, status: 403 });
    expect(result.posted === false && result.reason).toMatch(/read-only.*fork/);
    expect(opts.reporter.warnings.join("\n")).toMatch(/not posted on acme\/recs#7.*job summary/);
    expect(writes()).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("waits out a 429 with retry-after and then posts", async () => {
    api.refuse({ kind: "rate-limit", status: 429, times: 1, retryAfter: 3 });
    const opts = options("card");
    const result = await publishCard(opts);
    expect(result).toMatchObject({ posted: true, action: "created" });
    expect(sleeps).toEqual([3000]);
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "GET", "POST"]);
    expect(opts.reporter.warnings[0]).toMatch(/429.*retrying in 3 s/);
  });

  it("treats a 403 with x-ratelimit-remaining: 0 as a rate limit and waits until the reset", async () => {
    const now = 1_700_000_000_000;
    api.refuse({ kind: "rate-limit", status: 403, times: 2, reset: now / 1000 + 10 });
    const result = await publishCard(options("card", { now: () => now }));
    expect(result).toMatchObject({ posted: true, action: "created" });
    expect(sleeps).toEqual([11_000, 11_000]);
  });

  it("backs off on 5xx a bounded number of times, then gives up without throwing", async () => {
    api.refuse({ kind: "server-error", status: 502, times: 10 });
    const result = await publishCard(options("card", { retries: 3 }));
    expect(result).toMatchObject({ posted: false, status: 502 });
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(api.requests).toHaveLength(4);
  });

  it("gives up at once when the rate limit resets later than it will wait", async () => {
    api.refuse({ kind: "rate-limit", status: 429, times: 1, retryAfter: 3600 });
    const result = await publishCard(options("card"));
    expect(result).toMatchObject({ posted: false, status: 429 });
    expect(sleeps).toEqual([]);
  });

  it("throws with a hint when the setup is wrong (unknown repository)", async () => {
    const octokit = createGitHubClient("t", `${api.baseUrl}/nowhere`);
    await expect(publishCard({ ...options("card"), octokit })).rejects.toThrow(/404/);
  });
});

describe("writeJobSummary", () => {
  let dir: string;
  let file: string;
  // core.summary keeps the first path it sees, so this file uses one summary file throughout.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reports-summary-"));
    file = join(dir, "summary.md");
    process.env.GITHUB_STEP_SUMMARY = file;
  });
  afterAll(() => {
    delete process.env.GITHUB_STEP_SUMMARY;
    rmSync(dir, { recursive: true, force: true });
  });

  it("appends the card to the step summary", async () => {
    writeFileSync(file, "");
    const card = renderCard(fixtureCard());
    const result = await writeJobSummary(card);
    expect(result).toMatchObject({ written: true, truncated: false });
    expect(readFileSync(file, "utf8")).toBe(`${card}\n`);
  });

  it("cuts a card over 1 MiB (counting what the step wrote before) and says so", async () => {
    writeFileSync(file, "earlier step output\n");
    const huge = `${CARD_MARKER}\n${"| a | ü |\n".repeat(200_000)}`;
    const result = await writeJobSummary(huge);
    expect(result).toMatchObject({ written: true, truncated: true });
    expect(statSync(file).size).toBeLessThanOrEqual(SUMMARY_LIMIT_BYTES);
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("earlier step output\n")).toBe(true);
    expect(text).toContain("1 MiB job summary limit");
    expect(text).not.toContain("\uFFFD");
  });

  it("reports a full summary instead of writing past the limit", async () => {
    writeFileSync(file, "x".repeat(SUMMARY_LIMIT_BYTES));
    expect(await writeJobSummary("card")).toMatchObject({ written: false });
    expect(statSync(file).size).toBe(SUMMARY_LIMIT_BYTES);
  });

  it("keeps fences closed when cutting", () => {
    const text = `intro\n\n\`\`\`mermaid\n${"a --> b\n".repeat(1000)}\`\`\`\n`;
    const cut = fitBytes(text, 2000) as string;
    expect(Buffer.byteLength(cut) + 1).toBeLessThanOrEqual(2000);
    expect((cut.match(/^```/gm) ?? []).length % 2).toBe(0);
  });
});
