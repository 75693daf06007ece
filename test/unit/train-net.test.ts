/**
 * The trainable network (pipeline/train/net.ts) and its losses (heads.ts, ops/softmax-head.ts):
 * seeded initial weights, the same scores as the plain inference runtime for every architecture
 * (the parity between the two runtimes), analytic loss gradients equal to tfjs's autodiff, the
 * sampled loss's candidates and its logQ correction, and training steps that agree on the wasm
 * and cpu backends.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { GATES, netWeightSpecs, type NetConfig } from "../../pipeline/model/net.ts";
import { NetRuntime } from "../../pipeline/model/net-runtime.ts";
import { topK } from "../../pipeline/model/top-k.ts";
import { seededFloats } from "../../pipeline/prng.ts";
import { selectBackend } from "../../pipeline/train/backend.ts";
import { batchCandidates, fullSoftmax, sampledSoftmax } from "../../pipeline/train/heads.ts";
import { itemFeatures, type CatalogFacts } from "../../pipeline/train/item-features.ts";
import { FEATURES, initialWeights, materialize, TrainableNet } from "../../pipeline/train/net.ts";
import { Vocabulary } from "../../pipeline/model/vocabulary.ts";
import { softmaxHead } from "../../pipeline/train/ops/softmax-head.ts";

beforeAll(async () => {
  await selectBackend("cpu");
  await selectBackend("wasm");
});

const ARCHITECTURES: Omit<NetConfig, "vocabSize" | "maxLen">[] = [
  { cell: "lstm", embeddingDim: 12, hiddenUnits: 12, layers: 1, tied: false },
  { cell: "gru", embeddingDim: 12, hiddenUnits: 12, layers: 1, tied: true },
  { cell: "lstm", embeddingDim: 8, hiddenUnits: 8, layers: 2, tied: true },
  { cell: "gru", embeddingDim: 10, hiddenUnits: 6, layers: 2, tied: false },
];

describe("initial weights", () => {
  const config: NetConfig = { ...(ARCHITECTURES[0] as NetConfig), vocabSize: 40, maxLen: 5 };

  it("covers every weight of the contract, seeded", () => {
    const a = initialWeights(config, { seed: 1 });
    expect([...a.keys()]).toEqual(netWeightSpecs(config).map((s) => s.name));
    for (const { name, shape } of netWeightSpecs(config)) {
      expect(a.get(name)?.length).toBe(shape.reduce((x, y) => x * y, 1));
    }
    expect(initialWeights(config, { seed: 1 })).toEqual(a);
    expect(initialWeights(config, { seed: 2 }).get("embedding")).not.toEqual(a.get("embedding"));
  });

  it("follows Keras: orthogonal recurrent kernels, forget bias 1, zero biases", () => {
    const w = initialWeights(config, { seed: 3 });
    const h = config.hiddenUnits;
    const g = GATES.lstm * h;
    const recurrent = w.get("rnn_0/recurrent") as Float32Array;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < h; j++) {
        let dot = 0;
        for (let k = 0; k < g; k++)
          dot += (recurrent[i * g + k] as number) * (recurrent[j * g + k] as number);
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    }
    const bias = w.get("rnn_0/bias") as Float32Array;
    expect([...bias]).toEqual([...Array(g).keys()].map((i) => (i >= h && i < 2 * h ? 1 : 0)));
    expect(w.get("output/bias")?.every((v) => v === 0)).toBe(true);
  });

  it("starts the output bias at the log train frequency when asked", () => {
    const counts = Float64Array.from({ length: 40 }, (_, i) => (i < 2 || i === 5 ? 0 : 40 - i));
    const bias = initialWeights(config, { seed: 3, outputBiasCounts: counts }).get(
      "output/bias",
    ) as Float32Array;
    const total = counts.reduce((a, b) => a + b, 0);
    expect(bias[2]).toBeCloseTo(Math.log(38 / total), 5);
    expect(bias[3] as number).toBeLessThan(bias[2] as number);
    // Padding, unknown and unseen ids start below every seen item.
    for (const id of [0, 1, 5]) expect(bias[id] as number).toBeLessThan(bias[39] as number);
  });
});

describe.each(["wasm", "cpu"] as const)("on %s", (backend) => {
  it.each(ARCHITECTURES)(
    "scores 1,000 prefixes as the plain runtime does: $cell ×$layers, tied $tied",
    async (architecture) => {
      await tf.setBackend(backend);
      const config: NetConfig = { ...architecture, vocabSize: 300, maxLen: 8 };
      const next = seededFloats(17);
      const weights = new Map(
        netWeightSpecs(config).map(({ name, shape }) => [
          name,
          Float32Array.from(
            { length: shape.reduce((a, b) => a * b, 1) },
            () => (next() * 2 - 1) * 0.6,
          ),
        ]),
      );
      const runtime = new NetRuntime(config, weights);
      const net = new TrainableNet(config, weights);
      const prefixes = Array.from({ length: 1000 }, () =>
        Int32Array.from(
          { length: 1 + Math.floor(next() * config.maxLen) },
          () => 2 + Math.floor(next() * 298),
        ),
      );
      const steps = config.maxLen;
      const ids = new Int32Array(prefixes.length * steps);
      prefixes.forEach((p, r) => ids.set(p, r * steps));
      const positions = Int32Array.from(prefixes, (p, r) => (p.length - 1) * prefixes.length + r);
      const engine = tf.tidy(() => {
        const states = net.states({ rows: prefixes.length, steps, ids });
        return net
          .logits(tf.gather(states, tf.tensor1d(positions, "int32")) as tf.Tensor2D)
          .dataSync();
      }) as Float32Array;
      const plain = runtime.scores(prefixes);
      let worst = 0;
      for (let i = 0; i < plain.length; i++) {
        worst = Math.max(worst, Math.abs((plain[i] as number) - (engine[i] as number)));
      }
      expect(worst).toBeLessThan(1e-4);
      const a = new Int32Array(20);
      const b = new Int32Array(20);
      const va = new Float32Array(20);
      const vb = new Float32Array(20);
      prefixes.forEach((_, r) => {
        topK(plain, r * 300, 300, 20, [0, 1], a, va);
        topK(engine, r * 300, 300, 20, [0, 1], b, vb);
        a.forEach((id, j) => {
          // A differing id is only allowed where two scores tie within the rounding.
          if (id !== b[j]) {
            expect(Math.abs((va[j] as number) - (vb[j] as number))).toBeLessThan(1e-5);
          }
        });
      });
      net.dispose();
    },
  );

  it("the softmax head's loss and gradients equal tfjs's autodiff", async () => {
    await tf.setBackend(backend);
    const next = seededFloats(5);
    const rand = (n: number) => Float32Array.from({ length: n }, () => next() * 2 - 1);
    const [rows, units, columns] = [9, 4, 13];
    const labels = Int32Array.from({ length: rows }, () => Math.floor(next() * columns));
    const shift = rand(columns);
    const inputs = [
      tf.tensor2d(rand(rows * units), [rows, units]),
      tf.tensor2d(rand(units * columns), [units, columns]),
      tf.tensor1d(rand(columns)),
    ];
    const ours = tf.valueAndGrads((h: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      softmaxHead(h as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, labels, shift),
    )(inputs);
    const reference = tf.valueAndGrads((h: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(
        tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), columns), "float32"),
        tf.add(tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b), tf.tensor1d(shift)),
      ),
    )(inputs);
    expect(ours.value.dataSync()[0]).toBeCloseTo(reference.value.dataSync()[0] as number, 5);
    ours.grads.forEach((g, i) => {
      const expected = reference.grads[i]?.dataSync() as Float32Array;
      g.dataSync().forEach((v, j) => expect(v).toBeCloseTo(expected[j] as number, 5));
    });
    tf.dispose([...inputs, ours.value, reference.value, ...ours.grads, ...reference.grads]);
  });

  it("trains: the loss falls, and the steps are the same on both backends", async () => {
    const losses: Record<string, number[]> = {};
    for (const name of ["wasm", "cpu"] as const) {
      await tf.setBackend(name);
      losses[name] = trainFewSteps();
    }
    const mine = losses[backend] as number[];
    expect(mine.at(-1) as number).toBeLessThan((mine[0] as number) * 0.8);
    (losses.wasm as number[]).forEach((l, i) =>
      expect(l).toBeCloseTo((losses.cpu as number[])[i] as number, 3),
    );
  });
});

/** Twenty steps of a tied GRU, alternating the sampled and the full loss; the losses. */
function trainFewSteps(): number[] {
  const config: NetConfig = {
    cell: "gru",
    vocabSize: 60,
    embeddingDim: 8,
    hiddenUnits: 8,
    layers: 1,
    tied: true,
    maxLen: 6,
  };
  const counts = Float64Array.from({ length: 60 }, (_, i) => (i < 2 ? 0 : 60 - i));
  const net = new TrainableNet(
    config,
    initialWeights(config, { seed: 4, outputBiasCounts: counts }),
  );
  const head = sampledSoftmax(counts, { negatives: 20, alpha: 0.5, logQ: 1 }, 4);
  const optimizer = tf.train.adam(0.05);
  // Sessions that walk up the ids: each item is followed by the next one.
  const rows = 8;
  const steps = 5;
  const ids = Int32Array.from(
    { length: rows * steps },
    (_, i) => 2 + ((Math.floor(i / steps) * 3 + (i % steps)) % 50),
  );
  const positions: number[] = [];
  const targets: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < steps; t++) {
      positions.push(t * rows + r);
      targets.push((ids[r * steps + t] as number) + 1);
    }
  }
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    const cost = optimizer.minimize(
      () => {
        const states = net.states({ rows, steps, ids }, { rate: 0.1, seed: 4, step });
        const picked = tf.gather(
          states,
          tf.tensor1d(Int32Array.from(positions), "int32"),
        ) as tf.Tensor2D;
        const head2 = step % 2 === 0 ? head : fullSoftmax;
        return head2(net, picked, Int32Array.from(targets), step);
      },
      true,
      [...net.variables.values()],
    );
    losses.push(cost?.dataSync()[0] as number);
    cost?.dispose();
  }
  optimizer.dispose();
  net.dispose();
  return losses;
}

describe("the sampled loss", () => {
  it("puts the batch's distinct targets first, then new negatives, and labels each row", () => {
    const draws = [9, 3, 9, 12, 3, 5];
    let i = 0;
    const { ids, labels } = batchCandidates(
      Int32Array.from([3, 7, 3, 4]),
      () => draws[i++] as number,
      draws.length,
    );
    expect([...ids]).toEqual([3, 7, 4, 9, 12, 5]);
    expect([...labels]).toEqual([0, 1, 0, 2]);
  });

  it("corrects each candidate's logit by −log q, q ∝ count^alpha (padding and unknown never drawn)", async () => {
    await tf.setBackend("cpu");
    const counts = Float64Array.from([0, 0, 100, 25, 1]);
    const config: NetConfig = {
      cell: "gru",
      vocabSize: 5,
      embeddingDim: 2,
      hiddenUnits: 2,
      layers: 1,
      tied: true,
      maxLen: 2,
    };
    const net = new TrainableNet(config, initialWeights(config, { seed: 1 }));
    // Many draws from three items: every one is a candidate, so the loss is the softmax over
    // ids 2..4 of the logits shifted by −log q, q = √count / Σ √count.
    const hidden = tf.tensor2d([[0.3, -0.2]]);
    const loss = sampledSoftmax(counts, { negatives: 2000, alpha: 0.5, logQ: 1 }, 9)(
      net,
      hidden,
      Int32Array.from([2]),
      0,
    );
    const q = [10, 5, 1].map((w) => w / 16);
    const logits = tf.add(tf.matMul(hidden, net.outputMatrix()), net.variable("output/bias"));
    const values = logits.dataSync();
    const shifted = [2, 3, 4].map((id, k) => (values[id] as number) - Math.log(q[k] as number));
    const expected =
      Math.log(shifted.reduce((s, v) => s + Math.exp(v), 0)) - (shifted[0] as number);
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 4);
    tf.dispose([hidden, loss, logits]);
    net.dispose();
  });
});

describe("item features", () => {
  const skus = ["a", "b", "c", "d"];
  const vocabulary = Vocabulary.fromCounts(new Map(skus.map((s, i) => [s, 10 - i])));
  const facts = new Map<string, CatalogFacts>([
    ["a", { categoryPath: "x/y", priceBucket: 3 }],
    ["b", { categoryPath: "x/z", priceBucket: null }],
    ["d", { categoryPath: null, priceBucket: 3 }],
  ]);

  it("gives every item its category levels and price bucket as features", () => {
    const features = itemFeatures(vocabulary, facts);
    const of = (sku: string) => {
      const id = vocabulary.id(sku);
      return [...features.ids.subarray(features.offsets[id], features.offsets[id + 1])];
    };
    // Ids in first-appearance order: a's c:x, c:x/y, p:3, then b's c:x/z.
    expect(of("a")).toEqual([0, 1, 2]);
    expect(of("b")).toEqual([0, 3]);
    expect(of("c")).toEqual([]);
    expect(of("d")).toEqual([2]);
    expect(features.count).toBe(4);
    // Padding and unknown have none.
    expect(features.offsets[2]).toBe(0);
  });

  it.each(["wasm", "cpu"] as const)(
    "folds into the exported embedding, so the plain runtime scores as the trainable net (%s)",
    async (backend) => {
      await tf.setBackend(backend);
      const features = itemFeatures(vocabulary, facts);
      const config: NetConfig = {
        cell: "gru",
        vocabSize: vocabulary.size,
        embeddingDim: 5,
        hiddenUnits: 5,
        layers: 1,
        tied: true,
        maxLen: 4,
      };
      const weights = initialWeights(config, { seed: 9, featureCount: features.count });
      // Make the feature rows matter: scale them up from the small initial range.
      weights.set(
        FEATURES,
        (weights.get(FEATURES) as Float32Array).map((v) => v * 20),
      );
      const net = new TrainableNet(config, weights, features);
      const runtime = new NetRuntime(config, net.exportWeights(await net.weights()));
      const prefixes = [[2, 3], [5], [4, 2, 3, 5]].map((p) => Int32Array.from(p));
      const steps = 4;
      const ids = new Int32Array(prefixes.length * steps);
      prefixes.forEach((p, r) => ids.set(p, r * steps));
      const positions = Int32Array.from(prefixes, (p, r) => (p.length - 1) * prefixes.length + r);
      const engine = tf.tidy(() =>
        net
          .logits(
            tf.gather(
              net.states({ rows: prefixes.length, steps, ids }),
              tf.tensor1d(positions, "int32"),
            ) as tf.Tensor2D,
          )
          .dataSync(),
      );
      runtime.scores(prefixes).forEach((v, i) => expect(v).toBeCloseTo(engine[i] as number, 4));
      // Without features the scores differ: the features did something.
      const plain = new NetRuntime(config, materialize(config, weights, undefined));
      expect([...plain.scores(prefixes)]).not.toEqual([...runtime.scores(prefixes)]);
      net.dispose();
    },
  );
});
