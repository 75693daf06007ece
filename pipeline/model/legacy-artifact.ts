/**
 * The network of a `mlops-session-recs/model@1` folder — a tfjs-layers Sequential saved by
 * `model.save` (Embedding → dropout → LSTM/GRU layers → Dense softmax) — as a NetConfig and the
 * contract's weights (./net.ts), so the plain runtime serves it without tfjs. The layer maths is
 * the same (the contract is tfjs-layers' cells); only the names differ.
 */
import { PipelineError } from "../errors.ts";
import type { CellType, NetConfig } from "./net.ts";

interface LayerJson {
  class_name?: string;
  config?: {
    input_dim?: number;
    output_dim?: number;
    input_length?: number;
    units?: number;
    batch_input_shape?: (number | null)[];
  };
}

interface WeightJson {
  name: string;
  shape: number[];
  dtype?: string;
}

function damaged(path: string, why: string): PipelineError {
  return new PipelineError(
    `model artifact damaged: ${path}: ${why}`,
    2,
    "re-run `pipeline train` to write the artifact again",
  );
}

export function readLegacyNetwork(
  modelJson: unknown,
  bin: Buffer,
  path: string,
): { net: NetConfig; weights: Map<string, Float32Array> } {
  const json = modelJson as {
    modelTopology?: { config?: { layers?: LayerJson[] } };
    weightsManifest?: { weights?: WeightJson[] }[];
  };
  const layers = json.modelTopology?.config?.layers;
  const manifest = json.weightsManifest?.[0]?.weights;
  if (!Array.isArray(layers) || !Array.isArray(manifest)) {
    throw damaged(path, "not a tfjs-layers model (no layers or weights manifest)");
  }
  const embedding = layers.find((l) => l.class_name === "Embedding")?.config;
  const recurrent = layers.filter((l) => l.class_name === "LSTM" || l.class_name === "GRU");
  const cells = new Set(recurrent.map((l) => l.class_name));
  const maxLen = embedding?.input_length ?? embedding?.batch_input_shape?.[1];
  if (
    !embedding?.input_dim ||
    !embedding.output_dim ||
    typeof maxLen !== "number" ||
    recurrent.length === 0 ||
    cells.size !== 1
  ) {
    throw damaged(
      path,
      "expected Embedding → LSTM or GRU layers → Dense, as `pipeline train` wrote",
    );
  }
  const net: NetConfig = {
    cell: (recurrent[0]?.class_name === "GRU" ? "gru" : "lstm") as CellType,
    vocabSize: embedding.input_dim,
    embeddingDim: embedding.output_dim,
    hiddenUnits: recurrent[0]?.config?.units ?? 0,
    layers: recurrent.length,
    tied: false,
    maxLen,
  };
  // The manifest lists weights in layer order: embedding, (kernel, recurrent_kernel, bias) per
  // recurrent layer, then the Dense kernel and bias.
  const names = [
    "embedding",
    ...recurrent.flatMap((_, i) => [`rnn_${i}/kernel`, `rnn_${i}/recurrent`, `rnn_${i}/bias`]),
    "output/kernel",
    "output/bias",
  ];
  if (manifest.length !== names.length) {
    throw damaged(path, `expected ${names.length} weights, the manifest lists ${manifest.length}`);
  }
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  manifest.forEach((entry, i) => {
    if ((entry.dtype ?? "float32") !== "float32") {
      throw damaged(path, `weight ${entry.name} is ${entry.dtype}, expected float32`);
    }
    const bytes = entry.shape.reduce((a, b) => a * b, 1) * 4;
    if (offset + bytes > bin.byteLength)
      throw damaged(path, `weight ${entry.name} runs past weights.bin`);
    weights.set(
      names[i] as string,
      new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + bytes)),
    );
    offset += bytes;
  });
  return { net, weights };
}
