/**
 * The stage actions' mains run in-process the way the runner runs them: inputs as INPUT_*
 * variables, outputs and the job summary through the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
 * files, on embedded defaults (synthetic data, DuckDB, a local run store) in a temporary folder.
 * upload → transform → train share one run id and store, as the jobs of train-on-pr.yml do.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

/** Parses the runner's file-command format: `name<<DELIMITER`, value lines, `DELIMITER`. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i] ?? "");
    if (!match) continue;
    const [, name, delimiter] = match as unknown as [string, string, string];
    const value: string[] = [];
    while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i] ?? "");
    outputs[name] = value.join("\n");
  }
  return outputs;
}

describe("stage actions on embedded defaults", () => {
  let dir: string;
  const saved = { ...process.env };

  /**
   * Runs one action's main with these inputs; returns its outputs and what it added to the job
   * summary. @actions/core keeps the summary file's path from its first write, so the actions
   * of this file share one summary file (on a runner each step is its own process).
   */
  async function runAction(name: string, inputs: Record<string, string>) {
    const outputFile = join(dir, `${name}.output`);
    const summaryFile = join(dir, "summary.md");
    const summaryBefore = (await readFile(summaryFile, "utf8")).length;
    await writeFile(outputFile, "");
    for (const key of Object.keys(process.env))
      if (key.startsWith("INPUT_")) delete process.env[key];
    for (const [input, value] of Object.entries(inputs)) {
      process.env[`INPUT_${input.replace(/ /g, "_").toUpperCase()}`] = value;
    }
    // A step is a process of its own on a runner: an earlier failed step's exit code is not ours.
    process.exitCode = undefined;
    process.env.GITHUB_OUTPUT = outputFile;
    process.env.GITHUB_STEP_SUMMARY = summaryFile;
    // The runner reads workflow commands (::group::, ::error::) from stdout: keep them as the log.
    const log: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      log.push(String(chunk));
      return true;
    });
    try {
      await import(`../../actions/${name}/main.ts`);
    } finally {
      write.mockRestore();
    }
    return {
      outputs: parseOutputs(await readFile(outputFile, "utf8")),
      summary: (await readFile(summaryFile, "utf8")).slice(summaryBefore),
      log: log.join(""),
      failed: process.exitCode === 1,
    };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "actions-run-"));
    await writeFile(join(dir, "summary.md"), "");
    // Settings from the developer's shell must not leak into the run.
    for (const key of Object.keys(process.env))
      if (key.startsWith("MLOPS_")) delete process.env[key];
    process.env.MLOPS_PROGRESS = "off";
  });

  afterAll(async () => {
    process.env = saved;
    process.exitCode = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const common = () => ({
    store: join(dir, "store"),
    warehouse: `duckdb:${join(dir, "warehouse.duckdb")}`,
    config: "",
  });

  let runId = "";
  let gatesPassed = false;

  it("upload loads synthetic data and reports the run id, store and row counts", async () => {
    const { outputs, summary, log, failed } = await runAction("upload", {
      ...common(),
      "run-id": "",
      sessions: "300",
      skus: "50",
      data: join(dir, "data"),
    });
    expect(failed).toBe(false);
    expect(outputs["run-id"]).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
    runId = outputs["run-id"] as string;
    expect(outputs.store).toBe(join(dir, "store"));
    expect(outputs.source).toBe("synthetic");
    expect(outputs.reconciled).toBe("true");
    expect(Number(outputs["rows-loaded"])).toBeGreaterThan(1000);
    expect(Number(outputs["rows-read"])).toBe(
      Number(outputs["rows-loaded"]) +
        Number(outputs["rows-rejected"]) +
        Number(outputs["rows-skipped"]),
    );
    expect(summary).toContain("upload: ✅ succeeded");
    expect(log).toContain(`::group::upload (run ${runId})`);
    expect(log).toContain("::endgroup::");
    expect(summary).toContain(`<td>${runId}</td>`);
    const record = JSON.parse(
      await readFile(join(dir, "store", "runs", runId, "upload", "stage.json"), "utf8"),
    ) as { status: string };
    expect(record.status).toBe("succeeded");
  });

  it("transform builds the dbt project under the same run id", async () => {
    const { outputs, summary, failed } = await runAction("transform", {
      ...common(),
      "run-id": runId,
    });
    expect(failed).toBe(false);
    expect(outputs["run-id"]).toBe(runId);
    expect(outputs.engine).toBe("builtin");
    expect(Number(outputs["models-built"])).toBeGreaterThan(0);
    expect(outputs["tests-failed"]).toBe("0");
    expect(outputs.manifest).toBe(`runs/${runId}/transform/manifest.json`);
    expect(Number(outputs["train-sessions"])).toBeGreaterThan(0);
    expect(summary).toContain("transform: ✅ succeeded");
  });

  it("train fits the model for one epoch and names the backend that ran", async () => {
    const { outputs, summary, failed } = await runAction("train", {
      ...common(),
      "run-id": runId,
      epochs: "1",
      backend: "cpu",
    });
    expect(failed).toBe(false);
    expect(outputs.backend).toBe("cpu");
    expect(outputs.compute).toBe("local");
    expect(outputs["epochs-run"]).toBe("1");
    expect(outputs.artifact).toMatch(new RegExp(`^runs/${runId}/train/`));
    const hr20 = Number(outputs["validation-hr20"]);
    expect(hr20).toBeGreaterThanOrEqual(0);
    expect(hr20).toBeLessThanOrEqual(1);
    expect(summary).toContain("train: ✅ succeeded");
  });

  it("evaluate judges the gates and reports the verdict, failing the step when one fails", async () => {
    const { outputs, summary, log, failed } = await runAction("evaluate", {
      ...common(),
      "run-id": runId,
    });
    expect(["true", "false"]).toContain(outputs.passed);
    gatesPassed = outputs.passed === "true";
    // A failed blocking gate fails the step, and the outputs still say why.
    expect(failed).toBe(outputs.passed === "false");
    if (failed) expect(log).toMatch(/::error::\d+ blocking gate\(s\) failed/);
    expect(summary).toContain(`evaluate: ${failed ? "❌ failed" : "✅ succeeded"}`);
    expect(outputs.report).toMatch(new RegExp(`^runs/${runId}/evaluate/`));
    expect(outputs.gates).toMatch(new RegExp(`^runs/${runId}/evaluate/`));
    const hr20 = Number(outputs["candidate-hr20"]);
    expect(hr20).toBeGreaterThanOrEqual(0);
    expect(hr20).toBeLessThanOrEqual(1);
    expect(summary).toMatch(/\*\*Gates\*\*\n\n\| Verdict \| Check \| Kind \| Metric/);
  });

  it("card renders the card into the job summary when there is no pull request", async () => {
    const { outputs, summary, log, failed } = await runAction("card", {
      ...common(),
      "run-id": runId,
      screenshot: "off",
      "github-token": "",
      "issue-number": "",
    });
    expect(failed).toBe(false);
    expect(outputs.card).toMatch(new RegExp(`^runs/${runId}/card/`));
    expect(outputs.html).toMatch(new RegExp(`^runs/${runId}/card/`));
    expect(["passed", "failed"]).toContain(outputs.verdict);
    expect(outputs["comment-posted"]).toBe("false");
    const card = await readFile(join(dir, "store", outputs.card as string), "utf8");
    expect(summary).toContain(card.trim().split("\n").slice(0, 5).join("\n"));
    expect(summary).toContain("card: ✅ succeeded");
    expect(log).toContain("no pull request to comment on");
  });

  it("promote follows the gates: it refuses a run whose gates failed, with the verdict as output", async () => {
    const { outputs, summary, log, failed } = await runAction("promote", {
      ...common(),
      "run-id": runId,
      target: "local",
    });
    expect(outputs.target).toBe("local");
    expect(outputs["run-id"]).toBe(runId);
    if (gatesPassed) {
      expect(failed).toBe(false);
      expect(outputs.verdict).not.toBe("gates-failed");
      expect(summary).toContain("**Decision:**");
    } else {
      // The workflow never gets here (promote needs passed == 'true'); the stage guards it too.
      expect(failed).toBe(true);
      expect(outputs.verdict).toBe("gates-failed");
      expect(outputs.promoted).toBe("false");
      expect(log).toContain("::error::promotion refused: blocking gates failed");
      expect(summary).toContain("promote: ❌ failed");
    }
  });
});
