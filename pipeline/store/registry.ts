/**
 * The model registry, kept in the run store next to the runs:
 *
 *   registry/production.json                         the model in production now (one object)
 *   registry/history/<time>-<action>-<run id>.json   one object per promotion or rollback
 *
 * History objects are written once and never rewritten, so two writers (two CI jobs, S3 with no
 * locking) never lose each other's records: there is no read-modify-write of a shared log. The
 * history object is written before production.json: a crash between the two leaves a record of
 * an attempt, never a production pointer without its history. production.json itself is a
 * read-modify-write (the new entry names the one before it), so it is written only if it is
 * still the version that was read (S3's conditional writes): a promotion that lost a race says
 * so and fails, never overwriting the winner.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { PipelineError } from "../errors.ts";
import type { ArtifactStore } from "./store.ts";
import { validateRunId } from "./runs.ts";
import type {
  GateOutcome,
  MetricsSummary,
  PromotionDecision,
  Verdict,
} from "../promote/decision.ts";

export const PRODUCTION_KEY = "registry/production.json";
export const HISTORY_PREFIX = "registry/history/";
const FORMAT = "mlops-session-recs/registry@1";

/** Where the model serves. */
export interface DeploymentRecord {
  target: "local" | "sagemaker";
  /** The SageMaker endpoint name, or the local endpoint's URL. */
  endpoint: string;
  endpointConfigName?: string;
  modelName?: string;
  /** The s3:// URL of model.tar.gz (SageMaker) or the artifact folder (local). */
  modelDataUrl?: string;
  /** SageMaker: the sha256 of model.tar.gz as uploaded, checked before every later deploy. */
  modelDataSha256?: string;
}

export interface RegistryEntry {
  format: typeof FORMAT;
  action: "promote" | "rollback";
  runId: string;
  /** When this model went into production (ISO 8601). */
  promotedAt: string;
  deployment: DeploymentRecord;
  metrics: MetricsSummary;
  gates: GateOutcome;
  verdict: Verdict | "rollback";
  reason: string;
  /** True when it shipped only because of --force / --override-gates. */
  forced: boolean;
  /** The run that was in production before; null for the first promotion. */
  previousRunId: string | null;
  /** For a rollback: the run taken out of production. */
  rolledBackFrom?: string;
}

export interface PromotionRecord {
  runId: string;
  deployment: DeploymentRecord;
  metrics: MetricsSummary;
  gates: GateOutcome;
  decision: PromotionDecision;
}

export interface RollbackRecord {
  /** Why (shown in the history): "smoke test failed: …", "manual rollback". */
  reason: string;
  /** The run to go back to; default: the current entry's previousRunId. */
  toRunId?: string;
  /** Where the restored model now serves; default: where it served when it was promoted. */
  deployment?: DeploymentRecord;
}

const runId = z.string().refine(
  (id) => {
    try {
      validateRunId(id);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid run id" },
);
const estimate = z.object({ value: z.number(), lower: z.number(), upper: z.number() });
const entrySchema = z.object({
  format: z.literal(FORMAT),
  action: z.enum(["promote", "rollback"]),
  runId,
  promotedAt: z.iso.datetime(),
  deployment: z.object({
    target: z.enum(["local", "sagemaker"]),
    endpoint: z.string().min(1),
    endpointConfigName: z.string().optional(),
    modelName: z.string().optional(),
    modelDataUrl: z.string().optional(),
    modelDataSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
  metrics: z.object({
    hr20: estimate,
    mrr20: estimate,
    examples: z.number().int().nonnegative(),
  }),
  gates: z.object({ passed: z.boolean(), failedBlocking: z.array(z.string()) }),
  verdict: z.enum([
    "gates-failed",
    "no-champion",
    "better",
    "non-inferior",
    "worse",
    "significantly-worse",
    "rollback",
  ]),
  reason: z.string(),
  forced: z.boolean(),
  previousRunId: runId.nullable(),
  rolledBackFrom: runId.optional(),
});

/** The model in production, or undefined when nothing was ever promoted. */
export async function readProduction(store: ArtifactStore): Promise<RegistryEntry | undefined> {
  return (await readProductionVersioned(store)).entry;
}

/** The production entry and the version of production.json it was read from (null: none). */
async function readProductionVersioned(
  store: ArtifactStore,
): Promise<{ entry: RegistryEntry | undefined; version: string | null }> {
  const object = await store.getVersioned(PRODUCTION_KEY);
  if (!object) return { entry: undefined, version: null };
  const entry = parseEntry(
    store,
    PRODUCTION_KEY,
    object.bytes,
    `restore it from the newest file under ${HISTORY_PREFIX} (same format), or delete it to start with no model in production`,
  );
  return { entry, version: object.version };
}

/** Records a promotion: a new history object, then production.json. Returns the entry. */
export async function recordPromotion(
  store: ArtifactStore,
  record: PromotionRecord,
  now: Date = new Date(),
): Promise<RegistryEntry> {
  validateRunId(record.runId);
  if (!record.decision.promote) {
    throw new PipelineError(
      `registry: run ${record.runId} was not promoted (${record.decision.reason}); nothing to record`,
    );
  }
  const { entry: current, version } = await readProductionVersioned(store);
  const entry: RegistryEntry = {
    format: FORMAT,
    action: "promote",
    runId: record.runId,
    promotedAt: now.toISOString(),
    deployment: record.deployment,
    metrics: record.metrics,
    gates: record.gates,
    verdict: record.decision.verdict,
    reason: record.decision.reason,
    forced: record.decision.forced,
    previousRunId: current?.runId ?? null,
  };
  await writeEntry(store, entry, now, version);
  return entry;
}

/**
 * Puts the previous production model (or `toRunId`, which must have been in production before)
 * back into the registry as production. The caller has already switched the endpoint back.
 */
export async function recordRollback(
  store: ArtifactStore,
  record: RollbackRecord,
  now: Date = new Date(),
): Promise<RegistryEntry> {
  const { entry: current, version } = await readProductionVersioned(store);
  if (!current) {
    throw new PipelineError(
      `registry: nothing is in production in ${store.location}, so there is nothing to roll back`,
      1,
      "promote a model first (`pipeline promote`)",
    );
  }
  const target = record.toRunId ?? current.previousRunId;
  if (target === null) {
    throw new PipelineError(
      `registry: run ${current.runId} is the first model ever promoted; there is no previous model to roll back to`,
      1,
      "promote another run instead (`pipeline promote --run-id ID`)",
    );
  }
  const history = await promotionHistory(store);
  const restored = history.filter((e) => e.runId === target).at(-1);
  if (!restored) {
    throw new PipelineError(
      `registry: run ${target} was never in production (no entry under ${HISTORY_PREFIX})`,
      2,
      "roll back to a run listed by the registry's history",
    );
  }
  const entry: RegistryEntry = {
    ...restored,
    action: "rollback",
    promotedAt: now.toISOString(),
    deployment: record.deployment ?? restored.deployment,
    verdict: "rollback",
    reason: record.reason,
    rolledBackFrom: current.runId,
  };
  await writeEntry(store, entry, now, version);
  return entry;
}

/** Every promotion and rollback, oldest first. */
export async function promotionHistory(store: ArtifactStore): Promise<RegistryEntry[]> {
  const keys = (await store.list(HISTORY_PREFIX)).filter((key) => key.endsWith(".json"));
  const entries = await Promise.all(
    keys.map(async (key) => {
      const bytes = await store.get(key);
      // Listed a moment ago and gone now: someone pruned the history; skip it.
      if (!bytes) return undefined;
      return parseEntry(
        store,
        key,
        bytes,
        "fix or delete that file; history files are independent, the others are unaffected",
      );
    }),
  );
  // Keys start with the time, so key order is time order.
  return entries.filter((e): e is RegistryEntry => e !== undefined);
}

async function writeEntry(
  store: ArtifactStore,
  entry: RegistryEntry,
  now: Date,
  readVersion: string | null,
): Promise<void> {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  const key = `${HISTORY_PREFIX}${stamp}-${entry.action}-${entry.runId}-${randomBytes(2).toString("hex")}.json`;
  const text = `${JSON.stringify(entry, null, 2)}\n`;
  await store.put(key, text);
  if (!(await store.putIfUnchanged(PRODUCTION_KEY, text, readVersion))) {
    const winner = await readProduction(store);
    throw new PipelineError(
      `registry: production.json changed while run ${entry.runId}'s ${entry.action} was being recorded (run ${winner?.runId ?? "none"} is in production now); it was not overwritten`,
      1,
      `Two promotions ran at once (they share one concurrency group in the workflows). This attempt is in ${key}; check the endpoint, then promote again if run ${entry.runId} should win.`,
    );
  }
}

function parseEntry(
  store: ArtifactStore,
  key: string,
  bytes: Uint8Array,
  hint: string,
): RegistryEntry {
  const where = `${store.location.replace(/\/$/, "")}/${key}`;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new PipelineError(
      `registry damaged: ${where} is not valid JSON (${(error as Error).message})`,
      2,
      hint,
    );
  }
  const parsed = entrySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join(".") : "(the whole object)";
    throw new PipelineError(
      `registry damaged: ${where}: ${field}: ${issue?.message ?? "invalid"} (expected a ${FORMAT} entry)`,
      2,
      hint,
    );
  }
  return parsed.data as RegistryEntry;
}
