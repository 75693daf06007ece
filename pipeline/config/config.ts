/**
 * One typed config: defaults < config file < environment < CLI flags. An invalid value is
 * reported with its key, the value, where it came from and what is allowed (exit code 2).
 */
import { existsSync, readFileSync } from "node:fs";
import { LineCounter, isMap, parseDocument, type Document } from "yaml";
import type { BatchSettings } from "./batch-settings.ts";
import type { ServeLimits } from "./serve-settings.ts";
import { InputError, type InputLocation } from "../errors.ts";
import { PRESETS, type PresetName } from "./presets.ts";
import { SETTINGS, type SettingSpec } from "./settings.ts";

export interface Config {
  store: string;
  warehouse: string;
  tenant: string;
  progress: "auto" | "on" | "off";
  data: {
    source: "synthetic" | "csv" | "download";
    dir: string;
    sessions: number;
    skus: number;
    seed: number;
    downloadUrl?: string;
    downloadSha256?: string;
    allowHttp: boolean;
    downloadMaxBytes: number;
    downloadMaxUnpackedBytes: number;
  };
  transform: {
    /** The dbt project folder; unset: the template's own dbt/. */
    project?: string;
    dbt: string;
    sessionGapMinutes: number;
    trainFraction: number;
    validationFraction: number;
    collapseRepeats: boolean;
    sequenceActions: string;
  };
  train: {
    compute: "local" | "batch";
    backend: "auto" | "node-gpu" | "node" | "wasm" | "cpu";
    epochs: number;
    patience: number;
    minImprovement: number;
    batchSize: number;
    loss: "full" | "sampled";
    negatives: number;
    sampleAlpha: number;
    logQ: number;
    popularityBias: boolean;
    examples: "sequence" | "all-prefixes" | "last";
    minCount: number;
    validationExamples: number;
    seed: number;
  };
  card: { screenshot: "auto" | "on" | "off"; note?: string };
  /** Production traffic for the drift checks (pipeline/monitor/). */
  monitor?: { traffic?: string };
  serve: { port: number; model?: string; logSampleRate: number } & ServeLimits;
  promote: {
    target: "local" | "sagemaker";
    tolerance: number;
    sagemaker: {
      endpoint: string;
      image?: string;
      roleArn?: string;
      instanceType: string;
      instanceCount: number;
      modelData?: string;
      traffic: string;
      alarms?: string;
      region?: string;
      capture?: string;
      capturePercent: number;
    };
  };
  evaluate: { gates: string; maxPrefixes: number; bootstrap: number; seed: number };
  /** AWS Batch settings for `--compute batch` (checked when that path runs). */
  compute: { batch: Partial<BatchSettings> };
  model: {
    preset: PresetName;
    cell: "lstm" | "gru";
    tied: boolean;
    itemFeatures: boolean;
    /** Comma-separated blend components, the network first. */
    blend: string;
    embeddingDim: number;
    hiddenUnits: number;
    layers: number;
    dropout: number;
    learningRate: number;
    maxLen: number;
  };
}

export type SettingSource = "default" | "preset" | "file" | "env" | "flag";

export interface LoadedConfig {
  config: Config;
  /** Where each setting's value came from. */
  sources: Record<string, SettingSource>;
  file?: string;
}

export interface ConfigInputs {
  /** --config FILE; else MLOPS_CONFIG; else pipeline.config.yml when it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values by setting key (`data.sessions`), as given on the command line. */
  flags?: Record<string, string | number | undefined>;
  cwd?: string;
}

export const DEFAULT_CONFIG_FILE = "pipeline.config.yml";

export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const env = inputs.env ?? process.env;
  const cwd = inputs.cwd ?? process.cwd();
  const file = inputs.file ?? env.MLOPS_CONFIG ?? defaultFile(cwd);
  const fileValues = file ? readConfigFile(file) : undefined;

  const values: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const spec of SETTINGS) {
    const origin = (source: SettingSource, raw: unknown, where: string) => {
      const value = spec.numeric && typeof raw === "string" ? toNumber(raw) : raw;
      sources[spec.key] = source;
      const at =
        source === "file" && file
          ? { file, line: fileValues?.lineOf(spec.key), field: spec.key }
          : {};
      // The schema's output is kept: it turns text from the environment ("false") into its type.
      values[spec.key] = check(spec, value, raw, where, at);
    };
    if (spec.default !== undefined) {
      values[spec.key] = spec.default;
      sources[spec.key] = "default";
    }
    const fromFile = fileValues?.get(spec.key);
    if (fromFile !== undefined) origin("file", fromFile, `config file ${file}`);
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "")
      origin("env", fromEnv, `environment variable ${spec.env}`);
    const fromFlag = inputs.flags?.[spec.key];
    if (fromFlag !== undefined) origin("flag", fromFlag, `flag ${spec.flag ?? spec.key}`);
  }

  // The preset fills in what nothing else set (see presets.ts).
  for (const [key, value] of Object.entries(PRESETS[values["model.preset"] as PresetName])) {
    if (sources[key] === "default") {
      values[key] = value;
      sources[key] = "preset";
    }
  }

  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) setPath(config, key, value);
  return { config: config as unknown as Config, sources, ...(file ? { file } : {}) };
}

function defaultFile(cwd: string): string | undefined {
  const path = `${cwd}/${DEFAULT_CONFIG_FILE}`;
  return existsSync(path) ? path : undefined;
}

function toNumber(raw: string): number | string {
  const trimmed = raw.trim().replaceAll("_", "");
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
}

function check(
  spec: SettingSpec,
  value: unknown,
  raw: unknown,
  where: string,
  at: InputLocation,
): unknown {
  const result = spec.schema.safeParse(value);
  if (result.success) return result.data;
  throw new InputError(
    `invalid value ${JSON.stringify(raw)} for setting "${spec.key}" (from ${where}): expected ${spec.allowed}`,
    at,
    where.startsWith("flag")
      ? `Pass ${spec.flag} ${spec.allowed}.`
      : `Fix ${where}, or override it with ${[spec.flag, spec.env].filter((o) => o && !where.includes(o)).join(" or ")}.`,
  );
}

interface FileValues {
  get(key: string): unknown;
  lineOf(key: string): number | undefined;
}

function readConfigFile(file: string): FileValues {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(
      `cannot read the config file: ${(error as Error).message}`,
      { file },
      "Check the --config path (or MLOPS_CONFIG).",
    );
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0].line;
    throw new InputError(`not valid YAML: ${yamlError.message.split("\n")[0]}`, { file, line });
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new InputError("expected a mapping of settings at the top level", { file, line: 1 });
  }
  const lineOf = (key: string) => lineOfKey(doc, lineCounter, key);
  const known = new Set(SETTINGS.map((s) => s.key));
  const data: unknown = doc.toJS() ?? {};
  for (const key of leafKeys(data)) {
    if (!known.has(key)) {
      throw new InputError(
        `unknown setting "${key}"`,
        { file, line: lineOf(key), field: key },
        `Known settings: ${[...known].join(", ")}.`,
      );
    }
  }
  return { get: (key) => getPath(data, key), lineOf };
}

function lineOfKey(doc: Document, counter: LineCounter, key: string): number | undefined {
  const node = doc.getIn(key.split("."), true) as { range?: [number, number, number] } | undefined;
  return node?.range ? counter.linePos(node.range[0]).line : undefined;
}

function leafKeys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    // `data` is a section; a setting's own value is never an object.
    return v !== null && typeof v === "object" && !Array.isArray(v) ? leafKeys(v, key) : [key];
  });
}

/** The value at a dotted setting key (`data.sessions`) in a config. */
export function getPath(value: unknown, key: string): unknown {
  let current: unknown = value;
  for (const part of key.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let current = target;
  for (const part of parts.slice(0, -1)) {
    current[part] ??= {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts.at(-1) as string] = value;
}

/** The settings that differ from the defaults, for run records and the model card. */
export function configDiff(
  loaded: LoadedConfig,
): Record<string, { value: unknown; from: SettingSource }> {
  const diff: Record<string, { value: unknown; from: SettingSource }> = {};
  for (const spec of SETTINGS) {
    const source = loaded.sources[spec.key];
    if (source && source !== "default") {
      diff[spec.key] = { value: getPath(loaded.config, spec.key), from: source };
    }
  }
  return diff;
}
