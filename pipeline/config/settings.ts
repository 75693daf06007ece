/**
 * Every setting, declared once: its key in the config file, its environment variable, its CLI
 * flag, its schema and what it means. The loader, the CLI's help and the README's table all read
 * this list, so they cannot disagree.
 */
import { DOWNLOAD_LIMITS } from "../data/download.ts";
import { z } from "zod";
import { BATCH_DEFAULTS, BATCH_SETTING_SPECS } from "../compute/batch-settings.ts";
import { SERVE_LIMIT_DEFAULTS, SERVE_LIMIT_SPECS } from "../serve/serve-settings.ts";

export interface SettingSpec {
  /** Dotted key in the config file (`data.sessions`). */
  key: string;
  env: string;
  /** The CLI flag, where one exists. */
  flag?: string;
  schema: z.ZodType;
  /** Shown in errors: what values are allowed. */
  allowed: string;
  description: string;
  /** Values from env and flags arrive as text; numbers are converted before validation. */
  numeric?: boolean;
  /**
   * Names infrastructure or carries credentials (ARNs, bucket and image URIs with account ids,
   * URLs that may hold a signature): the model card, a public pull-request comment, says only
   * whether it is set.
   */
  sensitive?: boolean;
}

const positiveInt = z.number().int().positive();
/** true/false in a file, "true"/"false" from the environment or a flag. */
const boolean = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
/** Seeds are 32-bit: the PRNG (pipeline/prng.ts) takes one word per seed. */
const seed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);

export const SETTINGS: SettingSpec[] = [
  {
    key: "store",
    env: "MLOPS_STORE",
    flag: "--store",
    schema: z
      .string()
      .regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|[^:]+|[A-Za-z]:[\\/].*)$/),
    allowed: "a folder path or s3://bucket/prefix",
    description: "Run store: where runs and artifacts are written.",
    sensitive: true,
  },
  {
    key: "warehouse",
    env: "MLOPS_WAREHOUSE",
    flag: "--warehouse",
    schema: z.string().regex(/^(duckdb:.+|snowflake)$/),
    allowed: "duckdb:PATH or snowflake",
    description: "Warehouse to load into and transform in.",
  },
  {
    key: "tenant",
    env: "MLOPS_TENANT",
    flag: "--tenant",
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    allowed: "1-64 letters, digits, '_', '.' or '-'",
    description: "Tenant / API key recorded on every loaded row.",
  },
  {
    key: "progress",
    env: "MLOPS_PROGRESS",
    flag: "--progress",
    schema: z.enum(["auto", "on", "off"]),
    allowed: "auto, on or off",
    description: "Progress bars on stderr (auto: only on a terminal, never in CI or with --json).",
  },
  {
    key: "data.source",
    env: "MLOPS_DATA_SOURCE",
    flag: "--source",
    schema: z.enum(["synthetic", "csv", "download"]),
    allowed: "synthetic, csv or download",
    description: "Where the upload stage gets its files.",
  },
  {
    key: "data.dir",
    env: "MLOPS_DATA_DIR",
    flag: "--data",
    schema: z.string().min(1),
    allowed: "a folder path",
    description:
      "Folder holding browsing_train.csv, search_train.csv and sku_to_content.csv (csv source), or where downloads are unpacked.",
  },
  {
    key: "data.sessions",
    env: "MLOPS_SESSIONS",
    flag: "--sessions",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Sessions the synthetic generator writes.",
  },
  {
    key: "data.skus",
    env: "MLOPS_SKUS",
    flag: "--skus",
    // The generator's category tree needs at least ten items to have more than one leaf.
    schema: z.number().int().min(10),
    numeric: true,
    allowed: "an integer of at least 10",
    description: "Catalog size of the synthetic generator.",
  },
  {
    key: "data.seed",
    env: "MLOPS_SEED",
    flag: "--seed",
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description: "Seed of the synthetic generator (same seed, same files).",
  },
  {
    key: "data.downloadUrl",
    env: "MLOPS_DOWNLOAD_URL",
    flag: "--download-url",
    schema: z.url({ protocol: /^https?$/ }),
    allowed: "an http(s) URL",
    description:
      "URL of the data-challenge archive (a .zip holding the three CSV files) for --source download.",
    sensitive: true,
  },
  {
    key: "data.downloadSha256",
    env: "MLOPS_DOWNLOAD_SHA256",
    flag: "--download-sha256",
    schema: z.string().regex(/^[0-9a-f]{64}$/),
    allowed: "64 lower-case hex characters",
    description: "Expected sha256 of the downloaded archive; the download fails on a mismatch.",
  },
  {
    key: "data.allowHttp",
    env: "MLOPS_DOWNLOAD_ALLOW_HTTP",
    flag: "--allow-http",
    schema: boolean,
    allowed: "true or false",
    description:
      "Allow a plain http download URL (refused by default: anyone on the way could swap the archive).",
  },
  {
    key: "data.downloadMaxBytes",
    env: "MLOPS_DOWNLOAD_MAX_BYTES",
    flag: "--download-max-bytes",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer (bytes)",
    description: "The most bytes a downloaded archive may have (default 8 GiB).",
  },
  {
    key: "data.downloadMaxUnpackedBytes",
    env: "MLOPS_DOWNLOAD_MAX_UNPACKED_BYTES",
    flag: "--download-max-unpacked-bytes",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer (bytes)",
    description:
      "The most bytes the archive's data files may unpack to, all together (default 64 GiB; stops a zip bomb).",
  },
  {
    key: "transform.project",
    env: "MLOPS_DBT_PROJECT",
    flag: "--dbt-project",
    schema: z.string().min(1),
    allowed: "a folder path",
    description: "dbt project the transform stage builds (default: this repository's dbt/).",
  },
  {
    key: "transform.dbt",
    env: "MLOPS_DBT",
    flag: "--dbt",
    schema: z.string().min(1),
    allowed: "auto, builtin or a path to a dbt executable",
    description:
      "Who runs dbt build: auto (dbt-core when `dbt` is on PATH, else the built-in runner), builtin, or that dbt executable.",
  },
  {
    key: "transform.sessionGapMinutes",
    env: "MLOPS_SESSION_GAP_MINUTES",
    flag: "--session-gap-minutes",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Inactivity (minutes) that starts a new session inside one session id.",
  },
  {
    key: "transform.trainFraction",
    env: "MLOPS_TRAIN_FRACTION",
    flag: "--train-fraction",
    schema: z.number().gt(0).lt(1),
    numeric: true,
    allowed: "a number between 0 and 1",
    description: "Share of sessions, earliest first, in the train split.",
  },
  {
    key: "transform.validationFraction",
    env: "MLOPS_VALIDATION_FRACTION",
    flag: "--validation-fraction",
    schema: z.number().min(0).lt(1),
    numeric: true,
    allowed: "a number from 0 to below 1",
    description: "Share of sessions in the validation split (test gets the rest).",
  },
  {
    key: "transform.collapseRepeats",
    env: "MLOPS_COLLAPSE_REPEATS",
    flag: "--collapse-repeats",
    schema: boolean,
    allowed: "true or false",
    description: "Collapse consecutive interactions with the same SKU into one sequence step.",
  },
  {
    key: "transform.sequenceActions",
    env: "MLOPS_SEQUENCE_ACTIONS",
    flag: "--sequence-actions",
    schema: z
      .string()
      .regex(/^(detail|add|purchase|remove|click)(,(detail|add|purchase|remove|click))*$/),
    allowed: "comma-separated product actions (detail, add, purchase, remove, click)",
    description: "Product actions that make up a training sequence.",
  },
  {
    key: "train.compute",
    env: "MLOPS_COMPUTE",
    flag: "--compute",
    schema: z.enum(["local", "batch"]),
    allowed: "local or batch",
    description:
      "Where training runs: in this process, or as an AWS Batch GPU job running the same trainer.",
  },
  {
    key: "train.backend",
    env: "MLOPS_BACKEND",
    flag: "--backend",
    schema: z.enum(["auto", "node-gpu", "node", "wasm", "cpu"]),
    allowed: "auto, node-gpu, node, wasm or cpu",
    description:
      "tfjs backend (auto: the first of node-gpu → node → wasm → cpu that loads; the run record says which ran and why).",
  },
  {
    key: "train.epochs",
    env: "MLOPS_EPOCHS",
    flag: "--epochs",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Most epochs to train (early stopping may end sooner).",
  },
  {
    key: "train.patience",
    env: "MLOPS_PATIENCE",
    flag: "--patience",
    schema: z.number().int().min(0),
    numeric: true,
    allowed: "an integer of at least 0",
    description:
      "Epochs without a better validation HR@20 before training stops and keeps the best epoch (0: never stop early).",
  },
  {
    key: "train.minImprovement",
    env: "MLOPS_MIN_IMPROVEMENT",
    flag: "--min-improvement",
    schema: z.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description:
      "Relative gain in validation HR@20 an epoch needs to count as better for the patience (the best epoch is kept either way).",
  },
  {
    key: "train.batchSize",
    env: "MLOPS_BATCH_SIZE",
    flag: "--batch-size",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Loss rows (targets) per training step.",
  },
  {
    key: "train.loss",
    env: "MLOPS_LOSS",
    flag: "--loss",
    schema: z.enum(["full", "sampled"]),
    allowed: "full or sampled",
    description:
      "Training loss: softmax cross-entropy over the whole vocabulary, or over the batch's targets plus sampled negatives (faster; evaluation always ranks the whole vocabulary).",
  },
  {
    key: "train.negatives",
    env: "MLOPS_NEGATIVES",
    flag: "--negatives",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer smaller than the vocabulary",
    description: "Negatives drawn per step by the sampled loss.",
  },
  {
    key: "train.sampleAlpha",
    env: "MLOPS_SAMPLE_ALPHA",
    flag: "--sample-alpha",
    schema: z.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description:
      "Negatives are drawn from train popularity raised to this power (0: uniform, 1: popularity).",
  },
  {
    key: "train.logQ",
    env: "MLOPS_LOGQ",
    flag: "--logq",
    schema: z.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description:
      "Strength of the sampled loss's logQ correction (subtracts logQ × log of each candidate's sampling probability).",
  },
  {
    key: "train.popularityBias",
    env: "MLOPS_POPULARITY_BIAS",
    flag: "--popularity-bias",
    schema: boolean,
    allowed: "true or false",
    description: "Start the output bias at each item's log train frequency.",
  },
  {
    key: "train.examples",
    env: "MLOPS_EXAMPLES",
    flag: "--examples",
    schema: z.enum(["sequence", "all-prefixes", "last"]),
    allowed: "sequence, all-prefixes or last",
    description:
      "Training examples per session: the loss at every position in one pass (sequence), every prefix as a separate example (all-prefixes), or only the last item.",
  },
  {
    key: "train.minCount",
    env: "MLOPS_MIN_COUNT",
    flag: "--min-count",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "SKUs seen fewer times than this in train map to the unknown id.",
  },
  {
    key: "train.validationExamples",
    env: "MLOPS_VALIDATION_EXAMPLES",
    flag: "--validation-examples",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Validation examples the per-epoch HR@20 (early stopping) is computed on.",
  },
  {
    key: "train.seed",
    env: "MLOPS_TRAIN_SEED",
    flag: "--train-seed",
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description:
      "Seed of the weights, dropout, shuffling and sampling (same seed and backend, same model).",
  },
  {
    key: "model.preset",
    env: "MLOPS_PRESET",
    flag: "--preset",
    schema: z.enum(["hybrid", "lstm-sampled", "seeds"]),
    allowed: "hybrid, lstm-sampled or seeds",
    description:
      "Architecture and training recipe the other model and train settings start from: hybrid (the default: a tied-embedding GRU blended with neighbourhood evidence), lstm-sampled (the previous default LSTM) or seeds (exactly the seeds' Keras recipe). Settings given explicitly override the preset.",
  },
  {
    key: "model.cell",
    env: "MLOPS_CELL",
    flag: "--cell",
    schema: z.enum(["lstm", "gru"]),
    allowed: "lstm or gru",
    description: "Recurrent cell.",
  },
  {
    key: "model.tied",
    env: "MLOPS_TIED",
    flag: "--tied",
    schema: boolean,
    allowed: "true or false",
    description:
      "Score items with the item embedding itself (tied input/output embeddings; needs hidden units = embedding size).",
  },
  {
    key: "model.itemFeatures",
    env: "MLOPS_ITEM_FEATURES",
    flag: "--item-features",
    schema: boolean,
    allowed: "true or false",
    description:
      "Add embeddings of each item's catalog facts (every category level, the price bucket) to its embedding while training, so rarely seen items start from what their category says.",
  },
  {
    key: "model.blend",
    env: "MLOPS_BLEND",
    flag: "--blend",
    schema: z
      .string()
      .regex(/^(neural|sknn|cooccurrence|repeat)(,(neural|sknn|cooccurrence|repeat))*$/)
      .refine(
        (v) => v.split(",")[0] === "neural" && new Set(v.split(",")).size === v.split(",").length,
      ),
    allowed: "neural, then any of sknn, cooccurrence, repeat (comma-separated, no repeats)",
    description:
      "What the candidate ranks with: the network, blended with session-kNN, item co-occurrence and in-session repeats, the weights fitted on the validation split.",
  },
  {
    key: "model.embeddingDim",
    env: "MLOPS_EMBEDDING_DIM",
    flag: "--embedding-dim",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Item embedding size.",
  },
  {
    key: "model.hiddenUnits",
    env: "MLOPS_HIDDEN_UNITS",
    flag: "--hidden-units",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Units of each recurrent layer.",
  },
  {
    key: "model.layers",
    env: "MLOPS_LAYERS",
    flag: "--layers",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Stacked recurrent layers.",
  },
  {
    key: "model.dropout",
    env: "MLOPS_DROPOUT",
    flag: "--dropout",
    schema: z.number().min(0).lt(1),
    numeric: true,
    allowed: "a number in [0, 1)",
    description: "Dropout after the embedding and between recurrent layers.",
  },
  {
    key: "model.learningRate",
    env: "MLOPS_LEARNING_RATE",
    flag: "--learning-rate",
    schema: z.number().positive(),
    numeric: true,
    allowed: "a positive number",
    description: "Adam's learning rate.",
  },
  {
    key: "model.maxLen",
    env: "MLOPS_MAX_LEN",
    flag: "--max-len",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Items of history the model reads (longer sessions keep their most recent items).",
  },
  {
    key: "evaluate.gates",
    env: "MLOPS_GATES_FILE",
    flag: "--gates",
    schema: z.string().min(1),
    allowed: "a YAML file path",
    description: "The gate file: the checks a model must pass to ship (see gates.yml).",
  },
  {
    key: "evaluate.maxPrefixes",
    env: "MLOPS_EVAL_MAX_PREFIXES",
    flag: "--max-prefixes",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description:
      "Test prefixes evaluated: a seeded sample of whole test sessions holding about this many.",
  },
  {
    key: "evaluate.bootstrap",
    env: "MLOPS_EVAL_BOOTSTRAP",
    flag: "--bootstrap",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Bootstrap resamples behind the confidence intervals of HR@20 and MRR@20.",
  },
  {
    key: "evaluate.seed",
    env: "MLOPS_EVAL_SEED",
    flag: "--eval-seed",
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description: "Seed of the evaluation's session sample, perturbations and bootstrap.",
  },
  {
    key: "card.screenshot",
    env: "MLOPS_CARD_SCREENSHOT",
    flag: "--screenshot",
    schema: z.enum(["auto", "on", "off"]),
    allowed: "auto, on or off",
    description:
      "Screenshot of the HTML report with headless Chromium (auto: when Chromium is installed).",
  },
  {
    key: "card.note",
    env: "MLOPS_CARD_NOTE",
    flag: "--card-note",
    schema: z.string().max(1000),
    allowed: "text, up to 1000 characters",
    description:
      "A note at the top of the card: promote-on-main says there why it retrained instead of promoting the reviewed candidate.",
  },
  {
    key: "promote.target",
    env: "MLOPS_PROMOTE_TARGET",
    flag: "--target",
    schema: z.enum(["local", "sagemaker"]),
    allowed: "local or sagemaker",
    description:
      "Where a promoted model is deployed: the local endpoint (the registry + pipeline serve) or a SageMaker endpoint.",
  },
  {
    key: "promote.tolerance",
    env: "MLOPS_PROMOTE_TOLERANCE",
    flag: "--tolerance",
    schema: z.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "HR@20 / MRR@20 the challenger may lose against production and still be promoted.",
  },
  {
    key: "promote.sagemaker.endpoint",
    env: "MLOPS_SAGEMAKER_ENDPOINT",
    flag: "--endpoint",
    schema: z.string().regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/),
    allowed: "1-63 letters, digits and '-'",
    description: "SageMaker endpoint name.",
  },
  {
    key: "promote.sagemaker.image",
    env: "MLOPS_SAGEMAKER_IMAGE",
    flag: "--image",
    schema: z.string().min(1),
    allowed: "an ECR repository URI, with or without a tag",
    description:
      "Serving image (containers/serve.Dockerfile) in ECR; required for --target sagemaker. Without a tag, the checkout's tag (`pipeline images`).",
    sensitive: true,
  },
  {
    key: "promote.sagemaker.roleArn",
    env: "MLOPS_SAGEMAKER_ROLE_ARN",
    flag: "--role-arn",
    schema: z.string().min(1),
    allowed: "an IAM role ARN",
    description: "SageMaker execution role; required for --target sagemaker.",
    sensitive: true,
  },
  {
    key: "promote.sagemaker.instanceType",
    env: "MLOPS_SAGEMAKER_INSTANCE_TYPE",
    flag: "--instance-type",
    schema: z.string().min(1),
    allowed: "a SageMaker instance type",
    description: "Endpoint instance type.",
  },
  {
    key: "promote.sagemaker.instanceCount",
    env: "MLOPS_SAGEMAKER_INSTANCE_COUNT",
    flag: "--instance-count",
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Endpoint instances.",
  },
  {
    key: "promote.sagemaker.modelData",
    env: "MLOPS_SAGEMAKER_MODEL_DATA",
    flag: "--model-data",
    schema: z.string().regex(/^s3:\/\//),
    allowed: "s3://bucket/prefix",
    description:
      "Where model.tar.gz is uploaded (default: STORE/sagemaker-models when the store is on S3).",
    sensitive: true,
  },
  {
    key: "promote.sagemaker.traffic",
    env: "MLOPS_SAGEMAKER_TRAFFIC",
    flag: "--traffic",
    schema: z.string().regex(/^(all-at-once|canary:\d+|linear:\d+)$/),
    allowed: "all-at-once, canary:N or linear:N",
    description: "Blue/green traffic shifting of an endpoint update.",
  },
  {
    key: "promote.sagemaker.alarms",
    env: "MLOPS_SAGEMAKER_ALARMS",
    flag: "--alarms",
    schema: z.string(),
    allowed: "comma-separated CloudWatch alarm names",
    description: "Alarms that roll an endpoint update back automatically.",
    sensitive: true,
  },
  {
    key: "promote.sagemaker.region",
    env: "MLOPS_SAGEMAKER_REGION",
    flag: "--sagemaker-region",
    schema: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/),
    allowed: "an AWS region",
    description: "Region of the endpoint (default: AWS_REGION, else us-east-1).",
  },
  {
    key: "serve.port",
    env: "MLOPS_SERVE_PORT",
    flag: "--port",
    schema: z.number().int().min(0).max(65535),
    numeric: true,
    allowed: "a port from 0 to 65535 (0: any free port)",
    description: "Port of `pipeline serve` (SageMaker's contract: 8080).",
  },
  {
    key: "serve.model",
    env: "MLOPS_SERVE_MODEL",
    flag: "--model",
    schema: z.string().min(1),
    allowed: "a model folder",
    description:
      "Model `pipeline serve` serves (default: /opt/ml/model when it exists, else the production model in the registry).",
  },
  {
    key: "serve.logSampleRate",
    env: "MLOPS_SERVE_LOG_SAMPLE_RATE",
    flag: "--log-sample-rate",
    schema: z.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description:
      "Share of requests logged in the browsing_train.csv format under STORE/requests (a local .mlops/requests with an S3 store), which the upload stage loads back.",
  },
  ...SERVE_LIMIT_SPECS,
  ...BATCH_SETTING_SPECS,
];

export const DEFAULTS = {
  store: ".mlops",
  warehouse: "duckdb:.mlops/warehouse.duckdb",
  tenant: "local",
  progress: "auto",
  data: {
    source: "synthetic",
    dir: ".mlops/data",
    sessions: 100_000,
    skus: 10_000,
    seed: 42,
    allowHttp: false,
    downloadMaxBytes: DOWNLOAD_LIMITS.maxBytes,
    downloadMaxUnpackedBytes: DOWNLOAD_LIMITS.maxUnpackedBytes,
  },
  transform: {
    dbt: "auto",
    sessionGapMinutes: 30,
    trainFraction: 0.8,
    validationFraction: 0.1,
    collapseRepeats: true,
    sequenceActions: "detail,add,purchase",
  },
  train: {
    compute: "local",
    backend: "auto",
    epochs: 12,
    patience: 2,
    minImprovement: 0.005,
    batchSize: 512,
    loss: "sampled",
    negatives: 1024,
    sampleAlpha: 0.5,
    logQ: 1,
    popularityBias: true,
    examples: "sequence",
    minCount: 1,
    validationExamples: 10_000,
    seed: 42,
  },
  compute: { batch: BATCH_DEFAULTS },
  card: { screenshot: "auto" },
  serve: { port: 8080, logSampleRate: 0, ...SERVE_LIMIT_DEFAULTS },
  promote: {
    target: "local",
    tolerance: 0,
    sagemaker: {
      endpoint: "mlops-session-recs",
      instanceType: "ml.m5.large",
      instanceCount: 1,
      traffic: "all-at-once",
    },
  },
  evaluate: {
    gates: "gates.yml",
    maxPrefixes: 20_000,
    bootstrap: 1000,
    seed: 42,
  },
  model: {
    preset: "hybrid",
    cell: "gru",
    tied: true,
    itemFeatures: true,
    blend: "neural,sknn,cooccurrence,repeat",
    embeddingDim: 64,
    hiddenUnits: 64,
    layers: 1,
    dropout: 0.2,
    learningRate: 0.005,
    maxLen: 20,
  },
} as const;
