import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorld } from "../../pipeline/data/generator/catalog.ts";
import { probabilityText } from "../../pipeline/data/generator/format.ts";
import {
  generate,
  ORACLE_COLUMNS,
  type GenerateResult,
} from "../../pipeline/data/generator/index.ts";
import { Rng } from "../../pipeline/prng.ts";
import { planSession, ProcessSampler } from "../../pipeline/data/generator/process.ts";
import { loadGenerativeModel, Oracle, type GenerativeModel } from "../../pipeline/data/oracle.ts";
import { DATA_FILES, DATA_KINDS, type DatasetKind } from "../../pipeline/data/schema.ts";
import { validateRecord } from "../../pipeline/data/validate.ts";

const SESSIONS = 3_000;
const SKUS = 3_000;
const SEED = 7;
const HEX = /^[0-9a-f]{64}$/;
const THIRTY_MINUTES = 30 * 60_000;

const root = mkdtempSync(join(tmpdir(), "generator-test-"));
let first: GenerateResult;
let again: GenerateResult;
let otherSeed: GenerateResult;

beforeAll(async () => {
  const options = { sessions: SESSIONS, skus: SKUS, seed: SEED };
  first = await generate({ ...options, outDir: join(root, "a") });
  again = await generate({ ...options, outDir: join(root, "b") });
  otherSeed = await generate({ ...options, seed: SEED + 1, outDir: join(root, "c") });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function parse(path: string): string[][] {
  const parsed = Papa.parse<string[]>(readFileSync(path, "utf8"), { skipEmptyLines: true });
  expect(parsed.errors).toEqual([]);
  return parsed.data;
}

const table = new Map<string, string[][]>();
function rows(kind: DatasetKind | "oracle"): string[][] {
  const path = kind === "oracle" ? first.files.oracle : first.files[kind];
  let data = table.get(path);
  if (!data) {
    data = parse(path);
    table.set(path, data);
  }
  return data;
}

/** Python-style `['a', 'b']` list of hashes; a malformed list comes back as ["malformed"]. */
function pyList(field: string): string[] {
  if (field === "") return [];
  if (!/^\['[0-9a-f]{64}'(, '[0-9a-f]{64}')*\]$/.test(field)) return ["malformed"];
  return field.slice(2, -2).split("', '");
}

interface BrowsingEvent {
  type: string;
  action: string;
  sku: string;
  ts: number;
}

function browsingBySession(): Map<string, BrowsingEvent[]> {
  const bySession = new Map<string, BrowsingEvent[]>();
  for (const [sid, type, action, sku, ts] of rows("browsing").slice(1) as string[][]) {
    const list = bySession.get(sid as string) ?? [];
    list.push({
      type: type as string,
      action: action as string,
      sku: sku as string,
      ts: Number(ts),
    });
    bySession.set(sid as string, list);
  }
  return bySession;
}

interface DerivedSession {
  sid: string;
  start: number;
  items: string[];
}

/**
 * What the dbt models do: keep detail/add/purchase, sort by time within session id, cut at
 * inactivity gaps of 30 minutes or more, collapse consecutive repeats. With `allEvents`, the
 * cut is made on every browsing event before filtering instead (the other reading of
 * sessionization); both must give the same sessions.
 */
function deriveSessions(allEvents: boolean): DerivedSession[] {
  const out: DerivedSession[] = [];
  for (const [sid, events] of browsingBySession()) {
    const kept = (allEvents ? events : events.filter(isSequenceEvent)).slice();
    kept.sort((a, b) => a.ts - b.ts);
    let block: BrowsingEvent[] = [];
    const close = (): void => {
      const product = block.filter(isSequenceEvent);
      const items: string[] = [];
      for (const event of product) if (items[items.length - 1] !== event.sku) items.push(event.sku);
      if (items.length > 0) out.push({ sid, start: (block[0] as BrowsingEvent).ts, items });
      block = [];
    };
    for (const event of kept) {
      const previous = block[block.length - 1];
      if (previous && event.ts - previous.ts >= THIRTY_MINUTES) close();
      block.push(event);
    }
    close();
  }
  return out;
}

function isSequenceEvent(event: BrowsingEvent): boolean {
  return event.action === "detail" || event.action === "add" || event.action === "purchase";
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

describe("generate: determinism", () => {
  it("writes byte-identical files for the same seed and options", () => {
    for (const name of Object.keys(first.files) as (keyof GenerateResult["files"])[]) {
      expect(sha256(again.files[name]), name).toBe(sha256(first.files[name]));
    }
    expect(again.counts).toEqual(first.counts);
  });

  it("writes different files for a different seed", () => {
    for (const name of Object.keys(first.files) as (keyof GenerateResult["files"])[]) {
      expect(sha256(otherSeed.files[name]), name).not.toBe(sha256(first.files[name]));
    }
  });

  it("draws from a reproducible stream that depends on every key part", () => {
    const draw = (...parts: number[]): number[] => {
      const rng = Rng.from(...parts);
      return Array.from({ length: 4 }, () => rng.uint32());
    };
    expect(draw(1, 2, 3)).toEqual(draw(1, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 2, 4));
    expect(draw(1, 2, 3)).not.toEqual(draw(2, 1, 3));
  });

  it("rejects nonsense options with an input error", async () => {
    const base = { outDir: join(root, "bad"), sessions: 10, skus: 100, seed: 1 };
    await expect(generate({ ...base, sessions: 0 })).rejects.toThrow(/sessions/);
    await expect(generate({ ...base, skus: 3 })).rejects.toThrow(/skus/);
    await expect(generate({ ...base, seed: 1.5 })).rejects.toThrow(/seed/);
  });
});

describe("generate: format", () => {
  it("writes the challenge headers and the right number of columns on every row", () => {
    for (const kind of DATA_KINDS) {
      const data = rows(kind);
      expect(data[0]).toEqual([...DATA_FILES[kind].columns]);
      for (const row of data) expect(row).toHaveLength(DATA_FILES[kind].columns.length);
    }
    expect(rows("oracle")[0]).toEqual([...ORACLE_COLUMNS]);
    expect(first.counts.browsingRows).toBe(rows("browsing").length - 1);
    expect(first.counts.searchRows).toBe(rows("search").length - 1);
    expect(first.counts.catalogRows).toBe(SKUS);
  });

  it("writes rows the upload stage's validator accepts", () => {
    for (const kind of DATA_KINDS) {
      for (const row of rows(kind).slice(1)) {
        const result = validateRecord(kind, row);
        expect(result.ok ? "ok" : JSON.stringify(result.rejection), kind).toBe("ok");
      }
    }
  });

  it("uses 64-character lowercase hex hashes everywhere", () => {
    // Problems are collected rather than asserted per field: tens of thousands of expect() calls
    // would dominate the test's time.
    const problems: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok && problems.length < 10) problems.push(what);
    };
    const vectorPattern = /^\[-?\d+\.\d{4}(, -?\d+\.\d{4}){49}\]$/;
    for (const [sid, type, action, sku, ts, url] of rows("browsing").slice(1) as string[][]) {
      check(HEX.test(sid as string) && HEX.test(url as string), `ids ${sid} ${url}`);
      const product = ["detail", "add", "purchase", "remove", "click"].includes(action as string);
      check(
        (type === "pageview" && action === "") || (type === "event_product" && product),
        `type ${type}/${action}`,
      );
      check(sku === "" ? type === "pageview" : HEX.test(sku as string), `sku ${sku}`);
      check(Number(ts) > 1.5e12 && Number(ts) < 1.6e12, `timestamp ${ts}`);
    }
    for (const [sid, ts, vector, results, clicked] of rows("search").slice(1) as string[][]) {
      check(HEX.test(sid as string) && /^\d{13}$/.test(ts as string), `search ${sid} ${ts}`);
      check(vectorPattern.test(vector as string), `query vector ${vector}`);
      const shown = pyList(results as string);
      const clicks = pyList(clicked as string);
      check(![...shown, ...clicks].includes("malformed"), `lists ${results} / ${clicked}`);
      check(
        clicks.every((click) => shown.includes(click)),
        `clicked ${clicked} not shown`,
      );
    }
    const paths = new Set<string>();
    for (const [sku, description, category, image, price] of rows("catalog").slice(
      1,
    ) as string[][]) {
      check(HEX.test(sku as string), `catalog sku ${sku}`);
      if (description === "") {
        check(image === "" && category === "" && price === "", `bare row ${sku}`);
        continue;
      }
      check(
        vectorPattern.test(description as string) && vectorPattern.test(image as string),
        "vectors",
      );
      check(/^([1-9]|10)\.0$/.test(price as string), `price ${price}`);
      const parts = (category as string).split("/");
      check(parts.length === 3 && parts.every((part) => HEX.test(part)), `category ${category}`);
      paths.add(category as string);
    }
    expect(problems).toEqual([]);
    // A real tree: leaves share their parents.
    const parents = new Set([...paths].map((path) => path.split("/").slice(0, 2).join("/")));
    const tops = new Set([...paths].map((path) => path.split("/")[0]));
    expect(tops.size).toBeGreaterThan(1);
    expect(parents.size).toBeGreaterThan(tops.size);
    expect(paths.size).toBeGreaterThan(parents.size);
  });
});

describe("generate: shape", () => {
  it("looks like the real set: pageviews, action mix, heavy-tailed sessions, searches", () => {
    const data = rows("browsing").slice(1);
    const perSession = new Map<string, number>();
    const actions = new Map<string, number>();
    let pageviews = 0;
    for (const [sid, type, action] of data as string[][]) {
      perSession.set(sid as string, (perSession.get(sid as string) ?? 0) + 1);
      if (type === "pageview") pageviews++;
      else actions.set(action as string, (actions.get(action as string) ?? 0) + 1);
    }
    expect(perSession.size).toBe(SESSIONS);
    const share = pageviews / data.length;
    expect(share).toBeGreaterThan(0.64);
    expect(share).toBeLessThan(0.78);
    const count = (action: string): number => actions.get(action) ?? 0;
    expect(count("detail")).toBeGreaterThan(15 * count("add"));
    expect(count("add")).toBeGreaterThan(2 * count("purchase"));
    expect(count("remove")).toBeGreaterThan(count("purchase"));
    expect(count("purchase")).toBeGreaterThan(0);

    const lengths = [...perSession.values()].sort((a, b) => a - b);
    const median = quantile(lengths, 0.5);
    expect(median).toBeLessThanOrEqual(4);
    expect(quantile(lengths, 0.9)).toBeGreaterThanOrEqual(3 * median);

    const searches = rows("search").slice(1);
    const empty = searches.filter((row) => row[3] === "").length / searches.length;
    expect(empty).toBeGreaterThan(0.15);
    expect(empty).toBeLessThan(0.4);
  });

  it("has session ids that span several sessions (a 30-minute gap inside)", () => {
    let split = 0;
    for (const events of browsingBySession().values()) {
      const times = events.map((event) => event.ts).sort((a, b) => a - b);
      if (times.some((t, i) => i > 0 && t - (times[i - 1] as number) >= THIRTY_MINUTES)) split++;
    }
    expect(split).toBeGreaterThan(SESSIONS * 0.02);
    expect(first.counts.processSessions).toBeGreaterThan(first.counts.evaluableSessions);
  });

  it("has about half the catalog without metadata and some SKUs never browsed", () => {
    const catalog = rows("catalog").slice(1);
    const bare = catalog.filter((row) => row[1] === "").length / catalog.length;
    expect(bare).toBeGreaterThan(0.42);
    expect(bare).toBeLessThan(0.62);
    const browsed = new Set(rows("browsing").map((row) => row[3]));
    const never = catalog.filter((row) => !browsed.has(row[0] as string)).length;
    expect(never).toBeGreaterThan(0.05 * catalog.length);
  });
});

/**
 * P(x_{t+1} | prefix) by summing the joint over every hidden path: exponential, so only for a
 * tiny model, and written from the process's definition without any of the oracle's code.
 */
function bruteForceNext(model: GenerativeModel, prefix: number[]): Float64Array {
  const leaves = model.leaves;
  const n = model.skus.length;
  const pop = leaves.map((leaf) => {
    const p = new Float64Array(n);
    leaf.items.forEach((item, k) => (p[item] = leaf.probabilities[k] as number));
    return p;
  });
  const groupMass = (g: number): number =>
    leaves.filter((leaf) => leaf.group === g).reduce((sum, leaf) => sum + leaf.initial, 0);
  const transition = (from: number, to: number): number => {
    const { stay, switchWithinGroup } = model.intent;
    const a = leaves[from] as (typeof leaves)[number];
    const b = leaves[to] as (typeof leaves)[number];
    return (
      (from === to ? stay : 0) +
      (a.group === b.group ? (switchWithinGroup * b.initial) / groupMass(a.group) : 0) +
      (1 - stay - switchWithinGroup) * b.initial
    );
  };
  const emission = (z: number, history: number[], j: number): number => {
    const zPop = pop[z] as Float64Array;
    if (history.length === 0) return zPop[j] as number;
    const prev = history[history.length - 1] as number;
    if (j === prev) return 0;
    const revisitable = [...new Set(history)].filter((item) => item !== prev);
    let { related: a, popularity: b, revisit: g } = model.emission;
    if (revisitable.length === 0) [a, b, g] = [a / (a + b), b / (a + b), 0];
    const edges = model.related[prev] as GenerativeModel["related"][number];
    const k = edges.items.indexOf(j);
    const r = k >= 0 ? (edges.probabilities[k] as number) : 0;
    const v = revisitable.includes(j) ? 1 / revisitable.length : 0;
    return (a * r + b * (zPop[j] as number) + g * v) / (1 - b * (zPop[prev] as number));
  };
  const out = new Float64Array(n);
  const walk = (t: number, z: number, weight: number): void => {
    if (t === prefix.length) {
      for (let next = 0; next < leaves.length; next++) {
        const w = weight * (t === 0 ? (leaves[next]?.initial as number) : transition(z, next));
        for (let j = 0; j < n; j++)
          out[j] = (out[j] as number) + w * emission(next, prefix.slice(0, t), j);
      }
      return;
    }
    for (let next = 0; next < leaves.length; next++) {
      const w = weight * (t === 0 ? (leaves[next]?.initial as number) : transition(z, next));
      const e = emission(next, prefix.slice(0, t), prefix[t] as number);
      if (w * e > 0) walk(t + 1, next, w * e);
    }
  };
  walk(0, -1, 1);
  const total = out.reduce((sum, p) => sum + p, 0);
  return out.map((p) => p / total);
}

describe("oracle", () => {
  it("gives next-item distributions that sum to 1", () => {
    const world = buildWorld(SEED, SKUS);
    const oracle = new Oracle(world.model);
    const sampler = new ProcessSampler(world.model);
    const rng = Rng.from(99);
    for (let trial = 0; trial < 20; trial++) {
      const { items } = sampler.sample(rng, 1 + rng.int(8));
      const prefix = items.map((item) => oracle.skuOf(item));
      const distribution = oracle.nextItemDistribution(prefix);
      let total = 0;
      for (const p of distribution.values()) total += p;
      expect(total).toBeCloseTo(1, 12);
      expect(distribution.has(prefix[prefix.length - 1] as string)).toBe(false);
      const top = oracle.topK(prefix, 20);
      const best = [...distribution].sort((a, b) => b[1] - a[1]).slice(0, 20);
      expect(top.map((entry) => entry.p)).toEqual(best.map(([, p]) => p));
    }
    let total = 0;
    for (const p of oracle.nextItemDistribution([]).values()) total += p;
    expect(total).toBeCloseTo(1, 12);
  });

  it("agrees with a brute-force sum over hidden paths on a tiny model", () => {
    const world = buildWorld(3, 14);
    const model = world.model;
    expect(model.leaves.length).toBe(3);
    const oracle = new Oracle(model);
    const sampler = new ProcessSampler(model);
    const rng = Rng.from(5);
    for (let trial = 0; trial < 40; trial++) {
      const prefix = trial === 0 ? [] : sampler.sample(rng, 1 + (trial % 5)).items;
      const expected = bruteForceNext(model, prefix);
      const prediction = oracle.predict(prefix);
      for (let j = 0; j < model.skus.length; j++) {
        expect(prediction.probability(j)).toBeCloseTo(expected[j] as number, 12);
      }
      const top = prediction.topK(5).map((entry) => entry.item);
      const order = Array.from(expected, (p, j) => ({ j, p }))
        .filter((entry) => entry.p > 0)
        .sort((a, b) => b.p - a.p || a.j - b.j)
        .slice(0, 5)
        .map((entry) => entry.j);
      // Equal up to floating-point ties, which the brute force may order differently.
      top.forEach((item, r) =>
        expect(expected[item]).toBeCloseTo(expected[order[r] as number] as number, 12),
      );
    }
  });

  it("is the distribution the generator samples from (empirically)", () => {
    const world = buildWorld(11, 20);
    const oracle = new Oracle(world.model);
    const sampler = new ProcessSampler(world.model);
    const rng = Rng.from(12);
    const counts = new Map<string, number[]>();
    const draws = 150_000;
    for (let s = 0; s < draws; s++) {
      const { items } = sampler.sample(rng, 3);
      const key = `${items[0]},${items[1]}`;
      const next = counts.get(key) ?? new Array<number>(world.model.skus.length).fill(0);
      next[items[2] as number] = (next[items[2] as number] as number) + 1;
      counts.set(key, next);
    }
    const common = [...counts].sort(
      (a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0),
    );
    for (const [key, next] of common.slice(0, 3)) {
      const total = next.reduce((x, y) => x + y, 0);
      expect(total).toBeGreaterThan(2_000);
      const prediction = oracle.predict(key.split(",").map(Number));
      let distance = 0;
      next.forEach((c, j) => (distance += Math.abs(c / total - prediction.probability(j))));
      expect(distance / 2).toBeLessThan(0.04);
    }
  });

  it("holds for exactly the sessions dbt will derive from browsing_train.csv", () => {
    const derived = deriveSessions(false);
    // Cutting on all events first gives the same sessions, starting at the same event.
    expect(deriveSessions(true)).toEqual(derived);

    const world = buildWorld(SEED, SKUS);
    const sampler = new ProcessSampler(world.model);
    const oracleRows = rows("oracle").slice(1);
    const starts = new Map(
      oracleRows.map((row) => [`${row[0]}|${row[2]}|${row[3]}`, Number(row[1])]),
    );
    const byId = new Map<string, DerivedSession[]>();
    for (const session of derived)
      byId.set(session.sid, [...(byId.get(session.sid) ?? []), session]);
    // Replay each session id's process from its own stream and compare item for item.
    const planned = new Map<string, string[][]>();
    for (let i = 0; i < SESSIONS; i++) {
      const plan = planSession(sampler, SEED, i);
      const ids = plan.blocks.map((block) =>
        block.items.map((item) => world.model.skus[item] as string),
      );
      planned.set(createHash("sha256").update(`${SEED}:session:${i}`).digest("hex"), ids);
    }
    let evaluable = 0;
    for (const [id, blocks] of planned) {
      const got = (byId.get(id) ?? []).map((session) => session.items);
      expect(got).toEqual(blocks);
      for (const session of byId.get(id) ?? []) {
        if (session.items.length < 2) continue;
        evaluable++;
        const key = `${id}|${session.items.length}|${session.items[session.items.length - 1]}`;
        expect(starts.get(key)).toBe(session.start);
      }
    }
    expect(evaluable).toBe(first.counts.evaluableSessions);
    expect(oracleRows.length).toBe(first.counts.evaluableSessions);
    expect(derived.length).toBe(first.counts.processSessions);
  });

  it("beats popularity by a wide margin on the derived sessions, as oracle_topk.csv says", () => {
    const evaluable = deriveSessions(false).filter((session) => session.items.length >= 2);
    const oracle = new Oracle(buildWorld(SEED, SKUS).model);
    const popularity = new Map<string, number>();
    for (const session of evaluable) {
      for (const sku of session.items.slice(0, -1))
        popularity.set(sku, (popularity.get(sku) ?? 0) + 1);
    }
    const popular = [...popularity]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 20);
    const popularSkus = popular.map(([sku]) => sku);

    const file = new Map(
      rows("oracle")
        .slice(1)
        .map((row) => [`${row[0]}|${row[1]}`, row]),
    );
    let oracleHits = 0;
    let popularHits = 0;
    let fileHits = 0;
    for (const session of evaluable) {
      const target = session.items[session.items.length - 1] as string;
      const top = oracle.topK(session.items.slice(0, -1), 20);
      if (top.some((entry) => entry.sku === target)) oracleHits++;
      if (popularSkus.includes(target)) popularHits++;
      const row = file.get(`${session.sid}|${session.start}`) as string[];
      expect(row[3]).toBe(target);
      expect(JSON.parse(row[6] as string)).toEqual(top.map((entry) => entry.sku));
      expect(JSON.parse(row[7] as string)).toEqual(
        top.map((entry) => Number(probabilityText(entry.p))),
      );
      if (row[5] !== "") fileHits++;
    }
    const oracleHr = oracleHits / evaluable.length;
    const popularHr = popularHits / evaluable.length;
    expect(fileHits).toBe(oracleHits);
    expect(oracleHr).toBeGreaterThan(0.5);
    expect(oracleHr).toBeGreaterThan(popularHr + 0.3);
  });

  it("rebuilds the same oracle from generative-model.json", async () => {
    const loaded = new Oracle(await loadGenerativeModel(first.files.model));
    const original = new Oracle(buildWorld(SEED, SKUS).model);
    const sampler = new ProcessSampler(original.model);
    const rng = Rng.from(3);
    for (let trial = 0; trial < 20; trial++) {
      const prefix = sampler.sample(rng, 1 + rng.int(6)).items.map((item) => original.skuOf(item));
      expect(loaded.topK(prefix, 20)).toEqual(original.topK(prefix, 20));
    }
    expect(loaded.model).toEqual(original.model);
  });

  it("refuses prefixes the process cannot produce", () => {
    const oracle = new Oracle(buildWorld(SEED, SKUS).model);
    const sku = oracle.topK([], 1)[0]?.sku as string;
    expect(() => oracle.topK([sku, sku], 5)).toThrow(/repeats/);
    expect(() => oracle.topK(["0".repeat(64)], 5)).toThrow(/unknown sku/);
  });
});
