/**
 * The sessions a promoted endpoint is smoke-tested with: prefixes of real test sessions (all but
 * the last item), what a caller would send. Evaluate stores them with its report, so promoting a
 * reviewed run later (on main, maybe in another job) tests with the sessions its evaluation saw,
 * without the warehouse those came from.
 */
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { EvalSession } from "./catalog.ts";

export const SMOKE_SESSIONS = 20;

export function smokeSessionsKey(runId: string): string {
  return stageKey(runId, "evaluate", "smoke-sessions.json");
}

export function smokePrefixes(sessions: Iterable<{ items: string[] }>): string[][] {
  const prefixes: string[][] = [];
  for (const { items } of sessions) {
    if (prefixes.length === SMOKE_SESSIONS) break;
    prefixes.push(items.slice(0, Math.max(1, items.length - 1)));
  }
  return prefixes;
}

export async function writeSmokeSessions(
  store: ArtifactStore,
  runId: string,
  test: readonly EvalSession[],
): Promise<string> {
  const key = smokeSessionsKey(runId);
  await store.put(key, `${JSON.stringify(smokePrefixes(test))}\n`);
  return key;
}

/** The run's stored smoke sessions, or undefined for runs evaluated before they were stored. */
export async function readSmokeSessions(
  store: ArtifactStore,
  runId: string,
): Promise<string[][] | undefined> {
  const bytes = await store.get(smokeSessionsKey(runId));
  if (bytes === undefined) return undefined;
  const parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
  const valid =
    Array.isArray(parsed) &&
    parsed.every((s) => Array.isArray(s) && s.every((item) => typeof item === "string"));
  return valid && parsed.length > 0 ? (parsed as string[][]) : undefined;
}
