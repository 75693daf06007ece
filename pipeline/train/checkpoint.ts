/**
 * Training checkpoints in the run store, one per finished epoch, so a training killed mid-epoch
 * (kill -9, a preempted Batch job) resumes from the last finished epoch. A checkpoint holds
 * everything the next epoch depends on — weights, Adam's moments and step count, the best
 * weights so far, the step counter (dropout masks and negative samples are functions of it), the
 * history — so the resumed run ends with the weights an uninterrupted one would have.
 *
 * Layout under `runs/<id>/train/checkpoint/`: `epoch-<n>.json` (state + tensor index) and
 * `epoch-<n>.bin` (tensor bytes), then `latest.json` naming n, written last: a crash while
 * writing epoch n leaves latest.json pointing at n−1, never at half a checkpoint.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { PipelineError } from "../errors.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { EpochRecord } from "../model/artifact.ts";

export const CHECKPOINT_FORMAT = "mlops-session-recs/checkpoint@2";

type Group = "weights" | "optimizer" | "best";

interface TensorEntry {
  group: Group;
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  offset: number;
  bytes: number;
}

export interface CheckpointState {
  /** Epochs finished. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestHr20: number;
  /** The last epoch that beat the best before it by at least the minimum improvement. */
  gainEpoch: number;
  /**
   * Adam's running β1^t and β2^t. Adam's setWeights recomputes them with pow(), which differs in
   * the last float32 bit from the running product it keeps while training; restoring the stored
   * values keeps a resumed run bit-identical to an uninterrupted one.
   */
  adamPowers?: [number, number];
  /** Identifies the data, model and settings: resuming with other ones is refused. */
  fingerprint: string;
}

export interface Checkpoint extends CheckpointState {
  /** The network's weights by name. */
  weights: Map<string, Float32Array>;
  optimizer: { name: string; tensor: tf.Tensor }[];
  /** The best epoch's weights by name. */
  best: Map<string, Float32Array>;
}

interface CheckpointJson extends CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  tensors: TensorEntry[];
}

/** A stable hash of what a checkpoint is only valid for. */
export function fingerprint(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

export class CheckpointStore {
  constructor(
    private readonly store: ArtifactStore,
    /** e.g. `runs/<id>/train/checkpoint` */
    private readonly prefix: string,
  ) {}

  private key(name: string): string {
    return `${this.prefix}/${name}`;
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const tensors: TensorEntry[] = [];
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const add = (group: Group, name: string, shape: number[], data: Float32Array | Int32Array) => {
      const dtype = data instanceof Int32Array ? "int32" : "float32";
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      tensors.push({ group, name, shape, dtype, offset, bytes: bytes.length });
      chunks.push(bytes);
      offset += bytes.length;
    };
    for (const [name, values] of checkpoint.weights) add("weights", name, [values.length], values);
    for (const { name, tensor } of checkpoint.optimizer) {
      const data =
        tensor.dtype === "int32" ? await tensor.data<"int32">() : await tensor.data<"float32">();
      add("optimizer", name, [...tensor.shape], data);
    }
    for (const [name, values] of checkpoint.best) add("best", name, [values.length], values);
    const { weights: _w, optimizer: _o, best: _b, ...state } = checkpoint;
    const json: CheckpointJson = { format: CHECKPOINT_FORMAT, ...state, tensors };
    const name = `epoch-${checkpoint.epoch}`;
    await this.store.put(this.key(`${name}.bin`), Buffer.concat(chunks));
    await this.store.put(this.key(`${name}.json`), JSON.stringify(json));
    await this.store.put(this.key("latest.json"), JSON.stringify({ epoch: checkpoint.epoch }));
    // The previous epoch's files are no longer needed once latest.json moved on.
    for (const key of await this.store.list(this.prefix)) {
      const match = /\/epoch-(\d+)\.(json|bin)$/.exec(key);
      if (match && Number(match[1]) < checkpoint.epoch) await this.store.delete(key);
    }
  }

  /** The last checkpoint written, or undefined when there is none. */
  async loadLatest(): Promise<Checkpoint | undefined> {
    const latest = await this.store.get(this.key("latest.json"));
    if (!latest) return undefined;
    const where = `${this.store.location}/${this.key("latest.json")}`;
    const { epoch } = parseJson(latest, where) as { epoch?: unknown };
    if (typeof epoch !== "number" || !Number.isInteger(epoch) || epoch < 1) {
      throw damaged(where, "it does not name an epoch");
    }
    const jsonKey = this.key(`epoch-${epoch}.json`);
    const jsonBytes = await this.store.get(jsonKey);
    const bin = await this.store.get(this.key(`epoch-${epoch}.bin`));
    if (!jsonBytes || !bin) throw damaged(where, `the files of epoch ${epoch} are missing`);
    const json = parseJson(jsonBytes, `${this.store.location}/${jsonKey}`) as CheckpointJson;
    if (json.format !== CHECKPOINT_FORMAT || !Array.isArray(json.tensors)) {
      throw damaged(`${this.store.location}/${jsonKey}`, `it is not a ${CHECKPOINT_FORMAT}`);
    }
    const weights = new Map<string, Float32Array>();
    const best = new Map<string, Float32Array>();
    const optimizer: { name: string; tensor: tf.Tensor }[] = [];
    for (const entry of json.tensors) {
      if (entry.offset + entry.bytes > bin.byteLength) {
        throw damaged(
          `${this.store.location}/${jsonKey}`,
          `tensor ${entry.name} runs past the data`,
        );
      }
      const bytes = bin.slice(entry.offset, entry.offset + entry.bytes);
      const values =
        entry.dtype === "int32"
          ? new Int32Array(bytes.buffer, bytes.byteOffset, entry.bytes / 4)
          : new Float32Array(bytes.buffer, bytes.byteOffset, entry.bytes / 4);
      if (entry.group === "optimizer") {
        optimizer.push({ name: entry.name, tensor: tf.tensor(values, entry.shape, entry.dtype) });
      } else {
        (entry.group === "weights" ? weights : best).set(entry.name, Float32Array.from(values));
      }
    }
    const { format: _f, tensors: _t, ...state } = json;
    return { ...state, weights, optimizer, best };
  }

  /** Removes every checkpoint (a finished training keeps the artifact, not the checkpoints). */
  async clear(): Promise<void> {
    for (const key of await this.store.list(this.prefix)) await this.store.delete(key);
  }
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
  } catch (error) {
    throw damaged(where, `it is not valid JSON (${(error as Error).message})`);
  }
}

function damaged(where: string, why: string): PipelineError {
  return new PipelineError(
    `training checkpoint ${where} is damaged: ${why}`,
    1,
    "delete the run's train/checkpoint folder to train from scratch, or start a new run",
  );
}
