/**
 * Memoized stages, through the real stages on a real DuckDB file and folder store: each kind of
 * input is changed one at a time, and exactly the stages downstream of it run again; with
 * nothing changed, transform, train and evaluate are reused from the earlier run.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { createContext, openStore } from "../../pipeline/run/context.ts";
import { promoteStage, runPipeline, type StageName } from "../../pipeline/run/stages.ts";
import { DEFAULT_PROJECT_DIR } from "../../pipeline/transform/transform.ts";
import { compareRuns } from "../../pipeline/run/compare.ts";
import { readStageRecord } from "../../pipeline/store/runs.ts";
import { cardDataFromRun } from "../../reports/from-run.ts";
import { tempDir } from "../helpers/rows.ts";

const MEMOIZED = ["transform", "train", "evaluate"] as const;
type Memoized = (typeof MEMOIZED)[number];

describe("memoized stages", () => {
  const dir = tempDir();
  const gates = join(dir, "gates.yml");
  // Checks a model trained for one epoch on a few hundred sessions passes whatever its quality.
  writeFileSync(
    gates,
    "version: 1\ngates:\n  - name: unknown-skus-answered\n    kind: absolute\n    metric: unknown_sku_validity\n    min: 1\n    blocking: true\n",
  );
  const base: Record<string, string> = {
    store: join(dir, "store"),
    warehouse: `duckdb:${join(dir, "wh.duckdb")}`,
    "data.dir": join(dir, "data"),
    "data.sessions": "400",
    "data.skus": "120",
    "train.epochs": "1",
    "evaluate.gates": gates,
    "evaluate.bootstrap": "50",
    "transform.dbt": "builtin",
  };

  async function run(
    runId: string,
    flags: Record<string, string> = {},
    options: { cache?: boolean; promote?: boolean } = {},
  ): Promise<Record<Memoized, string>> {
    const { config } = loadConfig({ env: {}, cwd: dir, flags: { ...base, ...flags } });
    const ctx = {
      ...createContext(config, runId, silentReporter()),
      ...(options.cache === false ? { cache: false } : {}),
    };
    try {
      const stages: StageName[] = ["upload", ...MEMOIZED];
      await runPipeline(ctx, stages);
      if (options.promote) await promoteStage(ctx, { force: true });
      const outcome = {} as Record<Memoized, string>;
      for (const stage of MEMOIZED) {
        const record = await readStageRecord(ctx.store, runId, stage);
        expect(record?.status, `${runId} ${stage}`).toBe("succeeded");
        expect(record?.cache?.key, `${runId} ${stage}`).toMatch(/^[0-9a-f]{64}$/);
        outcome[stage] = record?.reused ? `reused ${record.reused.runId}` : "ran";
      }
      return outcome;
    } finally {
      await ctx.close();
    }
  }

  it("re-runs exactly the stages downstream of each changed input", async () => {
    expect(await run("r1")).toEqual({ transform: "ran", train: "ran", evaluate: "ran" });
    // Nothing changed: three reuses, and the reused run's files are this run's own copies.
    expect(await run("r2")).toEqual({
      transform: "reused r1",
      train: "reused r1",
      evaluate: "reused r1",
    });
    const model = (runId: string) =>
      readFileSync(join(dir, "store", "runs", runId, "train", "model", "weights.bin"));
    expect(model("r2").equals(model("r1"))).toBe(true);
    const report = await readStageRecord(openStore(join(dir, "store")), "r2", "evaluate");
    expect(JSON.stringify(report?.result)).toContain("runs/r2/evaluate/report.json");
    expect(JSON.stringify(report?.result)).not.toContain("runs/r1/");
    // The card says which stages were reused, and from which run.
    const card = await cardDataFromRun(openStore(join(dir, "store")), "r2", {});
    expect(card.run.stages?.map((stage) => [stage.name, stage.status])).toEqual([
      ["upload", "succeeded"],
      ["transform", "reused from run r1"],
      ["train", "reused from run r1"],
      ["evaluate", "reused from run r1"],
    ]);

    // An evaluate setting: evaluate only.
    expect(await run("r3", { "evaluate.bootstrap": "60" })).toEqual({
      transform: "reused r1",
      train: "reused r1",
      evaluate: "ran",
    });
    // Same model on the same test prefixes: the candidates pair, and do not differ.
    const compared = await compareRuns(openStore(join(dir, "store")), "r1", "r3");
    expect(compared.settings.differences).toEqual([{ key: "evaluate.bootstrap", a: 50, b: 60 }]);
    expect(compared.paired).toMatchObject({
      available: true,
      deltas: [
        { metric: "hr@20", difference: 0 },
        { metric: "mrr@20", difference: 0 },
      ],
    });
    // A train setting: train and evaluate.
    expect(await run("r4", { "train.epochs": "2" })).toEqual({
      transform: "reused r1",
      train: "ran",
      evaluate: "ran",
    });
    // A dbt model (a copy of the project with one model edited): everything from transform on.
    const project = join(dir, "dbt-edited");
    cpSync(DEFAULT_PROJECT_DIR, project, {
      recursive: true,
      filter: (source) => !/[\\/](target|logs|dbt_packages)$/.test(source),
    });
    const model_sql = join(project, "models", "staging", "stg_browsing_events.sql");
    writeFileSync(model_sql, `${readFileSync(model_sql, "utf8")}\n-- edited\n`);
    expect(await run("r5", { "transform.project": project })).toEqual({
      transform: "ran",
      train: "ran",
      evaluate: "ran",
    });
    // Back to the template's project: r1's key again, but the warehouse now holds r5's marts,
    // so transform runs; what it builds is r1's again, so train and evaluate are reused.
    expect(await run("r6")).toEqual({
      transform: "ran",
      train: "reused r1",
      evaluate: "reused r1",
    });

    // A fresh warehouse (a CI runner's) with r1's data: transform's key is r1's, but this
    // warehouse holds no tables, so transform runs; train and evaluate are reused.
    expect(await run("r6b", { warehouse: `duckdb:${join(dir, "fresh.duckdb")}` })).toEqual({
      transform: "ran",
      train: "reused r1",
      evaluate: "reused r1",
    });

    // A data row: one timestamp moved by a second in a copy of the data.
    const data = join(dir, "data-edited");
    cpSync(join(dir, "data", "synthetic-n400-k120-s42"), data, { recursive: true });
    const browsing = join(data, "browsing_train.csv");
    const lines = readFileSync(browsing, "utf8").split("\n");
    lines[5] = (lines[5] ?? "").replace(/,(\d{13}),/, (_, ms: string) => `,${Number(ms) + 1000},`);
    writeFileSync(browsing, lines.join("\n"));
    expect(await run("r7", { "data.source": "csv", "data.dir": data })).toEqual({
      transform: "ran",
      train: "ran",
      evaluate: "ran",
    });
    // --no-cache: everything runs, whatever is in the store.
    expect(await run("r8", { "data.source": "csv", "data.dir": data }, { cache: false })).toEqual({
      transform: "ran",
      train: "ran",
      evaluate: "ran",
    });
    // Same inputs as r8, reused; then a promotion changes production, and evaluate runs again.
    expect(await run("r9", { "data.source": "csv", "data.dir": data }, { promote: true })).toEqual({
      transform: "reused r8",
      train: "reused r8",
      evaluate: "reused r8",
    });
    expect(await run("r10", { "data.source": "csv", "data.dir": data })).toEqual({
      transform: "reused r8",
      train: "reused r8",
      evaluate: "ran",
    });
  }, 300_000);
});
