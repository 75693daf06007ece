/**
 * The action adapter (actions/common/run-stage.ts) on its own: inputs to settings, masking,
 * outputs from results and from a failed stage's partial result, the job summary, and failures
 * that carry the error's message and hint. Stages here are small functions; the real stages run
 * through the actions in test/integration/actions-run.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ResultFields } from "../../actions/common/result-fields.ts";
import { inputFlags, runAction, settingInputs } from "../../actions/common/run-stage.ts";
import { secretValues } from "../../actions/common/secrets.ts";
import { PipelineError, StageFailure } from "../../pipeline/errors.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";
import type { StageResults } from "../../pipeline/run/results.ts";

let dir: string;
let stdout: string[];
const saved = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "actions-run-stage-"));
  // @actions/core keeps the summary path from its first write: one file for the whole file.
  await writeFile(join(dir, "summary.md"), "");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const key of Object.keys(process.env)) {
    if (key.startsWith("INPUT_") || key.startsWith("MLOPS_")) delete process.env[key];
  }
  process.env.GITHUB_OUTPUT = join(dir, "output");
  process.env.GITHUB_STEP_SUMMARY = join(dir, "summary.md");
  process.env.INPUT_STORE = join(dir, "store");
  await writeFile(join(dir, "output"), "");
  stdout = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = { ...saved };
  process.exitCode = undefined;
});

async function outputs(): Promise<string> {
  return readFile(join(dir, "output"), "utf8");
}

async function summarySince(run: () => Promise<void>): Promise<string> {
  const file = join(dir, "summary.md");
  const before = (await readFile(file, "utf8")).length;
  await run();
  return (await readFile(file, "utf8")).slice(before);
}

describe("inputs", () => {
  it("names each input after its setting's CLI flag", () => {
    const inputs = settingInputs();
    expect(inputs.get("sessions")).toBe("data.sessions");
    expect(inputs.get("store")).toBe("store");
    expect(inputs.get("session-gap-minutes")).toBe("transform.sessionGapMinutes");
    expect(inputs.size).toBe(SETTINGS.filter((s) => s.flag).length);
  });

  it("passes non-empty inputs as flags and leaves empty ones to the config and environment", () => {
    process.env.INPUT_SESSIONS = "300";
    process.env.INPUT_SEED = "";
    process.env["INPUT_SESSION-GAP-MINUTES"] = "45";
    expect(inputFlags()).toEqual({
      store: join(dir, "store"),
      "data.sessions": "300",
      "transform.sessionGapMinutes": "45",
    });
  });
});

describe("secrets", () => {
  it("masks credentials from inputs and the environment, never ordinary settings", () => {
    const key =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
    const values = secretValues({
      "INPUT_GITHUB-TOKEN": "ghs_abcdefghijklmnop",
      SNOWFLAKE_PASSWORD: "pw",
      SNOWFLAKE_PRIVATE_KEY: key,
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
      AWS_SESSION_TOKEN: "",
      MLOPS_SESSIONS: "300",
      SNOWFLAKE_ACCOUNT: "myorg-account",
    });
    expect(values.sort()).toEqual(
      [
        "ghs_abcdefghijklmnop",
        "pw",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "wJalrXUtnFEMI/K7MDENG",
      ].sort(),
    );
  });

  it("tells the runner to mask them before the stage logs anything", async () => {
    process.env.SNOWFLAKE_PASSWORD = "hunter2-secret";
    let logged = -1;
    await runAction("fake", {
      run: async (ctx) => {
        logged = stdout.length;
        ctx.reporter.info("stage running");
        return {};
      },
      outputs: () => ({}),
    });
    const mask = stdout.findIndex((line) => line.includes("::add-mask::hunter2-secret"));
    expect(mask).toBeGreaterThanOrEqual(0);
    expect(mask).toBeLessThan(logged);
  });
});

describe("running a stage", () => {
  it("sets run-id, store and the mapped outputs, and writes a summary table", async () => {
    process.env["INPUT_RUN-ID"] = "run-1";
    const summary = await summarySince(() =>
      runAction("fake", {
        // `nope` is a field of the result's type that this result does not have.
        run: async (ctx): Promise<{ runId: string; model: { path: string }; nope?: number }> => ({
          runId: ctx.runId,
          model: { path: "runs/run-1/fake/model" },
        }),
        outputs: (r) => ({ artifact: r.string("model.path"), missing: r.number("nope") }),
        summary: () => "extra <b>markdown</b>",
      }),
    );
    expect(process.exitCode).toBeUndefined();
    const written = await outputs();
    expect(written).toMatch(/run-id<<(.+)\nrun-1\n\1/);
    expect(written).toContain(`\n${join(dir, "store")}\n`);
    expect(written).toMatch(/artifact<<(.+)\nruns\/run-1\/fake\/model\n\1/);
    expect(written).not.toContain("missing");
    expect(summary).toContain("fake: ✅ succeeded");
    expect(summary).toContain("<td><code>artifact</code></td><td>runs/run-1/fake/model</td>");
    expect(summary).toContain("extra <b>markdown</b>");
    expect(stdout.join("")).toContain("::group::fake (run run-1)");
  });

  it("fails with the error's message and hint, and still sets the run id", async () => {
    const summary = await summarySince(() =>
      runAction("fake", {
        run: async () => {
          throw new PipelineError("the warehouse is empty", 1, "Run the upload stage first.");
        },
        outputs: () => ({}),
      }),
    );
    expect(process.exitCode).toBe(1);
    const log = stdout.join("");
    expect(log).toContain("::error::the warehouse is empty%0Ahint: Run the upload stage first.");
    expect(await outputs()).toMatch(/run-id<<(.+)\n\d{8}-\d{6}-[0-9a-f]{6}\n\1/);
    expect(summary).toContain("fake: ❌ failed");
    expect(summary).toContain("the warehouse is empty");
  });

  it("sets outputs from a failed stage's partial result", async () => {
    await runAction("fake", {
      run: async (): Promise<{ passed: boolean }> => {
        throw new StageFailure("gate failed: hr20 below 0.1", { passed: false });
      },
      outputs: (r) => ({ passed: r.boolean("passed") }),
    });
    expect(process.exitCode).toBe(1);
    expect(await outputs()).toMatch(/passed<<(.+)\nfalse\n\1/);
  });

  it("fails when the result reports a problem the stage did not throw", async () => {
    await runAction("fake", {
      run: async () => ({ reconciled: false }),
      outputs: (r) => ({ reconciled: r.boolean("reconciled") }),
      failure: (r) => (r.boolean("reconciled") ? undefined : "row counts do not reconcile"),
    });
    expect(process.exitCode).toBe(1);
    expect(stdout.join("")).toContain("::error::row counts do not reconcile");
    expect(await outputs()).toMatch(/reconciled<<(.+)\nfalse\n\1/);
  });

  it("reports a bad input as the setting, the value and what is allowed", async () => {
    process.env.INPUT_SESSIONS = "lots";
    const summary = await summarySince(() =>
      runAction("fake", { run: async () => ({}), outputs: () => ({}) }),
    );
    // It failed before a run id existed: no outputs, so no empty table.
    expect(summary).toContain("fake: ❌ failed");
    expect(summary).not.toContain("<table>");
    expect(summary).toMatch(
      /```text\n.*"data.sessions".*\nhint: Pass --sessions a positive integer.\n```/,
    );
    expect(process.exitCode).toBe(1);
    const log = stdout.join("");
    expect(log).toContain('invalid value "lots" for setting "data.sessions"');
    expect(log).toContain("hint: Pass --sessions a positive integer.");
  });

  it("rejects an invalid run id input", async () => {
    process.env["INPUT_RUN-ID"] = "../escape";
    await runAction("fake", { run: async () => ({}), outputs: () => ({}) });
    expect(process.exitCode).toBe(1);
    expect(stdout.join("")).toContain('field "run-id": invalid run id "../escape"');
  });
});

describe("ResultFields", () => {
  it("reads typed values by path and nothing of the wrong type", () => {
    const r = new ResultFields<{
      a: { b: number | { c: string }; c: string; d: boolean; e: number };
    }>({ a: { b: 2, c: "x", d: true, e: Number.NaN } });
    expect(r.number("a.b")).toBe(2);
    expect(r.string("a.c")).toBe("x");
    expect(r.boolean("a.d")).toBe(true);
    expect(r.number("a.c")).toBeUndefined();
    expect(r.number("a.e")).toBeUndefined();
    expect(r.string("a.b.c")).toBeUndefined();
    expect(new ResultFields<{ a: number }>(undefined).get("a")).toBeUndefined();
  });

  it("takes only paths that the stage's result type has", () => {
    const r = new ResultFields<StageResults["evaluate"]>({ gates: { passed: true } });
    expect(r.boolean("gates.passed")).toBe(true);
    // @ts-expect-error: the evaluate stage's result has no `gates.passd`
    expect(r.boolean("gates.passd")).toBeUndefined();
  });
});
