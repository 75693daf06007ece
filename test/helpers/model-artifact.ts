/**
 * Model artifacts for tests that need one without training: seeded random weights for a small
 * network (pipeline/model/net.ts), a vocabulary of the given SKUs (the first the most popular),
 * random train sessions for the neighbourhood components, and a blend — written with the real
 * saveModelArtifact, so the folder is what `pipeline train` writes.
 */
import { saveModelArtifact, type ArtifactConfig } from "../../pipeline/model/artifact.ts";
import type { BlendSpec } from "../../pipeline/model/blend.ts";
import { NEIGHBOUR_DEFAULTS } from "../../pipeline/model/neighbours.ts";
import { netWeightSpecs, type NetConfig } from "../../pipeline/model/net.ts";
import { Vocabulary } from "../../pipeline/model/vocabulary.ts";
import { seededFloats } from "../../pipeline/prng.ts";
import { sessionBlock } from "../../pipeline/model/sessions.ts";

export interface TestArtifactOptions {
  skus: readonly string[];
  runId: string;
  seed?: number;
  net?: Partial<Omit<NetConfig, "vocabSize">>;
  blend?: BlendSpec;
  ablation?: BlendSpec | null;
  excludeLastItem?: boolean;
  /** Train sessions for the neighbourhood components (random ones when not given). */
  sessions?: readonly (readonly string[])[];
}

export const HYBRID_BLEND: BlendSpec = {
  components: [
    { kind: "neural", weight: 1 },
    { kind: "sknn", weight: 0.5 },
    { kind: "cooccurrence", weight: 1 },
    { kind: "repeat", weight: 0.5 },
  ],
};

/** Writes the artifact folder `dir`; returns its vocabulary and network config. */
export async function writeTestArtifact(
  dir: string,
  options: TestArtifactOptions,
): Promise<{ vocabulary: Vocabulary; net: NetConfig }> {
  const next = seededFloats(options.seed ?? 7);
  // Distinct counts, so the popularity order (the fallback) is known: skus[0] most popular.
  const vocabulary = Vocabulary.fromCounts(
    new Map(options.skus.map((sku, i) => [sku, options.skus.length * 2 - i])),
  );
  const net: NetConfig = {
    cell: "gru",
    embeddingDim: 8,
    hiddenUnits: 8,
    layers: 1,
    tied: true,
    maxLen: 5,
    ...options.net,
    vocabSize: vocabulary.size,
  };
  const weights = new Map(
    netWeightSpecs(net).map(({ name, shape }) => [
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * 0.5),
    ]),
  );
  const sessions =
    options.sessions ??
    Array.from({ length: 40 }, () =>
      Array.from(
        { length: 2 + Math.floor(next() * 5) },
        () => options.skus[Math.floor(next() * options.skus.length)] as string,
      ),
    );
  const config: ArtifactConfig = {
    format: "mlops-session-recs/model@2",
    preset: "hybrid",
    net,
    training: {},
    runId: options.runId,
    backend: "cpu",
    excludeLastItem: options.excludeLastItem ?? true,
  };
  await saveModelArtifact(dir, {
    net,
    weights,
    vocabulary,
    blend: options.blend ?? HYBRID_BLEND,
    ablation: options.ablation === undefined ? null : options.ablation,
    sessions: sessionBlock(sessions.map((s) => vocabulary.encode(s))),
    neighbours: { ...NEIGHBOUR_DEFAULTS },
    config,
    history: { epochs: [], bestEpoch: 1, stoppedEarly: false },
  });
  return { vocabulary, net };
}
