import { describe, expect, it } from "vitest";
import { decidePromotion } from "../../pipeline/promote/decision.ts";
import type { DecisionInput, MetricsSummary } from "../../pipeline/promote/decision.ts";

const passed = { passed: true, failedBlocking: [] };
/** HR@20 `hr` ± `half`, MRR@20 a third of it with the same relative width. */
const m = (hr: number, half = 0.01): MetricsSummary => ({
  hr20: { value: hr, lower: hr - half, upper: hr + half },
  mrr20: { value: hr / 3, lower: (hr - half) / 3, upper: (hr + half) / 3 },
  examples: 1000,
});
const decide = (input: Partial<DecisionInput>) =>
  decidePromotion({ gates: passed, challenger: m(0.3), force: false, tolerance: 0, ...input });

describe("decidePromotion", () => {
  it("promotes the first model when its gates pass", () => {
    expect(decide({})).toMatchObject({ promote: true, forced: false, verdict: "no-champion" });
  });

  it("refuses failed blocking gates, even with --force, naming them", () => {
    const gates = { passed: false, failedBlocking: ["hr20-vs-best-baseline", "coverage"] };
    const refused = decide({ gates, force: true });
    expect(refused).toMatchObject({ promote: false, forced: false, verdict: "gates-failed" });
    expect(refused.reason).toContain("hr20-vs-best-baseline, coverage");
    expect(refused.reason).toContain("--override-gates");
    expect(decide({ gates, overrideGates: true })).toMatchObject({
      promote: true,
      forced: true,
      verdict: "gates-failed",
    });
  });

  it("promotes a significantly better challenger", () => {
    expect(decide({ challenger: m(0.35), champion: m(0.3) })).toMatchObject({
      promote: true,
      forced: false,
      verdict: "better",
    });
  });

  it("promotes a tie (overlapping intervals, point estimate not lower)", () => {
    const d = decide({ challenger: m(0.305), champion: m(0.3) });
    expect(d).toMatchObject({ promote: true, verdict: "non-inferior" });
    expect(d.reason).toMatch(/HR@20 0\.3050 \[0\.2950, 0\.3150\] vs production 0\.3000/);
  });

  it("refuses a lower point estimate beyond the tolerance, promotes it within", () => {
    expect(decide({ challenger: m(0.295), champion: m(0.3) })).toMatchObject({
      promote: false,
      verdict: "worse",
    });
    expect(decide({ challenger: m(0.295), champion: m(0.3), tolerance: 0.01 })).toMatchObject({
      promote: true,
      verdict: "non-inferior",
    });
  });

  it("refuses a significantly worse challenger; --force promotes it, recorded as forced", () => {
    const refused = decide({ challenger: m(0.25), champion: m(0.3) });
    expect(refused).toMatchObject({ promote: false, verdict: "significantly-worse" });
    expect(refused.reason).toContain("HR@20 and MRR@20");
    expect(refused.reason).toContain("--force");
    expect(decide({ challenger: m(0.25), champion: m(0.3), force: true })).toMatchObject({
      promote: true,
      forced: true,
      verdict: "significantly-worse",
    });
  });

  it("uses the paired difference when the evaluation provides it", () => {
    // Overlapping per-model intervals, but the paired difference is clearly negative on MRR@20.
    const difference = {
      hr20: { value: 0, lower: -0.002, upper: 0.002 },
      mrr20: { value: -0.01, lower: -0.015, upper: -0.005 },
    };
    const d = decide({ challenger: m(0.3), champion: m(0.3), difference });
    expect(d).toMatchObject({ promote: false, verdict: "significantly-worse" });
    expect(d.reason).toContain("on MRR@20");
    // Paired difference above zero on HR@20: significantly better, though the intervals overlap.
    const better = {
      hr20: { value: 0.004, lower: 0.001, upper: 0.007 },
      mrr20: { value: 0, lower: -0.001, upper: 0.001 },
    };
    expect(decide({ challenger: m(0.304), champion: m(0.3), difference: better })).toMatchObject({
      promote: true,
      verdict: "better",
    });
  });

  it("rejects a negative tolerance", () => {
    expect(() => decide({ tolerance: -0.1 })).toThrow(/tolerance must be a number >= 0/);
  });
});
