/**
 * Every setting, declared once: its key in the config file, its environment variable, its CLI
 * flag, its schema and what it means. The loader, the CLI's help and the README's table all read
 * this list, so they cannot disagree.
 */
import { z } from "zod";

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
}

const positiveInt = z.number().int().positive();

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
    schema: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
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
    schema: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]),
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
  },
  transform: {
    dbt: "auto",
    sessionGapMinutes: 30,
    trainFraction: 0.8,
    validationFraction: 0.1,
    collapseRepeats: true,
    sequenceActions: "detail,add,purchase",
  },
} as const;
