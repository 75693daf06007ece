/**
 * The recommender as a weighted hybrid of evidence sources (Jannach & Ludewig, "When recurrent
 * neural networks meet the neighborhood for session-based recommendation", RecSys'17): each
 * component scores the items for a prefix, is scaled per prefix so its best eligible item
 * scores 1 (min-max normalisation: every component's floor is 0), and the weighted sum ranks.
 * The weights are fitted on the validation split (./fit-blend.ts), never on test.
 *
 * Components, all over vocabulary ids (./sequences.ts):
 * - `neural`: the network's next-item distribution (./net-runtime.ts), exp(logit − max logit);
 * - `sknn`: V-SKNN (./neighbours.ts), the votes of the most similar recent train sessions;
 * - `cooccurrence`: how often each item directly followed the prefix's last item in train;
 * - `repeat`: the items already in the prefix, weighted by recency (position i of L scores
 *   i / L): shoppers return to what they looked at (RepeatNet, Ren et al., AAAI'19), which a
 *   next-item softmax rarely ranks.
 *
 * A blend of one component ranks by that component alone; the network alone reports its softmax
 * probabilities as scores, as the seeds' model did.
 *
 * Ties rank the smaller id first: ids follow train popularity, so items no component scored
 * come in popularity order — the fill every baseline uses.
 *
 * A prefix may hold the unknown id (a SKU the vocabulary does not know). The network reads only
 * the known ids; the neighbourhood components skip unknown ones but count them in the session's
 * length, as the V-SKNN baseline does, so recency weights stay those of the real session.
 */
import type { NetRuntime } from "./net-runtime.ts";
import type { SessionIndex } from "./neighbours.ts";
import { FIRST_ITEM_ID } from "./sequences.ts";
import { KernelLayout, type KernelMemory } from "./simd-kernels.ts";

export const COMPONENT_KINDS = ["neural", "sknn", "cooccurrence", "repeat"] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

export interface BlendComponent {
  kind: ComponentKind;
  weight: number;
}

export interface BlendSpec {
  components: BlendComponent[];
}

/** What the components read. */
export interface Evidence {
  /** Ids the scores cover (padding and unknown included). */
  vocabSize: number;
  net?: NetRuntime;
  /** The train sessions' neighbourhood index (sknn, cooccurrence). */
  index?: SessionIndex;
}

/** "neural 1, sknn 0.2, …": what a blend is made of, for logs and the card. */
export function describeBlend(spec: BlendSpec): string {
  return spec.components.map((c) => `${c.kind} ${c.weight}`).join(", ");
}

/** Checks a blend against the evidence it needs; the message says what is missing. */
export function checkBlend(spec: BlendSpec, evidence: Evidence): BlendSpec {
  if (spec.components.length === 0) throw new Error("a blend needs at least one component");
  const seen = new Set<ComponentKind>();
  for (const { kind, weight } of spec.components) {
    if (!COMPONENT_KINDS.includes(kind)) throw new Error(`unknown blend component "${kind}"`);
    if (seen.has(kind)) throw new Error(`blend component "${kind}" appears twice`);
    seen.add(kind);
    if (!(weight >= 0 && Number.isFinite(weight))) {
      throw new Error(`blend component "${kind}" has weight ${weight}: expected a number ≥ 0`);
    }
    if (kind === "neural" && !evidence.net) throw new Error("the blend needs the network");
    if ((kind === "sknn" || kind === "cooccurrence") && !evidence.index) {
      throw new Error(`the blend's "${kind}" component needs the train sessions' index`);
    }
  }
  return spec;
}

/** A sparse component's values for one prefix, scaled so the best eligible id scores 1. */
export interface SparseValues {
  ids: ArrayLike<number>;
  values: ArrayLike<number>;
  length: number;
  /** Multiply `values` by this to scale them (1 / their eligible maximum; 0 when none). */
  scale: number;
}

/** Scores prefixes with a blend. One instance per thread: it reuses its buffers. */
export class BlendScorer {
  readonly spec: BlendSpec;
  readonly vocabSize: number;
  private readonly net: NetRuntime | undefined;
  private readonly index: SessionIndex | undefined;
  private readonly excludeLast: boolean;
  /**
   * The dense buffers, [paddedSize] each, in kernel memory for the exp kernel: a prefix's logits,
   * the network's values, and the blend's scores. Lanes past vocabSize hold −∞ logits (so exp
   * adds 0 there) and are never read.
   */
  private readonly dense: KernelMemory;
  private readonly paddedSize: number;
  private readonly logitsAt: number;
  private readonly valuesAt: number;
  private readonly blendAt: number;
  private readonly logitsView: Float32Array;
  private readonly valuesView: Float32Array;
  private readonly blendView: Float32Array;
  private logitBuffer = new Float32Array(0);
  private readonly repeatIds: Int32Array;
  private readonly repeatValues: Float64Array;
  private readonly repeatSlot: Int32Array;
  private readonly repeatStamp: Int32Array;
  private stamp = 0;

  constructor(spec: BlendSpec, evidence: Evidence, options: { excludeLast: boolean }) {
    this.spec = checkBlend(spec, evidence);
    this.vocabSize = evidence.vocabSize;
    this.net = evidence.net;
    this.index = evidence.index;
    this.excludeLast = options.excludeLast;
    this.paddedSize = Math.ceil(this.vocabSize / 4) * 4;
    const layout = new KernelLayout();
    this.logitsAt = layout.reserve(this.paddedSize);
    this.valuesAt = layout.reserve(this.paddedSize);
    this.blendAt = layout.reserve(this.paddedSize);
    this.dense = layout.create(`a blend over ${this.vocabSize} ids`);
    this.logitsView = this.dense.view(this.logitsAt, this.vocabSize);
    this.valuesView = this.dense.view(this.valuesAt, this.vocabSize);
    this.blendView = this.dense.view(this.blendAt, this.vocabSize);
    this.dense.f32.fill(
      Number.NEGATIVE_INFINITY,
      this.logitsAt + this.vocabSize,
      this.logitsAt + this.paddedSize,
    );
    this.repeatIds = new Int32Array(this.vocabSize);
    this.repeatValues = new Float64Array(this.vocabSize);
    this.repeatSlot = new Int32Array(this.vocabSize);
    this.repeatStamp = new Int32Array(this.vocabSize);
  }

  /** Ids never recommended for this prefix: padding, unknown and, with collapsed repeats, the last. */
  excluded(prefix: ArrayLike<number>): number[] {
    const last = prefix.length > 0 ? (prefix[prefix.length - 1] as number) : -1;
    return this.excludeLast && last >= FIRST_ITEM_ID ? [0, 1, last] : [0, 1];
  }

  /**
   * The network's logits for many prefixes at once, [prefixes.length × vocabSize] (the runtime
   * scores several prefixes per pass over the output matrix), for `score` and `neural` to take
   * row by row; undefined when the blend does not use the network. The array is this scorer's
   * buffer, overwritten by the next call.
   */
  logits(prefixes: readonly ArrayLike<number>[]): Float32Array | undefined {
    const uses = this.spec.components.some(
      (c) => c.kind === "neural" && (c.weight > 0 || this.spec.components.length === 1),
    );
    if (!uses) return undefined;
    const size = prefixes.length * this.vocabSize;
    if (this.logitBuffer.length < size) this.logitBuffer = new Float32Array(size);
    const rows = this.logitBuffer.subarray(0, size);
    return (this.net as NetRuntime).scores(prefixes.map(knownIds), rows);
  }

  /**
   * The blended score of every id for `prefix` (ids, oldest first), [vocabSize]; excluded ids get
   * −∞. The array is this scorer's buffer, overwritten by the next call. `logits`: the prefix's
   * row of `logits()`, when computed.
   */
  score(prefix: ArrayLike<number>, logits?: Float32Array): Float32Array {
    const excluded = this.excluded(prefix);
    const alone = this.spec.components.length === 1;
    const out = this.blendView;
    out.fill(0);
    for (const { kind, weight } of this.spec.components) {
      const w = alone ? 1 : weight;
      if (w === 0) continue;
      if (kind === "neural" && alone) {
        out.set(this.neural(prefix, excluded, true, logits));
      } else if (kind === "neural") {
        const max = this.loadLogits(prefix, excluded, logits);
        this.dense.expAdd(this.logitsAt, this.paddedSize, max, w, this.blendAt);
      } else {
        const c = this.sparse(kind, prefix, excluded);
        const scale = w * c.scale;
        for (let i = 0; i < c.length; i++) {
          const id = c.ids[i] as number;
          out[id] = (out[id] as number) + scale * (c.values[i] as number);
        }
      }
    }
    for (const id of excluded) out[id] = Number.NEGATIVE_INFINITY;
    return out;
  }

  /**
   * The network's values for `prefix`: exp(logit − max eligible logit), so its best eligible item
   * scores 1; or, with `probabilities`, its softmax over the whole vocabulary (the seeds' model's
   * output, padding and unknown included). Excluded ids get 0. The array is this scorer's buffer,
   * overwritten by the next call. `logits`: the prefix's row of `logits()`, when computed.
   */
  neural(
    prefix: ArrayLike<number>,
    excluded: readonly number[],
    probabilities = false,
    logits?: Float32Array,
  ): Float32Array {
    const max = this.loadLogits(prefix, probabilities ? [] : excluded, logits);
    const values = this.valuesView;
    values.fill(0);
    this.dense.expAdd(this.logitsAt, this.paddedSize, max, 1, this.valuesAt);
    if (probabilities) {
      let sum = 0;
      for (let id = 0; id < this.vocabSize; id++) sum += values[id] as number;
      for (let id = 0; id < this.vocabSize; id++) values[id] = (values[id] as number) / sum;
      for (const id of excluded) values[id] = 0;
    }
    return values;
  }

  /**
   * Puts the prefix's logits in the kernel's buffer (copied from `logits`, or computed), with
   * `excluded` at −∞; returns the largest.
   */
  private loadLogits(
    prefix: ArrayLike<number>,
    excluded: readonly number[],
    logits?: Float32Array,
  ): number {
    const values = this.logitsView;
    if (logits) values.set(logits);
    else (this.net as NetRuntime).scores([knownIds(prefix)], values);
    for (const id of excluded) values[id] = Number.NEGATIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let id = 0; id < this.vocabSize; id++) {
      if ((values[id] as number) > max) max = values[id] as number;
    }
    return max;
  }

  /**
   * A sparse component's values for `prefix`. The arrays may be buffers of the index or of this
   * scorer, overwritten by the next call of the same component.
   */
  sparse(
    kind: Exclude<ComponentKind, "neural">,
    prefix: ArrayLike<number>,
    excluded: readonly number[],
  ): SparseValues {
    if (kind === "sknn") {
      const view = (this.index as SessionIndex).sknn(withoutUnknown(prefix));
      return scaled(view.ids, view.scores, view.length, excluded);
    }
    if (kind === "cooccurrence") {
      const last = prefix.length > 0 ? (prefix[prefix.length - 1] as number) : -1;
      const next = (this.index as SessionIndex).successors(last >= FIRST_ITEM_ID ? last : -1);
      return scaled(next.ids, next.counts, next.length, excluded);
    }
    return this.repeat(prefix, excluded);
  }

  private repeat(prefix: ArrayLike<number>, excluded: readonly number[]): SparseValues {
    this.stamp++;
    let length = 0;
    const n = prefix.length;
    for (let i = 0; i < n; i++) {
      const id = prefix[i] as number;
      if (id < FIRST_ITEM_ID || id >= this.vocabSize) continue;
      if (this.repeatStamp[id] !== this.stamp) {
        this.repeatStamp[id] = this.stamp;
        this.repeatSlot[id] = length;
        this.repeatIds[length++] = id;
      }
      // Positions only grow: the latest occurrence's weight wins.
      this.repeatValues[this.repeatSlot[id] as number] = (i + 1) / n;
    }
    return scaled(this.repeatIds, this.repeatValues, length, excluded);
  }
}

/** The known ids of a prefix (the network's input). */
function knownIds(prefix: ArrayLike<number>): Int32Array {
  return Int32Array.from(prefix).filter((id) => id >= FIRST_ITEM_ID);
}

/**
 * The prefix with padding and unknown ids as −1: the neighbourhood index skips them but counts
 * them in the length (an unknown id has postings when the vocabulary maps rare train SKUs to it).
 */
function withoutUnknown(prefix: ArrayLike<number>): Int32Array {
  return Int32Array.from(prefix, (id) => (id >= FIRST_ITEM_ID ? id : -1));
}

function scaled(
  ids: ArrayLike<number>,
  values: ArrayLike<number>,
  length: number,
  excluded: readonly number[],
): SparseValues {
  let max = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i] as number;
    if (v > max && !excluded.includes(ids[i] as number)) max = v;
  }
  return { ids, values, length, scale: max > 0 ? 1 / max : 0 };
}
