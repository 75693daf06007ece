/**
 * What the promote stage returns, apart from the code that computes it: the run layer's map of
 * stage results (run/results.ts) names it, and the promote stage itself reads that layer.
 */
import type { RegistryEntry } from "../store/registry.ts";
import type { PromotionDecision } from "./decision.ts";
import type { SmokeResult } from "./local-endpoint.ts";

export interface PromoteResult {
  target: "local" | "sagemaker";
  decision: PromotionDecision;
  promoted: boolean;
  /** The registry's production entry after this stage. */
  production: RegistryEntry | null;
  smoke?: SmokeResult | { sessions: number; k: number };
  /** Set when the candidate failed its smoke test and the previous model was verified again. */
  rolledBackTo?: string;
}
