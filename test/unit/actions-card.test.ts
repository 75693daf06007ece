/**
 * Where the card action sends the card: the pull request is found from the event file or
 * the input, the card always goes to the job summary, and the sticky comment is created once
 * and then updated, against a GitHub API stand-in on loopback. A fork's read-only token (403)
 * leaves the job summary as the card's only home, without failing the job.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cardTarget, publishModelCard } from "../../actions/card/publish.ts";
import { silentReporter } from "../../pipeline/reporter.ts";

interface Comment {
  id: number;
  body: string;
  html_url: string;
  user: { login: string };
}

let dir: string;
let server: Server;
let apiUrl: string;
let comments: Comment[] = [];
let readOnly = false;
const requests: string[] = [];

async function body(req: IncomingMessage): Promise<{ body: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as { body: string };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "model-card-"));
  await writeFile(join(dir, "summary.md"), "");
  process.env.GITHUB_STEP_SUMMARY = join(dir, "summary.md");
  server = createServer((req, res) => {
    void (async () => {
      requests.push(`${req.method} ${req.url}`);
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(data));
      };
      if (req.headers.authorization !== "token test-token")
        return json(401, { message: "Bad credentials" });
      if (req.method === "GET" && req.url?.startsWith("/repos/octo/recs/issues/7/comments")) {
        return json(200, comments);
      }
      if (readOnly) return json(403, { message: "Resource not accessible by integration" });
      if (req.method === "POST" && req.url === "/repos/octo/recs/issues/7/comments") {
        const comment = {
          id: comments.length + 1,
          body: (await body(req)).body,
          html_url: `https://github.test/octo/recs/pull/7#issuecomment-${comments.length + 1}`,
          // GitHub answers with the token's bot as the author.
          user: { login: "github-actions[bot]" },
        };
        comments.push(comment);
        return json(201, comment);
      }
      const update = /^\/repos\/octo\/recs\/issues\/comments\/(\d+)$/.exec(req.url ?? "");
      if (req.method === "PATCH" && update) {
        const comment = comments.find((c) => c.id === Number(update[1]));
        if (!comment) return json(404, { message: "Not Found" });
        comment.body = (await body(req)).body;
        return json(200, comment);
      }
      return json(404, { message: "Not Found" });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe("cardTarget", () => {
  it("reads the pull request from the event file", async () => {
    const event = join(dir, "event.json");
    await writeFile(event, JSON.stringify({ pull_request: { number: 7 } }));
    expect(cardTarget("", { GITHUB_REPOSITORY: "octo/recs", GITHUB_EVENT_PATH: event })).toEqual({
      owner: "octo",
      repo: "recs",
      issueNumber: 7,
    });
  });

  it("has no target on a push or a manual run", async () => {
    const event = join(dir, "push.json");
    await writeFile(event, JSON.stringify({ ref: "refs/heads/main" }));
    expect(cardTarget("", { GITHUB_REPOSITORY: "octo/recs", GITHUB_EVENT_PATH: event })).toBe(
      undefined,
    );
  });

  it("takes the input over the event, and rejects one that is not a number", () => {
    expect(cardTarget("12", { GITHUB_REPOSITORY: "octo/recs" })?.issueNumber).toBe(12);
    expect(() => cardTarget("#12", { GITHUB_REPOSITORY: "octo/recs" })).toThrow(
      /field "issue-number": invalid issue number "#12"/,
    );
  });
});

describe("publishModelCard", () => {
  const target = { owner: "octo", repo: "recs", issueNumber: 7 };

  it("creates one comment, then updates it on the next push, and fills the job summary", async () => {
    const reporter = silentReporter();
    const first = await publishModelCard("# Card v1", {
      token: "test-token",
      target,
      apiUrl,
      reporter,
    });
    expect(first).toEqual({
      summary: true,
      commentPosted: true,
      commentUrl: "https://github.test/octo/recs/pull/7#issuecomment-1",
    });
    const second = await publishModelCard("# Card v2", {
      token: "test-token",
      target,
      apiUrl,
      reporter,
    });
    expect(second.commentPosted).toBe(true);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain("# Card v2");
    expect(requests.filter((r) => r.startsWith("POST"))).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith("PATCH"))).toEqual([
      "PATCH /repos/octo/recs/issues/comments/1",
    ]);
    const summary = await readFile(join(dir, "summary.md"), "utf8");
    expect(summary).toContain("# Card v1");
    expect(summary).toContain("# Card v2");
  });

  it("keeps the card in the job summary when a fork's token may not comment", async () => {
    comments = [];
    readOnly = true;
    const reporter = silentReporter();
    const result = await publishModelCard("# Fork card", {
      token: "test-token",
      target,
      apiUrl,
      reporter,
    });
    readOnly = false;
    expect(result).toEqual({ summary: true, commentPosted: false });
    expect(reporter.warnings.join("\n")).toMatch(/403/);
    expect(await readFile(join(dir, "summary.md"), "utf8")).toContain("# Fork card");
  });

  it("writes only the job summary without a pull request or a token", async () => {
    const before = requests.length;
    const reporter = silentReporter();
    expect(
      await publishModelCard("# Push card", { token: "test-token", target: undefined, reporter }),
    ).toEqual({ summary: true, commentPosted: false });
    expect(await publishModelCard("# No token", { token: "", target, reporter })).toEqual({
      summary: true,
      commentPosted: false,
    });
    expect(requests.length).toBe(before);
    expect(reporter.warnings).toEqual(["no github-token: the card is in the job summary only"]);
  });
});
