/**
 * End to end through the real bin, as a user runs it: `pipeline run` at a small size on embedded
 * defaults, a second run that loads nothing, and the runs client.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { json, runCli, runNpmPipeline } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

interface UploadJson {
  totals: { read: number; loaded: number; rejected: number; skipped: number };
  reconciled: boolean;
  tables: Record<string, number>;
  files: { kind: string; status: string }[];
}
interface TransformJson {
  engine: string;
  summary: {
    models: Record<string, number>;
    tests: Record<"pass" | "warn" | "fail" | "error" | "skipped", number>;
  };
  splits: { train: number; validation: number; test: number };
  dag: { nodes: { type: string; name: string; rows?: number }[]; edges: [string, string][] };
}
interface FullRunJson {
  runId: string;
  store: string;
  stages: {
    upload: UploadJson;
    train: { history: { epochs: unknown[] } };
    evaluate: {
      report: { recommenders: { name: string }[] };
      gates: { passed: boolean };
      productionRunId: string | null;
    };
    card: { paths: { card: string; report: string } };
    promote: {
      target: string;
      promoted: boolean;
      production: { runId: string };
      decision: { verdict: string };
    };
  };
}
const SMALL_RUN_GATES = fileURLToPath(new URL("../fixtures/gates-small-run.yml", import.meta.url));
const UNREACHABLE_GATES = fileURLToPath(
  new URL("../fixtures/gates-unreachable.yml", import.meta.url),
);

interface RunJson {
  runId: string;
  store: string;
  stages: { upload: UploadJson; transform: TransformJson };
}

describe("pipeline run on embedded defaults", () => {
  const cwd = tempDir();
  // The built-in runner, even where a dbt executable happens to be on PATH.
  const env = { MLOPS_SESSIONS: "1500", MLOPS_SKUS: "400", MLOPS_DBT: "builtin" };

  it("npm run pipeline: every stage, the card, the promotion; a gate failure still gets its card", async () => {
    const dir = tempDir();
    const settings = {
      ...env,
      MLOPS_STORE: join(dir, "store"),
      MLOPS_WAREHOUSE: `duckdb:${join(dir, "wh.duckdb")}`,
      MLOPS_DATA_DIR: join(dir, "data"),
      MLOPS_GATES_FILE: SMALL_RUN_GATES,
      MLOPS_EPOCHS: "3",
    };
    const result = await runNpmPipeline(["--json"], { cwd: dir, env: settings });
    expect(result.code, result.stderr).toBe(0);
    const run = json<FullRunJson>(result);
    expect(run.store).toBe(join(dir, "store"));
    expect(Object.keys(run.stages)).toEqual([
      "upload",
      "transform",
      "train",
      "evaluate",
      "card",
      "promote",
    ]);
    expect(run.stages.upload.reconciled).toBe(true);
    expect(run.stages.train.history.epochs).toHaveLength(3);
    const names = run.stages.evaluate.report.recommenders.map((r) => r.name);
    expect(names).toEqual([
      "hybrid",
      "ablation",
      "popularity",
      "cooccurrence",
      "sknn",
      "knn-blend",
      "oracle",
    ]);
    expect(run.stages.evaluate.gates.passed).toBe(true);
    for (const file of [run.stages.card.paths.card, run.stages.card.paths.report]) {
      expect(existsSync(file), file).toBe(true);
    }
    expect(readFileSync(run.stages.card.paths.card, "utf8")).toContain("<!-- mlops-model-card -->");
    expect(run.stages.promote).toMatchObject({ target: "local", promoted: true });
    expect(run.stages.promote.production.runId).toBe(run.runId);

    // A gate no model passes: the stage fails with exit 1 and names the gate, the card is still
    // written, and production stays where it was.
    const strict = await runCli(
      ["run", "--from", "evaluate", "--run-id", run.runId, "--gates", UNREACHABLE_GATES],
      { cwd: dir, env: settings },
    );
    expect(strict.code, strict.stderr).toBe(1);
    expect(strict.stderr).toMatch(/blocking gate\(s\) failed: .*perfect-hr20/);
    expect(strict.stderr).toContain("writing the card anyway");
    const card = readFileSync(run.stages.card.paths.card, "utf8");
    expect(card).toMatch(/Gates failed/i);

    // A second run meets a model in production: champion/challenger on the same test split.
    const second = await runCli(["run", "--json"], { cwd: dir, env: settings });
    expect(second.code, second.stderr).toBe(0);
    const challenger = json<FullRunJson>(second);
    expect(challenger.stages.evaluate.productionRunId).toBe(run.runId);
    expect(challenger.stages.evaluate.report.recommenders.map((r) => r.name)).toContain(
      "production",
    );
    expect(["better", "non-inferior", "worse", "significantly-worse"]).toContain(
      challenger.stages.promote.decision.verdict,
    );

    // Nothing changed but production: transform and train are reused from the first run (its
    // model, byte for byte), evaluate runs against the new champion; --no-cache trains again.
    interface ShownRun {
      stages: { stage: string; reused?: { runId: string } }[];
    }
    const reusedFrom = async (runId: string) =>
      Object.fromEntries(
        json<ShownRun>(
          await runCli(["runs", "show", runId, "--json"], { cwd: dir, env: settings }),
        ).stages.map((s) => [s.stage, s.reused?.runId ?? "ran"]),
      );
    expect(await reusedFrom(challenger.runId)).toMatchObject({
      upload: "ran",
      transform: run.runId,
      train: run.runId,
      evaluate: "ran",
    });
    const forced = await runCli(["run", "--until", "train", "--no-cache", "--json"], {
      cwd: dir,
      env: settings,
    });
    expect(forced.code, forced.stderr).toBe(0);
    expect(await reusedFrom(json<{ runId: string }>(forced).runId)).toMatchObject({
      transform: "ran",
      train: "ran",
    });
  });

  it("generates, loads and reconciles; a second run loads 0 rows", async () => {
    const first = await runCli(["run", "--until", "transform", "--json"], { cwd, env });
    expect(first.code, first.stderr).toBe(0);
    const one = json<RunJson>(first);
    expect(one.runId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}$/);
    const upload = one.stages.upload;
    expect(upload.reconciled).toBe(true);
    expect(upload.totals.rejected).toBe(0);
    expect(upload.totals.loaded).toBe(upload.totals.read);
    expect(upload.totals.loaded).toBeGreaterThan(1500);
    expect(upload.files.map((f) => [f.kind, f.status])).toEqual([
      ["browsing", "loaded"],
      ["search", "loaded"],
      ["catalog", "loaded"],
    ]);
    expect(existsSync(join(cwd, ".mlops", "warehouse.duckdb"))).toBe(true);
    expect(existsSync(join(cwd, ".mlops", "runs", one.runId, "upload", "stage.json"))).toBe(true);

    const transform = one.stages.transform;
    expect(transform.engine).toBe("builtin");
    expect(transform.summary.models).toEqual({ success: 13, error: 0, skipped: 0 });
    expect(transform.summary.tests.fail + transform.summary.tests.error).toBe(0);
    expect(transform.summary.tests.pass).toBeGreaterThan(40);
    const { train, validation, test } = transform.splits;
    const sequences = transform.dag.nodes.find((n) => n.name === "session_sequences")?.rows;
    expect(train + validation + test).toBe(sequences);
    expect(train).toBe(Math.floor((sequences ?? 0) * 0.8));
    expect(transform.dag.edges).toContainEqual([
      "model.mlops_session_recs.session_sequences",
      "model.mlops_session_recs.session_splits",
    ]);
    for (const artifact of ["stage.json", "manifest.json", "run_results.json"]) {
      expect(existsSync(join(cwd, ".mlops", "runs", one.runId, "transform", artifact))).toBe(true);
    }

    const second = await runCli(["run", "--until", "transform"], { cwd, env });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/read = loaded \+ rejected \+ skipped: (\d+) = 0 \+ 0 \+ \1/);
    expect(second.stderr).toContain(`already loaded by ${one.runId}:browsing`);
    // Nothing new loaded, so the marts are the same.
    expect(second.stderr).toContain(
      `sessions per split: train ${train}, validation ${validation}, test ${test}`,
    );
    expect(second.stderr).toMatch(/tests: \d+ passed, 0 warned, 0 failed, 0 errored, 0 skipped/);

    const runs = json<{ runs: { runId: string; status: string }[] }>(
      await runCli(["runs", "--json"], { cwd }),
    );
    expect(runs.runs).toHaveLength(2);
    expect(runs.runs[1]).toMatchObject({ runId: one.runId, status: "succeeded" });

    const shown = await runCli(["runs", "show", one.runId, "--json"], { cwd });
    const detail = json<{
      stages: { stage: string; inputs: { sha256: string }[]; versions: Record<string, string> }[];
    }>(shown);
    expect(detail.stages[0]?.stage).toBe("upload");
    expect(detail.stages[0]?.inputs).toHaveLength(3);
    expect(detail.stages[0]?.inputs[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(detail.stages[0]?.versions.node).toBe(process.versions.node);
  });

  it("answers --help for the program and every command", async () => {
    const help = await runCli(["--help"], { cwd });
    expect(help.code).toBe(0);
    for (const command of ["run", "generate", "upload", "transform", "runs"])
      expect(help.stdout).toContain(command);
    for (const command of [
      "run",
      "generate",
      "upload",
      "transform",
      "train",
      "evaluate",
      "card",
      "promote",
      "serve",
      "runs",
    ]) {
      const result = await runCli([command, "--help"], { cwd });
      expect(result.code, command).toBe(0);
      expect(result.stdout).toContain("--json");
    }
  });

  it("exits 2 with a named error for bad usage and bad settings", async () => {
    const unknownFlag = await runCli(["run", "--sesions", "5"], { cwd });
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("unknown option '--sesions'");

    const badValue = await runCli(["upload", "--json"], { cwd, env: { MLOPS_SESSIONS: "-4" } });
    expect(badValue.code).toBe(2);
    expect(json<{ error: string }>(badValue).error).toContain(
      'invalid value "-4" for setting "data.sessions" (from environment variable MLOPS_SESSIONS): expected a positive integer',
    );

    const missing = await runCli(["upload", "--source", "csv", "--data", join(cwd, "nowhere")], {
      cwd,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no browsing_train.csv (or browsing_train.csv.gz) in");

    const unknownRun = await runCli(["runs", "show", "no-such-run"], { cwd });
    expect(unknownRun.code).toBe(2);
    expect(unknownRun.stderr).toContain('no run "no-such-run"');
    // A shared S3 store: no guessing which run to evaluate (nothing is contacted to say so).
    const shared = await runCli(["evaluate", "--store", "s3://team-runs/store"], { cwd });
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain(
      "which run? The run store s3://team-runs/store is shared, and its newest trained run may be another pull request's",
    );
    expect(shared.stderr).toContain("hint: Pass --run-id ID");

    const badStage = await runCli(["run", "--from", "deploy"], { cwd });
    expect(badStage.code).toBe(2);
    expect(badStage.stderr).toContain('unknown stage "deploy" for --from');
  });

  it("fails fast offline for --source download, saying how to place the files by hand", async () => {
    // A port that was just free and is closed now: the connection is refused at once.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const url = `http://127.0.0.1:${port}/archive.zip`;
    const started = Date.now();
    const offline = await runCli(
      [
        "upload",
        "--source",
        "download",
        "--download-url",
        url,
        "--allow-http",
        "true",
        "--download-sha256",
        "0".repeat(64),
        "--data",
        join(cwd, "dl"),
      ],
      { cwd },
    );
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain(`cannot download ${url}: ECONNREFUSED`);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(offline.stderr).toContain("--source csv --data DIR");
  });
});
