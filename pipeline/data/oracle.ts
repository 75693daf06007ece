/**
 * The synthetic data's generating process, written down (GenerativeModel), and the exact
 * Bayes-optimal next-item predictor under it (Oracle).
 *
 * The process (sampled by generator/process.ts) is a hidden Markov model over leaf categories:
 *   z_1 ~ initial;  z_{t+1} = z_t with prob `stay`, else drawn from z_t's group (by `initial`
 *   restricted to the group) with prob `switchWithinGroup`, else drawn from `initial`.
 *   x_1 ~ Pop_{z_1};  x_{t+1} ~ related·R(x_t, ·) + popularity·Pop_{z_{t+1}} + revisit·U(D_t),
 *   conditioned on x_{t+1} != x_t, where D_t is the set of distinct earlier items other than x_t
 *   (when D_t is empty the revisit weight is dropped and the other two renormalized).
 * Session length is drawn independently of everything above, so it carries no information and
 * the oracle can ignore it.
 *
 * Because every item belongs to exactly one leaf, Pop_c(j) is non-zero for one c only, which
 * makes the forward pass O(leaves) per step and lets topK walk the popularity lists lazily
 * instead of scoring the whole catalog.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";

export interface LeafCategory {
  /** The leaf's category_hash path as written in sku_to_content.csv. */
  category: string;
  /** The top-level category the leaf belongs to: the scope of a within-group intent switch. */
  group: number;
  /** P(z_1 = leaf); also where a global switch lands. Sums to 1 over leaves. */
  initial: number;
  /** The leaf's browsable items (indices into `skus`), most popular first. */
  items: number[];
  /** P(item | leaf) for `items`; sums to 1. */
  probabilities: number[];
}

export interface RelatedItems {
  /** Neighbours on the sparse related-items graph (never the item itself). */
  items: number[];
  /** Transition probabilities to `items`; sums to 1, or the lists are empty (never browsed). */
  probabilities: number[];
}

export interface GenerativeModel {
  format: "coveo-synthetic-hmm";
  version: 1;
  /** The generator seed the model was built from (informational). */
  seed: number;
  /** Item index -> product_sku_hash, for the whole catalog (never-browsed SKUs included). */
  skus: string[];
  intent: { stay: number; switchWithinGroup: number };
  /** Mixture weights of the next-item emission; they sum to 1. */
  emission: { related: number; popularity: number; revisit: number };
  leaves: LeafCategory[];
  /** Indexed like `skus`. */
  related: RelatedItems[];
}

const probability = z.number().min(0).max(1);
const index = z.number().int().nonnegative();

const modelSchema = z.object({
  format: z.literal("coveo-synthetic-hmm"),
  version: z.literal(1),
  seed: z.number().int(),
  skus: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(2),
  intent: z.object({ stay: probability, switchWithinGroup: probability }),
  emission: z.object({ related: probability, popularity: probability, revisit: probability }),
  leaves: z
    .array(
      z.object({
        category: z.string(),
        group: index,
        initial: probability,
        items: z.array(index).min(1),
        probabilities: z.array(probability).min(1),
      }),
    )
    .min(1),
  related: z.array(z.object({ items: z.array(index), probabilities: z.array(probability) })),
});

/** Validates a parsed JSON value as a GenerativeModel (shape, index ranges, list lengths). */
export function parseGenerativeModel(value: unknown): GenerativeModel {
  const result = modelSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `not a generative model: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`,
    );
  }
  const model = result.data;
  const n = model.skus.length;
  if (model.related.length !== n) {
    throw new Error(
      `not a generative model: related has ${model.related.length} entries for ${n} skus`,
    );
  }
  if (model.intent.stay + model.intent.switchWithinGroup > 1 + 1e-9) {
    throw new Error("not a generative model: intent.stay + intent.switchWithinGroup exceeds 1");
  }
  const { related, popularity, revisit } = model.emission;
  if (Math.abs(related + popularity + revisit - 1) > 1e-9 || related <= 0) {
    throw new Error("not a generative model: emission weights must sum to 1 with related > 0");
  }
  const owner = new Int32Array(n).fill(-1);
  model.leaves.forEach((leaf, c) => {
    if (leaf.items.length !== leaf.probabilities.length) {
      throw new Error(`not a generative model: leaf ${c} has mismatched items and probabilities`);
    }
    for (const item of leaf.items) {
      if (item >= n || owner[item] !== -1) {
        throw new Error(`not a generative model: item ${item} out of range or in two leaves`);
      }
      owner[item] = c;
    }
  });
  model.related.forEach((entry, i) => {
    if (entry.items.length !== entry.probabilities.length) {
      throw new Error(`not a generative model: related[${i}] has mismatched lists`);
    }
    if (owner[i] !== -1 && entry.items.length === 0) {
      throw new Error(`not a generative model: browsable item ${i} has no related items`);
    }
    for (const item of entry.items) {
      if (item >= n || item === i || owner[item] === -1) {
        throw new Error(`not a generative model: related[${i}] points at item ${item}`);
      }
    }
  });
  return model;
}

export async function loadGenerativeModel(path: string): Promise<GenerativeModel> {
  const text = await readFile(path, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not JSON (${(error as Error).message})`);
  }
  try {
    return parseGenerativeModel(value);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

export interface ScoredItem {
  item: number;
  p: number;
}

/** The filtered state after a prefix: answers questions about the next item. */
export interface OraclePrediction {
  /** P(next = item | prefix). */
  probability(item: number): number;
  /** The k most probable next items (non-zero only), by probability then item index. */
  topK(k: number): ScoredItem[];
  /** 1-based position of `item` in topK(k), or 0 when it is not there. */
  rankWithin(item: number, k: number): number;
}

export class ZeroProbabilityPrefixError extends Error {}

export class Oracle {
  readonly model: GenerativeModel;
  private readonly skuIndex = new Map<string, number>();
  private readonly nItems: number;
  private readonly nLeaves: number;
  private readonly itemLeaf: Int32Array;
  private readonly itemPop: Float64Array;
  private readonly leafStart: Int32Array;
  private readonly leafItems: Int32Array;
  private readonly leafProb: Float64Array;
  private readonly leafGroup: Int32Array;
  private readonly initial: Float64Array;
  private readonly groupShare: Float64Array;
  private readonly nGroups: number;
  private readonly relStart: Int32Array;
  private readonly relItem: Int32Array;
  private readonly relProb: Float64Array;
  private readonly stay: number;
  private readonly switchGroup: number;
  private readonly switchGlobal: number;

  // Scratch state of the latest prediction, reused so filtering allocates nothing per step.
  private readonly filtered: Float64Array;
  private readonly weights: Float64Array;
  private readonly groupMass: Float64Array;
  private readonly seenStamp: Uint32Array;
  private readonly candidateStamp: Uint32Array;
  private readonly heap: Int32Array;
  private readonly heapKey: Float64Array;
  private readonly cursor: Int32Array;
  private readonly history: number[] = [];
  private epoch = 0;
  private candidateEpoch = 0;
  private generation = 0;
  private last = -1;
  private weightSum = 0;
  private wRelated = 0;
  private wPopularity = 1;
  private wRevisit = 0;

  constructor(model: GenerativeModel) {
    this.model = model;
    this.nItems = model.skus.length;
    this.nLeaves = model.leaves.length;
    model.skus.forEach((sku, i) => this.skuIndex.set(sku, i));

    this.itemLeaf = new Int32Array(this.nItems).fill(-1);
    this.itemPop = new Float64Array(this.nItems);
    this.leafStart = new Int32Array(this.nLeaves + 1);
    let total = 0;
    for (const leaf of model.leaves) total += leaf.items.length;
    this.leafItems = new Int32Array(total);
    this.leafProb = new Float64Array(total);
    this.leafGroup = new Int32Array(this.nLeaves);
    this.initial = new Float64Array(this.nLeaves);
    let offset = 0;
    let maxGroup = 0;
    model.leaves.forEach((leaf, c) => {
      this.leafStart[c] = offset;
      this.leafGroup[c] = leaf.group;
      this.initial[c] = leaf.initial;
      maxGroup = Math.max(maxGroup, leaf.group);
      // topK's lazy walk needs each leaf's list in non-increasing probability order.
      const order = leaf.items.map((_, k) => k);
      order.sort(
        (x, y) =>
          (leaf.probabilities[y] as number) - (leaf.probabilities[x] as number) ||
          (leaf.items[x] as number) - (leaf.items[y] as number),
      );
      for (const k of order) {
        const item = leaf.items[k] as number;
        const p = leaf.probabilities[k] as number;
        this.leafItems[offset] = item;
        this.leafProb[offset] = p;
        this.itemLeaf[item] = c;
        this.itemPop[item] = p;
        offset++;
      }
    });
    this.leafStart[this.nLeaves] = offset;

    this.nGroups = maxGroup + 1;
    const groupInitial = new Float64Array(this.nGroups);
    for (let c = 0; c < this.nLeaves; c++) {
      const g = this.leafGroup[c] as number;
      groupInitial[g] = (groupInitial[g] as number) + (this.initial[c] as number);
    }
    this.groupShare = new Float64Array(this.nLeaves);
    for (let c = 0; c < this.nLeaves; c++) {
      const mass = groupInitial[this.leafGroup[c] as number] as number;
      this.groupShare[c] = mass > 0 ? (this.initial[c] as number) / mass : 0;
    }

    this.relStart = new Int32Array(this.nItems + 1);
    let edges = 0;
    for (const entry of model.related) edges += entry.items.length;
    this.relItem = new Int32Array(edges);
    this.relProb = new Float64Array(edges);
    edges = 0;
    model.related.forEach((entry, i) => {
      this.relStart[i] = edges;
      entry.items.forEach((item, k) => {
        this.relItem[edges] = item;
        this.relProb[edges] = entry.probabilities[k] as number;
        edges++;
      });
    });
    this.relStart[this.nItems] = edges;

    this.stay = model.intent.stay;
    this.switchGroup = model.intent.switchWithinGroup;
    this.switchGlobal = Math.max(0, 1 - this.stay - this.switchGroup);

    this.filtered = new Float64Array(this.nLeaves);
    this.weights = new Float64Array(this.nLeaves);
    this.groupMass = new Float64Array(this.nGroups);
    this.seenStamp = new Uint32Array(this.nItems);
    this.candidateStamp = new Uint32Array(this.nItems);
    this.heap = new Int32Array(this.nLeaves);
    this.heapKey = new Float64Array(this.nLeaves);
    this.cursor = new Int32Array(this.nLeaves);
  }

  get size(): number {
    return this.nItems;
  }

  indexOf(sku: string): number {
    const i = this.skuIndex.get(sku);
    if (i === undefined) throw new ZeroProbabilityPrefixError(`unknown sku ${sku}`);
    return i;
  }

  skuOf(item: number): string {
    return this.model.skus[item] as string;
  }

  /** P(x_{t+1} = sku | prefix) for every sku with non-zero probability; sums to 1. */
  nextItemDistribution(prefix: readonly string[]): Map<string, number> {
    const prediction = this.predict(prefix.map((sku) => this.indexOf(sku)));
    const out = new Map<string, number>();
    for (let c = 0; c < this.nLeaves; c++) {
      for (let k = this.leafStart[c] as number; k < (this.leafStart[c + 1] as number); k++) {
        const item = this.leafItems[k] as number;
        const p = prediction.probability(item);
        if (p > 0) out.set(this.skuOf(item), p);
      }
    }
    return out;
  }

  topK(prefix: readonly string[], k: number): { sku: string; p: number }[] {
    const prediction = this.predict(prefix.map((sku) => this.indexOf(sku)));
    return prediction.topK(k).map(({ item, p }) => ({ sku: this.skuOf(item), p }));
  }

  /**
   * Runs the forward filter over `prefix` (item indices). The returned prediction reads this
   * oracle's scratch buffers, so it is valid only until the next call to predict.
   */
  predict(prefix: ArrayLike<number>): OraclePrediction {
    const generation = ++this.generation;
    this.resetHistory();
    const n = prefix.length;
    if (n === 0) {
      // The first item: Pop_{z_1} with z_1 ~ initial, nothing to exclude or revisit.
      this.last = -1;
      this.wRelated = 0;
      this.wRevisit = 0;
      this.wPopularity = 1;
      this.weightSum = 0;
      for (let c = 0; c < this.nLeaves; c++) {
        this.weights[c] = this.initial[c] as number;
        this.weightSum += this.initial[c] as number;
      }
    } else {
      const first = prefix[0] as number;
      const leaf = this.leafOfObserved(first, 0);
      // P(z_1 | x_1) ∝ initial(c)·Pop_c(x_1), non-zero only at x_1's own leaf.
      this.filtered.fill(0);
      this.filtered[leaf] = 1;
      this.remember(first);
      for (let t = 1; t < n; t++) {
        this.prepareNext(prefix[t - 1] as number);
        const item = prefix[t] as number;
        this.observe(item, t);
        this.remember(item);
      }
      this.prepareNext(prefix[n - 1] as number);
    }
    const check = (): void => {
      if (generation !== this.generation) {
        throw new Error("stale oracle prediction: predict() was called again since");
      }
    };
    return {
      probability: (item) => {
        check();
        return this.probabilityOf(item);
      },
      topK: (k) => {
        check();
        return this.topKNow(k);
      },
      rankWithin: (item, k) => {
        check();
        const p = this.probabilityOf(item);
        if (p <= 0) return 0;
        const top = this.topKNow(k);
        const at = top.findIndex((entry) => entry.item === item);
        return at === -1 ? 0 : at + 1;
      },
    };
  }

  private resetHistory(): void {
    this.history.length = 0;
    this.epoch++;
    if (this.epoch === 0xffffffff) {
      this.seenStamp.fill(0);
      this.epoch = 1;
    }
  }

  private remember(item: number): void {
    if (this.seenStamp[item] !== this.epoch) {
      this.seenStamp[item] = this.epoch;
      this.history.push(item);
    }
  }

  private leafOfObserved(item: number, position: number): number {
    const leaf = item >= 0 && item < this.nItems ? (this.itemLeaf[item] as number) : -1;
    if (leaf < 0) {
      throw new ZeroProbabilityPrefixError(
        `prefix item ${position} (${this.model.skus[item] ?? item}) is never emitted by the process`,
      );
    }
    return leaf;
  }

  /**
   * From the filtered P(z_t | x_1..x_t), computes the unnormalized leaf weights
   * w_c = P(z_{t+1} = c | x_1..x_t) / (1 - popularity'·Pop_c(x_t)) and the mixture weights in
   * effect for the next emission, with `last` = x_t.
   */
  private prepareNext(last: number): void {
    this.last = last;
    this.groupMass.fill(0);
    for (let c = 0; c < this.nLeaves; c++) {
      const g = this.leafGroup[c] as number;
      this.groupMass[g] = (this.groupMass[g] as number) + (this.filtered[c] as number);
    }
    // D excludes x_t, which is always in the history.
    const revisitable = this.history.length - 1;
    const { related, popularity, revisit } = this.model.emission;
    if (revisitable > 0) {
      this.wRelated = related;
      this.wPopularity = popularity;
      this.wRevisit = revisit;
    } else {
      this.wRelated = related / (related + popularity);
      this.wPopularity = popularity / (related + popularity);
      this.wRevisit = 0;
    }
    const lastLeaf = this.itemLeaf[last] as number;
    let sum = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      let p =
        this.stay * (this.filtered[c] as number) +
        this.switchGroup *
          (this.groupMass[this.leafGroup[c] as number] as number) *
          (this.groupShare[c] as number) +
        this.switchGlobal * (this.initial[c] as number);
      // Only x_t's own leaf can re-emit x_t, so only its normalizer differs from 1.
      if (c === lastLeaf) p /= 1 - this.wPopularity * (this.itemPop[last] as number);
      this.weights[c] = p;
      sum += p;
    }
    this.weightSum = sum;
  }

  /** a'·R(x_t, j) + g'·U_D(j): the part of the emission that does not depend on the leaf. */
  private shared(item: number): number {
    let mass = 0;
    if (this.last >= 0) {
      const end = this.relStart[this.last + 1] as number;
      for (let e = this.relStart[this.last] as number; e < end; e++) {
        if (this.relItem[e] === item) {
          mass += this.wRelated * (this.relProb[e] as number);
          break;
        }
      }
    }
    if (this.wRevisit > 0 && item !== this.last && this.seenStamp[item] === this.epoch) {
      mass += this.wRevisit / (this.history.length - 1);
    }
    return mass;
  }

  private probabilityOf(item: number): number {
    if (item < 0 || item >= this.nItems || item === this.last) return 0;
    let p = this.weightSum * this.shared(item);
    const leaf = this.itemLeaf[item] as number;
    if (leaf >= 0)
      p += this.wPopularity * (this.weights[leaf] as number) * (this.itemPop[item] as number);
    return p;
  }

  /** Bayes update of the leaf posterior with the observed next item. */
  private observe(item: number, position: number): void {
    const leaf = this.leafOfObserved(item, position);
    if (item === this.last) {
      throw new ZeroProbabilityPrefixError(
        `prefix item ${position} repeats the item before it (the process never does; collapse first)`,
      );
    }
    const shared = this.shared(item);
    let total = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      let f = (this.weights[c] as number) * shared;
      if (c === leaf)
        f += (this.weights[c] as number) * this.wPopularity * (this.itemPop[item] as number);
      this.filtered[c] = f;
      total += f;
    }
    if (!(total > 0)) {
      throw new ZeroProbabilityPrefixError(`prefix item ${position} has zero probability here`);
    }
    for (let c = 0; c < this.nLeaves; c++) this.filtered[c] = (this.filtered[c] as number) / total;
  }

  /**
   * Exact top-k without scoring the catalog: items reachable through the shared part (related
   * items of x_t, revisitable history) are scored exactly; every other item's probability is its
   * popularity term alone, so the leaves' lists are merged lazily in decreasing order of that term
   * and the walk stops once it cannot beat the current k-th best.
   */
  private topKNow(k: number): ScoredItem[] {
    const top: ScoredItem[] = [];
    if (k <= 0) return top;
    this.candidateEpoch++;
    if (this.candidateEpoch === 0xffffffff) {
      this.candidateStamp.fill(0);
      this.candidateEpoch = 1;
    }
    if (this.last >= 0) {
      this.candidateStamp[this.last] = this.candidateEpoch; // P(x_t) = 0
      const end = this.relStart[this.last + 1] as number;
      for (let e = this.relStart[this.last] as number; e < end; e++) {
        this.offerExact(top, k, this.relItem[e] as number);
      }
      if (this.wRevisit > 0) for (const item of this.history) this.offerExact(top, k, item);
    }

    // A max-heap of leaves keyed by the popularity term of their next unvisited item.
    const heap = this.heap;
    let size = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      const start = this.leafStart[c] as number;
      const w = this.weights[c] as number;
      if (w > 0 && start < (this.leafStart[c + 1] as number)) {
        this.cursor[c] = start;
        this.heapKey[c] = this.wPopularity * w * (this.leafProb[start] as number);
        heap[size++] = c;
      }
    }
    for (let i = (size >> 1) - 1; i >= 0; i--) this.siftDown(i, size);
    while (size > 0) {
      const c = heap[0] as number;
      const bound = this.heapKey[c] as number;
      if (!(bound > 0)) break;
      if (top.length === k && bound < (top[k - 1] as ScoredItem).p) break;
      const item = this.leafItems[this.cursor[c] as number] as number;
      // Not a candidate, so its probability is exactly the popularity term (the key).
      this.offerExact(top, k, item);
      const next = (this.cursor[c] as number) + 1;
      if (next < (this.leafStart[c + 1] as number)) {
        this.cursor[c] = next;
        this.heapKey[c] =
          this.wPopularity * (this.weights[c] as number) * (this.leafProb[next] as number);
      } else {
        heap[0] = heap[--size] as number;
      }
      if (size > 0) this.siftDown(0, size);
    }
    return top;
  }

  /** Scores `item` exactly, once per topK call, and keeps it if it makes the top k. */
  private offerExact(top: ScoredItem[], k: number, item: number): void {
    if (this.candidateStamp[item] === this.candidateEpoch) return;
    this.candidateStamp[item] = this.candidateEpoch;
    const p = this.probabilityOf(item);
    if (!(p > 0)) return;
    // Ordered by probability, then item index, so ties resolve the same way every time.
    if (top.length === k) {
      const worst = top[k - 1] as ScoredItem;
      if (p < worst.p || (p === worst.p && item > worst.item)) return;
      top.pop();
    }
    let at = top.length;
    while (at > 0) {
      const prev = top[at - 1] as ScoredItem;
      if (prev.p > p || (prev.p === p && prev.item < item)) break;
      at--;
    }
    top.splice(at, 0, { item, p });
  }

  private heapAbove(a: number, b: number): boolean {
    const ka = this.heapKey[a] as number;
    const kb = this.heapKey[b] as number;
    if (ka !== kb) return ka > kb;
    return (
      (this.leafItems[this.cursor[a] as number] as number) <
      (this.leafItems[this.cursor[b] as number] as number)
    );
  }

  private siftDown(from: number, size: number): void {
    const heap = this.heap;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < size && this.heapAbove(heap[l] as number, heap[best] as number)) best = l;
      if (r < size && this.heapAbove(heap[r] as number, heap[best] as number)) best = r;
      if (best === i) return;
      const tmp = heap[i] as number;
      heap[i] = heap[best] as number;
      heap[best] = tmp;
      i = best;
    }
  }
}
