/**
 * The drift figures against hand-computed values, and how drift gates judge: a warning in a
 * candidate's evaluation, a blocking failure for `pipeline drift`, skipped without traffic.
 */
import { describe, expect, it } from "vitest";
import { evaluateDriftGates, parseGates } from "../../pipeline/evaluate/gates.ts";
import type { Recommender } from "../../pipeline/evaluate/recommender.ts";
import { jensenShannon, measureDrift, psi } from "../../pipeline/monitor/drift.ts";

/** Always recommends the same list: enough to replay sessions through. */
const fixed = (items: string[]): Recommender => ({
  name: "fixed",
  kind: "model",
  recommend: async (prefixes) => prefixes.map(() => items),
});

describe("drift figures", () => {
  it("PSI and Jensen–Shannon: 0 for equal distributions, the textbook values otherwise", () => {
    const equal = [
      { label: "a", training: 0.5, served: 0.5 },
      { label: "b", training: 0.5, served: 0.5 },
    ];
    expect(psi(equal)).toBe(0);
    expect(jensenShannon(equal)).toBe(0);
    const moved = [
      { label: "a", training: 0.5, served: 0.25 },
      { label: "b", training: 0.5, served: 0.75 },
    ];
    // (0.25 − 0.5) ln(0.5) + (0.75 − 0.5) ln(1.5)
    expect(psi(moved)).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
    const disjoint = [
      { label: "a", training: 1, served: 0 },
      { label: "b", training: 0, served: 1 },
    ];
    expect(jensenShannon(disjoint)).toBeCloseTo(1, 12);
  });

  it("measures traffic against training: unknown and unseen SKUs, buckets, lengths, replay", async () => {
    const train = [{ items: ["a", "b", "a"] }, { items: ["a", "c"] }, { items: ["b"] }];
    const served = [{ items: ["a", "b"] }, { items: ["z", "a", "c", "x"] }];
    const catalog = new Set(["a", "b", "c", "z"]);
    const drift = await measureDrift({
      train,
      served,
      catalog,
      model: fixed(["b", "c"]),
      bootstrap: { iterations: 20, seed: 1 },
    });
    expect(drift.servedSessions).toBe(2);
    expect(drift.servedEvents).toBe(6);
    expect(drift.unknownSkuRate).toBeCloseTo(1 / 6, 12); // x
    expect(drift.outOfVocabularyShare).toBeCloseTo(2 / 6, 12); // z, x
    const buckets = drift.popularity.buckets;
    expect(buckets.reduce((sum, b) => sum + b.training, 0)).toBeCloseTo(1, 12);
    expect(buckets.reduce((sum, b) => sum + b.served, 0)).toBeCloseTo(1, 12);
    expect(buckets.at(-1)).toEqual({ label: "unseen in training", training: 0, served: 2 / 6 });
    expect(drift.sessionLength.trainingMean).toBe(2);
    expect(drift.sessionLength.servedMean).toBe(3);
    // Replayed: b after [a] is in the list, x after [z, a, c] is not.
    expect(drift.replay).toMatchObject({ model: "fixed", prefixes: 2, hr20: { value: 0.5, n: 2 } });
  });
});

describe("drift gates", () => {
  const config = parseGates(
    `version: 1
gates:
  - name: psi
    kind: drift
    metric: popularity_psi
    max: 0.25
  - name: unknown
    kind: drift
    metric: unknown_sku_rate
    max: 0.1
    blocking: false
`,
    "gates.yml",
  );

  it("fail blocking ones for pipeline drift, warn for the others, skip without traffic", async () => {
    const shifted = await measureDrift({
      train: [{ items: ["a", "a", "b"] }],
      served: [{ items: ["q", "r", "s"] }],
      catalog: new Set(["a", "b"]),
      model: fixed(["a"]),
      bootstrap: { iterations: 10, seed: 1 },
    });
    const result = evaluateDriftGates(config, shifted);
    expect(result.checks.map((c) => [c.name, c.verdict])).toEqual([
      ["psi", "fail"],
      ["unknown", "warn"],
    ]);
    expect(result.passed).toBe(false);
    const none = { ...shifted, servedEvents: 0, servedSessions: 0 };
    expect(evaluateDriftGates(config, none).checks.map((c) => c.verdict)).toEqual([
      "skipped",
      "skipped",
    ]);
  });

  it("refuses an unknown drift figure, naming the ones there are", () => {
    expect(() =>
      parseGates(
        "version: 1\ngates:\n  - name: x\n    kind: drift\n    metric: nope\n    max: 1\n",
        "g.yml",
      ),
    ).toThrow(/popularity_psi/);
  });
});
