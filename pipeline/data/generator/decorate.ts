/**
 * Turns a session's process-sessions into browsing and search rows, adding exactly what the
 * transforms remove again: pageviews (one at the same millisecond as each detail, as product
 * pages fire both, and others on non-product pages), reloads that repeat a detail, add-to-cart
 * of the item just viewed, removes, search clicks, and a purchase of the last item. Every one of
 * them is either filtered out (pageview, remove, click) or the same SKU as the interaction it
 * follows (repeat, add, purchase), so filtering, sorting and collapsing give back the process.
 *
 * Time is what sessionization reads: inside a process-session consecutive events, and
 * consecutive product events, are always less than 30 minutes apart; between two process-sessions
 * of one session id there is always a pause of at least 31 minutes.
 */
import type { World, CatalogInfo } from "./catalog.ts";
import { WORLD_PARAMS } from "./catalog.ts";
import { fixed, stringListField } from "./format.ts";
import { cumulative, type Rng } from "../../prng.ts";
import type { SessionPlan, ProcessSession } from "./process.ts";

const MINUTE = 60_000;

export const DECORATION_PARAMS = {
  /** 2019-02-12: the real set's timestamps sit around 1.55e12 too. */
  windowStartMs: 1_550_000_000_000,
  windowMs: 42 * 24 * 60 * MINUTE,
  /** Per interaction. */
  repeatDetail: 0.05,
  remove: 0.032,
  /**
   * Carts cluster in a minority of sessions (real: 4.35% of sessions add, 1.5 adds each), so a
   * session id is a shopper or not; shoppers add an item after viewing it this often, and
   * end a process-session with a purchase of its last item this often.
   */
  shopper: 0.15,
  shopperAdd: 0.2,
  shopperPurchase: 0.11,
  /**
   * Non-product pageviews after an interaction (geometric continuation). Fewer after the last
   * one, so one-item sessions stay short (median 3 events) while pageviews make up ~71% of rows.
   */
  fillerContinue: 0.62,
  trailingFillerContinue: 0.45,
  maxFiller: 8,
  /** Chance of a search between two interactions, and in a pageview-only session. */
  search: 0.09,
  searchWithoutProducts: 0.2,
  /** Real: 26.5% of searches show no results. */
  noResults: 0.265,
  resultsMin: 3,
  resultsMax: 20,
  /** The next item is among the results this often, and then clicked this often. */
  nextInResults: 0.35,
  clickNext: 0.8,
  /** Pageviews of a session id without products: 1 + floor(lognormal). */
  pageviewOnlyMu: -0.35,
  pageviewOnlySigma: 1.1,
  pageviewOnlyMax: 60,
  eventGapMedianMs: 20_000,
  eventGapSigma: 1.1,
  /** Time spent before opening the next product. */
  thinkGapMedianMs: 45_000,
  thinkGapSigma: 1.0,
  minGapMs: 1_000,
  maxGapMs: 20 * MINUTE,
  /** Cap on the time between two consecutive product views, safely under the 30-minute cut. */
  segmentBudgetMs: 25 * MINUTE,
  blockPauseMinMs: 31 * MINUTE,
  blockPauseMeanExtraMs: 3 * 60 * MINUTE,
  queryNoise: 0.25,
} as const;

const Kind = { View: 0, Add: 1, Remove: 2, Purchase: 3, Click: 4, Page: 5, Search: 6 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** Well-known pages among the non-product pages: where removes, purchases and clicks happen. */
const CART_PAGE = 1;
const CHECKOUT_PAGE = 2;
const SEARCH_PAGE = 3;

export interface DecoratedSession {
  browsing: string;
  search: string;
  /** First event time of each process-session (its detail and pageview share it). */
  blockStarts: number[];
  browsingRows: number;
  searchRows: number;
  productEvents: number;
  pageviews: number;
}

interface SearchPayload {
  leaf: number;
  results: number[];
  clicked: number[];
}

export class Decorator {
  private readonly catalog: CatalogInfo;
  private readonly leafItems: Int32Array[];
  private readonly leafCumulative: Float64Array[];
  private readonly initialCumulative: Float64Array;

  // Per-session output and the pending events of the current segment.
  private sid = "";
  private out: DecoratedSession = emptySession();
  private readonly kinds: Kind[] = [];
  /** The SKU of a product event, or the page index of a non-product pageview. */
  private readonly targets: number[] = [];
  private readonly gaps: number[] = [];
  private readonly payloads: (SearchPayload | null)[] = [];

  constructor(world: World) {
    this.catalog = world.catalog;
    this.leafItems = world.model.leaves.map((leaf) => Int32Array.from(leaf.items));
    this.leafCumulative = world.model.leaves.map((leaf) => cumulative(leaf.probabilities));
    this.initialCumulative = cumulative(world.model.leaves.map((leaf) => leaf.initial));
  }

  decorate(plan: SessionPlan, sessionId: string, rng: Rng): DecoratedSession {
    const P = DECORATION_PARAMS;
    this.sid = sessionId;
    this.out = emptySession();
    let t = P.windowStartMs + rng.int(P.windowMs);
    if (plan.blocks.length === 0) {
      this.pageviewOnly(rng, t);
      return this.out;
    }
    const shopper = rng.chance(P.shopper);
    plan.blocks.forEach((block, b) => {
      if (b > 0) {
        t += P.blockPauseMinMs + Math.floor(rng.exponential(P.blockPauseMeanExtraMs));
      }
      this.out.blockStarts.push(t);
      t = this.block(rng, block, t, shopper);
    });
    return this.out;
  }

  private pageviewOnly(rng: Rng, start: number): void {
    const P = DECORATION_PARAMS;
    const count = Math.min(
      P.pageviewOnlyMax,
      1 + Math.floor(Math.exp(P.pageviewOnlyMu + P.pageviewOnlySigma * rng.normal())),
    );
    const searchAfter = rng.chance(P.searchWithoutProducts) ? rng.int(count) : -1;
    let t = start;
    for (let k = 0; k < count; k++) {
      if (k > 0) t += this.eventGap(rng);
      this.emitPage(t, this.pickPage(rng));
      if (k === searchAfter) {
        t += this.eventGap(rng);
        const leaf = rng.pickCumulative(this.initialCumulative);
        this.emitSearch(rng, t, { leaf, results: this.searchResults(rng, leaf, -1), clicked: [] });
      }
    }
  }

  /** Decorates one process-session starting at `start`; returns the time of its last event. */
  private block(rng: Rng, block: ProcessSession, start: number, shopper: boolean): number {
    const P = DECORATION_PARAMS;
    const { items, intents } = block;
    const addChance = shopper ? P.shopperAdd : 0;
    const purchase = shopper && rng.chance(P.shopperPurchase);
    const added: number[] = [];
    let t = start;
    this.emitView(t, items[0] as number);
    for (let s = 0; s < items.length; s++) {
      const x = items[s] as number;
      const last = s === items.length - 1;
      this.clearSegment();
      if (rng.chance(P.repeatDetail)) this.push(Kind.View, x, this.eventGap(rng));
      if (rng.chance(addChance) || (last && purchase)) {
        this.push(Kind.Add, x, this.eventGap(rng));
        added.push(x);
      }
      if (rng.chance(P.remove)) {
        // Half of removes clear something added now, the rest a cart from an earlier visit.
        const sku =
          added.length > 0 && rng.chance(0.5)
            ? (added[rng.int(added.length)] as number)
            : (this.catalog.popularItems[
                rng.pickCumulative(this.catalog.popularCumulative)
              ] as number);
        this.push(Kind.Remove, sku, this.eventGap(rng));
      }
      if (last && purchase) this.push(Kind.Purchase, x, this.eventGap(rng));
      const fillers = rng.geometric(
        last ? P.trailingFillerContinue : P.fillerContinue,
        P.maxFiller,
      );
      for (let k = 0; k < fillers; k++)
        this.push(Kind.Page, this.pickPage(rng), this.eventGap(rng));
      if (!last) {
        const next = items[s + 1] as number;
        if (rng.chance(P.search)) {
          // The search reflects the intent that is about to choose the next item.
          const leaf = intents[s + 1] as number;
          const results = this.searchResults(rng, leaf, next);
          const clicked = results.includes(next) && rng.chance(P.clickNext) ? [next] : [];
          this.push(Kind.Search, next, this.eventGap(rng), { leaf, results, clicked });
          if (clicked.length > 0) this.push(Kind.Click, next, this.eventGap(rng));
        }
        this.push(Kind.View, next, this.gap(rng, P.thinkGapMedianMs, P.thinkGapSigma));
      }
      t = this.flushSegment(rng, t);
    }
    return t;
  }

  private clearSegment(): void {
    this.kinds.length = 0;
    this.targets.length = 0;
    this.gaps.length = 0;
    this.payloads.length = 0;
  }

  private push(
    kind: Kind,
    target: number,
    gap: number,
    payload: SearchPayload | null = null,
  ): void {
    this.kinds.push(kind);
    this.targets.push(target);
    this.gaps.push(gap);
    this.payloads.push(payload);
  }

  /** Emits the pending segment after `t`, squeezed into the budget if its gaps add up too long. */
  private flushSegment(rng: Rng, t: number): number {
    const P = DECORATION_PARAMS;
    let total = 0;
    for (const gap of this.gaps) total += gap;
    const scale = total > P.segmentBudgetMs ? P.segmentBudgetMs / total : 1;
    for (let k = 0; k < this.kinds.length; k++) {
      // At least 1 ms, so product events of different SKUs never share a timestamp and the
      // sort by time is unambiguous.
      t +=
        scale === 1
          ? (this.gaps[k] as number)
          : Math.max(1, Math.floor((this.gaps[k] as number) * scale));
      const sku = this.targets[k] as number;
      switch (this.kinds[k] as Kind) {
        case Kind.View:
          this.emitView(t, sku);
          break;
        case Kind.Add:
          this.emitProduct(t, "add", sku, this.catalog.productUrl[sku] as string);
          break;
        case Kind.Remove:
          this.emitProduct(t, "remove", sku, this.catalog.pageUrl[CART_PAGE] as string);
          break;
        case Kind.Purchase:
          this.emitProduct(t, "purchase", sku, this.catalog.pageUrl[CHECKOUT_PAGE] as string);
          break;
        case Kind.Click:
          this.emitProduct(t, "click", sku, this.catalog.pageUrl[SEARCH_PAGE] as string);
          break;
        case Kind.Page:
          this.emitPage(t, sku);
          break;
        case Kind.Search:
          this.emitSearch(rng, t, this.payloads[k] as SearchPayload);
          break;
      }
    }
    return t;
  }

  private eventGap(rng: Rng): number {
    return this.gap(rng, DECORATION_PARAMS.eventGapMedianMs, DECORATION_PARAMS.eventGapSigma);
  }

  private gap(rng: Rng, median: number, sigma: number): number {
    const P = DECORATION_PARAMS;
    const ms = Math.round(median * Math.exp(sigma * rng.normal()));
    return Math.min(P.maxGapMs, Math.max(P.minGapMs, ms));
  }

  private pickPage(rng: Rng): number {
    return rng.pickCumulative(this.catalog.pageCumulative);
  }

  /** Results from the intent's leaf by popularity; the next item is sometimes among them. */
  private searchResults(rng: Rng, leaf: number, next: number): number[] {
    const P = DECORATION_PARAMS;
    if (rng.chance(P.noResults)) return [];
    const items = this.leafItems[leaf] as Int32Array;
    const cumulative = this.leafCumulative[leaf] as Float64Array;
    const want = Math.min(items.length, P.resultsMin + rng.int(P.resultsMax - P.resultsMin + 1));
    const results: number[] = [];
    for (let attempt = 0; results.length < want && attempt < 4 * want; attempt++) {
      const item = items[rng.pickCumulative(cumulative)] as number;
      if (!results.includes(item)) results.push(item);
    }
    if (next >= 0 && !results.includes(next) && rng.chance(P.nextInResults)) {
      results.splice(rng.int(results.length + 1), 0, next);
    }
    return results;
  }

  private hashes(items: readonly number[]): string[] {
    return items.map((item) => this.catalog.skus[item] as string);
  }

  private emitView(t: number, sku: number): void {
    const hash = this.catalog.skus[sku] as string;
    const url = this.catalog.productUrl[sku] as string;
    this.out.browsing +=
      `${this.sid},pageview,,${hash},${t},${url}\n` +
      `${this.sid},event_product,detail,${hash},${t},${url}\n`;
    this.out.browsingRows += 2;
    this.out.pageviews++;
    this.out.productEvents++;
  }

  private emitProduct(t: number, action: string, sku: number, url: string): void {
    this.out.browsing += `${this.sid},event_product,${action},${this.catalog.skus[sku]},${t},${url}\n`;
    this.out.browsingRows++;
    this.out.productEvents++;
  }

  private emitPage(t: number, page: number): void {
    this.out.browsing += `${this.sid},pageview,,,${t},${this.catalog.pageUrl[page]}\n`;
    this.out.browsingRows++;
    this.out.pageviews++;
  }

  private emitSearch(rng: Rng, t: number, payload: SearchPayload): void {
    const dim = WORLD_PARAMS.vectorDimension;
    const centroid = this.catalog.leafCentroid;
    let vector = '"[';
    for (let k = 0; k < dim; k++) {
      const value =
        (centroid[payload.leaf * dim + k] as number) + DECORATION_PARAMS.queryNoise * rng.normal();
      vector += k === 0 ? fixed(value) : `, ${fixed(value)}`;
    }
    vector += ']"';
    this.out.search += `${this.sid},${t},${vector},${stringListField(this.hashes(payload.results))},${stringListField(this.hashes(payload.clicked))}\n`;
    this.out.searchRows++;
  }
}

function emptySession(): DecoratedSession {
  return {
    browsing: "",
    search: "",
    blockStarts: [],
    browsingRows: 0,
    searchRows: 0,
    productEvents: 0,
    pageviews: 0,
  };
}
