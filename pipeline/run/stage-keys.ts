/**
 * What each memoized stage's key is made of. Upload always runs (it is idempotent: a loaded file
 * is skipped by its hash) and its loads are what transform's key reads; card and promote always
 * run (the card must describe this run, a promotion is an act, not a result).
 *
 * - transform: the raw loads (raw_loads' file hashes per table), the dbt project's files, the
 *   transform settings, the selection, the transform code (not the warehouse: whether it holds
 *   what a key built is transformMemo's check).
 * - train: the transform's key without the production traffic (the marts it reads), the train and
 *   model settings, the code.
 * - evaluate: the train and transform keys, the gates file, the production model as the
 *   registry holds it now (a new champion means a new comparison), its settings, the code.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { resolveGatesFile } from "../evaluate/stage.ts";
import { sha256Hex } from "../data/file-hash.ts";
import { DATA_FILES } from "../data/schema.ts";
import { readStageRecord } from "../store/runs.ts";
import { PRODUCTION_KEY } from "../store/registry.ts";
import { projectInput, rawInputs } from "../transform/inputs.ts";
import { transformPreflight, type TransformOptions } from "../transform/transform.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import type { RunContext } from "./context.ts";
import { codeHash } from "./code-hash.ts";
import { canonicalJson, type CacheKeyParts } from "./memo.ts";
import type { StageMemo } from "./stage-runner.ts";

/**
 * The transform's outputs are tables in the warehouse, which the next transform overwrites and
 * which a fresh warehouse (a CI runner's DuckDB file) does not have: an earlier run's transform
 * is reused only while the warehouse itself says it holds what that key built. The warehouse
 * keeps the key of the last transform that completed in it, in a one-row table that is emptied
 * as a transform starts, so a failed or killed transform leaves no key behind.
 */
export function transformMemo(ctx: RunContext, options: TransformOptions): StageMemo {
  const built = async (): Promise<Warehouse> => {
    const warehouse = await ctx.warehouse();
    await warehouse.query(
      `CREATE TABLE IF NOT EXISTS ${BUILT_TABLE} (cache_key VARCHAR, run_id VARCHAR, built_at VARCHAR)`,
    );
    return warehouse;
  };
  return {
    parts: () => transformKeyParts(ctx, options),
    stillValid: async (earlier) => {
      const rows = await (await built()).query(`SELECT cache_key FROM ${BUILT_TABLE}`);
      return rows.length === 1 && rows[0]?.cache_key === earlier.cache?.key;
    },
    beforeRun: async () => {
      await (await built()).query(`DELETE FROM ${BUILT_TABLE}`);
    },
    afterRun: async (key) => {
      await (
        await built()
      ).query(`INSERT INTO ${BUILT_TABLE} VALUES ($1, $2, $3)`, [
        key,
        ctx.runId,
        new Date().toISOString(),
      ]);
    },
  };
}

/** Where the warehouse says which transform key built its tables. */
const BUILT_TABLE = "mlops_transform_build";

export function trainMemo(ctx: RunContext): StageMemo {
  return { parts: () => trainKeyParts(ctx) };
}

export function evaluateMemo(ctx: RunContext): StageMemo {
  return { parts: () => evaluateKeyParts(ctx) };
}

export async function transformKeyParts(
  ctx: RunContext,
  options: TransformOptions,
): Promise<CacheKeyParts> {
  const { config } = ctx;
  const { projectDir: project } = transformPreflight(config);
  const raw = await rawInputs(await ctx.warehouse());
  return {
    code: codeHash(["pipeline/transform/transform.ts"]),
    // Not the warehouse: equal inputs build equal tables anywhere; whether this warehouse holds
    // them is transformMemo's check.
    settings: { transform: config.transform, options },
    inputs: {
      project: projectInput(project).sha256 ?? "",
      ...Object.fromEntries(raw.map((table) => [table.name, table.sha256 ?? ""])),
    },
  };
}

export async function trainKeyParts(ctx: RunContext): Promise<CacheKeyParts> {
  const { config } = ctx;
  return {
    code: codeHash(["pipeline/train/train.ts", "pipeline/compute/train-on-batch.ts"]),
    // Where it trains (here or on Batch) is not what it computes: a model trained on Batch is
    // reused by a local run and the other way round.
    settings: { train: { ...config.train, compute: undefined }, model: config.model },
    inputs: { data: await trainingDataKey(ctx) },
  };
}

export async function evaluateKeyParts(ctx: RunContext): Promise<CacheKeyParts> {
  const { config } = ctx;
  const gatesFile = resolveGatesFile(config.evaluate.gates);
  const production = await ctx.store.get(PRODUCTION_KEY);
  return {
    code: codeHash(["pipeline/evaluate/stage.ts"]),
    settings: {
      evaluate: { ...config.evaluate, gates: undefined },
      tolerance: config.promote.tolerance,
      source: config.data.source,
    },
    inputs: {
      train: await upstreamKey(ctx, "train"),
      transform: await upstreamKey(ctx, "transform"),
      gates: existsSync(gatesFile) ? sha256Hex(await readFile(gatesFile)) : "missing",
      production: production ? sha256Hex(production) : "none",
    },
  };
}

/**
 * What train reads of the transform: transform's key without the production traffic, which
 * builds served_sessions for the drift checks and nothing training reads. New traffic re-runs
 * transform and evaluate, not training.
 */
async function trainingDataKey(ctx: RunContext): Promise<string> {
  const record = await readStageRecord(ctx.store, ctx.runId, "transform");
  if (record?.status !== "succeeded" || !record.cache) return `run ${ctx.runId}`;
  const { [DATA_FILES.served.table]: _traffic, ...inputs } = record.cache.inputs;
  return sha256Hex(
    canonicalJson({ code: record.cache.code, settings: record.cache.settings, inputs }),
  );
}

/**
 * The key this run's upstream stage recorded. An upstream stage without one (recorded before
 * stages had keys) makes the key this run's own, so nothing is reused on its account.
 */
async function upstreamKey(ctx: RunContext, stage: string): Promise<string> {
  const record = await readStageRecord(ctx.store, ctx.runId, stage);
  return record?.status === "succeeded" && record.cache ? record.cache.key : `run ${ctx.runId}`;
}
