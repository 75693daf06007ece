/**
 * A realistic CardData for the report tests: the shape the card stage builds from a default run
 * (a small LSTM against production, baselines and the oracle, a dbt DAG with a failed test), and
 * a generator for huge inputs that must still fit GitHub's comment limit.
 */
import type { CardData, TransformDag } from "../../reports/card-data.ts";

const est = (value: number, n = 4_000) => {
  const half = 1.96 * Math.sqrt((value * (1 - value)) / n);
  return { value, low: Math.max(0, value - half), high: Math.min(1, value + half), n };
};

export function smallDag(): TransformDag {
  return {
    nodes: [
      {
        id: "source.recs.raw.browsing",
        name: "browsing",
        type: "source",
        relation: "raw.browsing",
      },
      { id: "source.recs.raw.skus", name: "sku_to_content", type: "source" },
      {
        id: "model.recs.stg_events",
        name: "stg_events",
        type: "model",
        materialized: "view",
        status: "success",
        rows: 182_340,
      },
      {
        id: "model.recs.sessions",
        name: "sessions",
        type: "model",
        materialized: "incremental",
        status: "success",
        rows: 10_112,
      },
      {
        id: "model.recs.session_items",
        name: 'session_items "all" <x> #1',
        type: "model",
        materialized: "table",
        status: "success",
        rows: 9_870,
      },
      {
        id: "test.recs.not_null_sessions_id",
        name: "not_null_sessions_id",
        type: "test",
        status: "pass",
        tested: "model.recs.sessions",
      },
      {
        id: "test.recs.accepted_values",
        name: "accepted_values_stg_events_action",
        type: "test",
        status: "fail",
        failures: 3,
        tested: "model.recs.stg_events",
      },
      {
        id: "test.recs.unique_items",
        name: "unique_items",
        type: "test",
        status: "warn",
        tested: "model.recs.session_items",
      },
    ],
    edges: [
      ["source.recs.raw.browsing", "model.recs.stg_events"],
      ["model.recs.stg_events", "model.recs.sessions"],
      ["model.recs.sessions", "model.recs.session_items"],
      ["source.recs.raw.skus", "model.recs.session_items"],
      ["model.recs.sessions", "test.recs.not_null_sessions_id"],
      ["model.recs.stg_events", "test.recs.accepted_values"],
      ["model.recs.session_items", "test.recs.unique_items"],
    ],
  };
}

export function fixtureCard(): CardData {
  return {
    run: {
      runId: "20261123-104500-abc123",
      gitSha: "0123456789abcdef0123456789abcdef01234567",
      startedAt: "2026-11-23T10:45:00Z",
      backend: "wasm",
      compute: "local",
      store: ".mlops/store",
      stages: [
        { name: "upload", seconds: 4.2, status: "ok" },
        { name: "transform", seconds: 7.9, status: "ok" },
        { name: "train", seconds: 161.3, status: "ok" },
        { name: "evaluate", seconds: 22.4, status: "ok" },
      ],
      configDiff: [
        { key: "train.epochs", value: 8, default: 5, origin: "cli" },
        { key: "data.sessions", value: 20000, default: 10000, origin: "env" },
        { key: "store", value: "s3://bucket/prefix", default: ".mlops/store", origin: "file" },
      ],
      artifacts: [
        { name: "model", href: ".mlops/store/runs/20261123-104500-abc123/train/model.json" },
        { name: "workflow run", href: "https://github.com/o/r/actions/runs/1" },
      ],
    },
    verdict: {
      passed: false,
      checks: [
        {
          name: "beats popularity",
          kind: "gate",
          metric: "hr@20",
          threshold: 0.01,
          value: 0.19,
          verdict: "pass",
          blocking: true,
        },
        {
          name: "no regression vs production",
          kind: "champion-challenger",
          metric: "hr@20",
          threshold: "≥ production − 0.01",
          value: 0.284,
          verdict: "fail",
          blocking: true,
          detail: "candidate 0.284 | production 0.301: a drop of 0.017",
        },
        {
          name: "short sessions",
          kind: "slice",
          metric: "hr@20",
          threshold: 0.1,
          value: 0.12,
          verdict: "warn",
          blocking: false,
        },
        {
          name: "latency",
          kind: "behavioral",
          verdict: "skipped",
          blocking: false,
          detail: "no endpoint",
        },
      ],
    },
    metrics: [
      {
        name: "oracle",
        kind: "oracle",
        hr10: est(0.41),
        hr20: est(0.52),
        mrr10: est(0.22),
        mrr20: est(0.23),
      },
      {
        name: "popularity",
        kind: "baseline",
        hr10: est(0.05),
        hr20: est(0.09),
        mrr10: est(0.02),
        mrr20: est(0.025),
        coverage20: 0.002,
        popularityBias: 0.99,
        repeatShare: 0.01,
      },
      {
        name: "lstm",
        kind: "model",
        hr10: est(0.2),
        hr20: est(0.284),
        mrr10: est(0.1),
        mrr20: est(0.106),
        coverage20: 0.31,
        popularityBias: 0.71,
        repeatShare: 0.12,
      },
      {
        name: "production",
        kind: "production",
        hr10: est(0.21),
        hr20: est(0.301),
        mrr10: est(0.11),
        mrr20: est(0.115),
        coverage20: 0.29,
        popularityBias: 0.73,
        repeatShare: 0.1,
      },
      { name: "sknn", kind: "baseline", hr20: est(0.24), mrr20: est(0.09) },
    ],
    candidate: {
      name: "hybrid",
      network: "GRU(64) with tied embeddings",
      blend: [
        { kind: "neural", weight: 0.5 },
        { kind: "sknn", weight: 0 },
        { kind: "cooccurrence", weight: 1 },
        { kind: "repeat", weight: 0.7 },
      ],
      validation: {
        prefixes: 10_000,
        candidate: { hr20: 0.526, mrr20: 0.202 },
        network: { hr20: 0.388, mrr20: 0.153 },
        withoutNetwork: { hr20: 0.507, mrr20: 0.198 },
      },
      networkAdds: [
        { metric: "hr@20", difference: 0.0206, low: 0.0161, high: 0.025 },
        { metric: "mrr@20", difference: 0.0032, low: 0.0008, high: 0.0057 },
      ],
    },
    training: {
      epochs: [1, 2, 3, 4, 5, 6].map((epoch) => ({
        epoch,
        loss: 7.5 / Math.sqrt(epoch),
        validationHr20: 0.3 * (1 - Math.exp(-epoch / 2)),
        validationExamples: 4000,
        seconds: 26 + epoch,
        sequencesPerSecond: 1800 + epoch * 10,
      })),
      bestEpoch: 5,
      stoppedEarly: true,
      backend: "wasm",
      compute: "local",
    },
    dag: smallDag(),
    slices: [
      { dimension: "session length", bucket: "1–2", n: 1200, hr20: 0.12 },
      { dimension: "session length", bucket: "3–5", n: 1600, hr20: 0.29 },
      { dimension: "session length", bucket: "6+", n: 1200, hr20: 0.41 },
      { dimension: "target popularity", bucket: "head", n: 2000, hr20: 0.4 },
      { dimension: "target popularity", bucket: "tail", n: 2000, hr20: 0.17 },
    ],
    robustness: [
      { name: "drop last item", metric: "hr@20", clean: 0.284, perturbed: 0.2, verdict: "pass" },
      {
        name: "inject unseen SKU",
        metric: "hr@20",
        clean: 0.284,
        perturbed: 0.27,
        verdict: "warn",
        detail: "unseen SKUs are mapped to the OOV token",
      },
    ],
    data: {
      source: "synthetic",
      rowsRead: 200_000,
      rowsLoaded: 199_850,
      rowsRejected: 150,
      files: [
        { name: "browsing_train.csv", read: 180_000, loaded: 179_850, rejected: 150 },
        { name: "sku_to_content.csv", read: 20_000, loaded: 20_000, rejected: 0 },
      ],
      sessionsPerSplit: { train: 8000, validation: 1000, test: 1000 },
      vocabularySize: 5_000,
      unseenSkuShare: 0.013,
    },
    // Eight production models (the most the card draws), then the candidate.
    history: [
      ...[0.22, 0.25, 0.24, 0.27, 0.28, 0.29, 0.3, 0.301].map((hr20, i) => ({
        runId: `2026110${i + 1}-090000-${(0xa1b2c0 + i).toString(16)}`,
        kind: "production" as const,
        promotedAt: `2026-11-0${i + 1}T09:30:00Z`,
        hr20: est(hr20),
      })),
      { runId: "20261123-104500-abc123", kind: "candidate", hr20: est(0.284) },
    ],
  };
}

/** A run with thousands of models, tests and slices: far over any comment limit untruncated. */
export function hugeCard(): CardData {
  const card = fixtureCard();
  const nodes: TransformDag["nodes"] = [];
  const edges: TransformDag["edges"] = [];
  for (let i = 0; i < 3_000; i++) {
    const id = `model.big.model_with_a_long_descriptive_name_${i}`;
    nodes.push({
      id,
      name: `model_with_a_long_descriptive_name_${i}`,
      type: "model",
      materialized: i % 2 ? "table" : "view",
      status: "success",
      rows: i * 1000,
    });
    if (i > 0) edges.push([`model.big.model_with_a_long_descriptive_name_${(i * 7) % i}`, id]);
    nodes.push({ id: `test.big.t${i}`, name: `t${i}`, type: "test", status: "pass", tested: id });
  }
  card.dag = { nodes, edges };
  card.slices = Array.from({ length: 5_000 }, (_, i) => ({
    recommender: i % 2 ? "lstm" : "production",
    dimension: `category ${i % 50}`,
    bucket: `bucket number ${i}`,
    n: 100 + i,
    hr20: (i % 100) / 100,
  }));
  card.verdict?.checks.push(
    ...Array.from({ length: 2_000 }, (_, i) => ({
      name: `slice check ${i}`,
      kind: "slice",
      metric: "hr@20",
      threshold: 0.1,
      value: 0.05,
      verdict: "fail" as const,
      blocking: true,
      detail: "x".repeat(400),
    })),
  );
  card.training = {
    epochs: Array.from({ length: 500 }, (_, i) => ({
      epoch: i + 1,
      loss: 8 - i / 100,
      validationHr20: i / 2000,
    })),
  };
  return card;
}
