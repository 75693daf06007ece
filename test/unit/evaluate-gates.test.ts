/**
 * Gates: the repository's gates.yml parses; malformed files and unknown keys fail with exit
 * code 2 naming file, line and field; every kind gives the right verdict, thresholds and
 * blocking behaviour on reports built by hand.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import {
  METRIC_NAMES,
  REPORT_FORMAT,
  type Comparison,
  type EvaluationReport,
  type MetricName,
  type RecommenderReport,
  type SliceResult,
} from "../../pipeline/evaluate/evaluate.ts";
import { formatGateTable } from "../../pipeline/evaluate/format.ts";
import {
  evaluateGates,
  loadGates,
  parseGates,
  type GatesConfig,
} from "../../pipeline/evaluate/gates.ts";
import type { RecommenderKind } from "../../pipeline/evaluate/recommender.ts";
import { tempDir } from "../helpers/rows.ts";

function recommender(
  name: string,
  kind: RecommenderKind,
  values: Partial<Record<MetricName, number>>,
  slices: SliceResult[] = [],
): RecommenderReport {
  const metrics = Object.fromEntries(
    METRIC_NAMES.map((m) => [
      m,
      { value: values[m] ?? null, n: values[m] === undefined ? 0 : 100 },
    ]),
  ) as RecommenderReport["metrics"];
  return {
    name,
    kind,
    metrics,
    distinctRecommended: {},
    slices,
    lessWrong: { n: 0, unknown: 0, meanDistance: null, sameLeafShare: null, histogram: {} },
    robustnessSkipped: { perturbation: 0, shuffle: 0 },
    unknownSkuFailures: [],
    seconds: 0,
  };
}

function report(
  recommenders: RecommenderReport[],
  roles: EvaluationReport["roles"],
  comparisons: Comparison[] = [],
): EvaluationReport {
  return {
    format: REPORT_FORMAT,
    settings: {
      seed: 1,
      batchSize: 512,
      maxPrefixes: null,
      bootstrapIterations: 100,
      confidence: 0.95,
      robustnessSessions: 0,
      unknownSessions: 0,
      ks: [10, 20],
    },
    counts: {
      testSessions: 0,
      evaluableSessions: 0,
      evaluatedSessions: 0,
      prefixes: 0,
      lastItems: 0,
      catalogItems: 0,
      trainItems: 0,
      perturbed: 0,
      shuffled: 0,
      unknownSkuSessions: 0,
    },
    roles,
    recommenders,
    comparisons,
  };
}

const gates = (yaml: string): GatesConfig => parseGates(yaml, "gates.yml");

function inputError(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error("expected an InputError");
}

describe("gate files", () => {
  it("reads the repository's gates.yml", async () => {
    const config = await loadGates(join(import.meta.dirname, "../../gates.yml"));
    expect(config.version).toBe(1);
    expect(config.gates.length).toBeGreaterThanOrEqual(5);
    const kinds = new Set(config.gates.map((g) => g.kind));
    expect(kinds).toEqual(
      new Set([
        "absolute",
        "relative-to-best-baseline",
        "significantly-better",
        "relative-to-production",
        "slice-floor",
        "drift",
      ]),
    );
    expect(config.gates.some((g) => g.blocking)).toBe(true);
  });

  it("fills the defaults", () => {
    const config = gates(`version: 1
gates:
  - name: slices
    kind: slice-floor
    min: 0.1
  - name: prod
    kind: relative-to-production
    metric: hr@20
`);
    expect(config.gates).toEqual([
      { name: "slices", kind: "slice-floor", min: 0.1, min_count: 100, blocking: true },
      {
        name: "prod",
        kind: "relative-to-production",
        metric: "hr@20",
        tolerance: 0,
        blocking: true,
      },
    ]);
  });

  it("names the line and the field of an unknown key", () => {
    const error = inputError(() =>
      gates(`version: 1
gates:
  - name: floor
    kind: absolute
    metric: hr@20
    min: 0.1
    treshold: 0.2
`),
    );
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'gates.yml, line 7, column 5, field "gates[0].treshold": unknown key "treshold" ' +
        "(a gate of kind absolute takes: name, blocking, description, sources, kind, metric, min, max)",
    );
    expect(error.where).toEqual({
      file: "gates.yml",
      line: 7,
      column: 5,
      field: "gates[0].treshold",
    });
    expect(error.hint).toMatch(/gates\.yml/);
    expect(inputError(() => gates("version: 1\ngates: []\nextra: true\n")).message).toBe(
      'gates.yml, line 3, column 1, field "extra": unknown key "extra" (the file takes: version, gates)',
    );
  });

  it("names the line of a bad value, an unknown kind or a missing key", () => {
    const base = "version: 1\ngates:\n  - name: g\n";
    expect(inputError(() => gates(`${base}    kind: best\n`)).where).toMatchObject({
      line: 4,
      field: "gates[0].kind",
    });
    const missing = inputError(() =>
      gates(`${base}    kind: relative-to-best-baseline\n    metric: hr@20\n`),
    );
    expect(missing.where).toMatchObject({ line: 3, field: "gates[0].factor" });
    const bad = inputError(() =>
      gates(`${base}    kind: relative-to-production\n    metric: popularity_bias\n`),
    );
    expect(bad.where).toMatchObject({ line: 5, field: "gates[0].metric" });
    const both = inputError(() =>
      gates(`${base}    kind: absolute\n    metric: hr@20\n    min: 0.1\n    max: 0.9\n`),
    );
    expect(both.message).toMatch(
      /line 6, .*field "gates\[0\]\.min": give exactly one of min or max/,
    );
    expect(inputError(() => gates("version: 2\ngates: []\n")).where).toMatchObject({
      line: 1,
      field: "version",
    });
    expect(inputError(() => gates("# nothing\n")).message).toBe(
      "gates.yml, line 1: the gate file is empty: expected `version: 1` and a `gates:` list",
    );
  });

  it("names the line of a YAML syntax error", () => {
    const error = inputError(() => gates("version: 1\ngates:\n  - name: a\n   kind: [absolute\n"));
    expect(error.message).toMatch(/^gates\.yml, line \d+, column \d+: not valid YAML: /);
    expect(error.where.line).toBeGreaterThanOrEqual(4);
    const duplicate = inputError(() => gates("version: 1\nversion: 1\ngates: []\n"));
    expect(duplicate.where.line).toBe(2);
  });

  it("refuses two gates of one name", () => {
    const error = inputError(() =>
      gates(`version: 1
gates:
  - {name: a, kind: absolute, metric: hr@20, min: 0}
  - {name: a, kind: absolute, metric: hr@10, min: 0}
`),
    );
    expect(error.message).toMatch(
      /^gates\.yml, line 4, .*field "gates\[1\]\.name": two gates are named "a"/,
    );
  });

  it("names a gate file that cannot be read", async () => {
    const missing = join(tempDir("gates-"), "nope.yml");
    await expect(loadGates(missing)).rejects.toThrow(
      `${missing}: cannot read the gate file (ENOENT)`,
    );
    const dir = tempDir("gates-");
    writeFileSync(join(dir, "gates.yml"), "version: 1\ngates:\n  - name: x\n");
    await expect(loadGates(join(dir, "gates.yml"))).rejects.toThrow(/line 3/);
  });
});

describe("verdicts", () => {
  const slices: SliceResult[] = [
    { family: "session_length", slice: "2", n: 500, hr20: 0.3 },
    { family: "session_length", slice: "20+", n: 50, hr20: 0.01 },
    { family: "target_in_train", slice: "unseen", n: 300, hr20: 0 },
  ];
  const base = report(
    [
      recommender(
        "lstm",
        "model",
        { "hr@20": 0.3, "coverage@20": 0.2, popularity_bias: 0.9 },
        slices,
      ),
      recommender("popularity", "baseline", { "hr@20": 0.1 }),
      recommender("sknn", "baseline", { "hr@20": 0.28 }),
      recommender("oracle", "oracle", { "hr@20": 0.7 }),
    ],
    { candidate: "lstm", production: null },
    [
      {
        candidate: "lstm",
        reference: "sknn",
        metric: "hr@20",
        difference: 0.02,
        ci: { low: 0.01, high: 0.03, level: 0.95 },
      },
    ],
  );

  it("passes reasonable thresholds and fails impossible ones", () => {
    const result = evaluateGates(
      gates(`version: 1
gates:
  - {name: floor, kind: absolute, metric: hr@20, min: 0.2}
  - {name: impossible, kind: absolute, metric: hr@20, min: 1.5}
  - {name: bias, kind: absolute, metric: popularity_bias, max: 0.5, blocking: false}
  - {name: vs-pop, kind: relative-to-best-baseline, metric: hr@20, factor: 2, baselines: [popularity]}
  - {name: vs-best, kind: relative-to-best-baseline, metric: hr@20, factor: 1.05}
  - {name: slices, kind: slice-floor, min: 0.1, min_count: 100, families: [session_length]}
  - {name: all-slices, kind: slice-floor, min: 0.1, min_count: 100, blocking: false}
  - {name: prod, kind: relative-to-production, metric: hr@20}
`),
      base,
    );
    const by = Object.fromEntries(result.checks.map((c) => [c.name, c]));
    expect(by.floor).toMatchObject({ verdict: "pass", threshold: 0.2, value: 0.3, blocking: true });
    expect(by.impossible).toMatchObject({ verdict: "fail", threshold: 1.5, value: 0.3 });
    expect(by.impossible?.detail).toBe("hr@20 = 0.3000 (n = 100) not ≥ 1.5");
    expect(by.bias).toMatchObject({ verdict: "warn", threshold: 0.5, value: 0.9, blocking: false });
    expect(by["vs-pop"]).toMatchObject({ verdict: "pass", threshold: 0.2, value: 0.3 });
    // Best baseline is sknn (the oracle is not a baseline): 1.05 × 0.28 = 0.294 ≤ 0.3.
    expect(by["vs-best"]?.verdict).toBe("pass");
    expect(by["vs-best"]?.threshold).toBeCloseTo(0.294, 12);
    expect(by["vs-best"]?.detail).toMatch(
      /sknn \(0\.2800\); paired difference 0\.0200, CI \[0\.0100, 0\.0300\]/,
    );
    // The 20+ slice is below 0.1 but smaller than min_count.
    expect(by.slices).toMatchObject({ verdict: "pass", value: 0.3, metric: "hr@20 by slice" });
    expect(by["all-slices"]).toMatchObject({ verdict: "warn", value: 0 });
    expect(by["all-slices"]?.detail).toMatch(
      /worst target_in_train=unseen: 0\.0000 \(n = 300\); 1 of 2 slices/,
    );
    expect(by.prod).toMatchObject({
      verdict: "skipped",
      detail: "no production model was evaluated",
    });
    expect(result.passed).toBe(false);
    expect(result.candidate).toBe("lstm");

    const table = formatGateTable(result);
    expect(table).toMatch(/^impossible\s+absolute\s+hr@20\s+1\.5000\s+0\.3000\s+FAIL\s+yes$/m);
    expect(table).toMatch(
      /^prod\s+relative-to-production\s+hr@20\s+n\/a\s+0\.3000\s+SKIPPED\s+yes$/m,
    );
    expect(table.trimEnd().split("\n").at(-1)).toBe("gates FAILED (1 blocking) for lstm");
  });

  it("passes when only non-blocking checks fail", () => {
    const result = evaluateGates(
      gates(`version: 1
gates:
  - {name: soft, kind: absolute, metric: hr@20, min: 0.9, blocking: false}
  - {name: vs-oracle, kind: relative-to-best-baseline, metric: hr@20, factor: 1, baselines: [oracle]}
`),
      base,
    );
    expect(result.checks.map((c) => c.verdict)).toEqual(["warn", "fail"]);
    expect(result.passed).toBe(false);
    expect(
      evaluateGates(
        gates(`version: 1
gates:
  - {name: soft, kind: absolute, metric: hr@20, min: 0.9, blocking: false}
`),
        base,
      ).passed,
    ).toBe(true);
  });

  it("judges the production comparison on the paired interval", () => {
    const config = gates(`version: 1
gates:
  - {name: prod, kind: relative-to-production, metric: hr@20, tolerance: 0.01}
`);
    const judge = (difference: number, low: number, high: number) =>
      evaluateGates(
        config,
        report(
          [
            recommender("lstm", "model", { "hr@20": 0.3 + difference }),
            recommender("production", "model", { "hr@20": 0.3 }),
          ],
          { candidate: "lstm", production: "production" },
          [
            {
              candidate: "lstm",
              reference: "production",
              metric: "hr@20",
              difference,
              ci: { low, high, level: 0.95 },
            },
          ],
        ),
      ).checks[0];
    // Better, or worse within the tolerance: pass.
    expect(judge(0.02, 0.01, 0.03)).toMatchObject({ verdict: "pass", threshold: 0.29 });
    expect(judge(-0.005, -0.02, 0.01)?.verdict).toBe("pass");
    // Worse beyond the tolerance, but the interval reaches above it: noise, a warning.
    expect(judge(-0.02, -0.04, 0.0)?.verdict).toBe("warn");
    // The whole interval below −tolerance: a real regression.
    const fail = judge(-0.05, -0.07, -0.03);
    expect(fail?.verdict).toBe("fail");
    expect(fail?.detail).toBe(
      "vs production 0.3000: difference -0.0500, CI [-0.0700, -0.0300], tolerance 0.01: a regression beyond the tolerance, outside the noise",
    );
  });

  it("skips what it cannot judge", () => {
    const config = gates(`version: 1
gates:
  - {name: floor, kind: absolute, metric: last_hr@20, min: 0.2}
  - {name: vs, kind: relative-to-best-baseline, metric: hr@20, factor: 1}
  - {name: slices, kind: slice-floor, min: 0.1, min_count: 10000}
`);
    const lonely = report([recommender("lstm", "model", { "hr@20": 0.3 })], {
      candidate: "lstm",
      production: null,
    });
    expect(evaluateGates(config, lonely).checks.map((c) => [c.verdict, c.detail])).toEqual([
      ["skipped", "last_hr@20 has no samples"],
      ["skipped", "no baseline was evaluated"],
      ["skipped", "no slice holds 10000 prefixes"],
    ]);
    const none = evaluateGates(config, report([], { candidate: null, production: null }));
    expect(none.checks.every((c) => c.verdict === "skipped")).toBe(true);
    expect(none.candidate).toBeNull();
  });

  it("applies a check to the data sources it names only", () => {
    const config = gates(`version: 1
gates:
  - {name: floor, kind: absolute, metric: hr@20, min: 0.5, sources: [synthetic]}
  - {name: vs, kind: relative-to-best-baseline, metric: hr@20, factor: 1}
`);
    const run = report(
      [
        recommender("hybrid", "model", { "hr@20": 0.3 }),
        recommender("popularity", "baseline", { "hr@20": 0.1 }),
      ],
      { candidate: "hybrid", production: null },
    );
    const synthetic = evaluateGates(config, run, { source: "synthetic" });
    expect(synthetic.checks.map((c) => c.verdict)).toEqual(["fail", "pass"]);
    const real = evaluateGates(config, run, { source: "csv" });
    expect(real.passed).toBe(true);
    expect(real.checks[0]).toMatchObject({
      verdict: "skipped",
      detail:
        "applies to synthetic data only, this run's is csv: set a floor for your data in gates.yml (sources: [csv])",
    });
    expect(() =>
      gates(
        "version: 1\ngates:\n  - {name: f, kind: absolute, metric: hr@20, min: 0.1, sources: [kaggle]}\n",
      ),
    ).toThrow(/sources/);
  });

  it("ships defaults that judge any data relative to the baselines, floors for synthetic data only", () => {
    const shipped = gates(readFileSync(join(import.meta.dirname, "../../gates.yml"), "utf8"));
    const absolute = shipped.gates.filter(
      (g) =>
        (g.kind === "absolute" && g.blocking && g.metric !== "unknown_sku_validity") ||
        g.kind === "slice-floor",
    );
    expect(absolute.map((g) => [g.name, g.sources])).toEqual([
      ["hr20-floor", ["synthetic"]],
      ["no-weak-slice", ["synthetic"]],
    ]);
  });
});
