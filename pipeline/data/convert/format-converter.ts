/** The contract between `convert` and each format's reader. */
import type { Output } from "./output.ts";

export interface FormatContext {
  out: Output;
  /** Inactivity that starts a new session where a format cuts sessions itself (RetailRocket). */
  sessionGapMinutes: number;
}

/** One format's reader: writes every input's events through `out`, returns its session count. */
export type FormatConverter = (
  inputs: readonly string[],
  context: FormatContext,
) => Promise<{ sessions: number }>;
