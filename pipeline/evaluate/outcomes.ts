/**
 * Each test prefix's outcome for the candidate (and the production model), kept next to the
 * report as `runs/<id>/evaluate/outcomes.json`. The report holds aggregates only; comparing the
 * candidates of two runs with a paired interval (`pipeline runs compare`) needs every prefix's
 * hit and reciprocal rank, and a hash that says both runs asked the same prefixes.
 * evaluateAll hands each recommender's ranks over with the prefixes they belong to (`onRanks`).
 */
import { createHash } from "node:crypto";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { EvaluateOptions, TestPrefix } from "./evaluate.ts";

export const OUTCOMES_FORMAT = "mlops-session-recs/outcomes@1";

/** One recommender's outcome on each prefix, in the order of `sessions`. */
export interface OutcomeSeries {
  /** 1 when the target is in the top 20, else 0. */
  hit20: number[];
  /** 1 / the target's rank in the top 20, 0 when it is not there. */
  rr20: number[];
}

export interface EvaluationOutcomes {
  format: typeof OUTCOMES_FORMAT;
  /** sha256 of the ordered prefixes (session key, prefix length, target): equal, same split. */
  split: string;
  /** The evaluated sessions in order; a session's prefixes are its first 1, 2 … `prefixes` items. */
  sessions: { key: string; prefixes: number }[];
  /** By recommender name: the candidate, and "production" when there was one. */
  recommenders: Record<string, OutcomeSeries>;
}

export function outcomesKey(runId: string): string {
  return stageKey(runId, "evaluate", "outcomes.json");
}

/** Collects the named recommenders' ranks from one evaluateAll call, then writes them. */
export interface OutcomeTracker {
  /** evaluateAll's `onRanks`. */
  onRanks: NonNullable<EvaluateOptions["onRanks"]>;
  /** Writes outcomes.json (undefined when none of the named recommenders was evaluated). */
  write(store: ArtifactStore, runId: string): Promise<string | undefined>;
}

export function trackOutcomes(names: readonly string[]): OutcomeTracker {
  const ranks = new Map<string, readonly number[]>();
  let cases: readonly TestPrefix[] = [];
  return {
    onRanks(name, seen, prefixes) {
      if (!names.includes(name)) return;
      ranks.set(name, seen);
      cases = prefixes;
    },
    async write(store, runId) {
      if (ranks.size === 0) return undefined;
      const sessions: EvaluationOutcomes["sessions"] = [];
      for (const c of cases) {
        const last = sessions.at(-1);
        if (last?.key === c.session.key) last.prefixes++;
        else sessions.push({ key: c.session.key, prefixes: 1 });
      }
      const ids = cases.map((c) => `${c.session.key}\t${c.length}\t${c.session.items[c.length]}`);
      const outcomes: EvaluationOutcomes = {
        format: OUTCOMES_FORMAT,
        split: createHash("sha256").update(ids.join("\n")).digest("hex"),
        sessions,
        recommenders: Object.fromEntries(
          [...ranks].map(([name, r]) => [
            name,
            {
              hit20: r.map((rank) => (rank > 0 ? 1 : 0)),
              rr20: r.map((rank) => (rank > 0 ? 1 / rank : 0)),
            },
          ]),
        ),
      };
      const key = outcomesKey(runId);
      await store.put(key, `${JSON.stringify(outcomes)}\n`);
      return key;
    },
  };
}

/** A run's outcomes, or undefined for runs evaluated before they were kept. */
export async function readOutcomes(
  store: ArtifactStore,
  runId: string,
): Promise<EvaluationOutcomes | undefined> {
  const bytes = await store.get(outcomesKey(runId));
  if (bytes === undefined) return undefined;
  const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as EvaluationOutcomes;
  return parsed.format === OUTCOMES_FORMAT ? parsed : undefined;
}
