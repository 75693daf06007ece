/**
 * The product-interaction process: what the evaluation sees after dbt has filtered, sorted,
 * sessionized and collapsed the browsing file. It samples exactly the HMM that oracle.ts writes
 * down (see the comment there), and is deliberately a separate implementation from the oracle's
 * filter so that the tests comparing the two check something.
 */
import type { GenerativeModel } from "../oracle.ts";
import { STREAM } from "./catalog.ts";
import { Rng, cumulative, seedWords } from "../../prng.ts";

export const SESSION_PARAMS = {
  /** Share of session ids with any product interaction (real: 66.1% have a detail). */
  productShare: 0.66,
  /** Chance that a session id carries one more process-session after a ≥ 30-minute pause. */
  extraBlockChance: 0.1,
  maxBlocks: 6,
  /** Interactions per process-session: 1 + floor(lognormal(mu, sigma)), at most maxLength. */
  lengthMu: 0.05,
  lengthSigma: 1.2,
  maxLength: 60,
} as const;

/** One process-session: the item sequence and the hidden intents that produced it. */
export interface ProcessSession {
  items: number[];
  intents: number[];
}

export interface SessionPlan {
  index: number;
  /** Process-sessions in time order; empty for a session id with pageviews only. */
  blocks: ProcessSession[];
}

/** Drawn before and independently of the items, so it tells the oracle nothing. */
export function sampleLength(rng: Rng): number {
  const P = SESSION_PARAMS;
  const n = 1 + Math.floor(Math.exp(P.lengthMu + P.lengthSigma * rng.normal()));
  return Math.min(n, P.maxLength);
}

export class ProcessSampler {
  private readonly leafItems: Int32Array[];
  private readonly leafCumulative: Float64Array[];
  private readonly initialCumulative: Float64Array;
  private readonly groupLeaves: Int32Array[];
  private readonly groupCumulative: Float64Array[];
  private readonly leafGroup: Int32Array;
  private readonly relatedItems: Int32Array[];
  private readonly relatedCumulative: Float64Array[];

  constructor(readonly model: GenerativeModel) {
    this.leafItems = model.leaves.map((leaf) => Int32Array.from(leaf.items));
    this.leafCumulative = model.leaves.map((leaf) => cumulative(leaf.probabilities));
    this.initialCumulative = cumulative(model.leaves.map((leaf) => leaf.initial));
    this.leafGroup = Int32Array.from(model.leaves.map((leaf) => leaf.group));
    const members: number[][] = [];
    model.leaves.forEach((leaf, c) => {
      while (members.length <= leaf.group) members.push([]);
      (members[leaf.group] as number[]).push(c);
    });
    this.groupLeaves = members.map((leaves) => Int32Array.from(leaves));
    this.groupCumulative = members.map((leaves) =>
      cumulative(leaves.map((c) => (model.leaves[c] as { initial: number }).initial)),
    );
    this.relatedItems = model.related.map((entry) => Int32Array.from(entry.items));
    this.relatedCumulative = model.related.map((entry) => cumulative(entry.probabilities));
  }

  private fromLeaf(rng: Rng, leaf: number): number {
    const items = this.leafItems[leaf] as Int32Array;
    return items[rng.pickCumulative(this.leafCumulative[leaf] as Float64Array)] as number;
  }

  private nextIntent(rng: Rng, z: number): number {
    const { stay, switchWithinGroup } = this.model.intent;
    const u = rng.float();
    if (u < stay) return z;
    if (u < stay + switchWithinGroup) {
      const g = this.leafGroup[z] as number;
      const leaves = this.groupLeaves[g] as Int32Array;
      return leaves[rng.pickCumulative(this.groupCumulative[g] as Float64Array)] as number;
    }
    return rng.pickCumulative(this.initialCumulative);
  }

  sample(rng: Rng, length: number): ProcessSession {
    let z = rng.pickCumulative(this.initialCumulative);
    let x = this.fromLeaf(rng, z);
    const items = [x];
    const intents = [z];
    const distinct = [x];
    const revisitable: number[] = [];
    for (let t = 1; t < length; t++) {
      z = this.nextIntent(rng, z);
      revisitable.length = 0;
      for (const item of distinct) if (item !== x) revisitable.push(item);
      let { related, popularity } = this.model.emission;
      if (revisitable.length === 0) {
        const sum = related + popularity;
        related /= sum;
        popularity /= sum;
      }
      // Rejecting x_t and redrawing is exactly conditioning the mixture on x_{t+1} != x_t.
      let next: number;
      do {
        const u = rng.float();
        if (u < related) {
          const neighbours = this.relatedItems[x] as Int32Array;
          next = neighbours[
            rng.pickCumulative(this.relatedCumulative[x] as Float64Array)
          ] as number;
        } else if (u < related + popularity) {
          next = this.fromLeaf(rng, z);
        } else {
          next = revisitable[rng.int(revisitable.length)] as number;
        }
      } while (next === x);
      x = next;
      items.push(x);
      intents.push(z);
      if (!distinct.includes(x)) distinct.push(x);
    }
    return { items, intents };
  }
}

/** The process part of session `index`: from its own stream, so it can be replayed alone. */
export function planSession(sampler: ProcessSampler, seed: number, index: number): SessionPlan {
  const P = SESSION_PARAMS;
  const [lo, hi] = seedWords(seed);
  const rng = Rng.from(lo, hi, STREAM.process, index);
  const blocks: ProcessSession[] = [];
  if (rng.chance(P.productShare)) {
    const count = 1 + rng.geometric(P.extraBlockChance, P.maxBlocks - 1);
    for (let b = 0; b < count; b++) blocks.push(sampler.sample(rng, sampleLength(rng)));
  }
  return { index, blocks };
}
