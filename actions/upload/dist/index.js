// Bundled from actions/upload/main.ts by scripts/bundle.ts; do not edit: run `npm run bundle`.
const __moduleUrl = new URL("../../../pipeline/run/bundled-action.js", import.meta.url).href;

// actions/common/run-stage.ts
import { tmpdir as tmpdir11 } from "node:os";
import * as cache from "@actions/cache";
import * as core3 from "@actions/core";

// pipeline/config/config.ts
import { existsSync as existsSync2, readFileSync } from "node:fs";
import { LineCounter, isMap, parseDocument } from "yaml";

// pipeline/errors.ts
var PipelineError = class extends Error {
  constructor(message, exitCode = 1, hint2) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint2;
    this.name = new.target.name;
  }
  exitCode;
  hint;
};
var StageFailure = class extends PipelineError {
  constructor(message, result, hint2) {
    super(message, 1, hint2);
    this.result = result;
  }
  result;
};
var InputError = class extends PipelineError {
  constructor(message, where = {}, hint2) {
    super(`${formatLocation(where)}${message}`, 2, hint2);
    this.where = where;
  }
  where;
};
function formatLocation(where) {
  const parts = [];
  if (where.file) parts.push(where.file);
  if (where.line !== void 0) parts.push(`line ${where.line}`);
  if (where.column !== void 0) parts.push(`column ${where.column}`);
  if (where.field) parts.push(`field "${where.field}"`);
  return parts.length ? `${parts.join(", ")}: ` : "";
}

// pipeline/config/presets.ts
var SEEDS_LAYERS = {
  "model.cell": "lstm",
  "model.tied": false,
  "model.itemFeatures": false,
  "model.blend": "neural",
  "model.embeddingDim": 32,
  "model.hiddenUnits": 32,
  "model.layers": 1,
  "model.dropout": 0.3,
  "model.maxLen": 20,
  "train.examples": "all-prefixes",
  "train.batchSize": 256,
  "train.popularityBias": false
};
var PRESETS = {
  hybrid: {},
  "lstm-sampled": {
    ...SEEDS_LAYERS,
    "model.learningRate": 0.01,
    "train.loss": "sampled",
    "train.negatives": 1024,
    "train.sampleAlpha": 0,
    "train.logQ": 0,
    "train.epochs": 4
  },
  seeds: {
    ...SEEDS_LAYERS,
    "model.learningRate": 1e-3,
    "train.loss": "full"
  }
};

// pipeline/data/download.ts
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import yauzl from "yauzl";

// pipeline/data/schema.ts
var DATA_FILES = {
  browsing: {
    file: "browsing_train.csv",
    table: "raw_browsing_events",
    columns: [
      "session_id_hash",
      "event_type",
      "product_action",
      "product_sku_hash",
      "server_timestamp_epoch_ms",
      "hashed_url"
    ]
  },
  search: {
    file: "search_train.csv",
    table: "raw_search_events",
    columns: [
      "session_id_hash",
      "server_timestamp_epoch_ms",
      "query_vector",
      "product_skus_hash",
      "clicked_skus_hash"
    ]
  },
  catalog: {
    file: "sku_to_content.csv",
    table: "raw_sku_content",
    columns: [
      "product_sku_hash",
      "description_vector",
      "category_hash",
      "image_vector",
      "price_bucket"
    ]
  },
  /** Production traffic (pipeline/monitor/served-events.ts): not a challenge file. */
  served: {
    file: "served_events.csv",
    table: "raw_served_events",
    columns: ["session_id_hash", "product_sku_hash", "server_timestamp_epoch_ms", "model_run_id"]
  }
};
var RAW_KINDS = Object.keys(DATA_FILES);
var DATA_KINDS = RAW_KINDS.filter((kind) => kind !== "served");
var EVENT_TYPES = ["pageview", "event_product", "event"];
var PRODUCT_ACTIONS = ["detail", "add", "purchase", "remove", "click", ""];
var HASH_LENGTH = 64;

// pipeline/data/download.ts
var DOWNLOAD_LIMITS = {
  maxBytes: 8 * 2 ** 30,
  maxUnpackedBytes: 64 * 2 ** 30
};
function redactUrl(url) {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? "?…" : ""}`;
  } catch {
    return "(an unparseable URL)";
  }
}
var MANUAL_HINT = "Download the archive by hand and unpack it, then run `pipeline upload --source csv --data DIR` with DIR holding browsing_train.csv, search_train.csv and sku_to_content.csv.";
async function downloadDataset(options) {
  if (!options.url) {
    throw new InputError(
      "--source download needs the archive's URL: set data.downloadUrl (MLOPS_DOWNLOAD_URL or --download-url)",
      { field: "data.downloadUrl" },
      MANUAL_HINT
    );
  }
  const shown = redactUrl(options.url);
  if (new URL(options.url).protocol !== "https:" && !options.allowHttp) {
    throw new InputError(
      `refusing to download ${shown} over plain http: anyone on the way could swap the archive`,
      { field: "data.downloadUrl" },
      "Use an https URL, or set data.allowHttp (MLOPS_DOWNLOAD_ALLOW_HTTP=true) for a server you trust on your own network."
    );
  }
  const requireSha256 = options.requireSha256 ?? (process.env.CI === "true" || process.env.GITHUB_ACTIONS === "true");
  if (requireSha256 && !options.sha256) {
    throw new InputError(
      `the download of ${shown} is not pinned to a sha256: in CI every downloaded archive must be`,
      { field: "data.downloadSha256" },
      "Set data.downloadSha256 (MLOPS_DOWNLOAD_SHA256) to the archive's sha256 (sha256sum FILE)."
    );
  }
  const limits = {
    maxBytes: options.maxBytes ?? DOWNLOAD_LIMITS.maxBytes,
    maxUnpackedBytes: options.maxUnpackedBytes ?? DOWNLOAD_LIMITS.maxUnpackedBytes
  };
  const marker = join(options.dir, "download.json");
  if (existsSync(marker)) {
    const previous = JSON.parse(await readFile(marker, "utf8"));
    const sameArchive = previous.url === options.url && (!options.sha256 || previous.sha256 === options.sha256);
    if (sameArchive && existsSync(join(options.dir, `${DATA_FILES.browsing.file}.gz`))) {
      return options.dir;
    }
  }
  await mkdir(options.dir, { recursive: true });
  const archive = join(options.dir, "archive.zip");
  const sha256 = await fetchTo(
    options.url,
    `${archive}.part`,
    options.timeoutMs ?? 3e4,
    limits.maxBytes
  );
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(`${archive}.part`, { force: true });
    throw new InputError(
      `the archive downloaded from ${shown} has sha256 ${sha256}, expected ${options.sha256}`,
      { field: "data.downloadSha256" },
      "The file changed or the download was corrupted: check the URL, or update data.downloadSha256 if the new archive is trusted."
    );
  }
  await rename(`${archive}.part`, archive);
  await extractDataFiles(archive, options.dir, limits.maxUnpackedBytes);
  await rm(archive, { force: true });
  await writeFile(marker, `${JSON.stringify({ url: options.url, sha256 }, null, 2)}
`);
  return options.dir;
}
async function fetchTo(url, path2, timeoutMs, maxBytes) {
  const shown = redactUrl(url);
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = error.cause;
    const reason = cause?.code ?? cause?.message ?? error.message;
    throw new InputError(
      `cannot download ${shown}: ${reason} (no network, or the host is unreachable)`,
      {},
      MANUAL_HINT
    );
  }
  if (!response.ok || !response.body) {
    throw new InputError(
      `cannot download ${shown}: HTTP ${response.status} ${response.statusText}`,
      {},
      MANUAL_HINT
    );
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    throw new InputError(
      `${shown} is ${declared} bytes, over the limit of ${maxBytes}`,
      { field: "data.downloadUrl" },
      "Check the URL; a larger archive needs data.downloadMaxBytes (MLOPS_DOWNLOAD_MAX_BYTES) raised."
    );
  }
  const hash2 = createHash("sha256");
  const body3 = Readable.fromWeb(response.body);
  try {
    await pipeline(
      body3,
      capped(maxBytes, `${shown} sent more than ${maxBytes} bytes`, hash2),
      createWriteStream(path2)
    );
  } catch (error) {
    await rm(path2, { force: true });
    throw error;
  }
  return hash2.digest("hex");
}
async function extractDataFiles(archive, dir, maxUnpackedBytes) {
  const wanted = new Set(DATA_KINDS.map((k) => DATA_FILES[k].file));
  const found = /* @__PURE__ */ new Map();
  let unpacked = 0;
  const zip = await new Promise(
    (resolve4, reject2) => yauzl.open(
      archive,
      { lazyEntries: true },
      (error, file) => error ? reject2(error) : resolve4(file)
    )
  ).catch((error) => {
    throw new InputError(
      `the downloaded archive is not a readable zip file: ${error.message}`,
      { file: archive },
      MANUAL_HINT
    );
  });
  await new Promise((resolve4, reject2) => {
    zip.on(
      "error",
      (error) => reject2(
        /invalid relative path|absolute path/.test(error.message) ? new InputError(
          `the archive has an entry whose name leaves its folder (${error.message})`,
          { file: archive },
          "Do not unpack it: an archive from the data's publisher has no such names."
        ) : error
      )
    );
    zip.on("end", resolve4);
    zip.on("entry", (entry) => {
      const name2 = basename(entry.fileName);
      if (!wanted.has(name2) || entry.fileName.endsWith("/")) {
        zip.readEntry();
        return;
      }
      const earlier = found.get(name2);
      if (earlier !== void 0) {
        reject2(
          new InputError(
            `the archive holds ${name2} twice (${earlier} and ${entry.fileName}): which one is the data?`,
            { file: archive },
            MANUAL_HINT
          )
        );
        return;
      }
      const over = () => new InputError(
        `the archive's data files unpack to more than ${maxUnpackedBytes} bytes (at ${entry.fileName})`,
        { file: archive },
        "A zip bomb, or a much larger dataset: raise data.downloadMaxUnpackedBytes (MLOPS_DOWNLOAD_MAX_UNPACKED_BYTES) if it is the data."
      );
      if (unpacked + entry.uncompressedSize > maxUnpackedBytes) return reject2(over());
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject2(error);
        const target = join(dir, `${name2}.gz`);
        const counter = new Transform({
          transform(chunk, _encoding, done) {
            unpacked += chunk.length;
            done(unpacked > maxUnpackedBytes ? over() : null, chunk);
          }
        });
        pipeline(stream, counter, createGzip({ level: 1 }), createWriteStream(`${target}.part`)).then(() => rename(`${target}.part`, target)).then(
          () => {
            found.set(name2, entry.fileName);
            zip.readEntry();
          },
          async (failure) => {
            await rm(`${target}.part`, { force: true });
            reject2(failure);
          }
        );
      });
    });
    zip.readEntry();
  });
  const missing = [...wanted].filter((name2) => !found.has(name2));
  if (missing.includes(DATA_FILES.browsing.file)) {
    throw new InputError(
      `the archive holds no ${missing.join(", ")}`,
      { file: archive },
      MANUAL_HINT
    );
  }
}
function capped(max2, message, hash2) {
  let bytes = 0;
  return new Transform({
    transform(chunk, _encoding, done) {
      bytes += chunk.length;
      hash2.update(chunk);
      done(bytes > max2 ? new InputError(message, { field: "data.downloadUrl" }) : null, chunk);
    }
  });
}

// pipeline/config/settings.ts
import { z as z3 } from "zod";

// pipeline/config/batch-settings.ts
import { z } from "zod";
var DEFAULT_LOG_GROUP = "/aws/batch/job";
var NAME = /^[A-Za-z0-9_-]{1,128}$/;
var JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
var QUEUE_ARN = /^arn:aws[a-z-]*:batch:[a-z0-9-]+:\d{12}:job-queue\/[A-Za-z0-9_-]{1,128}$/;
var IMAGE = /^[A-Za-z0-9][A-Za-z0-9._:/#@-]{0,254}$/;
var ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
var REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
var LOG_GROUP = /^[\w.\-/#]{1,512}$/;
function jobDefinitionNameProblem(name2) {
  return NAME.test(name2) ? void 0 : "must be 1-128 letters, digits, hyphens or underscores (AWS Batch job definition name)";
}
function jobNameProblem(name2) {
  return JOB_NAME.test(name2) ? void 0 : "must be 1-128 letters, digits, hyphens or underscores, starting with a letter or digit (AWS Batch job name)";
}
function queueProblem(queue) {
  return NAME.test(queue) || QUEUE_ARN.test(queue) ? void 0 : "must be a job queue name (1-128 letters, digits, hyphens or underscores) or a job queue ARN (arn:aws:batch:REGION:ACCOUNT:job-queue/NAME)";
}
function imageProblem(image) {
  return IMAGE.test(image) ? void 0 : "must be an image reference of up to 255 letters, digits and - _ : . / # @ (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-train:1.0)";
}
function roleArnProblem(arn) {
  return ROLE_ARN.test(arn) ? void 0 : "must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME)";
}
function environmentNameProblem(name2) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name2)) {
    return "must be letters, digits and underscores, not starting with a digit";
  }
  return name2.startsWith("AWS_BATCH") ? 'must not start with "AWS_BATCH" (reserved)' : void 0;
}
var SECRET_ARN = /^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:[\w+=,.@/:-]+$/;
function parseBatchSecrets(text) {
  const secrets = {};
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue;
    const at = entry.indexOf("=");
    const name2 = at < 0 ? entry : entry.slice(0, at);
    const arn = at < 0 ? "" : entry.slice(at + 1);
    const nameProblem = environmentNameProblem(name2);
    if (nameProblem !== void 0)
      throw new RangeError(`"${entry}": the variable name ${nameProblem}`);
    if (!SECRET_ARN.test(arn)) {
      throw new RangeError(
        `"${entry}": expected NAME=ARN with a Secrets Manager secret or SSM parameter ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)`
      );
    }
    if (name2 in secrets) throw new RangeError(`"${name2}" is given twice`);
    secrets[name2] = arn;
  }
  return secrets;
}
function secretsProblem(text) {
  try {
    parseBatchSecrets(text);
    return void 0;
  } catch (error) {
    return error.message;
  }
}
var positiveInt = z.number().int().positive();
var BATCH_SETTING_SPECS = [
  {
    key: "compute.batch.queue",
    env: "MLOPS_BATCH_QUEUE",
    flag: "--batch-queue",
    schema: z.string().refine((v) => queueProblem(v) === void 0),
    allowed: "a job queue name or ARN",
    description: "AWS Batch job queue for --compute batch (required then).",
    sensitive: true
  },
  {
    key: "compute.batch.jobDefinition",
    env: "MLOPS_BATCH_JOB_DEFINITION",
    flag: "--batch-job-definition",
    default: "mlops-session-recs-train",
    schema: z.string().refine((v) => jobDefinitionNameProblem(v) === void 0),
    allowed: "1-128 letters, digits, '-' or '_'",
    description: "Job definition name; a new revision is registered only when image, resources or settings change."
  },
  {
    key: "compute.batch.image",
    env: "MLOPS_BATCH_IMAGE",
    flag: "--batch-image",
    schema: z.string().refine((v) => imageProblem(v) === void 0),
    allowed: "an ECR repository URI, with or without a tag or digest",
    description: "Train image built from containers/train.Dockerfile (required for --compute batch). Without a tag, the checkout's tag (`pipeline images`).",
    sensitive: true
  },
  {
    key: "compute.batch.vcpus",
    env: "MLOPS_BATCH_VCPUS",
    flag: "--batch-vcpus",
    default: 4,
    schema: positiveInt.max(256),
    numeric: true,
    allowed: "an integer from 1 to 256",
    description: "vCPUs per training job."
  },
  {
    key: "compute.batch.memoryMiB",
    env: "MLOPS_BATCH_MEMORY_MIB",
    flag: "--batch-memory-mib",
    default: 15e3,
    schema: z.number().int().min(512),
    numeric: true,
    allowed: "an integer of at least 512",
    description: "Memory per training job in MiB (leave room for the ECS agent on the instance)."
  },
  {
    key: "compute.batch.gpus",
    env: "MLOPS_BATCH_GPUS",
    flag: "--batch-gpus",
    default: 1,
    schema: z.number().int().min(0).max(16),
    numeric: true,
    allowed: "an integer from 0 to 16",
    description: "GPUs per training job (0: CPU instances, tfjs picks its best CPU backend)."
  },
  {
    key: "compute.batch.timeoutSeconds",
    env: "MLOPS_BATCH_TIMEOUT_SECONDS",
    flag: "--batch-timeout-seconds",
    default: 7200,
    schema: z.number().int().min(60),
    numeric: true,
    allowed: "an integer of at least 60 (Batch's minimum)",
    description: "Limit per attempt; Batch stops the attempt after it."
  },
  {
    key: "compute.batch.retryAttempts",
    env: "MLOPS_BATCH_RETRY_ATTEMPTS",
    flag: "--batch-retry-attempts",
    default: 3,
    schema: z.number().int().min(1).max(10),
    numeric: true,
    allowed: "an integer from 1 to 10",
    description: "Attempts in all; a new attempt only when the instance went away (Spot reclaim), never after a training error."
  },
  {
    key: "compute.batch.region",
    env: "MLOPS_BATCH_REGION",
    flag: "--batch-region",
    schema: z.string().regex(REGION),
    allowed: "an AWS region such as eu-west-1",
    description: "Region of the job queue (default: AWS_REGION, else us-east-1)."
  },
  {
    key: "compute.batch.logGroup",
    env: "MLOPS_BATCH_LOG_GROUP",
    flag: "--batch-log-group",
    default: DEFAULT_LOG_GROUP,
    schema: z.string().regex(LOG_GROUP),
    allowed: "a CloudWatch Logs group name",
    description: "Log group the job's container logs go to (the awslogs driver)."
  },
  {
    key: "compute.batch.runnableWarnSeconds",
    env: "MLOPS_BATCH_RUNNABLE_WARN_SECONDS",
    flag: "--batch-runnable-warn-seconds",
    default: 600,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Warn when the job waits this long in RUNNABLE (no instance yet)."
  },
  {
    key: "compute.batch.runnableTimeoutSeconds",
    env: "MLOPS_BATCH_RUNNABLE_TIMEOUT_SECONDS",
    flag: "--batch-runnable-timeout-seconds",
    default: 3600,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Terminate the job and fail after this long in RUNNABLE."
  },
  {
    key: "compute.batch.secrets",
    env: "MLOPS_BATCH_SECRETS",
    flag: "--batch-secrets",
    schema: z.string().refine((v) => secretsProblem(v) === void 0),
    allowed: "NAME=ARN pairs, comma-separated (Secrets Manager or SSM ARNs)",
    description: "Secrets ECS injects into the training container as variables, e.g. SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:…; needs compute.batch.executionRoleArn.",
    sensitive: true
  },
  {
    key: "compute.batch.executionRoleArn",
    env: "MLOPS_BATCH_EXECUTION_ROLE_ARN",
    flag: "--batch-execution-role-arn",
    schema: z.string().refine((v) => roleArnProblem(v) === void 0),
    allowed: "an IAM role ARN",
    description: "ECS task execution role that reads compute.batch.secrets (secretsmanager:GetSecretValue, ssm:GetParameters).",
    sensitive: true
  },
  {
    key: "compute.batch.jobRoleArn",
    env: "MLOPS_BATCH_JOB_ROLE_ARN",
    flag: "--batch-job-role-arn",
    schema: z.string().refine((v) => roleArnProblem(v) === void 0),
    allowed: "an IAM role ARN",
    description: "Role the training container assumes (needs s3:GetObject/PutObject/ListBucket on the run store).",
    sensitive: true
  }
];

// pipeline/config/serve-settings.ts
import { z as z2 } from "zod";
var positiveInt2 = z2.number().int().positive();
var SERVE_LIMIT_SPECS = [
  {
    key: "serve.maxQueue",
    env: "MLOPS_SERVE_MAX_QUEUE",
    flag: "--max-queue",
    default: 256,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer",
    description: "Sessions waiting for the model before `pipeline serve` answers 503 with Retry-After (load shedding): past capacity, a queue only adds latency."
  },
  {
    key: "serve.maxBatch",
    env: "MLOPS_SERVE_MAX_BATCH",
    flag: "--max-batch",
    default: 32,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer",
    description: "Most sessions of concurrent requests scored in one model call; a call holds the event loop (and /ping) for its length."
  },
  {
    key: "serve.batchWaitMs",
    env: "MLOPS_SERVE_BATCH_WAIT_MS",
    flag: "--batch-wait-ms",
    default: 0,
    schema: z2.number().min(0).max(1e3),
    numeric: true,
    allowed: "0 to 1000 milliseconds",
    description: "How long a request waits for others to share its model call (0: only those that arrived with it)."
  },
  {
    key: "serve.maxConnections",
    env: "MLOPS_SERVE_MAX_CONNECTIONS",
    flag: "--max-connections",
    default: 1e3,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer",
    description: "Connections `pipeline serve` holds at once; further ones are closed."
  },
  {
    key: "serve.requestTimeoutMs",
    env: "MLOPS_SERVE_REQUEST_TIMEOUT_MS",
    flag: "--request-timeout-ms",
    // SageMaker gives an invocation 60 s end to end; a request still arriving after that is dead.
    default: 6e4,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer (milliseconds)",
    description: "Longest a request may take to arrive whole (headers and body) before a 408; SageMaker allows an invocation 60 s."
  },
  {
    key: "serve.headersTimeoutMs",
    env: "MLOPS_SERVE_HEADERS_TIMEOUT_MS",
    flag: "--headers-timeout-ms",
    default: 1e4,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer (milliseconds), at most serve.requestTimeoutMs",
    description: "Longest a request's headers may take to arrive: cuts off slow clients."
  },
  {
    key: "serve.keepAliveTimeoutMs",
    env: "MLOPS_SERVE_KEEP_ALIVE_TIMEOUT_MS",
    flag: "--keep-alive-timeout-ms",
    // Longer than a load balancer's usual 60 s idle timeout, so the server never closes a
    // connection its front end is about to reuse (the front end closes idle ones first).
    default: 75e3,
    schema: positiveInt2,
    numeric: true,
    allowed: "a positive integer (milliseconds)",
    description: "How long an idle keep-alive connection is kept; longer than the front end's idle timeout (60 s on most load balancers)."
  }
];

// pipeline/config/settings.ts
var positiveInt3 = z3.number().int().positive();
var boolean = z3.union([z3.boolean(), z3.enum(["true", "false"]).transform((v) => v === "true")]);
var seed = z3.number().int().min(0).max(2 ** 32 - 1);
var SETTINGS = [
  {
    key: "store",
    env: "MLOPS_STORE",
    flag: "--store",
    default: ".mlops",
    schema: z3.string().regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?|[^:]+|[A-Za-z]:[\\/].*)$/),
    allowed: "a folder path or s3://bucket/prefix",
    description: "Run store: where runs and artifacts are written.",
    sensitive: true
  },
  {
    key: "warehouse",
    env: "MLOPS_WAREHOUSE",
    flag: "--warehouse",
    default: "duckdb:.mlops/warehouse.duckdb",
    schema: z3.string().regex(/^(duckdb:.+|snowflake)$/),
    allowed: "duckdb:PATH or snowflake",
    description: "Warehouse to load into and transform in."
  },
  {
    key: "tenant",
    env: "MLOPS_TENANT",
    flag: "--tenant",
    default: "local",
    schema: z3.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    allowed: "1-64 letters, digits, '_', '.' or '-'",
    description: "Tenant / API key recorded on every loaded row."
  },
  {
    key: "progress",
    env: "MLOPS_PROGRESS",
    flag: "--progress",
    default: "auto",
    schema: z3.enum(["auto", "on", "off"]),
    allowed: "auto, on or off",
    description: "Progress bars on stderr (auto: only on a terminal, never in CI or with --json)."
  },
  {
    key: "data.source",
    env: "MLOPS_DATA_SOURCE",
    flag: "--source",
    default: "synthetic",
    schema: z3.enum(["synthetic", "csv", "download"]),
    allowed: "synthetic, csv or download",
    description: "Where the upload stage gets its files."
  },
  {
    key: "data.dir",
    env: "MLOPS_DATA_DIR",
    flag: "--data",
    default: ".mlops/data",
    schema: z3.string().min(1),
    allowed: "a folder path",
    description: "Folder holding browsing_train.csv, search_train.csv and sku_to_content.csv (csv source), or where downloads are unpacked."
  },
  {
    key: "data.sessions",
    env: "MLOPS_SESSIONS",
    flag: "--sessions",
    default: 1e5,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Sessions the synthetic generator writes."
  },
  {
    key: "data.skus",
    env: "MLOPS_SKUS",
    flag: "--skus",
    default: 1e4,
    // The generator's category tree needs at least ten items to have more than one leaf.
    schema: z3.number().int().min(10),
    numeric: true,
    allowed: "an integer of at least 10",
    description: "Catalog size of the synthetic generator."
  },
  {
    key: "data.seed",
    env: "MLOPS_SEED",
    flag: "--seed",
    default: 42,
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description: "Seed of the synthetic generator (same seed, same files)."
  },
  {
    key: "data.downloadUrl",
    env: "MLOPS_DOWNLOAD_URL",
    flag: "--download-url",
    schema: z3.url({ protocol: /^https?$/ }),
    allowed: "an http(s) URL",
    description: "URL of the data-challenge archive (a .zip holding the three CSV files) for --source download.",
    sensitive: true
  },
  {
    key: "data.downloadSha256",
    env: "MLOPS_DOWNLOAD_SHA256",
    flag: "--download-sha256",
    schema: z3.string().regex(/^[0-9a-f]{64}$/),
    allowed: "64 lower-case hex characters",
    description: "Expected sha256 of the downloaded archive; the download fails on a mismatch."
  },
  {
    key: "data.allowHttp",
    env: "MLOPS_DOWNLOAD_ALLOW_HTTP",
    flag: "--allow-http",
    default: false,
    schema: boolean,
    allowed: "true or false",
    description: "Allow a plain http download URL (refused by default: anyone on the way could swap the archive)."
  },
  {
    key: "data.downloadMaxBytes",
    env: "MLOPS_DOWNLOAD_MAX_BYTES",
    flag: "--download-max-bytes",
    default: DOWNLOAD_LIMITS.maxBytes,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer (bytes)",
    description: "The most bytes a downloaded archive may have (default 8 GiB)."
  },
  {
    key: "data.downloadMaxUnpackedBytes",
    env: "MLOPS_DOWNLOAD_MAX_UNPACKED_BYTES",
    flag: "--download-max-unpacked-bytes",
    default: DOWNLOAD_LIMITS.maxUnpackedBytes,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer (bytes)",
    description: "The most bytes the archive's data files may unpack to, all together (default 64 GiB; stops a zip bomb)."
  },
  {
    key: "transform.project",
    env: "MLOPS_DBT_PROJECT",
    flag: "--dbt-project",
    schema: z3.string().min(1),
    allowed: "a folder path",
    description: "dbt project the transform stage builds (default: this repository's dbt/)."
  },
  {
    key: "transform.dbt",
    env: "MLOPS_DBT",
    flag: "--dbt",
    default: "auto",
    schema: z3.string().min(1),
    allowed: "auto, builtin or a path to a dbt executable",
    description: "Who runs dbt build: auto (dbt-core when `dbt` is on PATH, else the built-in runner), builtin, or that dbt executable."
  },
  {
    key: "transform.sessionGapMinutes",
    env: "MLOPS_SESSION_GAP_MINUTES",
    flag: "--session-gap-minutes",
    default: 30,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Inactivity (minutes) that starts a new session inside one session id."
  },
  {
    key: "transform.trainFraction",
    env: "MLOPS_TRAIN_FRACTION",
    flag: "--train-fraction",
    default: 0.8,
    schema: z3.number().gt(0).lt(1),
    numeric: true,
    allowed: "a number between 0 and 1",
    description: "Share of sessions, earliest first, in the train split."
  },
  {
    key: "transform.validationFraction",
    env: "MLOPS_VALIDATION_FRACTION",
    flag: "--validation-fraction",
    default: 0.1,
    schema: z3.number().min(0).lt(1),
    numeric: true,
    allowed: "a number from 0 to below 1",
    description: "Share of sessions in the validation split (test gets the rest)."
  },
  {
    key: "transform.collapseRepeats",
    env: "MLOPS_COLLAPSE_REPEATS",
    flag: "--collapse-repeats",
    default: true,
    schema: boolean,
    allowed: "true or false",
    description: "Collapse consecutive interactions with the same SKU into one sequence step."
  },
  {
    key: "transform.sequenceActions",
    env: "MLOPS_SEQUENCE_ACTIONS",
    flag: "--sequence-actions",
    default: "detail,add,purchase",
    schema: z3.string().regex(/^(detail|add|purchase|remove|click)(,(detail|add|purchase|remove|click))*$/),
    allowed: "comma-separated product actions (detail, add, purchase, remove, click)",
    description: "Product actions that make up a training sequence."
  },
  {
    key: "train.compute",
    env: "MLOPS_COMPUTE",
    flag: "--compute",
    default: "local",
    schema: z3.enum(["local", "batch"]),
    allowed: "local or batch",
    description: "Where training runs: in this process, or as an AWS Batch GPU job running the same trainer."
  },
  {
    key: "train.backend",
    env: "MLOPS_BACKEND",
    flag: "--backend",
    default: "auto",
    schema: z3.enum(["auto", "node-gpu", "node", "wasm", "cpu"]),
    allowed: "auto, node-gpu, node, wasm or cpu",
    description: "tfjs backend (auto: the first of node-gpu → node → wasm → cpu that loads; the run record says which ran and why)."
  },
  {
    key: "train.epochs",
    env: "MLOPS_EPOCHS",
    flag: "--epochs",
    default: 12,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Most epochs to train (early stopping may end sooner)."
  },
  {
    key: "train.patience",
    env: "MLOPS_PATIENCE",
    flag: "--patience",
    default: 2,
    schema: z3.number().int().min(0),
    numeric: true,
    allowed: "an integer of at least 0",
    description: "Epochs without a better validation HR@20 before training stops and keeps the best epoch (0: never stop early)."
  },
  {
    key: "train.minImprovement",
    env: "MLOPS_MIN_IMPROVEMENT",
    flag: "--min-improvement",
    default: 5e-3,
    schema: z3.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "Relative gain in validation HR@20 an epoch needs to count as better for the patience (the best epoch is kept either way)."
  },
  {
    key: "train.batchSize",
    env: "MLOPS_BATCH_SIZE",
    flag: "--batch-size",
    default: 512,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Loss rows (targets) per training step."
  },
  {
    key: "train.loss",
    env: "MLOPS_LOSS",
    flag: "--loss",
    default: "sampled",
    schema: z3.enum(["full", "sampled"]),
    allowed: "full or sampled",
    description: "Training loss: softmax cross-entropy over the whole vocabulary, or over the batch's targets plus sampled negatives (faster; evaluation always ranks the whole vocabulary)."
  },
  {
    key: "train.negatives",
    env: "MLOPS_NEGATIVES",
    flag: "--negatives",
    default: 1024,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer smaller than the vocabulary",
    description: "Negatives drawn per step by the sampled loss."
  },
  {
    key: "train.sampleAlpha",
    env: "MLOPS_SAMPLE_ALPHA",
    flag: "--sample-alpha",
    default: 0.5,
    schema: z3.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "Negatives are drawn from train popularity raised to this power (0: uniform, 1: popularity)."
  },
  {
    key: "train.logQ",
    env: "MLOPS_LOGQ",
    flag: "--logq",
    default: 1,
    schema: z3.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "Strength of the sampled loss's logQ correction (subtracts logQ × log of each candidate's sampling probability)."
  },
  {
    key: "train.popularityBias",
    env: "MLOPS_POPULARITY_BIAS",
    flag: "--popularity-bias",
    default: true,
    schema: boolean,
    allowed: "true or false",
    description: "Start the output bias at each item's log train frequency."
  },
  {
    key: "train.examples",
    env: "MLOPS_EXAMPLES",
    flag: "--examples",
    default: "sequence",
    schema: z3.enum(["sequence", "all-prefixes", "last"]),
    allowed: "sequence, all-prefixes or last",
    description: "Training examples per session: the loss at every position in one pass (sequence), every prefix as a separate example (all-prefixes), or only the last item."
  },
  {
    key: "train.minCount",
    env: "MLOPS_MIN_COUNT",
    flag: "--min-count",
    default: 1,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "SKUs seen fewer times than this in train map to the unknown id."
  },
  {
    key: "train.validationExamples",
    env: "MLOPS_VALIDATION_EXAMPLES",
    flag: "--validation-examples",
    default: 1e4,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Validation examples the per-epoch HR@20 (early stopping) is computed on."
  },
  {
    key: "train.seed",
    env: "MLOPS_TRAIN_SEED",
    flag: "--train-seed",
    default: 42,
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description: "Seed of the weights, dropout, shuffling and sampling (same seed and backend, same model)."
  },
  {
    key: "model.preset",
    env: "MLOPS_PRESET",
    flag: "--preset",
    default: "hybrid",
    schema: z3.enum(["hybrid", "lstm-sampled", "seeds"]),
    allowed: "hybrid, lstm-sampled or seeds",
    description: "Architecture and training recipe the other model and train settings start from: hybrid (the default: a tied-embedding GRU blended with neighbourhood evidence), lstm-sampled (the previous default LSTM) or seeds (exactly the seeds' Keras recipe). Settings given explicitly override the preset."
  },
  {
    key: "model.cell",
    env: "MLOPS_CELL",
    flag: "--cell",
    default: "gru",
    schema: z3.enum(["lstm", "gru"]),
    allowed: "lstm or gru",
    description: "Recurrent cell."
  },
  {
    key: "model.tied",
    env: "MLOPS_TIED",
    flag: "--tied",
    default: true,
    schema: boolean,
    allowed: "true or false",
    description: "Score items with the item embedding itself (tied input/output embeddings; needs hidden units = embedding size)."
  },
  {
    key: "model.itemFeatures",
    env: "MLOPS_ITEM_FEATURES",
    flag: "--item-features",
    default: true,
    schema: boolean,
    allowed: "true or false",
    description: "Add embeddings of each item's catalog facts (every category level, the price bucket) to its embedding while training, so rarely seen items start from what their category says."
  },
  {
    key: "model.blend",
    env: "MLOPS_BLEND",
    flag: "--blend",
    default: "neural,sknn,cooccurrence,repeat",
    schema: z3.string().regex(/^(neural|sknn|cooccurrence|repeat)(,(neural|sknn|cooccurrence|repeat))*$/).refine(
      (v) => v.split(",")[0] === "neural" && new Set(v.split(",")).size === v.split(",").length
    ),
    allowed: "neural, then any of sknn, cooccurrence, repeat (comma-separated, no repeats)",
    description: "What the candidate ranks with: the network, blended with session-kNN, item co-occurrence and in-session repeats, the weights fitted on the validation split."
  },
  {
    key: "model.embeddingDim",
    env: "MLOPS_EMBEDDING_DIM",
    flag: "--embedding-dim",
    default: 64,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Item embedding size."
  },
  {
    key: "model.hiddenUnits",
    env: "MLOPS_HIDDEN_UNITS",
    flag: "--hidden-units",
    default: 64,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Units of each recurrent layer."
  },
  {
    key: "model.layers",
    env: "MLOPS_LAYERS",
    flag: "--layers",
    default: 1,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Stacked recurrent layers."
  },
  {
    key: "model.dropout",
    env: "MLOPS_DROPOUT",
    flag: "--dropout",
    default: 0.2,
    schema: z3.number().min(0).lt(1),
    numeric: true,
    allowed: "a number in [0, 1)",
    description: "Dropout after the embedding and between recurrent layers."
  },
  {
    key: "model.learningRate",
    env: "MLOPS_LEARNING_RATE",
    flag: "--learning-rate",
    default: 5e-3,
    schema: z3.number().positive(),
    numeric: true,
    allowed: "a positive number",
    description: "Adam's learning rate."
  },
  {
    key: "model.maxLen",
    env: "MLOPS_MAX_LEN",
    flag: "--max-len",
    default: 20,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Items of history the model reads (longer sessions keep their most recent items)."
  },
  {
    key: "evaluate.gates",
    env: "MLOPS_GATES_FILE",
    flag: "--gates",
    default: "gates.yml",
    schema: z3.string().min(1),
    allowed: "a YAML file path",
    description: "The gate file: the checks a model must pass to ship (see gates.yml)."
  },
  {
    key: "evaluate.maxPrefixes",
    env: "MLOPS_EVAL_MAX_PREFIXES",
    flag: "--max-prefixes",
    default: 2e4,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Test prefixes evaluated: a seeded sample of whole test sessions holding about this many."
  },
  {
    key: "evaluate.bootstrap",
    env: "MLOPS_EVAL_BOOTSTRAP",
    flag: "--bootstrap",
    default: 1e3,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Bootstrap resamples behind the confidence intervals of HR@20 and MRR@20."
  },
  {
    key: "evaluate.seed",
    env: "MLOPS_EVAL_SEED",
    flag: "--eval-seed",
    default: 42,
    schema: seed,
    numeric: true,
    allowed: "an integer from 0 to 4294967295",
    description: "Seed of the evaluation's session sample, perturbations and bootstrap."
  },
  {
    key: "card.screenshot",
    env: "MLOPS_CARD_SCREENSHOT",
    flag: "--screenshot",
    default: "auto",
    schema: z3.enum(["auto", "on", "off"]),
    allowed: "auto, on or off",
    description: "Screenshot of the HTML report with headless Chromium (auto: when Chromium is installed)."
  },
  {
    key: "card.note",
    env: "MLOPS_CARD_NOTE",
    flag: "--card-note",
    schema: z3.string().max(1e3),
    allowed: "text, up to 1000 characters",
    description: "A note at the top of the card: promote-on-main says there why it retrained instead of promoting the reviewed candidate."
  },
  {
    key: "promote.target",
    env: "MLOPS_PROMOTE_TARGET",
    flag: "--target",
    default: "local",
    schema: z3.enum(["local", "sagemaker"]),
    allowed: "local or sagemaker",
    description: "Where a promoted model is deployed: the local endpoint (the registry + pipeline serve) or a SageMaker endpoint."
  },
  {
    key: "promote.tolerance",
    env: "MLOPS_PROMOTE_TOLERANCE",
    flag: "--tolerance",
    default: 0,
    schema: z3.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "HR@20 / MRR@20 the challenger may lose against production and still be promoted."
  },
  {
    key: "promote.sagemaker.endpoint",
    env: "MLOPS_SAGEMAKER_ENDPOINT",
    flag: "--endpoint",
    default: "mlops-session-recs",
    schema: z3.string().regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/),
    allowed: "1-63 letters, digits and '-'",
    description: "SageMaker endpoint name."
  },
  {
    key: "promote.sagemaker.image",
    env: "MLOPS_SAGEMAKER_IMAGE",
    flag: "--image",
    schema: z3.string().min(1),
    allowed: "an ECR repository URI, with or without a tag",
    description: "Serving image (containers/serve.Dockerfile) in ECR; required for --target sagemaker. Without a tag, the checkout's tag (`pipeline images`).",
    sensitive: true
  },
  {
    key: "promote.sagemaker.roleArn",
    env: "MLOPS_SAGEMAKER_ROLE_ARN",
    flag: "--role-arn",
    schema: z3.string().min(1),
    allowed: "an IAM role ARN",
    description: "SageMaker execution role; required for --target sagemaker.",
    sensitive: true
  },
  {
    key: "promote.sagemaker.instanceType",
    env: "MLOPS_SAGEMAKER_INSTANCE_TYPE",
    flag: "--instance-type",
    default: "ml.m5.large",
    schema: z3.string().min(1),
    allowed: "a SageMaker instance type",
    description: "Endpoint instance type."
  },
  {
    key: "promote.sagemaker.instanceCount",
    env: "MLOPS_SAGEMAKER_INSTANCE_COUNT",
    flag: "--instance-count",
    default: 1,
    schema: positiveInt3,
    numeric: true,
    allowed: "a positive integer",
    description: "Endpoint instances."
  },
  {
    key: "promote.sagemaker.modelData",
    env: "MLOPS_SAGEMAKER_MODEL_DATA",
    flag: "--model-data",
    schema: z3.string().regex(/^s3:\/\//),
    allowed: "s3://bucket/prefix",
    description: "Where model.tar.gz is uploaded (default: STORE/sagemaker-models when the store is on S3).",
    sensitive: true
  },
  {
    key: "promote.sagemaker.traffic",
    env: "MLOPS_SAGEMAKER_TRAFFIC",
    flag: "--traffic",
    default: "all-at-once",
    schema: z3.string().regex(/^(all-at-once|canary:\d+|linear:\d+)$/),
    allowed: "all-at-once, canary:N or linear:N",
    description: "Blue/green traffic shifting of an endpoint update."
  },
  {
    key: "promote.sagemaker.alarms",
    env: "MLOPS_SAGEMAKER_ALARMS",
    flag: "--alarms",
    schema: z3.string(),
    allowed: "comma-separated CloudWatch alarm names",
    description: "Alarms that roll an endpoint update back automatically.",
    sensitive: true
  },
  {
    key: "promote.sagemaker.capture",
    env: "MLOPS_SAGEMAKER_CAPTURE",
    flag: "--capture",
    schema: z3.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/),
    allowed: "an s3://bucket/prefix",
    description: "Turns on SageMaker Data Capture (requests and answers as JSON Lines) into this S3 prefix; the upload stage loads it as production traffic (monitor.traffic defaults to it).",
    sensitive: true
  },
  {
    key: "promote.sagemaker.capturePercent",
    env: "MLOPS_SAGEMAKER_CAPTURE_PERCENT",
    flag: "--capture-percent",
    default: 10,
    schema: z3.number().int().min(1).max(100),
    numeric: true,
    allowed: "an integer from 1 to 100",
    description: "Share of requests Data Capture keeps, in percent."
  },
  {
    key: "promote.sagemaker.region",
    env: "MLOPS_SAGEMAKER_REGION",
    flag: "--sagemaker-region",
    schema: z3.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/),
    allowed: "an AWS region",
    description: "Region of the endpoint (default: AWS_REGION, else us-east-1)."
  },
  {
    key: "serve.port",
    env: "MLOPS_SERVE_PORT",
    flag: "--port",
    default: 8080,
    schema: z3.number().int().min(0).max(65535),
    numeric: true,
    allowed: "a port from 0 to 65535 (0: any free port)",
    description: "Port of `pipeline serve` (SageMaker's contract: 8080)."
  },
  {
    key: "serve.model",
    env: "MLOPS_SERVE_MODEL",
    flag: "--model",
    schema: z3.string().min(1),
    allowed: "a model folder",
    description: "Model `pipeline serve` serves (default: /opt/ml/model when it exists, else the production model in the registry)."
  },
  {
    key: "serve.logSampleRate",
    env: "MLOPS_SERVE_LOG_SAMPLE_RATE",
    flag: "--log-sample-rate",
    default: 0,
    schema: z3.number().min(0).max(1),
    numeric: true,
    allowed: "a number from 0 to 1",
    description: "Share of requests logged as served_events.csv under STORE/requests (a local .mlops/requests with an S3 store), which the upload stage loads back as production traffic."
  },
  {
    key: "monitor.traffic",
    env: "MLOPS_TRAFFIC",
    flag: "--served-traffic",
    schema: z3.string().min(1),
    allowed: "a folder or an s3:// prefix",
    description: "Where production traffic is: request logs (served_events.csv) and SageMaker Data Capture files (*.jsonl), in any subfolder. Unset: the server's request log folder, STORE/requests (.mlops/requests with an S3 store). The upload stage loads what it finds into raw_served_events.",
    sensitive: true
  },
  ...SERVE_LIMIT_SPECS,
  ...BATCH_SETTING_SPECS
];

// pipeline/config/config.ts
var DEFAULT_CONFIG_FILE = "pipeline.config.yml";
function loadConfig(inputs = {}) {
  const env = inputs.env ?? process.env;
  const cwd = inputs.cwd ?? process.cwd();
  const file = inputs.file ?? env.MLOPS_CONFIG ?? defaultFile(cwd);
  const fileValues = file ? readConfigFile(file) : void 0;
  const values = {};
  const sources = {};
  for (const spec of SETTINGS) {
    const origin = (source, raw, where) => {
      const value2 = spec.numeric && typeof raw === "string" ? toNumber(raw) : raw;
      sources[spec.key] = source;
      const at = source === "file" && file ? { file, line: fileValues?.lineOf(spec.key), field: spec.key } : {};
      values[spec.key] = check(spec, value2, raw, where, at);
    };
    if (spec.default !== void 0) {
      values[spec.key] = spec.default;
      sources[spec.key] = "default";
    }
    const fromFile = fileValues?.get(spec.key);
    if (fromFile !== void 0) origin("file", fromFile, `config file ${file}`);
    const fromEnv = env[spec.env];
    if (fromEnv !== void 0 && fromEnv !== "")
      origin("env", fromEnv, `environment variable ${spec.env}`);
    const fromFlag = inputs.flags?.[spec.key];
    if (fromFlag !== void 0) origin("flag", fromFlag, `flag ${spec.flag ?? spec.key}`);
  }
  for (const [key, value2] of Object.entries(PRESETS[values["model.preset"]])) {
    if (sources[key] === "default") {
      values[key] = value2;
      sources[key] = "preset";
    }
  }
  const config = {};
  for (const [key, value2] of Object.entries(values)) setPath(config, key, value2);
  return { config, sources, ...file ? { file } : {} };
}
function defaultFile(cwd) {
  const path2 = `${cwd}/${DEFAULT_CONFIG_FILE}`;
  return existsSync2(path2) ? path2 : void 0;
}
function toNumber(raw) {
  const trimmed = raw.trim().replaceAll("_", "");
  return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
}
function check(spec, value2, raw, where, at) {
  const result = spec.schema.safeParse(value2);
  if (result.success) return result.data;
  throw new InputError(
    `invalid value ${JSON.stringify(raw)} for setting "${spec.key}" (from ${where}): expected ${spec.allowed}`,
    at,
    where.startsWith("flag") ? `Pass ${spec.flag} ${spec.allowed}.` : `Fix ${where}, or override it with ${[spec.flag, spec.env].filter((o) => o && !where.includes(o)).join(" or ")}.`
  );
}
function readConfigFile(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(
      `cannot read the config file: ${error.message}`,
      { file },
      "Check the --config path (or MLOPS_CONFIG)."
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
  const lineOf2 = (key) => lineOfKey(doc, lineCounter, key);
  const known = new Set(SETTINGS.map((s) => s.key));
  const data = doc.toJS() ?? {};
  for (const key of leafKeys(data)) {
    if (!known.has(key)) {
      throw new InputError(
        `unknown setting "${key}"`,
        { file, line: lineOf2(key), field: key },
        `Known settings: ${[...known].join(", ")}.`
      );
    }
  }
  return { get: (key) => getPath(data, key), lineOf: lineOf2 };
}
function lineOfKey(doc, counter, key) {
  const node = doc.getIn(key.split("."), true);
  return node?.range ? counter.linePos(node.range[0]).line : void 0;
}
function leafKeys(value2, prefix = "") {
  if (value2 === null || typeof value2 !== "object" || Array.isArray(value2)) return [prefix];
  return Object.entries(value2).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? leafKeys(v, key) : [key];
  });
}
function getPath(value2, key) {
  let current = value2;
  for (const part2 of key.split(".")) {
    if (current === null || typeof current !== "object") return void 0;
    current = current[part2];
  }
  return current;
}
function setPath(target, key, value2) {
  const parts = key.split(".");
  let current = target;
  for (const part2 of parts.slice(0, -1)) {
    current[part2] ??= {};
    current = current[part2];
  }
  current[parts.at(-1)] = value2;
}

// pipeline/store/local-store.ts
import { createHash as createHash2 } from "node:crypto";
import { copyFile, mkdir as mkdir2, open, readFile as readFile2, readdir, rename as rename2, rm as rm2, writeFile as writeFile2 } from "node:fs/promises";
import { dirname, join as join2, relative, sep } from "node:path";
var LocalStore = class {
  constructor(root) {
    this.root = root;
  }
  root;
  get location() {
    return this.root;
  }
  path(key) {
    if (key.split("/").some((part2) => part2 === ".." || part2 === "")) {
      throw new Error(`invalid store key "${key}": use '/'-separated names without '..'`);
    }
    return join2(this.root, ...key.split("/"));
  }
  async put(key, body3) {
    const target = this.path(key);
    await mkdir2(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile2(temp, body3);
    await rename2(temp, target);
  }
  async putFile(key, localPath) {
    const target = this.path(key);
    await mkdir2(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    await copyFile(localPath, temp);
    await rename2(temp, target);
  }
  async get(key) {
    try {
      return await readFile2(this.path(key));
    } catch (error) {
      if (isNotFound(error)) return void 0;
      throw error;
    }
  }
  async getVersioned(key) {
    const bytes = await this.get(key);
    return bytes === void 0 ? void 0 : { bytes, version: contentVersion(bytes) };
  }
  async putIfUnchanged(key, body3, expected) {
    const target = this.path(key);
    await mkdir2(dirname(target), { recursive: true });
    const lock = `${target}.lock`;
    let handle;
    for (let attempt = 0; ; attempt++) {
      try {
        handle = await open(lock, "wx");
        break;
      } catch (error) {
        if (error.code !== "EEXIST" || attempt >= 100) throw error;
        await new Promise((resolve4) => setTimeout(resolve4, 20));
      }
    }
    try {
      const current = await this.get(key);
      const version = current === void 0 ? null : contentVersion(current);
      if (version !== expected) return false;
      await this.put(key, body3);
      return true;
    } finally {
      await handle.close();
      await rm2(lock, { force: true });
    }
  }
  async getFile(key, localPath) {
    try {
      await mkdir2(dirname(localPath), { recursive: true });
      await copyFile(this.path(key), localPath);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
  async list(prefix) {
    const base = prefix === "" ? this.root : this.path(prefix.replace(/\/$/, ""));
    let entries;
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isNotFound(error) || error.code === "ENOTDIR") return [];
      throw error;
    }
    const keys = entries.filter((entry) => entry.isFile() && !entry.name.endsWith(".tmp")).map((entry) => relative(this.root, join2(entry.parentPath, entry.name)).split(sep).join("/"));
    return keys.sort();
  }
  async delete(key) {
    await rm2(this.path(key), { force: true });
  }
};
function isNotFound(error) {
  return error?.code === "ENOENT";
}
function contentVersion(bytes) {
  return createHash2("sha256").update(bytes).digest("hex");
}

// pipeline/store/s3-store.ts
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream as createWriteStream2 } from "node:fs";
import { mkdir as mkdir3, rename as rename3, rm as rm3, stat } from "node:fs/promises";
import { dirname as dirname2 } from "node:path";
import { Readable as Readable2 } from "node:stream";
import { pipeline as pipeline2 } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
var EXPECTED_URL_FORM = "s3://<bucket>/<prefix> (for example s3://my-mlops-artifacts/team-a)";
var MIN_PART_SIZE = 5 * 1024 * 1024;
var MAX_PARTS = 1e4;
var UPLOAD_QUEUE_SIZE = 4;
function parseS3Url(url) {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) {
    throw new Error(`invalid S3 URL "${url}": expected ${EXPECTED_URL_FORM}`);
  }
  const bucket = match[1] ?? "";
  if (bucket === "") {
    throw new Error(`invalid S3 URL "${url}": the bucket is empty; expected ${EXPECTED_URL_FORM}`);
  }
  const problem = bucketNameProblem(bucket);
  if (problem !== void 0) {
    throw new Error(
      `invalid S3 URL "${url}": bucket "${bucket}" ${problem}; expected ${EXPECTED_URL_FORM}`
    );
  }
  const prefix = trimSlashes(match[2] ?? "");
  if (prefix !== "" && prefix.split("/").some((part2) => part2 === "" || part2 === "..")) {
    throw new Error(
      `invalid S3 URL "${url}": prefix "${prefix}" has an empty or '..' segment; expected ${EXPECTED_URL_FORM}`
    );
  }
  return { bucket, prefix };
}
function bucketNameProblem(name2) {
  if (name2.length < 3 || name2.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name2)) {
    return "may only hold lowercase letters, digits, '.' and '-', and must start and end with a letter or digit";
  }
  if (name2.includes("..")) return "must not contain two adjacent periods";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name2)) return "must not look like an IP address";
  for (const reserved of ["xn--", "sthree-", "amzn-s3-demo-"]) {
    if (name2.startsWith(reserved)) return `must not start with the reserved "${reserved}"`;
  }
  for (const reserved of ["-s3alias", "--ol-s3", ".mrap", "--x-s3"]) {
    if (name2.endsWith(reserved)) return `must not end with the reserved "${reserved}"`;
  }
  return void 0;
}
var S3Store = class {
  bucket;
  prefix;
  client;
  /** For error hints only: where requests go, as configured here. */
  regionHint;
  endpointHint;
  constructor(options) {
    if (options.bucket === "") throw new Error("S3Store: the bucket name is empty");
    this.bucket = options.bucket;
    this.prefix = trimSlashes(options.prefix);
    if (this.prefix.split("/").some((part2) => part2 === "..") || this.prefix.includes("//")) {
      throw new Error(`S3Store: invalid prefix "${options.prefix}": use '/'-separated names`);
    }
    const endpoint = options.endpoint ?? nonEmpty(process.env.MLOPS_S3_ENDPOINT);
    const region = options.region ?? nonEmpty(process.env.AWS_REGION) ?? "us-east-1";
    this.regionHint = options.client ? options.region : region;
    this.endpointHint = options.client ? options.endpoint : endpoint ?? "AWS's S3 endpoint";
    this.client = options.client ?? new S3Client(clientConfig(region, endpoint, options));
  }
  get location() {
    return this.prefix === "" ? `s3://${this.bucket}` : `s3://${this.bucket}/${this.prefix}`;
  }
  async put(key, body3) {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body3 }));
    } catch (error) {
      throw this.failure("put", Key, error);
    }
  }
  async putFile(key, localPath) {
    const Key = this.objectKey(key);
    const { size } = await stat(localPath);
    try {
      const upload2 = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: createReadStream(localPath) },
        partSize: Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS)),
        queueSize: UPLOAD_QUEUE_SIZE,
        leavePartsOnError: false
      });
      await upload2.done();
    } catch (error) {
      throw this.failure("putFile", Key, error);
    }
  }
  async get(key) {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (isNotFound2(error)) return void 0;
      throw this.failure("get", Key, error);
    }
  }
  async getVersioned(key) {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const bytes = output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
      return { bytes, version: output.ETag ?? "" };
    } catch (error) {
      if (isNotFound2(error)) return void 0;
      throw this.failure("get", Key, error);
    }
  }
  async putIfUnchanged(key, body3, expected) {
    const Key = this.objectKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body3,
          ...expected === null ? { IfNoneMatch: "*" } : { IfMatch: expected }
        })
      );
      return true;
    } catch (error) {
      if (isPreconditionFailure(error)) return false;
      throw this.failure("put", Key, error);
    }
  }
  async getFile(key, localPath) {
    const Key = this.objectKey(key);
    let body3;
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!output.Body) {
        body3 = Readable2.from([]);
      } else if (output.Body instanceof Readable2) {
        body3 = output.Body;
      } else {
        body3 = Readable2.fromWeb(output.Body.transformToWebStream());
      }
    } catch (error) {
      if (isNotFound2(error)) return false;
      throw this.failure("getFile", Key, error);
    }
    await mkdir3(dirname2(localPath), { recursive: true });
    const temp = `${localPath}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await pipeline2(body3, createWriteStream2(temp));
      await rename3(temp, localPath);
    } catch (error) {
      await rm3(temp, { force: true });
      if (isLocalFileError(error)) throw error;
      throw this.failure("getFile", Key, error);
    }
    return true;
  }
  async list(prefix) {
    const folder = prefix.replace(/\/+$/, "");
    const root = this.prefix === "" ? "" : `${this.prefix}/`;
    const Prefix = folder === "" ? root : `${this.objectKey(folder)}/`;
    const keys = [];
    let ContinuationToken;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken })
        );
        for (const object2 of page.Contents ?? []) {
          if (object2.Key !== void 0 && !object2.Key.endsWith("/")) {
            keys.push(object2.Key.slice(root.length));
          }
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : void 0;
      } while (ContinuationToken !== void 0);
    } catch (error) {
      throw this.failure("list", Prefix, error);
    }
    return keys.sort();
  }
  async delete(key) {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      throw this.failure("delete", Key, error);
    }
  }
  /** Same key rules as the local store, so a key valid in one is valid in the other. */
  objectKey(key) {
    if (key.split("/").some((part2) => part2 === ".." || part2 === "")) {
      throw new Error(`invalid store key "${key}": use '/'-separated names without '..'`);
    }
    return this.prefix === "" ? key : `${this.prefix}/${key}`;
  }
  /**
   * An error that says which call failed on what, and what to check. The AWS error is not
   * attached as `cause`: S3 error bodies carry fields such as AWSAccessKeyId and
   * SignatureProvided, which would be printed with an uncaught error.
   */
  failure(operation, objectKey, error) {
    const details2 = errorDetails(error);
    const where = `s3://${this.bucket}/${objectKey}`;
    const status = details2.statusCode === void 0 ? "" : ` (HTTP ${details2.statusCode})`;
    const request = details2.requestId === void 0 ? "" : ` [request id ${details2.requestId}]`;
    const hint2 = this.hint(operation, objectKey, details2);
    return new S3StoreError(
      `S3 ${operation} failed for ${where}: ${details2.name}${status}: ${redact(details2.message)}${request}. ${hint2}`,
      { operation, bucket: this.bucket, key: objectKey, ...details2 }
    );
  }
  hint(operation, objectKey, details2) {
    const { name: name2, statusCode } = details2;
    if (CREDENTIAL_ERRORS.has(name2)) {
      return "Check the AWS credentials: the default provider chain found none, or they are wrong or expired (on GitHub Actions: the role assumed through OIDC by aws-actions/configure-aws-credentials, and the workflow's id-token: write permission).";
    }
    if (name2 === "AccessDenied" || statusCode === 403) {
      const action = ACTIONS[operation];
      const resource = operation === "list" ? `arn:aws:s3:::${this.bucket} (prefix ${objectKey})` : `arn:aws:s3:::${this.bucket}/${objectKey}`;
      return `Check that the role's IAM policy and the bucket policy allow ${action} on ${resource} (and kms:Decrypt/kms:GenerateDataKey if the bucket uses SSE-KMS).` + (operation === "get" || operation === "getFile" ? " Without s3:ListBucket, S3 answers 403 instead of 404 for a missing key." : "");
    }
    if (name2 === "NoSuchBucket") {
      return `Check the bucket name "${this.bucket}" and that the bucket exists${this.regionHint ? ` in region ${this.regionHint}` : ""}.`;
    }
    if (REGION_ERRORS.has(name2) || statusCode === 301) {
      return `Check AWS_REGION${this.nowRegion()}: the bucket seems to live in another region.`;
    }
    if (NETWORK_ERRORS.has(name2) || details2.code !== void 0 && NETWORK_ERRORS.has(details2.code)) {
      return `Check the network and the endpoint${this.endpointHint ? ` (${this.endpointHint})` : ""}, set with MLOPS_S3_ENDPOINT.`;
    }
    return `Check the AWS credentials, AWS_REGION${this.nowRegion()} and the bucket policy.`;
  }
  nowRegion() {
    return this.regionHint ? ` (now ${this.regionHint})` : "";
  }
};
var ACTIONS = {
  put: "s3:PutObject",
  putFile: "s3:PutObject",
  get: "s3:GetObject",
  getFile: "s3:GetObject",
  list: "s3:ListBucket",
  delete: "s3:DeleteObject"
};
var CREDENTIAL_ERRORS = /* @__PURE__ */ new Set([
  "CredentialsProviderError",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "TokenRefreshRequired"
]);
var REGION_ERRORS = /* @__PURE__ */ new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException"
]);
var NETWORK_ERRORS = /* @__PURE__ */ new Set([
  "TimeoutError",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE"
]);
var S3StoreError = class extends Error {
  operation;
  bucket;
  key;
  code;
  statusCode;
  constructor(message, details2) {
    super(message);
    this.name = "S3StoreError";
    this.operation = details2.operation;
    this.bucket = details2.bucket;
    this.key = details2.key;
    this.code = details2.code ?? details2.name;
    this.statusCode = details2.statusCode;
  }
};
function errorDetails(error) {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const fields = error;
  return {
    name: error.name,
    message: error.message,
    code: typeof fields.code === "string" ? fields.code : void 0,
    statusCode: fields.$metadata?.httpStatusCode,
    requestId: fields.$metadata?.requestId
  };
}
function isPreconditionFailure(error) {
  if (!(error instanceof Error)) return false;
  const status = error.$metadata?.httpStatusCode;
  return error.name === "PreconditionFailed" || error.name === "ConditionalRequestConflict" || status === 412 || status === 409;
}
function isNotFound2(error) {
  if (!(error instanceof Error) || error.name === "NoSuchBucket") return false;
  const status = error.$metadata?.httpStatusCode;
  return error.name === "NoSuchKey" || error.name === "NotFound" || status === 404;
}
function isLocalFileError(error) {
  const fields = error;
  return typeof fields?.path === "string" && typeof fields.syscall === "string";
}
function redact(message) {
  return message.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "$1…");
}
function clientConfig(region, endpoint, options) {
  if (endpoint === void 0) {
    return { region, forcePathStyle: options.forcePathStyle ?? false };
  }
  return {
    region,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? true,
    // Since v3.729 the SDK adds CRC32 checksums (x-amz-checksum-*, x-amz-sdk-checksum-algorithm)
    // to every upload. Several S3-compatible services reject them (Cloudflare R2: 501
    // NotImplemented; Backblaze B2, Linode, older MinIO: 400 / XAmzContentSHA256Mismatch; see
    // aws/aws-sdk-js-v3#6810), so against a custom endpoint send and check checksums only where
    // the API requires them. Against AWS itself the default integrity checks stay on.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  };
}
function trimSlashes(path2) {
  return path2.replace(/^\/+|\/+$/g, "");
}
function nonEmpty(value2) {
  return value2 === void 0 || value2 === "" ? void 0 : value2;
}

// pipeline/warehouse/duckdb.ts
import { mkdir as mkdir4 } from "node:fs/promises";
import { dirname as dirname3 } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";

// pipeline/warehouse/raw-tables.ts
var DATA_COLUMN_TYPES = {
  browsing: { server_timestamp_epoch_ms: "bigint" },
  search: { server_timestamp_epoch_ms: "bigint" },
  catalog: { price_bucket: "double" },
  served: { server_timestamp_epoch_ms: "bigint" }
};
var ETL_ID = { name: "etl_id", type: "varchar" };
var LOAD_META_COLUMNS = [
  ETL_ID,
  { name: "etl_timestamp", type: "timestamp" },
  { name: "tenant", type: "varchar" },
  { name: "source_file", type: "varchar" },
  { name: "source_hash", type: "varchar" }
];
function dataColumns(kind) {
  const types = DATA_COLUMN_TYPES[kind];
  return [
    ...DATA_FILES[kind].columns.map((name2) => ({ name: name2, type: types[name2] ?? "varchar" })),
    { name: "source_line", type: "bigint" }
  ];
}
function rawTableColumns(kind) {
  return [...dataColumns(kind), ETL_ID];
}
var RETIRED_RAW_COLUMNS = LOAD_META_COLUMNS.filter((c) => c !== ETL_ID).map((c) => c.name);
var REJECTS_TABLE = "raw_rejects";
var REJECT_COLUMNS = [
  { name: "line", type: "bigint" },
  { name: "column_index", type: "integer" },
  { name: "column_name", type: "varchar" },
  { name: "reason", type: "varchar" },
  { name: "raw_text", type: "varchar" }
];
var REJECTS_TABLE_COLUMNS = [
  ...REJECT_COLUMNS,
  { name: "target_table", type: "varchar" },
  ...LOAD_META_COLUMNS
];
var LOADS_TABLE = "raw_loads";
var LOADS_TABLE_COLUMNS = [
  { name: "target_table", type: "varchar" },
  ...LOAD_META_COLUMNS,
  { name: "rows_read", type: "bigint" },
  { name: "rows_loaded", type: "bigint" },
  { name: "rows_rejected", type: "bigint" }
];
function rawTableName(kind) {
  return DATA_FILES[kind].table;
}
function loadRecordFromRow(kind, row) {
  return {
    kind,
    etlId: String(row.etl_id),
    etlTimestamp: String(row.etl_timestamp),
    tenant: String(row.tenant),
    sourceFile: String(row.source_file),
    sourceHash: String(row.source_hash),
    rowsRead: Number(row.rows_read),
    rowsLoaded: Number(row.rows_loaded),
    rowsRejected: Number(row.rows_rejected)
  };
}

// pipeline/warehouse/identifiers.ts
var IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,254}$/;
function validateIdentifier(name2, what = "identifier") {
  if (!IDENTIFIER.test(name2)) {
    throw new Error(
      `invalid ${what} "${name2}": use letters, digits, '_' or '$', starting with a letter or '_' (at most 255 characters)`
    );
  }
  return name2;
}
function quoteIdentifier(name2) {
  return `"${validateIdentifier(name2)}"`;
}

// pipeline/warehouse/position-checksum.ts
var POSITION_CHECKSUM = {
  /** A prime, so that timestamps a whole number of seconds apart still weigh differently. */
  timestampModulus: 1000003,
  /** 2^31 - 1: every partial sum below stays an exact double in JavaScript. */
  modulus: 2147483647
};
function addToPositionChecksum(sum3, line, timestamp) {
  const weight = timestamp % POSITION_CHECKSUM.timestampModulus;
  return (sum3 + line * weight % POSITION_CHECKSUM.modulus) % POSITION_CHECKSUM.modulus;
}
function positionChecksumSql(lineColumn2, timestampColumn) {
  const { timestampModulus, modulus } = POSITION_CHECKSUM;
  return `coalesce(sum(${lineColumn2} * (${timestampColumn} % ${timestampModulus})) % ${modulus}, 0)`;
}

// pipeline/warehouse/duckdb-csv.ts
var DUCKDB_TYPES = {
  varchar: "VARCHAR",
  bigint: "BIGINT",
  double: "DOUBLE",
  timestamp: "TIMESTAMP",
  integer: "INTEGER"
};
function csvScan(path2, columns2, file = {}) {
  const spec = columns2.map((c) => `'${c.name}': '${DUCKDB_TYPES[c.type]}'`).join(", ");
  const compression = file.gzip === void 0 ? "" : `, compression = '${file.gzip ? "gzip" : "none"}'`;
  return `read_csv('${path2.replaceAll("'", "''")}', header = ${file.header ?? false}, auto_detect = false, delim = ',', quote = '"', escape = '"', nullstr = ''${compression}, columns = {${spec}})`;
}

// pipeline/warehouse/duckdb-bulk.ts
var TIMESTAMP_COLUMN = "server_timestamp_epoch_ms";
function duckDbBulkLoader(host) {
  return {
    async loadedUnderName(kind, sourceFile) {
      const rows = await host.query(
        `SELECT 1 FROM ${LOADS_TABLE} WHERE target_table = $1 AND source_file = $2 LIMIT 1`,
        [rawTableName(kind), sourceFile]
      );
      return rows.length > 0;
    },
    begin: (kind, meta, file) => beginBulkLoad(host, kind, meta, file)
  };
}
async function beginBulkLoad(host, kind, meta, file) {
  if (!DATA_FILES[kind].columns.includes(TIMESTAMP_COLUMN)) {
    throw new Error(`${DATA_FILES[kind].file} has no ${TIMESTAMP_COLUMN}: no bulk path for it`);
  }
  const table3 = rawTableName(kind);
  const { connection } = host;
  await host.assertNewLoad(meta);
  await connection.run("BEGIN TRANSACTION");
  const inserted = connection.run("SET preserve_insertion_order = false").then(() => connection.run(insertSql(kind, file), [meta.etlId])).finally(() => connection.run("RESET preserve_insertion_order")).then(() => void 0);
  inserted.catch(() => void 0);
  let open2 = true;
  const rollback = async () => {
    if (!open2) return;
    open2 = false;
    connection.interrupt();
    await inserted.catch(() => void 0);
    await connection.run("ROLLBACK").catch(() => void 0);
  };
  return {
    inserted,
    rollback,
    async commit(sourceHash, counts, positionChecksum) {
      try {
        await inserted;
        const existing = await host.findLoad(kind, sourceHash);
        if (existing) {
          await rollback();
          return { existing };
        }
        const [row] = await host.query(
          `SELECT count(*) AS n, ${positionChecksumSql("source_line", TIMESTAMP_COLUMN)} AS checksum FROM ${quoteIdentifier(table3)} WHERE etl_id = $1`,
          [meta.etlId]
        );
        const rows = Number(row?.n ?? 0);
        const checksum2 = Number(row?.checksum ?? -1);
        if (rows !== counts.rowsLoaded || checksum2 !== positionChecksum) {
          await rollback();
          return {
            mismatch: `DuckDB read ${rows} rows (position checksum ${checksum2}) where the reader checked ${counts.rowsLoaded} lines (${positionChecksum})`
          };
        }
        await host.recordLoad(table3, { ...meta, sourceHash }, counts);
        open2 = false;
        const record = await host.findLoad(kind, sourceHash);
        if (!record) throw new Error(`the load record of ${meta.sourceFile} vanished after COMMIT`);
        return { record };
      } catch (error) {
        await rollback();
        throw error;
      }
    }
  };
}
function insertSql(kind, file) {
  const columns2 = dataColumns(kind).filter((c) => c.name !== "source_line");
  const names = columns2.map((c) => `f.${quoteIdentifier(c.name)}`).join(", ");
  const scan = csvScan(file.path, columns2, { header: true, gzip: file.gzip });
  return `INSERT INTO ${quoteIdentifier(rawTableName(kind))} SELECT ${names}, f.ordinality + 1, $1 FROM ${scan} WITH ORDINALITY AS f`;
}

// pipeline/warehouse/duckdb.ts
var DuckDbWarehouse = class _DuckDbWarehouse {
  constructor(path2, instance2, connection) {
    this.path = path2;
    this.instance = instance2;
    this.connection = connection;
    this.bulk = duckDbBulkLoader({
      connection,
      query: (sql, params) => this.query(sql, params),
      findLoad: (kind, hash2) => this.findLoad(kind, hash2),
      assertNewLoad: (meta) => this.assertNewLoad(meta),
      recordLoad: (table3, meta, counts) => this.recordLoad(table3, meta, counts)
    });
  }
  path;
  instance;
  connection;
  kind = "duckdb";
  bulk;
  static async open(path2) {
    if (path2 !== ":memory:") await mkdir4(dirname3(path2), { recursive: true });
    let instance2;
    try {
      instance2 = await DuckDBInstance.create(path2);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const hint2 = /lock/i.test(message) ? " Another pipeline process holds the file: wait for it or stop it." : "";
      throw new Error(`cannot open the DuckDB warehouse ${path2}: ${message}.${hint2}`);
    }
    return new _DuckDbWarehouse(path2, instance2, await instance2.connect());
  }
  get description() {
    return `duckdb:${this.path}`;
  }
  async ensureRawSchema() {
    for (const kind of RAW_KINDS) {
      const table3 = rawTableName(kind);
      await this.createTable(table3, rawTableColumns(kind));
      for (const column of RETIRED_RAW_COLUMNS) {
        await this.connection.run(
          `ALTER TABLE ${quoteIdentifier(table3)} DROP COLUMN IF EXISTS ${quoteIdentifier(column)}`
        );
      }
    }
    await this.createTable(REJECTS_TABLE, REJECTS_TABLE_COLUMNS);
    await this.createTable(LOADS_TABLE, LOADS_TABLE_COLUMNS);
  }
  async createTable(name2, columns2) {
    const defs = columns2.map((c) => `${quoteIdentifier(c.name)} ${DUCKDB_TYPES[c.type]}`);
    await this.connection.run(
      `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(name2)} (${defs.join(", ")})`
    );
  }
  async findLoad(kind, sourceHash) {
    const rows = await this.query(
      `SELECT * FROM ${LOADS_TABLE} WHERE target_table = $1 AND source_hash = $2 ORDER BY etl_timestamp LIMIT 1`,
      [rawTableName(kind), sourceHash]
    );
    const row = rows[0];
    return row ? loadRecordFromRow(kind, row) : void 0;
  }
  async beginLoad(kind, meta) {
    const table3 = rawTableName(kind);
    const metaValues = [
      meta.etlId,
      meta.etlTimestamp,
      meta.tenant,
      meta.sourceFile,
      meta.sourceHash
    ];
    await this.connection.run("BEGIN TRANSACTION");
    const existing = await this.findLoad(kind, meta.sourceHash).catch(async (error) => {
      await this.connection.run("ROLLBACK");
      throw error;
    });
    if (existing) {
      await this.connection.run("ROLLBACK");
      return { existing };
    }
    await this.assertNewLoad(meta).catch(async (error) => {
      await this.connection.run("ROLLBACK");
      throw error;
    });
    let queue = Promise.resolve();
    let failed = false;
    const step2 = (work) => {
      const next = queue.then(async () => {
        if (failed) throw new Error("the load transaction already failed");
        await work().catch((error) => {
          failed = true;
          throw error;
        });
      });
      queue = next.catch(() => void 0);
      return next;
    };
    const rollback = async () => {
      await queue;
      await this.connection.run("ROLLBACK").catch(() => void 0);
    };
    return {
      addRows: (path2) => step2(
        () => this.connection.run(
          `INSERT INTO ${quoteIdentifier(table3)} SELECT *, $1 FROM ${csvScan(path2, dataColumns(kind))}`,
          [meta.etlId]
        )
      ),
      addRejects: (path2) => step2(
        () => this.connection.run(
          `INSERT INTO ${REJECTS_TABLE} SELECT *, $6, $1, $2::TIMESTAMP, $3, $4, $5 FROM ${csvScan(path2, REJECT_COLUMNS)}`,
          [...metaValues, table3]
        )
      ),
      commit: async (counts) => {
        try {
          await step2(async () => {
            const loaded = await this.countWhere(table3, meta.etlId);
            if (loaded !== counts.rowsLoaded) {
              throw new Error(
                `${table3} received ${loaded} rows of ${meta.sourceFile} but the reader validated ${counts.rowsLoaded}: the staged chunks are inconsistent`
              );
            }
            await this.recordLoad(table3, meta, counts);
          });
        } catch (error) {
          await rollback();
          throw error;
        }
        const record = await this.findLoad(kind, meta.sourceHash);
        if (!record) throw new Error(`the load record of ${meta.sourceFile} vanished after COMMIT`);
        return record;
      },
      rollback
    };
  }
  /**
   * An etl_id names one load: a second file of the same kind in the same run would make the
   * staging models' join to raw_loads ambiguous, so it is refused before anything is inserted.
   */
  async assertNewLoad(meta) {
    const taken = await this.query(`SELECT source_file FROM ${LOADS_TABLE} WHERE etl_id = $1`, [
      meta.etlId
    ]);
    if (taken[0]) {
      throw new Error(
        `load ${meta.etlId} already loaded ${String(taken[0].source_file)}; one run loads one file per table: start a new run to load ${meta.sourceFile}`
      );
    }
  }
  /** The load record, then COMMIT. */
  async recordLoad(table3, meta, counts) {
    await this.connection.run(
      `INSERT INTO ${LOADS_TABLE} VALUES ($1, $2, $3::TIMESTAMP, $4, $5, $6, $7, $8, $9)`,
      [
        table3,
        meta.etlId,
        meta.etlTimestamp,
        meta.tenant,
        meta.sourceFile,
        meta.sourceHash,
        counts.rowsRead,
        counts.rowsLoaded,
        counts.rowsRejected
      ]
    );
    await this.connection.run("COMMIT");
  }
  async countWhere(table3, etlId) {
    const rows = await this.query(
      `SELECT count(*) AS n FROM ${quoteIdentifier(table3)} WHERE etl_id = $1`,
      [etlId]
    );
    return Number(rows[0]?.n ?? 0);
  }
  async count(table3) {
    const rows = await this.query(`SELECT count(*) AS n FROM ${quoteIdentifier(table3)}`);
    return Number(rows[0]?.n ?? 0);
  }
  async query(sql, params = []) {
    const reader = await this.connection.runAndReadAll(sql, params);
    return reader.getRowObjectsJS().map((row) => {
      const out = {};
      for (const [key, value2] of Object.entries(row)) out[key] = toSqlValue(value2);
      return out;
    });
  }
  async close() {
    this.connection.closeSync();
    this.instance.closeSync();
  }
};
function toSqlValue(value2) {
  if (value2 === null || value2 === void 0) return null;
  if (typeof value2 === "bigint") {
    return value2 <= BigInt(Number.MAX_SAFE_INTEGER) && value2 >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value2) : value2;
  }
  if (value2 instanceof Date) return value2.toISOString();
  if (typeof value2 === "string" || typeof value2 === "number" || typeof value2 === "boolean") {
    return value2;
  }
  return JSON.stringify(value2, (_key, v) => typeof v === "bigint" ? Number(v) : v);
}

// pipeline/warehouse/snowflake/snowflake-warehouse.ts
import { copyFile as copyFile2, link, mkdtemp, rm as rm4, stat as stat3 } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join as join3 } from "node:path";

// pipeline/data/file-hash.ts
import { createHash as createHash3 } from "node:crypto";
import { createReadStream as createReadStream2 } from "node:fs";
import { stat as stat2 } from "node:fs/promises";
function sha256Hex(data) {
  return createHash3("sha256").update(data).digest("hex");
}
async function sha256File(path2) {
  const hash2 = createHash3("sha256");
  for await (const chunk of createReadStream2(path2, { highWaterMark: 1 << 20 })) {
    hash2.update(chunk);
  }
  return { sha256: hash2.digest("hex"), bytes: (await stat2(path2)).size };
}

// pipeline/warehouse/snowflake/config.ts
var WORKLOAD_IDENTITY_PROVIDERS = ["AWS", "AZURE", "GCP", "OIDC"];
var SNOWFLAKE_ENV = {
  account: "SNOWFLAKE_ACCOUNT",
  user: "SNOWFLAKE_USER",
  password: "SNOWFLAKE_PASSWORD",
  privateKeyPath: "SNOWFLAKE_PRIVATE_KEY_PATH",
  privateKey: "SNOWFLAKE_PRIVATE_KEY",
  passphrase: "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
  authenticator: "SNOWFLAKE_AUTHENTICATOR",
  token: "SNOWFLAKE_TOKEN",
  provider: "SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER",
  role: "SNOWFLAKE_ROLE",
  warehouse: "SNOWFLAKE_WAREHOUSE",
  database: "SNOWFLAKE_DATABASE",
  schema: "SNOWFLAKE_SCHEMA"
};
var E = SNOWFLAKE_ENV;
var ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
var AUTHENTICATOR_ALIASES = {
  password: "password",
  snowflake: "password",
  keypair: "keypair",
  "key-pair": "keypair",
  key_pair: "keypair",
  jwt: "keypair",
  snowflake_jwt: "keypair",
  oidc: "oidc",
  workload_identity: "oidc",
  wif: "oidc"
};
var SNOWFLAKE_OIDC_AUDIENCE = "snowflakecomputing.com";
function needsOidcToken(env) {
  const get = (name2) => env[name2]?.trim() || void 0;
  if (get(E.token) !== void 0) return false;
  const authenticator = get(E.authenticator)?.toLowerCase();
  const provider = get(E.provider)?.toUpperCase();
  const oidc = authenticator !== void 0 ? AUTHENTICATOR_ALIASES[authenticator] === "oidc" : provider !== void 0;
  return oidc && (provider ?? "OIDC") === "OIDC";
}
function settingError(variable2, message, hint2) {
  return new InputError(message, { field: variable2 }, hint2);
}
function snowflakeSettingsFromEnv(env) {
  const get = (name2) => {
    const value2 = env[name2];
    return value2 === void 0 || value2.trim() === "" ? void 0 : value2;
  };
  const required = (name2, what) => {
    const value2 = get(name2);
    if (value2 === void 0) {
      throw settingError(
        name2,
        `${name2} is not set: the Snowflake warehouse needs the ${what}`,
        `Set ${name2} (a repository secret or variable in CI), or use --warehouse duckdb:PATH.`
      );
    }
    return value2.trim();
  };
  const settings = {
    account: required(E.account, "account identifier (e.g. myorg-myaccount)"),
    warehouse: required(E.warehouse, "virtual warehouse that runs the loads"),
    database: required(E.database, "database that holds the raw tables"),
    schema: required(E.schema, "schema that holds the raw tables"),
    auth: authFromEnv(get)
  };
  const role = get(E.role);
  if (role !== void 0) settings.role = role.trim();
  const user = get(E.user);
  if (user !== void 0) settings.user = user.trim();
  validateSnowflakeSettings(settings);
  return settings;
}
function authFromEnv(get) {
  const password = get(E.password);
  const keyPath = get(E.privateKeyPath);
  const key = get(E.privateKey);
  const passphrase = get(E.passphrase);
  const token = get(E.token);
  const providerText = get(E.provider);
  const present = {
    password: setNames([E.password, password]),
    keypair: setNames([E.privateKeyPath, keyPath], [E.privateKey, key]),
    oidc: setNames([E.token, token], [E.provider, providerText])
  };
  const authenticator = get(E.authenticator);
  let kind;
  if (authenticator !== void 0) {
    const named = AUTHENTICATOR_ALIASES[authenticator.trim().toLowerCase()];
    if (!named) {
      throw settingError(
        E.authenticator,
        `${E.authenticator}="${authenticator.trim()}" is not an authenticator this pipeline supports`,
        `Use password, keypair (SNOWFLAKE_JWT) or oidc (WORKLOAD_IDENTITY), or unset it to infer from the credentials present.`
      );
    }
    kind = named;
    const others = Object.keys(present).filter((k) => k !== kind).flatMap((k) => present[k]);
    if (others.length > 0) {
      throw settingError(
        E.authenticator,
        `${E.authenticator}=${authenticator.trim()} but ${others.join(" and ")} ${others.length > 1 ? "are" : "is"} also set: the settings contradict each other`,
        `Unset ${others.join(", ")}, or change ${E.authenticator} to the method you mean.`
      );
    }
  } else {
    const kinds = Object.keys(present).filter(
      (k) => present[k].length > 0
    );
    if (kinds.length === 0) {
      throw settingError(
        E.password,
        "no Snowflake credentials are set",
        `Set ${E.password}; or ${E.privateKeyPath} / ${E.privateKey} for key-pair auth; or ${E.authenticator}=oidc with ${E.provider} (and ${E.token} for provider OIDC).`
      );
    }
    if (kinds.length > 1) {
      const vars = kinds.flatMap((k) => present[k]);
      throw settingError(
        E.authenticator,
        `credentials for more than one authentication method are set (${vars.join(", ")}) and ${E.authenticator} does not say which to use`,
        `Set ${E.authenticator} to ${kinds.join(" or ")}, and unset the variables of the other method.`
      );
    }
    kind = kinds[0];
  }
  if (kind === "password") {
    if (passphrase !== void 0) throw passphraseWithoutKey();
    if (password === void 0) {
      throw settingError(
        E.password,
        `${E.authenticator}=password but ${E.password} is not set`,
        `Set ${E.password}, or choose another ${E.authenticator}.`
      );
    }
    return { kind, password };
  }
  if (kind === "keypair") {
    if (keyPath !== void 0 && key !== void 0) {
      throw settingError(
        E.privateKey,
        `both ${E.privateKeyPath} and ${E.privateKey} are set: the settings contradict each other`,
        `Keep one: ${E.privateKeyPath} for a key file, or ${E.privateKey} for the PEM text.`
      );
    }
    if (keyPath === void 0 && key === void 0) {
      throw settingError(
        E.privateKeyPath,
        `key-pair authentication needs a private key, and neither ${E.privateKeyPath} nor ${E.privateKey} is set`,
        `Set ${E.privateKeyPath} to a PKCS#8 PEM file, or ${E.privateKey} to its text.`
      );
    }
    const auth = { kind };
    if (keyPath !== void 0) auth.privateKeyPath = keyPath.trim();
    if (key !== void 0) auth.privateKey = normalizePem(key);
    if (passphrase !== void 0) auth.passphrase = passphrase;
    return auth;
  }
  if (passphrase !== void 0) throw passphraseWithoutKey();
  let provider;
  if (providerText !== void 0) {
    const upper = providerText.trim().toUpperCase();
    if (!WORKLOAD_IDENTITY_PROVIDERS.includes(upper)) {
      throw settingError(
        E.provider,
        `${E.provider}="${providerText.trim()}" is not a workload identity provider`,
        `Use one of ${WORKLOAD_IDENTITY_PROVIDERS.join(", ")}.`
      );
    }
    provider = upper;
  } else if (token !== void 0) {
    provider = "OIDC";
  } else {
    throw settingError(
      E.provider,
      `workload identity authentication needs a provider, and neither ${E.provider} nor ${E.token} is set`,
      `Set ${E.provider} to AWS, AZURE or GCP (credentials from the cloud this runs in), or set ${E.token} to an OIDC ID token (e.g. from GitHub Actions with permissions: id-token: write).`
    );
  }
  if (provider === "OIDC" && token === void 0) {
    throw settingError(
      E.token,
      `${E.provider}=OIDC needs the identity token, and ${E.token} is not set`,
      `Set ${E.token} to the OIDC ID token (in GitHub Actions: core.getIDToken(), with permissions: id-token: write).`
    );
  }
  if (provider !== "OIDC" && token !== void 0) {
    throw settingError(
      E.token,
      `${E.token} is set but ${E.provider}=${provider} fetches its own attestation: the settings contradict each other`,
      `Unset ${E.token}, or set ${E.provider}=OIDC to use the token.`
    );
  }
  return token === void 0 ? { kind: "oidc", provider } : { kind: "oidc", provider, token };
}
function setNames(...pairs) {
  return pairs.filter(([, value2]) => value2 !== void 0).map(([name2]) => name2);
}
function passphraseWithoutKey() {
  return settingError(
    E.passphrase,
    `${E.passphrase} is set but no private key is used`,
    `Set ${E.privateKeyPath} or ${E.privateKey} (key-pair auth), or unset ${E.passphrase}.`
  );
}
function normalizePem(text) {
  const pem = !text.includes("\n") && text.includes("\\n") ? text.replaceAll("\\n", "\n") : text;
  const trimmed = pem.trim();
  if (!/^-----BEGIN (ENCRYPTED |RSA )?PRIVATE KEY-----\n[\s\S]+\n-----END (ENCRYPTED |RSA )?PRIVATE KEY-----$/.test(
    trimmed
  )) {
    throw settingError(
      E.privateKey,
      `${E.privateKey} does not hold a PEM private key (expected "-----BEGIN PRIVATE KEY-----" ... "-----END PRIVATE KEY-----")`,
      `Store the whole PEM file's text, line breaks included (or written as \\n); convert other formats with: openssl pkcs8 -topk8 -in key.pem -out rsa_key.p8`
    );
  }
  return `${trimmed}
`;
}
function validateSnowflakeSettings(settings) {
  const check2 = (value2, variable2, what) => {
    try {
      validateIdentifier(value2, `Snowflake ${what}`);
    } catch (error) {
      throw settingError(
        variable2,
        error.message,
        `Set ${variable2} to a plain Snowflake identifier (names that need quoting are not supported).`
      );
    }
  };
  if (!ACCOUNT.test(settings.account)) {
    throw settingError(
      E.account,
      `invalid Snowflake account identifier "${settings.account}"`,
      `Set ${E.account} to the account identifier only (e.g. myorg-myaccount or xy12345.eu-west-1), without https:// or .snowflakecomputing.com.`
    );
  }
  check2(settings.warehouse, E.warehouse, "warehouse");
  check2(settings.database, E.database, "database");
  check2(settings.schema, E.schema, "schema");
  if (settings.role !== void 0) check2(settings.role, E.role, "role");
  if (settings.auth.kind !== "oidc" && !settings.user) {
    throw settingError(
      E.user,
      `${E.user} is not set: ${settings.auth.kind === "password" ? "password" : "key-pair"} authentication needs the login name`,
      `Set ${E.user} to the Snowflake user (a service user for CI).`
    );
  }
}
var SDK_AUTHENTICATOR = {
  password: "SNOWFLAKE",
  keypair: "SNOWFLAKE_JWT",
  oidc: "WORKLOAD_IDENTITY"
};
function snowflakeConnectionOptions(settings) {
  const options = {
    account: settings.account,
    warehouse: settings.warehouse,
    database: settings.database,
    schema: settings.schema,
    authenticator: SDK_AUTHENTICATOR[settings.auth.kind]
  };
  if (settings.user !== void 0) options.username = settings.user;
  if (settings.role !== void 0) options.role = settings.role;
  const auth = settings.auth;
  switch (auth.kind) {
    case "password":
      options.password = auth.password;
      break;
    case "keypair":
      if (auth.privateKeyPath !== void 0) options.privateKeyPath = auth.privateKeyPath;
      if (auth.privateKey !== void 0) options.privateKey = auth.privateKey;
      if (auth.passphrase !== void 0) options.privateKeyPass = auth.passphrase;
      break;
    case "oidc":
      options.workloadIdentityProvider = auth.provider;
      if (auth.token !== void 0) options.token = auth.token;
      break;
  }
  return options;
}
function snowflakeSecrets(settings) {
  const auth = settings.auth;
  const values = auth.kind === "password" ? [auth.password] : auth.kind === "keypair" ? [auth.privateKey, auth.passphrase, ...pemBody(auth.privateKey)] : [auth.token];
  return values.filter((v) => typeof v === "string" && v.length >= 4);
}
function pemBody(pem) {
  if (!pem) return [];
  return pem.split("\n").map((line) => line.trim()).filter((line) => line.length >= 16 && !line.startsWith("-----"));
}
function describeSnowflake(settings) {
  const auth = settings.auth.kind === "oidc" ? `workload identity (${settings.auth.provider})` : settings.auth.kind === "keypair" ? "key pair" : "password";
  const who = settings.user ? `user ${settings.user}, ` : "";
  const role = settings.role ? `, role ${settings.role}` : "";
  return `snowflake:${settings.account}/${settings.database}.${settings.schema} (${who}warehouse ${settings.warehouse}${role}, ${auth})`;
}
function redact2(text, secrets) {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("***");
  return out;
}

// pipeline/warehouse/snowflake/connection.ts
var sdk;
async function loadSdk() {
  sdk ??= import("snowflake-sdk").then((module) => {
    const loaded = module.default ?? module;
    loaded.configure({ logLevel: "ERROR", customLogger: stderrLogger });
    return loaded;
  });
  return sdk;
}
var stderrLogger = {
  error: (message) => process.stderr.write(`snowflake-sdk: ${message}
`),
  warn: () => void 0,
  info: () => void 0,
  debug: () => void 0,
  trace: () => void 0
};
var snowflakeSdkDriver = {
  async connect(options) {
    const { createConnection } = await loadSdk();
    const connection = createConnection(options);
    await new Promise((resolve4, reject2) => {
      connection.connectAsync((error) => error ? reject2(error) : resolve4()).catch((error) => reject2(error));
    });
    return new SdkConnection(connection);
  }
};
var SdkConnection = class {
  constructor(connection) {
    this.connection = connection;
  }
  connection;
  execute(sqlText, binds = []) {
    return new Promise((resolve4, reject2) => {
      this.connection.execute({
        sqlText,
        binds,
        // Rows are collected in memory: every statement here returns a handful of rows
        // (COPY and PUT report one per file); bulk data never travels through execute.
        streamResult: false,
        rowMode: "object",
        complete: (error, _statement, rows) => {
          if (error) reject2(error);
          else resolve4(Array.isArray(rows) ? rows.map(toRow) : []);
        }
      });
    });
  }
  destroy() {
    return new Promise((resolve4) => {
      this.connection.destroy(() => resolve4());
    });
  }
};
function toRow(row) {
  return typeof row === "object" && row !== null ? { ...row } : {};
}

// pipeline/warehouse/snowflake/errors.ts
function fieldsOf(error) {
  const record = typeof error === "object" && error !== null ? error : {};
  const cause = typeof record.cause === "object" && record.cause !== null ? record.cause : {};
  const response = typeof record.response === "object" && record.response !== null ? record.response : {};
  const status = response.statusCode ?? response.status;
  return {
    name: typeof record.name === "string" ? record.name : "",
    message: error instanceof Error ? error.message : String(error),
    code: record.code === void 0 || record.code === null ? "" : String(record.code),
    sqlState: typeof record.sqlState === "string" ? record.sqlState : "",
    status: typeof status === "number" ? status : void 0,
    causeCode: cause.code === void 0 || cause.code === null ? "" : String(cause.code)
  };
}
var TRANSIENT_SOCKET_CODES = /* @__PURE__ */ new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ERR_SOCKET_CONNECTION_TIMEOUT"
]);
var SDK_NETWORK_COULD_NOT_CONNECT = "401001";
var SDK_RESPONSE_FAILURE = "401002";
var SDK_RESPONSE_NOT_JSON = "401003";
var SDK_RESPONSE_INVALID_TOKEN = "401004";
var SDK_LARGE_RESULT_NETWORK = "402001";
var SDK_LARGE_RESULT_FAILURE = "402002";
var SDK_DISCONNECTED = /* @__PURE__ */ new Set(["407001", "407002", "405503"]);
var GS_SESSION_GONE = /* @__PURE__ */ new Set(["390104", "390111", "390112", "390114"]);
function classifySnowflakeError(error) {
  const f = fieldsOf(error);
  if (f.code === SDK_NETWORK_COULD_NOT_CONNECT || f.code === SDK_LARGE_RESULT_NETWORK || f.name === "NetworkError") {
    return f.causeCode === "ENOTFOUND" ? "config" : "transient";
  }
  if (TRANSIENT_SOCKET_CODES.has(f.code) || TRANSIENT_SOCKET_CODES.has(f.causeCode))
    return "transient";
  if (f.code === "ENOTFOUND" || f.causeCode === "ENOTFOUND") return "config";
  if (f.code === SDK_RESPONSE_FAILURE || f.code === SDK_LARGE_RESULT_FAILURE || f.name === "RequestFailedError") {
    if (f.status !== void 0 && (f.status >= 500 || f.status === 408 || f.status === 429))
      return "transient";
    if (f.status === 401 || f.status === 403) return "auth";
    return "other";
  }
  if (f.code === SDK_RESPONSE_NOT_JSON) return "transient";
  if (f.code === SDK_RESPONSE_INVALID_TOKEN || SDK_DISCONNECTED.has(f.code) || GS_SESSION_GONE.has(f.code)) {
    return "session";
  }
  if (f.code.startsWith("ERR_OSSL") || f.causeCode.startsWith("ERR_OSSL")) return "auth";
  if (/^39[04]\d{3}$/.test(f.code) || f.sqlState === "28000" || f.sqlState === "08004")
    return "auth";
  if (/^40[45]\d{3}$/.test(f.code)) return "config";
  if (f.sqlState.startsWith("42") || /^00[12]\d{3}$/.test(f.code)) return "sql";
  return "other";
}
function hintFor(kind, settings) {
  const user = settings.user ? `user ${settings.user}` : "the workload identity's user";
  switch (kind) {
    case "auth":
      if (settings.auth.kind === "password") {
        return `Snowflake refused the login of ${user}: check ${SNOWFLAKE_ENV.user} and ${SNOWFLAKE_ENV.password}. Accounts that enforce MFA need key-pair auth (${SNOWFLAKE_ENV.privateKeyPath}).`;
      }
      if (settings.auth.kind === "keypair") {
        return `Snowflake refused the key-pair login of ${user}: check ${SNOWFLAKE_ENV.user}, that the user's RSA_PUBLIC_KEY (ALTER USER … SET RSA_PUBLIC_KEY) matches the private key, and ${SNOWFLAKE_ENV.passphrase} for an encrypted key.`;
      }
      return `Snowflake refused the workload identity (${settings.auth.provider}): check that the service user's WORKLOAD_IDENTITY (ISSUER, SUBJECT) matches the token, e.g. repo:OWNER/REPO:ref:refs/heads/main for GitHub Actions with permissions: id-token: write.`;
    case "sql":
      return `The statement did not compile: check that ${SNOWFLAKE_ENV.database}=${settings.database} and ${SNOWFLAKE_ENV.schema}=${settings.schema} exist, that the raw tables were created (ensureRawSchema), and that ${settings.role ? `role ${settings.role}` : "the user's default role"} has privileges on them.`;
    case "config":
      return `Check ${SNOWFLAKE_ENV.account}=${settings.account} (the account identifier, e.g. myorg-myaccount, without .snowflakecomputing.com) and the other SNOWFLAKE_* settings.`;
    case "transient":
      return "A network or service failure persisted through every retry: check connectivity to *.snowflakecomputing.com (proxy, firewall) and https://status.snowflake.com, then run again; loads are idempotent.";
    case "session":
      return "The Snowflake session ended (expired or closed); run again: loads are idempotent.";
    default:
      return void 0;
  }
}
var SnowflakeWarehouseError = class extends PipelineError {
  constructor(message, kind, statement, hint2) {
    super(message, 1, hint2);
    this.kind = kind;
    this.statement = statement;
  }
  kind;
  statement;
};
function statementForMessage(sql, max2 = 400) {
  const line = sql.replace(/\s+/g, " ").trim();
  return line.length > max2 ? `${line.slice(0, max2)}…` : line;
}
function errorCodes(error) {
  const f = fieldsOf(error);
  const parts = [f.code && `code ${f.code}`, f.sqlState && `SQL state ${f.sqlState}`].filter(
    Boolean
  );
  return parts.length ? ` (${parts.join(", ")})` : "";
}
function errorMessage(error) {
  return fieldsOf(error).message;
}
var DEFAULT_RETRY = {
  attempts: 4,
  baseDelayMs: 1e3,
  maxDelayMs: 15e3,
  sleep: (ms) => new Promise((resolve4) => setTimeout(resolve4, ms)),
  random: Math.random
};
function backoffDelay(policy, retry) {
  const step2 = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(step2 * (0.5 + policy.random() / 2));
}
async function withRetry(operation, policy, shouldRetry, beforeRetry) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      const delay = backoffDelay(policy, attempt);
      await beforeRetry(error, attempt, delay);
      await policy.sleep(delay);
    }
  }
}

// pipeline/warehouse/snowflake/sql.ts
var SNOWFLAKE_TYPES = {
  varchar: "VARCHAR",
  bigint: "NUMBER(38,0)",
  double: "FLOAT",
  timestamp: "TIMESTAMP_NTZ",
  integer: "NUMBER(38,0)"
};
function sfIdentifier(name2, what = "identifier") {
  return `"${validateIdentifier(name2, what).toUpperCase()}"`;
}
function tableStage(table3) {
  return `@%${validateIdentifier(table3, "table name").toUpperCase()}`;
}
function createTableSql(table3, columns2) {
  const defs = columns2.map(
    (c) => `${sfIdentifier(c.name, "column name")} ${SNOWFLAKE_TYPES[c.type]}`
  );
  return `CREATE TABLE IF NOT EXISTS ${sfIdentifier(table3, "table name")} (${defs.join(", ")})`;
}
function rawSchemaDdl() {
  return [
    ...RAW_KINDS.flatMap((kind) => [
      createTableSql(rawTableName(kind), rawTableColumns(kind)),
      dropRetiredColumnsSql(rawTableName(kind))
    ]),
    createTableSql(REJECTS_TABLE, REJECTS_TABLE_COLUMNS),
    createTableSql(LOADS_TABLE, LOADS_TABLE_COLUMNS)
  ];
}
function dropRetiredColumnsSql(table3) {
  const columns2 = RETIRED_RAW_COLUMNS.map((c) => sfIdentifier(c, "column name"));
  return `ALTER TABLE ${sfIdentifier(table3, "table name")} DROP COLUMN IF EXISTS ${columns2.join(", ")}`;
}
function sqlString(value2, what = "value") {
  if (/[\u0000-\u001f\u007f]/.test(value2)) {
    throw new Error(`the ${what} contains a control character and cannot be written into SQL`);
  }
  return `'${value2.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
function snowflakeTimestamp(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`the load timestamp "${iso}" is not a date`);
  return date.toISOString().replace("T", " ").replace("Z", "");
}
var SOURCE_HASH = /^[0-9a-f]{64}$/;
function validateLoadMeta(meta) {
  if (!SOURCE_HASH.test(meta.sourceHash)) {
    throw new Error(`the source hash "${meta.sourceHash}" is not a lowercase hex sha256`);
  }
  snowflakeTimestamp(meta.etlTimestamp);
  sqlString(meta.etlId, "etl id");
  sqlString(meta.tenant, "tenant");
  sqlString(meta.sourceFile, "source file name");
}
function stagedFileName(kind, part2, sourceHash, chunk, csvDigest) {
  if (!SOURCE_HASH.test(sourceHash) || !/^[0-9a-f]{16,64}$/.test(csvDigest) || !Number.isSafeInteger(chunk) || chunk < 0) {
    throw new Error("staged file names are built from hex digests and a chunk number only");
  }
  return `${kind}-${part2}-${sourceHash}-${chunk}-${csvDigest.slice(0, 16)}.csv`;
}
var UNSAFE_PATH = /['\n\r\0*?]/;
function putSql(localPath, table3) {
  if (UNSAFE_PATH.test(localPath)) {
    throw new Error(
      `cannot PUT ${JSON.stringify(localPath)}: the path contains a quote, a wildcard or a line break`
    );
  }
  if (!localPath.endsWith(".csv")) throw new Error(`PUT stages .csv files only, not ${localPath}`);
  const uri = `file://${localPath.startsWith("/") ? "" : "/"}${localPath.replaceAll("\\", "/")}`;
  return `PUT '${uri}' ${tableStage(table3)} OVERWRITE = FALSE AUTO_COMPRESS = TRUE`;
}
var CSV_FILE_FORMAT = `TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' SKIP_HEADER = 0 FIELD_OPTIONALLY_ENCLOSED_BY = '"' ESCAPE = NONE ESCAPE_UNENCLOSED_FIELD = NONE EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TRIM_SPACE = FALSE COMPRESSION = GZIP ENCODING = 'UTF8'`;
function copyIntoSql(spec) {
  const targets = spec.columns.map((c) => sfIdentifier(c.name, "column name"));
  const select2 = spec.columns.map((column, index2) => {
    if (index2 < spec.fileColumns) return `$${index2 + 1}`;
    const value2 = spec.constants[column.name];
    if (value2 === void 0) throw new Error(`no value for ${spec.table}.${column.name} in COPY`);
    const literal = sqlString(value2, column.name);
    return column.type === "timestamp" ? `${literal}::TIMESTAMP_NTZ` : literal;
  });
  if (spec.stagedFiles.length === 0 || spec.stagedFiles.length > 1e3) {
    throw new Error(`COPY names 1 to 1000 files, not ${spec.stagedFiles.length}`);
  }
  for (const file of spec.stagedFiles) {
    if (!/^[A-Za-z0-9._-]+$/.test(file)) throw new Error(`invalid staged file name "${file}"`);
  }
  return `COPY INTO ${sfIdentifier(spec.table, "table name")} (${targets.join(", ")}) FROM (SELECT ${select2.join(", ")} FROM ${tableStage(spec.table)}) FILES = (${spec.stagedFiles.map((f) => `'${f}'`).join(", ")}) FILE_FORMAT = (${CSV_FILE_FORMAT}) ON_ERROR = ABORT_STATEMENT`;
}
function loadMetaConstants(meta) {
  return {
    etl_id: meta.etlId,
    etl_timestamp: snowflakeTimestamp(meta.etlTimestamp),
    tenant: meta.tenant,
    source_file: meta.sourceFile,
    source_hash: meta.sourceHash
  };
}
function selectLoadColumns() {
  return LOADS_TABLE_COLUMNS.map((c) => {
    const id = sfIdentifier(c.name, "column name");
    const expr = c.type === "timestamp" ? `TO_VARCHAR(${id}, 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"')` : id;
    return `${expr} AS "${c.name}"`;
  }).join(", ");
}
function findLoadSql() {
  return `SELECT ${selectLoadColumns()} FROM ${sfIdentifier(LOADS_TABLE)} WHERE ${sfIdentifier("target_table")} = ? AND ${sfIdentifier("source_hash")} = ? ORDER BY ${sfIdentifier("etl_timestamp")} LIMIT 1`;
}
function insertLoadSql() {
  const columns2 = LOADS_TABLE_COLUMNS.map((c) => sfIdentifier(c.name, "column name"));
  const values = LOADS_TABLE_COLUMNS.map(
    (c) => c.type === "timestamp" ? "TO_TIMESTAMP_NTZ(?)" : "?"
  );
  return `INSERT INTO ${sfIdentifier(LOADS_TABLE)} (${columns2.join(", ")}) SELECT ${values.join(", ")}`;
}
function countSql(table3) {
  return `SELECT COUNT(*) AS "n" FROM ${sfIdentifier(table3, "table name")}`;
}
var SESSION_CONTEXT_SQL = 'SELECT CURRENT_WAREHOUSE() AS "warehouse", CURRENT_DATABASE() AS "database", CURRENT_SCHEMA() AS "schema", CURRENT_ROLE() AS "role"';
function toSnowflakePlaceholders(sql) {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    let end = i + 1;
    if (ch === "'") {
      end = i + 1;
      while (end < sql.length) {
        if (sql[end] === "\\") end += 2;
        else if (sql[end] === "'" && sql[end + 1] === "'") end += 2;
        else if (sql[end] === "'") {
          end++;
          break;
        } else end++;
      }
    } else if (ch === '"') {
      const close = sql.indexOf('"', i + 1);
      end = close === -1 ? sql.length : close + 1;
    } else if (ch === "$" && next === "$") {
      const close = sql.indexOf("$$", i + 2);
      end = close === -1 ? sql.length : close + 2;
    } else if (ch === "-" && next === "-") {
      const close = sql.indexOf("\n", i);
      end = close === -1 ? sql.length : close + 1;
    } else if (ch === "/" && next === "*") {
      const close = sql.indexOf("*/", i + 2);
      end = close === -1 ? sql.length : close + 2;
    } else if (ch === "$" && next !== void 0 && /[0-9]/.test(next) && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? "")) {
      out += ":";
      i++;
      continue;
    }
    out += sql.slice(i, end);
    i = end;
  }
  return out;
}
function toSnowflakeBind(value2) {
  return typeof value2 === "bigint" ? value2.toString() : value2;
}

// pipeline/warehouse/snowflake/snowflake-warehouse.ts
var MAX_FILES_PER_COPY = 1e3;
var SnowflakeWarehouse = class _SnowflakeWarehouse {
  constructor(settings, options = {}) {
    this.settings = settings;
    validateSnowflakeSettings(settings);
    this.driver = options.driver ?? snowflakeSdkDriver;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.secrets = snowflakeSecrets(settings);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}
`));
    this.tempRoot = options.tempDir ?? tmpdir();
    this.description = describeSnowflake(settings);
  }
  settings;
  kind = "snowflake";
  description;
  driver;
  policy;
  secrets;
  log;
  tempRoot;
  session;
  /** The connection `session` resolved to, so that only that one is ever forgotten. */
  current;
  /** Load transactions begun and not yet committed or rolled back (0 or 1). */
  openLoads = 0;
  /** One session, one statement at a time: statements never overlap on the connection. */
  statements = Promise.resolve();
  /**
   * One load transaction at a time: a second beginLoad waits for the first to commit or roll
   * back (BEGIN inside an open transaction would silently join it). Other operations run
   * meanwhile, inside the open transaction, as they do on DuckDB's single connection.
   */
  transactions = Promise.resolve();
  closed = false;
  static fromEnv(env, options = {}) {
    return new _SnowflakeWarehouse(snowflakeSettingsFromEnv(env), options);
  }
  /** Opens the session now (otherwise the first operation does): login errors surface early. */
  async connect() {
    await this.connection();
  }
  async ensureRawSchema() {
    if (this.openLoads > 0) {
      throw new Error(
        "ensureRawSchema cannot run while a load is open: Snowflake's DDL would commit it"
      );
    }
    const connection = await this.connection();
    for (const ddl of rawSchemaDdl()) {
      await this.exec(connection, ddl, [], { what: "creating the raw tables", idempotent: true });
    }
  }
  async findLoad(kind, sourceHash) {
    return this.lookup(await this.connection(), kind, sourceHash);
  }
  async beginLoad(kind, meta) {
    validateLoadMeta(meta);
    const release = await this.transactionSlot();
    try {
      const connection = await this.connection();
      await this.exec(connection, "BEGIN", [], { what: "BEGIN", idempotent: false });
      let existing;
      try {
        existing = await this.lookup(connection, kind, meta.sourceHash);
      } catch (error) {
        await this.rollbackQuietly(connection);
        throw error;
      }
      if (existing) {
        await this.rollbackQuietly(connection);
        release();
        return { existing };
      }
      const staging = await mkdtemp(join3(this.tempRoot, "mlops-snowflake-"));
      const state = {
        connection,
        kind,
        meta,
        table: rawTableName(kind),
        staging,
        staged: { rows: [], rejects: [] }
      };
      return this.loadTransaction(state, release);
    } catch (error) {
      release();
      throw error;
    }
  }
  async count(table3) {
    const sql = countSql(table3);
    const rows = await this.exec(await this.connection(), sql, [], {
      what: `counting ${table3}`,
      idempotent: true
    });
    return Number(field(rows[0], "n") ?? 0);
  }
  /**
   * Binds are positional: `?`, `:1`, or DuckDB's `$1` (rewritten to `:1`). Read-only statements
   * are retried after transient failures. Column names Snowflake upper-cased (unquoted aliases)
   * come back in lower case, as DuckDB returns them.
   */
  async query(sql, params = []) {
    const text = params.length > 0 ? toSnowflakePlaceholders(sql) : sql;
    const idempotent = /^[\s(]*(select|with|show|describe|desc|explain|list)\b/i.test(sql);
    const rows = await this.exec(await this.connection(), text, params.map(toSnowflakeBind), {
      what: "query",
      idempotent
    });
    return rows.map(toRow2);
  }
  /** Ends the session; an open load transaction is aborted by the server with it. */
  async close() {
    this.closed = true;
    await this.statements;
    await this.dropSession();
  }
  // --- loads -----------------------------------------------------------------------------
  loadTransaction(state, release) {
    let queue = Promise.resolve();
    let failed = false;
    let finished2 = false;
    const step2 = (work) => {
      const next = queue.then(async () => {
        if (finished2) throw new Error(`the load of ${state.meta.sourceFile} is already finished`);
        if (failed)
          throw new Error(`the load of ${state.meta.sourceFile} already failed: roll it back`);
        await work().catch((error) => {
          failed = true;
          throw error;
        });
      });
      queue = next.catch(() => void 0);
      return next;
    };
    const finish2 = async () => {
      finished2 = true;
      await rm4(state.staging, { recursive: true, force: true });
      release();
    };
    let ending;
    const rollback = () => {
      if (finished2 && !ending) return Promise.resolve();
      ending ??= (async () => {
        await queue;
        finished2 = true;
        await this.rollbackQuietly(state.connection);
        await finish2();
      })();
      return ending;
    };
    return {
      addRows: (path2) => step2(() => this.stageChunk(state, "rows", path2)),
      addRejects: (path2) => step2(() => this.stageChunk(state, "rejects", path2)),
      commit: async (counts) => {
        let record;
        try {
          await step2(async () => {
            record = await this.commitLoad(state, counts);
          });
        } catch (error) {
          await rollback();
          throw error;
        }
        await finish2();
        if (!record) throw new Error(`the load of ${state.meta.sourceFile} committed no record`);
        return record;
      },
      rollback
    };
  }
  /**
   * PUT of one chunk. PUT keeps the local file's name, so the chunk is hard-linked (copied across
   * file systems) under its content-addressed name first; the link goes once it is uploaded, and
   * the caller may delete its file as soon as this resolves.
   */
  async stageChunk(state, part2, path2) {
    if ((await stat3(path2)).size === 0) return;
    const table3 = part2 === "rows" ? state.table : REJECTS_TABLE;
    const name2 = stagedFileName(
      state.kind,
      part2,
      state.meta.sourceHash,
      state.staged[part2].length,
      (await sha256File(path2)).sha256
    );
    const local = join3(state.staging, name2);
    await link(path2, local).catch(() => copyFile2(path2, local));
    try {
      const staged = `${name2}.gz`;
      const put = putSql(local, table3);
      const rows = await this.exec(state.connection, put, [], {
        what: `PUT of ${part2} chunk ${state.staged[part2].length} into @%${table3}`,
        idempotent: true
      });
      for (const row of rows) {
        const status = String(field(row, "status") ?? "");
        const target = field(row, "target");
        if (!["UPLOADED", "SKIPPED"].includes(status) || target !== void 0 && target !== staged) {
          throw new SnowflakeWarehouseError(
            `Snowflake: PUT reported ${status || "no status"} for ${String(target)} (expected ${staged}, UPLOADED or SKIPPED)`,
            "other",
            statementForMessage(put)
          );
        }
      }
      state.staged[part2].push(staged);
    } finally {
      await rm4(local, { force: true });
    }
  }
  async commitLoad(state, counts) {
    const { kind, meta, table: table3, connection } = state;
    for (const [name2, value2] of Object.entries(counts)) {
      if (!Number.isSafeInteger(value2) || value2 < 0) {
        throw new Error(`${name2} must be a non-negative integer, got ${String(value2)}`);
      }
    }
    const concurrent = await this.lookup(connection, kind, meta.sourceHash);
    if (concurrent) {
      throw new SnowflakeWarehouseError(
        `${meta.sourceFile} was loaded into ${table3} by ${concurrent.etlId} while this load (${meta.etlId}) was staging it: nothing was inserted`,
        "other",
        void 0,
        "The file is loaded once, by the other run; running again reports it as skipped."
      );
    }
    const constants3 = loadMetaConstants(meta);
    await this.copyChunks(state, "rows", {
      table: table3,
      columns: rawTableColumns(kind),
      fileColumns: dataColumns(kind).length,
      constants: constants3,
      expected: counts.rowsLoaded
    });
    await this.copyChunks(state, "rejects", {
      table: REJECTS_TABLE,
      columns: REJECTS_TABLE_COLUMNS,
      fileColumns: REJECT_COLUMNS.length,
      constants: { ...constants3, target_table: table3 },
      expected: counts.rowsRejected
    });
    const values = {
      target_table: table3,
      etl_id: meta.etlId,
      etl_timestamp: snowflakeTimestamp(meta.etlTimestamp),
      tenant: meta.tenant,
      source_file: meta.sourceFile,
      source_hash: meta.sourceHash,
      rows_read: counts.rowsRead,
      rows_loaded: counts.rowsLoaded,
      rows_rejected: counts.rowsRejected
    };
    await this.exec(
      connection,
      insertLoadSql(),
      LOADS_TABLE_COLUMNS.map((c) => values[c.name] ?? null),
      { what: "recording the load in raw_loads", idempotent: false }
    );
    await this.exec(connection, "COMMIT", [], { what: "COMMIT", idempotent: false });
    return {
      kind,
      etlId: meta.etlId,
      etlTimestamp: new Date(meta.etlTimestamp).toISOString(),
      tenant: meta.tenant,
      sourceFile: meta.sourceFile,
      sourceHash: meta.sourceHash,
      ...counts
    };
  }
  /** COPY INTO over every staged chunk of one part, then the rows_loaded check. */
  async copyChunks(state, part2, target) {
    const files = state.staged[part2];
    let loaded = 0;
    const reported = /* @__PURE__ */ new Map();
    let lastStatement = "";
    for (let start = 0; start < files.length; start += MAX_FILES_PER_COPY) {
      const copy = copyIntoSql({
        ...target,
        stagedFiles: files.slice(start, start + MAX_FILES_PER_COPY)
      });
      lastStatement = copy;
      const result = await this.exec(state.connection, copy, [], {
        what: `COPY INTO ${target.table}`,
        idempotent: false
      });
      for (const row of result) {
        loaded += Number(field(row, "rows_loaded")) || 0;
        const file = field(row, "file");
        if (typeof file === "string")
          reported.set(file.slice(file.lastIndexOf("/") + 1), String(field(row, "status") ?? ""));
      }
    }
    if (loaded === target.expected) return;
    const notLoaded = files.filter((file) => reported.get(file) !== "LOADED");
    const skipped = notLoaded.filter((file) => !reported.has(file));
    throw new SnowflakeWarehouseError(
      `Snowflake: COPY INTO ${target.table} loaded ${loaded} ${part2} of ${state.meta.sourceFile} but the reader validated ${target.expected}` + (notLoaded.length ? `; not loaded: ${notLoaded.slice(0, 5).join(", ")}${notLoaded.length > 5 ? ", …" : ""}` : "") + (skipped.length ? ". Snowflake did not process those files: its load history says they were loaded into the table before, although raw_loads has no record of it" : ""),
      "other",
      lastStatement ? statementForMessage(lastStatement) : void 0,
      skipped.length ? `Check ${target.table} for rows whose etl_id has no raw_loads record (SELECT DISTINCT etl_id FROM ${target.table} WHERE etl_id NOT IN (SELECT etl_id FROM raw_loads)); delete them (and the staged files: REMOVE @%${target.table} PATTERN = '.*${state.meta.sourceHash}.*') before loading again.` : "The staged chunks and the reader's counts disagree: run the upload again; if it recurs, report it with the file."
    );
  }
  /** Waits for the load before this one to finish; the function returned ends this one's turn. */
  async transactionSlot() {
    let resolve4 = () => void 0;
    const released = new Promise((r) => {
      resolve4 = r;
    });
    const previous = this.transactions;
    this.transactions = previous.then(() => released);
    await previous;
    this.openLoads++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.openLoads--;
      resolve4();
    };
  }
  /** Ends a transaction; if even that fails, drops the session so the server aborts it. */
  async rollbackQuietly(connection) {
    try {
      await this.exclusive(() => connection.execute("ROLLBACK", []));
    } catch {
      this.forgetSession(connection);
    }
  }
  // --- session and statements ------------------------------------------------------------
  connection() {
    if (this.closed) return Promise.reject(new Error(`${this.description} is closed`));
    this.session ??= this.openSession().then(
      (connection) => {
        this.current = connection;
        return connection;
      },
      (error) => {
        this.session = void 0;
        throw error;
      }
    );
    return this.session;
  }
  async openSession() {
    const options = snowflakeConnectionOptions(this.settings);
    let connection;
    try {
      connection = await withRetry(
        () => this.driver.connect(options),
        this.policy,
        (error) => classifySnowflakeError(error) === "transient",
        (error, attempt, delay) => this.logRetry(`connecting to ${this.settings.account}`, error, attempt, delay)
      );
    } catch (error) {
      throw this.failure(`connecting to ${this.description}`, error);
    }
    try {
      await this.checkSessionContext(connection);
    } catch (error) {
      await connection.destroy().catch(() => void 0);
      throw error;
    }
    return connection;
  }
  /**
   * Snowflake logs in even when the warehouse, database or schema named in the options does not
   * exist or the role cannot use it, leaving that part of the session context empty: every later
   * statement would then fail with a vaguer message. Say which setting is wrong now.
   */
  async checkSessionContext(connection) {
    const rows = await this.exec(connection, SESSION_CONTEXT_SQL, [], {
      what: "reading the session's warehouse, database and schema",
      idempotent: true
    });
    const row = rows[0];
    const role = field(row, "role");
    const who = typeof role === "string" && role ? `role ${role}` : "the session's role";
    const checks = [
      ["warehouse", SNOWFLAKE_ENV.warehouse, this.settings.warehouse],
      ["database", SNOWFLAKE_ENV.database, this.settings.database],
      ["schema", SNOWFLAKE_ENV.schema, this.settings.schema]
    ];
    for (const [what, variable2, value2] of checks) {
      const current = field(row, what);
      if (current === null || current === void 0 || current === "") {
        throw new SnowflakeWarehouseError(
          `Snowflake: the ${what} ${value2} (${variable2}) does not exist or ${who} cannot use it`,
          "config",
          SESSION_CONTEXT_SQL,
          `Set ${variable2} to an existing ${what}, or grant USAGE on it to ${who}${what === "schema" ? " (and CREATE TABLE, for the raw tables)" : ""}.`
        );
      }
    }
  }
  exclusive(operation) {
    const run = this.statements.then(operation, operation);
    this.statements = run.catch(() => void 0);
    return run;
  }
  /** One statement, after the ones before it; transient failures of idempotent ones retried. */
  async exec(connection, sql, binds, options) {
    try {
      return await this.exclusive(
        () => withRetry(
          () => connection.execute(sql, binds),
          this.policy,
          (error) => options.idempotent && classifySnowflakeError(error) === "transient",
          (error, attempt, delay) => this.logRetry(options.what, error, attempt, delay)
        )
      );
    } catch (error) {
      if (classifySnowflakeError(error) === "session") this.forgetSession(connection);
      throw this.failure(options.what, error, sql, options.idempotent);
    }
  }
  async lookup(connection, kind, sourceHash) {
    const rows = await this.exec(connection, findLoadSql(), [rawTableName(kind), sourceHash], {
      what: "looking up raw_loads",
      idempotent: true
    });
    const row = rows[0];
    return row ? loadRecordFromRow(kind, toRow2(row)) : void 0;
  }
  forgetSession(connection) {
    if (this.current === connection) {
      this.session = void 0;
      this.current = void 0;
    }
    void connection.destroy().catch(() => void 0);
  }
  async dropSession() {
    const session2 = this.session;
    this.session = void 0;
    this.current = void 0;
    if (!session2) return;
    const connection = await session2.catch(() => void 0);
    await connection?.destroy().catch(() => void 0);
  }
  logRetry(what, error, attempt, delayMs) {
    this.log(
      redact2(
        `snowflake: ${what} failed (${errorMessage(error)}${errorCodes(error)}); retrying in ${(delayMs / 1e3).toFixed(1)} s (attempt ${attempt + 1} of ${this.policy.attempts})`,
        this.secrets
      )
    );
  }
  /**
   * The error a caller sees: what failed, the driver's message and codes, the statement (never
   * its binds), and a hint. The driver's error is deliberately not attached as `cause`: its
   * `response` can carry request headers with session tokens.
   */
  failure(what, error, sql, retried = true) {
    if (error instanceof SnowflakeWarehouseError) return error;
    const kind = classifySnowflakeError(error);
    const statement = sql === void 0 ? void 0 : redact2(statementForMessage(sql), this.secrets);
    const attempts = kind === "transient" && retried ? ` after ${this.policy.attempts} attempts` : "";
    const message = redact2(
      `Snowflake: ${what} failed${attempts}: ${errorMessage(error)}${errorCodes(error)}${statement ? ` [statement: ${statement}]` : ""}`,
      this.secrets
    );
    return new SnowflakeWarehouseError(message, kind, statement, hintFor(kind, this.settings));
  }
};
function field(row, name2) {
  if (!row) return void 0;
  if (name2 in row) return row[name2];
  const wanted = name2.toLowerCase();
  const key = Object.keys(row).find((k) => k.toLowerCase() === wanted);
  return key === void 0 ? void 0 : row[key];
}
function toRow2(row) {
  const out = {};
  for (const [key, value2] of Object.entries(row)) {
    out[/[a-z]/.test(key) ? key : key.toLowerCase()] = toSqlValue2(value2);
  }
  return out;
}
function toSqlValue2(value2) {
  if (value2 === null || value2 === void 0) return null;
  if (typeof value2 === "string" || typeof value2 === "number" || typeof value2 === "boolean" || typeof value2 === "bigint") {
    return value2;
  }
  if (value2 instanceof Date) return value2.toISOString();
  if (Buffer.isBuffer(value2)) return value2.toString("hex");
  if (typeof value2 === "object" && "toJSON" in value2 && typeof value2.toJSON === "function") {
    return String(value2.toJSON());
  }
  return JSON.stringify(value2);
}

// pipeline/warehouse/snowflake/index.ts
async function openSnowflakeWarehouse(env = process.env, options = {}) {
  const warehouse = SnowflakeWarehouse.fromEnv(env, options);
  await warehouse.connect();
  return warehouse;
}

// pipeline/run/context.ts
function openStore(location) {
  if (location.startsWith("s3://")) {
    try {
      return new S3Store(parseS3Url(location));
    } catch (error) {
      throw new InputError(error.message, { field: "store" });
    }
  }
  return new LocalStore(location);
}
async function openWarehouse(spec, env = process.env) {
  if (spec === "snowflake") return openSnowflakeWarehouse(env);
  if (spec.startsWith("duckdb:")) return DuckDbWarehouse.open(spec.slice("duckdb:".length));
  throw new InputError(
    `unknown warehouse "${spec}"`,
    { field: "warehouse" },
    "Use duckdb:PATH or snowflake."
  );
}
function createContext(config, runId2, reporter, configSources) {
  let warehouse;
  return {
    config,
    ...configSources ? { configSources } : {},
    runId: runId2,
    reporter,
    store: openStore(config.store),
    warehouse() {
      warehouse ??= openWarehouse(config.warehouse);
      return warehouse;
    },
    async releaseWarehouse() {
      const open2 = warehouse;
      warehouse = void 0;
      if (open2) await (await open2).close();
    },
    async close() {
      if (warehouse) await (await warehouse).close();
    }
  };
}

// pipeline/evaluate/gates.ts
import { readFile as readFile3 } from "node:fs/promises";
import {
  isMap as isMap2,
  isScalar,
  isSeq,
  LineCounter as LineCounter2,
  parseDocument as parseDocument2
} from "yaml";
import { z as z4 } from "zod";

// pipeline/prng.ts
var TWO_POW_32 = 4294967296;
function fmix32(value2) {
  let h = value2 >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 2246822507);
  h ^= h >>> 13;
  h = Math.imul(h, 3266489909);
  h ^= h >>> 16;
  return h >>> 0;
}
function seedWords(seed2) {
  const lo = (seed2 % TWO_POW_32 + TWO_POW_32) % TWO_POW_32;
  const hi = Math.floor(seed2 / TWO_POW_32);
  return [lo >>> 0, (hi % TWO_POW_32 + TWO_POW_32) % TWO_POW_32 >>> 0];
}
var Rng = class _Rng {
  a;
  b;
  c;
  d;
  /** A stream named by integer parts, e.g. `Rng.from(seedLo, seedHi, STREAM, index)`. */
  static from(...parts) {
    let h = 2654435769;
    for (const part2 of parts) h = fmix32(Math.imul(h ^ part2 >>> 0, 625341585) + 1779033703);
    return new _Rng(fmix32(h ^ 1), fmix32(h ^ 2), fmix32(h ^ 3));
  }
  constructor(a, b, c) {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.uint32();
  }
  uint32() {
    const t0 = this.a + this.b | 0;
    this.a = this.b ^ this.b >>> 9;
    this.b = this.c + (this.c << 3) | 0;
    this.c = this.c << 21 | this.c >>> 11;
    this.d = this.d + 1 | 0;
    const t = t0 + this.d | 0;
    this.c = this.c + t | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1) with 32 bits of resolution: plenty for sampling, and exact to reproduce. */
  float() {
    return this.uint32() / TWO_POW_32;
  }
  /** Uniform integer in [0, n). */
  int(n2) {
    return Math.floor(this.float() * n2);
  }
  chance(p) {
    return this.float() < p;
  }
  /** Standard normal by Box–Muller (one value per call: simpler to keep streams aligned). */
  normal() {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Exponential with the given mean. */
  exponential(mean2) {
    return -Math.log(1 - this.float()) * mean2;
  }
  /** How many times a coin with `p` continues before stopping (mean p / (1 - p)), at most `max`. */
  geometric(p, max2) {
    let k = 0;
    while (k < max2 && this.float() < p) k++;
    return k;
  }
  /** Index into a cumulative weight table (last entry = total), by binary search. */
  pickCumulative(cumulative3, from = 0, to = cumulative3.length) {
    const base = from > 0 ? cumulative3[from - 1] : 0;
    const target = base + this.float() * (cumulative3[to - 1] - base);
    let lo = from;
    let hi = to - 1;
    while (lo < hi) {
      const mid = lo + hi >>> 1;
      if (cumulative3[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  /** Fisher–Yates in place. */
  shuffle(values) {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
    return values;
  }
};
function cumulative(values) {
  const out = new Float64Array(values.length);
  let sum3 = 0;
  values.forEach((v, k) => {
    sum3 += v;
    out[k] = sum3;
  });
  return out;
}

// pipeline/evaluate/bootstrap.ts
var BOOTSTRAP_STREAM = 45063;
function bootstrapRatios(counts, series, options) {
  const { iterations } = options;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`bootstrap iterations must be a positive integer, got ${iterations}`);
  }
  const sessions = counts.length;
  const out = series.map(() => new Float64Array(iterations));
  if (sessions === 0) return out.map((values) => values.fill(Number.NaN));
  const rng = Rng.from(...seedWords(options.seed), BOOTSTRAP_STREAM);
  const sums = new Float64Array(series.length);
  for (let b = 0; b < iterations; b++) {
    let total = 0;
    sums.fill(0);
    for (let d = 0; d < sessions; d++) {
      const s = rng.int(sessions);
      total += counts[s];
      for (let j = 0; j < series.length; j++) {
        sums[j] = sums[j] + series[j][s];
      }
    }
    for (let j = 0; j < series.length; j++) {
      out[j][b] = total > 0 ? sums[j] / total : Number.NaN;
    }
  }
  return out;
}
function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo];
  return a + (sorted[hi] - a) * (at - lo);
}
function percentileInterval(replicates, level) {
  const tail = (1 - level) / 2;
  return { low: quantile(replicates, tail), high: quantile(replicates, 1 - tail), level };
}

// pipeline/evaluate/metrics.ts
var METRIC_KS = [10, 20];
var MAX_K = 20;
function figure(sum3, n2) {
  return { value: n2 > 0 ? sum3 / n2 : null, n: n2 };
}
function rankOf(list2, target, k) {
  const end = Math.min(k, list2.length);
  for (let i = 0; i < end; i++) if (list2[i] === target) return i + 1;
  return 0;
}
function hitRate(ranks, k) {
  let hits = 0;
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i];
    if (r >= 1 && r <= k) hits++;
  }
  return figure(hits, ranks.length);
}
function meanReciprocalRank(ranks, k) {
  let sum3 = 0;
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i];
    if (r >= 1 && r <= k) sum3 += 1 / r;
  }
  return figure(sum3, ranks.length);
}
function coverage(lists, k, catalog) {
  const distinct = /* @__PURE__ */ new Set();
  for (const list2 of lists) {
    const end = Math.min(k, list2.length);
    for (let i = 0; i < end; i++) {
      const sku = list2[i];
      if (catalog.has(sku)) distinct.add(sku);
    }
  }
  return { ...figure(distinct.size, catalog.size), n: lists.length, distinct: distinct.size };
}
function popularityBias(lists, k, catalog) {
  let sum3 = 0;
  let n2 = 0;
  for (const list2 of lists) {
    const end = Math.min(k, list2.length);
    for (let i = 0; i < end; i++) {
      const item = catalog.get(list2[i]);
      if (!item) continue;
      sum3 += item.popularityPercentile;
      n2++;
    }
  }
  return figure(sum3, n2);
}
function repeatShare(prefixes, lists, k) {
  let repeats = 0;
  let n2 = 0;
  lists.forEach((list2, p) => {
    const prefix = new Set(prefixes[p]);
    const end = Math.min(k, list2.length);
    for (let i = 0; i < end; i++) if (prefix.has(list2[i])) repeats++;
    n2 += end;
  });
  return figure(repeats, n2);
}
function overlap(a, b, k) {
  const cutA = a.slice(0, k);
  const cutB = new Set(b.slice(0, k));
  const size = Math.max(cutA.length, cutB.size);
  if (size === 0) return 1;
  let shared = 0;
  for (const sku of cutA) if (cutB.has(sku)) shared++;
  return shared / size;
}

// pipeline/evaluate/catalog.ts
function splitPath(path2) {
  if (path2 === null) return [];
  const parts = typeof path2 === "string" ? path2.split("/") : [...path2];
  return parts.filter((part2) => part2.length > 0);
}
var Catalog = class {
  items = /* @__PURE__ */ new Map();
  leaves = /* @__PURE__ */ new Map();
  /** Catalog items with train popularity > 0. */
  trainItems;
  constructor(rows) {
    const counts = rows.map((row) => row.trainPopularity);
    const sorted = Float64Array.from(counts).sort();
    const n2 = sorted.length;
    const lowerBound = (x, strict) => {
      let lo = 0;
      let hi = n2;
      while (lo < hi) {
        const mid = lo + hi >>> 1;
        const v = sorted[mid];
        if (v < x || strict && v === x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let trainItems = 0;
    const ordered = [...rows].sort((a, b) => a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
    for (const row of ordered) {
      if (this.items.has(row.sku)) throw new Error(`catalog: SKU ${row.sku} appears twice`);
      const below = lowerBound(row.trainPopularity, false);
      const equal = lowerBound(row.trainPopularity, true) - below;
      const categoryPath2 = splitPath(row.categoryPath);
      this.items.set(row.sku, {
        sku: row.sku,
        categoryPath: categoryPath2,
        priceBucket: row.priceBucket,
        trainPopularity: row.trainPopularity,
        popularityPercentile: (below + equal / 2) / n2
      });
      if (row.trainPopularity > 0) trainItems++;
      const leaf = categoryPath2.join("/");
      if (leaf) {
        const members = this.leaves.get(leaf);
        if (members) members.push(row.sku);
        else this.leaves.set(leaf, [row.sku]);
      }
    }
    this.trainItems = trainItems;
  }
  get size() {
    return this.items.size;
  }
  get(sku) {
    return this.items.get(sku);
  }
  has(sku) {
    return this.items.has(sku);
  }
  /** SKUs in the same leaf category as `sku` (itself included), in catalog order. */
  sameLeaf(sku) {
    const item = this.items.get(sku);
    if (!item || item.categoryPath.length === 0) return [];
    return this.leaves.get(item.categoryPath.join("/")) ?? [];
  }
  /** Every SKU, in catalog order. */
  skus() {
    return this.items.keys();
  }
};
function categoryDistance(a, b) {
  if (a.length === 0 || b.length === 0) return null;
  let shared = 0;
  while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared++;
  return a.length - shared + (b.length - shared);
}

// pipeline/evaluate/suite.ts
var SLICE_FAMILIES = [
  "session_length",
  "last_item_category",
  "target_price_bucket",
  "target_in_train"
];
var LENGTH_BUCKETS = [
  [2, "2"],
  [4, "3-4"],
  [9, "5-9"],
  [19, "10-19"]
];
function sessionLengthBucket(n2) {
  for (const [max2, label2] of LENGTH_BUCKETS) if (n2 <= max2) return label2;
  return "20+";
}
function sliceLabels(prefix, target, sessionLength, catalog) {
  const last = catalog.get(prefix[prefix.length - 1]);
  const item = catalog.get(target);
  return {
    session_length: sessionLengthBucket(sessionLength),
    last_item_category: last?.categoryPath[0] ?? "unknown",
    target_price_bucket: item?.priceBucket == null ? "unknown" : String(item.priceBucket),
    target_in_train: (item?.trainPopularity ?? 0) > 0 ? "seen" : "unseen"
  };
}
function perturb(prefix, catalog, rng) {
  const positions = prefix.map((_, i) => i);
  rng.shuffle(positions);
  for (const at of positions) {
    const original = prefix[at];
    const alternatives = catalog.sameLeaf(original).filter((sku) => sku !== original && (catalog.get(sku)?.trainPopularity ?? 0) > 0);
    if (alternatives.length === 0) continue;
    const out = [...prefix];
    out[at] = alternatives[rng.int(alternatives.length)];
    return out;
  }
  return null;
}
function shufflePrefix(prefix, rng) {
  if (new Set(prefix).size < 2) return null;
  const out = rng.shuffle([...prefix]);
  if (out.every((sku, i) => sku === prefix[i])) out.push(out.shift());
  return out;
}
function unknownSkuSessions(count2, catalog, rng) {
  const sessions = [];
  let serial = 0;
  const fresh = () => {
    for (; ; ) {
      const sku = `unknown-sku-${(serial++).toString(16).padStart(8, "0")}`;
      if (!catalog.has(sku)) return sku;
    }
  };
  for (let s = 0; s < count2; s++) {
    const length = 1 + rng.int(3);
    sessions.push(Array.from({ length }, fresh));
  }
  return sessions;
}
function invalidity(list2, prefix, k, catalog) {
  const need = Math.min(k, catalog.trainItems);
  if (list2.length < need) return `${list2.length} items, expected ${need}`;
  if (list2.length > k) return `${list2.length} items, more than k = ${k}`;
  if (new Set(list2).size !== list2.length) return "duplicate items";
  const bad = list2.find((sku) => !catalog.has(sku));
  if (bad !== void 0) return `not a catalog SKU: ${bad}`;
  const echoed = list2.find((sku) => prefix.includes(sku));
  if (echoed !== void 0) return `echoes the unknown input SKU ${echoed}`;
  return null;
}
function lessWrong(top1, targets, catalog) {
  const counts = /* @__PURE__ */ new Map();
  let n2 = 0;
  let unknown = 0;
  let sum3 = 0;
  top1.forEach((guess, i) => {
    const target = targets[i];
    if (guess === void 0 || guess === target) return;
    const distance = categoryDistance(
      catalog.get(guess)?.categoryPath ?? [],
      catalog.get(target)?.categoryPath ?? []
    );
    if (distance === null) {
      unknown++;
      return;
    }
    n2++;
    sum3 += distance;
    counts.set(distance, (counts.get(distance) ?? 0) + 1);
  });
  const histogram = {};
  for (const d of [...counts.keys()].sort((a, b) => a - b)) histogram[d] = counts.get(d);
  return {
    n: n2,
    unknown,
    meanDistance: n2 > 0 ? sum3 / n2 : null,
    sameLeafShare: n2 > 0 ? (counts.get(0) ?? 0) / n2 : null,
    histogram
  };
}

// pipeline/evaluate/evaluate.ts
var REPORT_FORMAT = "mlops-session-recs/evaluation@1";
var METRIC_NAMES = [
  "hr@10",
  "hr@20",
  "mrr@10",
  "mrr@20",
  "last_hr@10",
  "last_hr@20",
  "last_mrr@10",
  "last_mrr@20",
  "coverage@10",
  "coverage@20",
  "popularity_bias",
  "repeat_share",
  "perturbation_overlap",
  "shuffle_overlap",
  "unknown_sku_validity",
  "less_wrong_distance",
  "less_wrong_same_leaf"
];
var INTERVAL_METRICS = ["hr@20", "mrr@20"];
var EVALUATE_DEFAULTS = {
  seed: 42,
  batchSize: 512,
  bootstrapIterations: 1e3,
  confidence: 0.95,
  robustnessSessions: 500,
  unknownSessions: 50
};
var STREAM = { sample: 1, perturb: 2, shuffle: 3, unknown: 4 };
function positive(value2, what) {
  if (!Number.isSafeInteger(value2) || value2 < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value2}`);
  }
  return value2;
}
function count(value2, what) {
  if (!Number.isSafeInteger(value2) || value2 < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value2}`);
  }
  return value2;
}
function chooseSessions(sessions, seed2, maxPrefixes) {
  const all = sessions.map((_, s) => s);
  const total = sessions.reduce((sum3, s) => sum3 + s.items.length - 1, 0);
  if (maxPrefixes === void 0 || total <= maxPrefixes) return all;
  Rng.from(...seedWords(seed2), STREAM.sample).shuffle(all);
  const chosen = [];
  let prefixes = 0;
  for (const s of all) {
    const n2 = sessions[s].items.length - 1;
    if (chosen.length > 0 && prefixes + n2 > maxPrefixes) break;
    chosen.push(s);
    prefixes += n2;
  }
  return chosen.sort((a, b) => a - b);
}
async function recommendChecked(recommender, prefixes) {
  let lists;
  try {
    lists = await recommender.recommend(prefixes, MAX_K);
  } catch (error) {
    throw new PipelineError(
      `evaluation: recommender "${recommender.name}" failed on a batch of ${prefixes.length} prefixes: ${error.message}`
    );
  }
  if (!Array.isArray(lists) || lists.length !== prefixes.length) {
    throw new PipelineError(
      `evaluation: recommender "${recommender.name}" answered ${Array.isArray(lists) ? lists.length : "no"} lists for ${prefixes.length} prefixes`
    );
  }
  return lists.map((list2) => list2.slice(0, MAX_K));
}
async function recommendAll(recommender, prefixes, batchSize, onBatch) {
  const out = [];
  for (let at = 0; at < prefixes.length; at += batchSize) {
    const batch = prefixes.slice(at, at + batchSize);
    out.push(...await recommendChecked(recommender, batch));
    onBatch(out.length);
  }
  return out;
}
function meanOf(values) {
  return figure(
    values.reduce((a, b) => a + b, 0),
    values.length
  );
}
function resolveRoles(recommenders, options) {
  const names = /* @__PURE__ */ new Set();
  for (const r of recommenders) {
    if (names.has(r.name)) throw new Error(`evaluation: two recommenders are named "${r.name}"`);
    names.add(r.name);
  }
  for (const role of ["candidate", "production"]) {
    const name2 = options[role];
    if (name2 !== void 0 && !names.has(name2)) {
      throw new Error(`evaluation: the ${role} "${name2}" is not among the recommenders`);
    }
  }
  const production = options.production ?? (names.has("production") ? "production" : null);
  const candidate = options.candidate ?? recommenders.find((r) => r.kind === "model" && r.name !== production)?.name ?? null;
  return { candidate, production };
}
function resolveSettings(options) {
  const seed2 = options.seed ?? EVALUATE_DEFAULTS.seed;
  const batchSize = positive(options.batchSize ?? EVALUATE_DEFAULTS.batchSize, "batchSize");
  const iterations = positive(
    options.bootstrapIterations ?? EVALUATE_DEFAULTS.bootstrapIterations,
    "bootstrapIterations"
  );
  const confidence = options.confidence ?? EVALUATE_DEFAULTS.confidence;
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be between 0 and 1, got ${confidence}`);
  }
  if (options.maxPrefixes !== void 0) positive(options.maxPrefixes, "maxPrefixes");
  return {
    seed: seed2,
    batchSize,
    maxPrefixes: options.maxPrefixes ?? null,
    bootstrapIterations: iterations,
    confidence,
    robustnessSessions: count(
      options.robustnessSessions ?? EVALUATE_DEFAULTS.robustnessSessions,
      "robustnessSessions"
    ),
    unknownSessions: count(
      options.unknownSessions ?? EVALUATE_DEFAULTS.unknownSessions,
      "unknownSessions"
    ),
    ks: [...METRIC_KS]
  };
}
function buildCases(testSessions, catalog, settings) {
  const evaluable = testSessions.filter((s) => s.items.length >= 2);
  const sessions = chooseSessions(evaluable, settings.seed, settings.maxPrefixes ?? void 0).map(
    (s) => evaluable[s]
  );
  const cases = [];
  const lastCase = [];
  const sliceOf = [];
  sessions.forEach((session2, s) => {
    for (let length = 1; length < session2.items.length; length++) {
      cases.push({ session: s, length });
      sliceOf.push(
        sliceLabels(
          session2.items.slice(0, length),
          session2.items[length],
          session2.items.length,
          catalog
        )
      );
    }
    lastCase.push(cases.length - 1);
  });
  const prefixes = cases.map((c) => sessions[c.session].items.slice(0, c.length));
  const targets = cases.map((c) => sessions[c.session].items[c.length]);
  return { evaluable: evaluable.length, sessions, cases, lastCase, sliceOf, prefixes, targets };
}
function buildRobustnessInputs(cases, catalog, settings) {
  const [lo, hi] = seedWords(settings.seed);
  const robustRng = Rng.from(lo, hi, STREAM.perturb);
  const sample = robustRng.shuffle(cases.lastCase.slice()).slice(0, settings.robustnessSessions).sort((a, b) => a - b);
  const perturbed = [];
  const shuffled = [];
  const shuffleRng = Rng.from(lo, hi, STREAM.shuffle);
  for (const c of sample) {
    const p = perturb(cases.prefixes[c], catalog, robustRng);
    if (p) perturbed.push({ base: c, prefix: p });
    const q = shufflePrefix(cases.prefixes[c], shuffleRng);
    if (q) shuffled.push({ base: c, prefix: q });
  }
  const unknown = unknownSkuSessions(
    settings.unknownSessions,
    catalog,
    Rng.from(lo, hi, STREAM.unknown)
  );
  return { sample, perturbed, shuffled, unknown };
}
async function evaluateRecommender(recommender, cases, robustness2, catalog, settings, onProgress) {
  const started = performance.now();
  const { prefixes, targets, lastCase } = cases;
  const { perturbed, shuffled, unknown } = robustness2;
  const progress = (phase, total) => (done) => onProgress?.({ recommender: recommender.name, phase, done, total });
  const lists = await recommendAll(
    recommender,
    prefixes,
    settings.batchSize,
    progress("accuracy", prefixes.length)
  );
  const ranks = lists.map((list2, c) => rankOf(list2, targets[c], MAX_K));
  const lastRanks = lastCase.map((c) => ranks[c]);
  const hits = new Float64Array(cases.sessions.length);
  const rr = new Float64Array(cases.sessions.length);
  cases.cases.forEach((c, i) => {
    const r = ranks[i];
    if (r > 0) {
      hits[c.session] = hits[c.session] + 1;
      rr[c.session] = rr[c.session] + 1 / r;
    }
  });
  const robustTotal = perturbed.length + shuffled.length + unknown.length;
  const robustProgress = progress("robustness", robustTotal);
  const perturbedLists = await recommendAll(
    recommender,
    perturbed.map((p) => p.prefix),
    settings.batchSize,
    robustProgress
  );
  const shuffledLists = await recommendAll(
    recommender,
    shuffled.map((p) => p.prefix),
    settings.batchSize,
    (done) => robustProgress(perturbed.length + done)
  );
  const unknownFailures = [];
  let unknownValid = 0;
  try {
    const unknownLists = unknown.length ? await recommendChecked(recommender, unknown) : [];
    unknownLists.forEach((list2, i) => {
      const why = invalidity(list2, unknown[i], MAX_K, catalog);
      if (why === null) unknownValid++;
      else unknownFailures.push(why);
    });
  } catch (error) {
    unknownFailures.push(error.message);
  }
  robustProgress(robustTotal);
  const metrics = {};
  const distinctRecommended = {};
  for (const k of METRIC_KS) {
    metrics[`hr@${k}`] = hitRate(ranks, k);
    metrics[`mrr@${k}`] = meanReciprocalRank(ranks, k);
    metrics[`last_hr@${k}`] = hitRate(lastRanks, k);
    metrics[`last_mrr@${k}`] = meanReciprocalRank(lastRanks, k);
    const { distinct, ...cover } = coverage(lists, k, catalog);
    metrics[`coverage@${k}`] = cover;
    distinctRecommended[k] = distinct;
  }
  metrics.popularity_bias = popularityBias(lists, MAX_K, catalog);
  metrics.repeat_share = repeatShare(prefixes, lists, MAX_K);
  metrics.perturbation_overlap = meanOf(
    perturbed.map(
      (p, i) => overlap(lists[p.base], perturbedLists[i], MAX_K)
    )
  );
  metrics.shuffle_overlap = meanOf(
    shuffled.map((p, i) => overlap(lists[p.base], shuffledLists[i], MAX_K))
  );
  metrics.unknown_sku_validity = figure(unknownValid, unknown.length);
  const wrong = lessWrong(
    lists.map((list2) => list2[0]),
    targets,
    catalog
  );
  metrics.less_wrong_distance = { value: wrong.meanDistance, n: wrong.n };
  metrics.less_wrong_same_leaf = { value: wrong.sameLeafShare, n: wrong.n };
  const report = {
    name: recommender.name,
    kind: recommender.kind,
    metrics,
    distinctRecommended,
    slices: sliceResults(ranks, cases.sliceOf),
    lessWrong: wrong,
    robustnessSkipped: {
      perturbation: robustness2.sample.length - perturbed.length,
      shuffle: robustness2.sample.length - shuffled.length
    },
    unknownSkuFailures: unknownFailures.slice(0, 5),
    seconds: (performance.now() - started) / 1e3
  };
  return { report, hits, rr, ranks };
}
async function evaluateAll(recommenders, testSessions, catalog, options = {}) {
  const settings = resolveSettings(options);
  const roles = resolveRoles(recommenders, options);
  const cases = buildCases(testSessions, catalog, settings);
  const robustness2 = buildRobustnessInputs(cases, catalog, settings);
  const testPrefixes = cases.cases.map((c) => ({
    session: cases.sessions[c.session],
    length: c.length
  }));
  const reports = [];
  const hitSeries = [];
  const rrSeries = [];
  for (const recommender of recommenders) {
    const evaluated = await evaluateRecommender(
      recommender,
      cases,
      robustness2,
      catalog,
      settings,
      options.onProgress
    );
    options.onRanks?.(recommender.name, evaluated.ranks, testPrefixes);
    reports.push(evaluated.report);
    hitSeries.push(evaluated.hits);
    rrSeries.push(evaluated.rr);
  }
  const sessionCounts = new Float64Array(cases.sessions.length);
  for (const c of cases.cases) sessionCounts[c.session] = sessionCounts[c.session] + 1;
  const comparisons = addIntervals(reports, sessionCounts, hitSeries, rrSeries, roles.candidate, {
    iterations: settings.bootstrapIterations,
    seed: settings.seed,
    confidence: settings.confidence
  });
  return {
    format: REPORT_FORMAT,
    settings,
    counts: {
      testSessions: testSessions.length,
      evaluableSessions: cases.evaluable,
      evaluatedSessions: cases.sessions.length,
      prefixes: cases.cases.length,
      lastItems: cases.lastCase.length,
      catalogItems: catalog.size,
      trainItems: catalog.trainItems,
      perturbed: robustness2.perturbed.length,
      shuffled: robustness2.shuffled.length,
      unknownSkuSessions: robustness2.unknown.length
    },
    roles,
    recommenders: reports,
    comparisons
  };
}
function sliceResults(ranks, sliceOf) {
  const out = [];
  for (const family of SLICE_FAMILIES) {
    const tally = /* @__PURE__ */ new Map();
    sliceOf.forEach((labels2, i) => {
      const slice2 = labels2[family];
      const entry = tally.get(slice2) ?? { n: 0, hits: 0 };
      entry.n++;
      const r = ranks[i];
      if (r >= 1 && r <= MAX_K) entry.hits++;
      tally.set(slice2, entry);
    });
    const labels = [...tally.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    for (const slice2 of labels) {
      const { n: n2, hits } = tally.get(slice2);
      out.push({ family, slice: slice2, n: n2, hr20: n2 > 0 ? hits / n2 : null });
    }
  }
  return out;
}
function addIntervals(reports, counts, hits, rr, candidate, options) {
  if (counts.length === 0 || reports.length === 0) return [];
  const replicates = bootstrapRatios(counts, [...hits, ...rr], options);
  const of = (metric, r) => replicates[(metric === "hr@20" ? 0 : reports.length) + r];
  reports.forEach((report, r) => {
    for (const metric of INTERVAL_METRICS) {
      report.metrics[metric].ci = percentileInterval(of(metric, r), options.confidence);
    }
  });
  const c = reports.findIndex((report) => report.name === candidate);
  if (c < 0) return [];
  const comparisons = [];
  reports.forEach((reference, r) => {
    if (r === c) return;
    for (const metric of INTERVAL_METRICS) {
      const a = of(metric, c);
      const b = of(metric, r);
      const diff = a.map((value2, i) => value2 - b[i]);
      const va = reports[c].metrics[metric].value;
      const vb = reference.metrics[metric].value;
      comparisons.push({
        candidate,
        reference: reference.name,
        metric,
        difference: va === null || vb === null ? null : va - vb,
        ci: percentileInterval(diff, options.confidence)
      });
    }
  });
  return comparisons;
}

// pipeline/model/sequences.ts
var PAD_ID = 0;
var UNKNOWN_ID = 1;
var FIRST_ITEM_ID = 2;

// pipeline/model/vocabulary.ts
var VOCABULARY_FORMAT = "mlops-session-recs/vocabulary@1";
var Vocabulary = class _Vocabulary {
  constructor(json) {
    this.json = json;
    this.ids = new Map(json.skus.map((sku, i) => [sku, i + FIRST_ITEM_ID]));
  }
  json;
  ids;
  /**
   * From per-SKU train counts: SKUs with at least `minCount` interactions, by descending count,
   * ties by SKU (code-unit order, the same on every engine and locale).
   */
  static fromCounts(counts, minCount = 1) {
    if (!Number.isInteger(minCount) || minCount < 1) {
      throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
    }
    const kept = [...counts].filter(([, n2]) => n2 >= minCount);
    kept.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
    return new _Vocabulary({
      format: VOCABULARY_FORMAT,
      minCount,
      skus: kept.map(([sku]) => sku),
      counts: kept.map(([, n2]) => n2),
      trainSkus: counts.size
    });
  }
  /** Reads a stored vocabulary, checking it is one this code wrote. */
  static fromJSON(value2) {
    const fail2 = (why) => {
      throw new Error(`not a vocabulary (${VOCABULARY_FORMAT}): ${why}`);
    };
    if (typeof value2 !== "object" || value2 === null) return fail2("expected an object");
    const json = value2;
    if (json.format !== VOCABULARY_FORMAT) return fail2(`format is ${JSON.stringify(json.format)}`);
    const { minCount, skus, counts, trainSkus } = json;
    if (typeof minCount !== "number" || !Number.isInteger(minCount) || minCount < 1)
      return fail2("minCount must be a positive integer");
    if (!isArrayOf(skus, (s) => typeof s === "string"))
      return fail2("skus must be an array of strings");
    if (!isArrayOf(counts, (n2) => Number.isInteger(n2)) || counts.length !== skus.length)
      return fail2("counts must be an array of integers as long as skus");
    if (!counts.every((n2, i) => n2 >= minCount && (i === 0 || n2 <= counts[i - 1])))
      return fail2("counts must be non-increasing integers of at least minCount");
    if (new Set(skus).size !== skus.length) return fail2("skus must be distinct");
    if (typeof trainSkus !== "number" || !Number.isInteger(trainSkus) || trainSkus < skus.length)
      return fail2("trainSkus must be an integer of at least skus.length");
    return new _Vocabulary({
      format: VOCABULARY_FORMAT,
      minCount,
      skus: [...skus],
      counts: [...counts],
      trainSkus
    });
  }
  /** Distinct ids, padding and unknown included: the model's `vocabSize`. */
  get size() {
    return this.json.skus.length + FIRST_ITEM_ID;
  }
  get minCount() {
    return this.json.minCount;
  }
  /** Distinct SKUs seen in train, including those below `minCount`. */
  get trainSkus() {
    return this.json.trainSkus;
  }
  /** The id of a SKU: `UNKNOWN_ID` for one outside the vocabulary. */
  id(sku) {
    return this.ids.get(sku) ?? UNKNOWN_ID;
  }
  /** The SKU of a real item id, undefined for padding, unknown or out of range. */
  sku(id) {
    return this.json.skus[id - FIRST_ITEM_ID];
  }
  /** Train interactions of a SKU in the vocabulary (0 outside it). */
  count(sku) {
    const id = this.ids.get(sku);
    return id === void 0 ? 0 : this.json.counts[id - FIRST_ITEM_ID];
  }
  /** A sequence of SKUs as ids. */
  encode(skus) {
    const out = new Int32Array(skus.length);
    for (let i = 0; i < skus.length; i++) out[i] = this.id(skus[i]);
    return out;
  }
  toJSON() {
    return {
      ...this.json,
      skus: [...this.json.skus],
      counts: [...this.json.counts]
    };
  }
};
function isArrayOf(value2, item) {
  if (!Array.isArray(value2)) return false;
  const list2 = value2;
  return list2.every((v) => item(v));
}

// pipeline/train/dataset.ts
var SPLITS = ["train", "validation", "test"];
var DEFAULT_RELATIONS = {
  sequences: "session_sequences",
  splits: "session_splits"
};
var DEFAULT_PAGE_SIZE = 5e3;
var RELATION = /^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)){0,2}$/;
function checkRelation(name2) {
  if (!RELATION.test(name2)) {
    throw new Error(
      `invalid relation name ${JSON.stringify(name2)}: expected [database.][schema.]table, each part an identifier or a double-quoted name`
    );
  }
  return name2;
}
function positiveInteger(value2, what) {
  if (!Number.isInteger(value2) || value2 < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value2}`);
  }
  return value2;
}
function parseItems(value2, sessionKey) {
  let list2 = value2;
  if (typeof value2 === "string") {
    try {
      list2 = JSON.parse(value2);
    } catch {
      throw new Error(
        `session ${sessionKey}: items is not a JSON array: ${JSON.stringify(value2.slice(0, 80))}`
      );
    }
  }
  if (!Array.isArray(list2)) {
    throw new Error(`session ${sessionKey}: items is not a list (got ${typeof value2})`);
  }
  const items = list2;
  for (const item of items) {
    if (typeof item !== "string") {
      throw new Error(
        `session ${sessionKey}: items holds ${JSON.stringify(item)}, expected SKU strings`
      );
    }
  }
  return items;
}
async function* readSessions(warehouse, options) {
  const pageSize = positiveInteger(options.pageSize ?? DEFAULT_PAGE_SIZE, "pageSize");
  const relations = options.relations ?? DEFAULT_RELATIONS;
  const sql = `select q.session_key, q.session_start_ms, q.items
from ${checkRelation(relations.sequences)} as q
inner join ${checkRelation(relations.splits)} as s on s.session_key = q.session_key
where s.split = $1
  and (q.session_start_ms > $2 or (q.session_start_ms = $2 and q.session_key > $3))
order by q.session_start_ms, q.session_key
limit ${pageSize}`;
  let after = [Number.MIN_SAFE_INTEGER, ""];
  for (; ; ) {
    const rows = await warehouse.query(sql, [options.split, ...after]);
    for (const row of rows) {
      const sessionKey = String(row.session_key);
      yield { sessionKey, items: parseItems(row.items ?? null, sessionKey) };
    }
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1];
    after = [Number(last.session_start_ms), String(last.session_key)];
  }
}
async function buildVocabulary(warehouse, options = {}) {
  const counts = /* @__PURE__ */ new Map();
  for await (const session2 of readSessions(warehouse, { ...options, split: "train" })) {
    for (const sku of session2.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return Vocabulary.fromCounts(counts, options.minCount ?? 1);
}
async function loadSplit(warehouse, vocabulary, options) {
  const offsets = [0];
  let ids = new Int32Array(1 << 16);
  let size = 0;
  for await (const session2 of readSessions(warehouse, options)) {
    if (size + session2.items.length > ids.length) {
      const grown = new Int32Array(Math.max(ids.length * 2, size + session2.items.length));
      grown.set(ids.subarray(0, size));
      ids = grown;
    }
    ids.set(vocabulary.encode(session2.items), size);
    size += session2.items.length;
    offsets.push(size);
  }
  return { offsets: Int32Array.from(offsets), ids: ids.slice(0, size) };
}
function summarizeSplit(block, mode) {
  const counts = { sessions: 0, examples: 0, unknownTargets: 0 };
  for (let s = 0; s + 1 < block.offsets.length; s++) {
    const from = block.offsets[s];
    const to = block.offsets[s + 1];
    counts.sessions++;
    for (let t = mode === "last" ? Math.max(to - 1, from + 1) : from + 1; t < to; t++) {
      counts.examples++;
      if (block.ids[t] === UNKNOWN_ID) counts.unknownTargets++;
    }
  }
  const kept = counts.examples - counts.unknownTargets;
  return {
    ...counts,
    kept,
    unknownTargetShare: counts.examples === 0 ? 0 : counts.unknownTargets / counts.examples
  };
}

// pipeline/monitor/drift.ts
var DRIFT_METRICS = {
  unknown_sku_rate: (d) => d.unknownSkuRate,
  oov_share: (d) => d.outOfVocabularyShare,
  popularity_psi: (d) => d.popularity.psi,
  popularity_js: (d) => d.popularity.jensenShannon,
  session_length_psi: (d) => d.sessionLength.psi
};
var EPSILON = 1e-4;
var POPULARITY_BUCKETS = 10;
var LENGTH_EDGES = [1, 2, 4, 8, 16];
async function readServedSessions(warehouse) {
  const exists = await warehouse.query(
    // The current schema only: another schema of the same database may have its own.
    "select count(*) as n from information_schema.tables where lower(table_name) = 'served_sessions' and lower(table_schema) = lower(current_schema())"
  );
  if (Number(exists[0]?.n ?? 0) === 0) return [];
  const rows = await warehouse.query(
    "select served_session_id, items from served_sessions order by served_at_ms, served_session_id"
  );
  return rows.map((r) => ({ items: parseItems(r.items ?? null, String(r.served_session_id)) }));
}
async function measureDrift(inputs) {
  const { train: train2, served, catalog } = inputs;
  const trainCounts = countItems(train2);
  let events = 0;
  let unknown = 0;
  let outside = 0;
  for (const session2 of served) {
    for (const sku of session2.items) {
      events++;
      if (!catalog.has(sku)) unknown++;
      if (!trainCounts.has(sku)) outside++;
    }
  }
  const buckets = popularityBuckets(trainCounts, served);
  const trainLengths = lengthShares(train2);
  const servedLengths = lengthShares(served);
  return {
    servedSessions: served.length,
    servedEvents: events,
    unknownSkuRate: share(unknown, events),
    outOfVocabularyShare: share(outside, events),
    popularity: {
      psi: psi(buckets),
      jensenShannon: jensenShannon(buckets),
      buckets
    },
    sessionLength: {
      trainingMean: meanLength(train2),
      servedMean: meanLength(served),
      psi: psi(trainLengths.map((t, i) => ({ ...t, served: servedLengths[i]?.training ?? 0 })))
    },
    replay: await replay(inputs)
  };
}
function countItems(sessions) {
  const counts = /* @__PURE__ */ new Map();
  for (const session2 of sessions) {
    for (const sku of session2.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return counts;
}
function popularityBuckets(trainCounts, served) {
  const ranked = [...trainCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = ranked.reduce((sum3, [, n2]) => sum3 + n2, 0);
  const bucketOf = /* @__PURE__ */ new Map();
  const training = new Array(POPULARITY_BUCKETS + 1).fill(0);
  let cumulative3 = 0;
  for (const [sku, n2] of ranked) {
    const bucket = Math.min(
      POPULARITY_BUCKETS - 1,
      Math.floor(cumulative3 / total * POPULARITY_BUCKETS)
    );
    bucketOf.set(sku, bucket);
    training[bucket] = training[bucket] + n2;
    cumulative3 += n2;
  }
  const servedCounts = new Array(POPULARITY_BUCKETS + 1).fill(0);
  let events = 0;
  for (const session2 of served) {
    for (const sku of session2.items) {
      const bucket = bucketOf.get(sku) ?? POPULARITY_BUCKETS;
      servedCounts[bucket] = servedCounts[bucket] + 1;
      events++;
    }
  }
  return training.map((n2, i) => ({
    label: i === POPULARITY_BUCKETS ? "unseen in training" : `popularity ${(i * 10).toFixed(0)}–${((i + 1) * 10).toFixed(0)}%`,
    training: share(n2, total),
    served: share(servedCounts[i], events)
  }));
}
function lengthShares(sessions) {
  const counts = new Array(LENGTH_EDGES.length + 1).fill(0);
  for (const session2 of sessions) {
    const n2 = session2.items.length;
    let bucket = LENGTH_EDGES.findIndex((edge) => n2 <= edge);
    if (bucket < 0) bucket = LENGTH_EDGES.length;
    counts[bucket] = counts[bucket] + 1;
  }
  const labels = ["1", "2", "3–4", "5–8", "9–16", "17+"];
  return counts.map((n2, i) => ({
    label: labels[i],
    training: share(n2, sessions.length),
    served: 0
  }));
}
function psi(buckets) {
  let sum3 = 0;
  for (const b of buckets) {
    const t = Math.max(b.training, EPSILON);
    const s = Math.max(b.served, EPSILON);
    sum3 += (s - t) * Math.log(s / t);
  }
  return sum3;
}
function jensenShannon(buckets) {
  let sum3 = 0;
  for (const b of buckets) {
    const m = (b.training + b.served) / 2;
    if (b.training > 0) sum3 += 0.5 * b.training * Math.log2(b.training / m);
    if (b.served > 0) sum3 += 0.5 * b.served * Math.log2(b.served / m);
  }
  return Math.max(0, sum3);
}
function meanLength(sessions) {
  return share(
    sessions.reduce((sum3, s) => sum3 + s.items.length, 0),
    sessions.length
  );
}
function share(part2, whole) {
  return whole > 0 ? part2 / whole : 0;
}
async function replay(inputs) {
  const cases = inputs.served.filter((s) => s.items.length >= 2);
  const lists = await inputs.model.recommend(
    cases.map((s) => s.items.slice(0, -1)),
    20
  );
  const hits = cases.map(
    (s, i) => rankOf(lists[i] ?? [], s.items.at(-1), 20) > 0 ? 1 : 0
  );
  const hr20 = {
    value: cases.length > 0 ? share(
      hits.reduce((a, b) => a + b, 0),
      cases.length
    ) : null,
    n: cases.length
  };
  if (cases.length > 1) {
    const [replicates] = bootstrapRatios(
      new Array(cases.length).fill(1),
      [hits],
      inputs.bootstrap
    );
    hr20.ci = percentileInterval(replicates, 0.95);
  }
  return { model: inputs.model.name, prefixes: cases.length, hr20 };
}

// pipeline/evaluate/gates.ts
var HIGHER_IS_BETTER = METRIC_NAMES.filter(
  (m) => /^(last_)?(hr|mrr)@/.test(m) || m.startsWith("coverage@")
);
var DATA_SOURCES = ["synthetic", "csv", "download"];
var common = {
  name: z4.string().min(1),
  /** A failed blocking check fails the stage (exit 1); a non-blocking one is a warning. */
  blocking: z4.boolean().default(true),
  description: z4.string().optional(),
  /** The data sources the check applies to; skipped for others (default: all). */
  sources: z4.array(z4.enum(DATA_SOURCES)).min(1).optional()
};
var absoluteGate = z4.strictObject({
  ...common,
  kind: z4.literal("absolute"),
  metric: z4.enum(METRIC_NAMES),
  min: z4.number().optional(),
  max: z4.number().optional()
}).refine((g) => g.min === void 0 !== (g.max === void 0), {
  message: "give exactly one of min or max",
  path: ["min"]
});
var baselineGate = z4.strictObject({
  ...common,
  kind: z4.literal("relative-to-best-baseline"),
  metric: z4.enum(HIGHER_IS_BETTER),
  factor: z4.number().positive(),
  /** Which baselines compete (names as in the report); default: every recommender of kind baseline. */
  baselines: z4.array(z4.string().min(1)).min(1).optional()
});
var betterGate = z4.strictObject({
  ...common,
  kind: z4.literal("significantly-better"),
  metric: z4.enum(INTERVAL_METRICS),
  /** `best-baseline` (the baseline that scores highest on the metric) or a recommender's name. */
  than: z4.string().min(1).default("best-baseline")
});
var productionGate = z4.strictObject({
  ...common,
  kind: z4.literal("relative-to-production"),
  metric: z4.enum(INTERVAL_METRICS),
  tolerance: z4.number().min(0).default(0)
});
var sliceGate = z4.strictObject({
  ...common,
  kind: z4.literal("slice-floor"),
  min: z4.number().min(0).max(1),
  min_count: z4.number().int().positive().default(100),
  families: z4.array(z4.enum(SLICE_FAMILIES)).min(1).optional()
});
var driftGate = z4.strictObject({
  ...common,
  kind: z4.literal("drift"),
  metric: z4.enum(Object.keys(DRIFT_METRICS)),
  max: z4.number().min(0)
});
var gateSchema = z4.discriminatedUnion("kind", [
  absoluteGate,
  baselineGate,
  betterGate,
  productionGate,
  sliceGate,
  driftGate
]);
var GATE_KEYS = Object.fromEntries(
  [absoluteGate, baselineGate, betterGate, productionGate, sliceGate, driftGate].map((schema) => [
    schema.shape.kind.value,
    Object.keys(schema.shape)
  ])
);
var configSchema = z4.strictObject({
  version: z4.literal(1),
  gates: z4.array(gateSchema)
});
var HINT = "gates.yml at the repository root documents every key and kind";
function fieldName(path2) {
  let out = "";
  for (const part2 of path2) {
    out += typeof part2 === "number" ? `[${part2}]` : `${out ? "." : ""}${String(part2)}`;
  }
  return out;
}
function nodeAt(doc, path2) {
  let node = doc.contents;
  for (const key of path2) {
    if (isMap2(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) return node;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      node = node.items[key];
    } else {
      return node;
    }
  }
  return node;
}
function keyNodeAt(doc, path2, key) {
  const map = nodeAt(doc, path2);
  if (!isMap2(map)) return map;
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair?.key ?? map;
}
function lineOf(node, lines) {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
function allowedKeys(value2, path2) {
  if (path2.length === 0) return ` (the file takes: ${Object.keys(configSchema.shape).join(", ")})`;
  let node = value2;
  for (const key of path2) node = node?.[key];
  const kind = node?.kind;
  const keys = typeof kind === "string" ? GATE_KEYS[kind] : void 0;
  return keys ? ` (a gate of kind ${kind} takes: ${keys.join(", ")})` : "";
}
function parseGates(text, file) {
  const lines = new LineCounter2();
  const doc = parseDocument2(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = lines.linePos(syntax.pos[0]);
    throw new InputError(
      `not valid YAML: ${syntax.message.split("\n")[0]}`,
      { file, line, column: col },
      HINT
    );
  }
  if (doc.contents === null) {
    throw new InputError(
      "the gate file is empty: expected `version: 1` and a `gates:` list",
      { file, line: 1 },
      HINT
    );
  }
  const result = configSchema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0];
    let path2 = [...issue.path];
    let node;
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0];
      node = keyNodeAt(doc, path2, key);
      path2 = [...path2, key];
      message = `unknown key "${key}"${allowedKeys(doc.toJS(), issue.path)}`;
    } else {
      node = nodeAt(doc, path2);
    }
    throw new InputError(message, { file, ...lineOf(node, lines), field: fieldName(path2) }, HINT);
  }
  const seen = /* @__PURE__ */ new Set();
  result.data.gates.forEach((gate, i) => {
    if (seen.has(gate.name)) {
      const path2 = ["gates", i, "name"];
      throw new InputError(
        `two gates are named "${gate.name}"`,
        { file, ...lineOf(nodeAt(doc, path2), lines), field: fieldName(path2) },
        "give every gate its own name: the verdicts are reported by name"
      );
    }
    seen.add(gate.name);
  });
  return result.data;
}
async function loadGates(path2) {
  let text;
  try {
    text = await readFile3(path2, "utf8");
  } catch (error) {
    throw new InputError(
      `cannot read the gate file (${error.code ?? error.message})`,
      { file: path2 },
      "point the evaluation at a gate file, or restore gates.yml at the repository root"
    );
  }
  return parseGates(text, path2);
}
var fmt = (value2) => value2 === null ? "n/a" : value2.toFixed(4);
function describe(metric, f) {
  const ci = f.ci ? `, ${Math.round(f.ci.level * 100)}% CI [${fmt(f.ci.low)}, ${fmt(f.ci.high)}]` : "";
  return `${metric} = ${fmt(f.value)} (n = ${f.n}${ci})`;
}
function judge(gate, report, candidate, drift) {
  switch (gate.kind) {
    case "drift":
      return judgeDrift(gate, drift);
    case "absolute": {
      const f = candidate.metrics[gate.metric];
      const threshold = gate.min ?? gate.max;
      const op2 = gate.min !== void 0 ? "≥" : "≤";
      const base = { metric: gate.metric, threshold, value: f.value };
      if (f.value === null) {
        return { ...base, verdict: "skipped", detail: `${gate.metric} has no samples` };
      }
      const ok = gate.min !== void 0 ? f.value >= gate.min : f.value <= threshold;
      return {
        ...base,
        verdict: ok ? "pass" : "fail",
        detail: `${describe(gate.metric, f)} ${ok ? "" : "not "}${op2} ${threshold}`
      };
    }
    case "relative-to-best-baseline": {
      const wanted = gate.baselines;
      const pool = report.recommenders.filter(
        (r) => wanted ? wanted.includes(r.name) : r.kind === "baseline"
      );
      const missing = wanted?.filter((name2) => !pool.some((r) => r.name === name2)) ?? [];
      const scored = pool.filter((r) => r.metrics[gate.metric].value !== null);
      const value2 = candidate.metrics[gate.metric].value;
      if (scored.length === 0 || value2 === null) {
        return {
          metric: gate.metric,
          threshold: null,
          value: value2,
          verdict: "skipped",
          detail: scored.length === 0 ? "no baseline was evaluated" : `${gate.metric} has no samples`
        };
      }
      const best = scored.reduce(
        (a, b) => b.metrics[gate.metric].value > a.metrics[gate.metric].value ? b : a
      );
      const bestValue = best.metrics[gate.metric].value;
      const threshold = gate.factor * bestValue;
      const ok = value2 >= threshold;
      const paired = report.comparisons.find(
        (c) => c.candidate === candidate.name && c.reference === best.name && c.metric === gate.metric
      );
      const diff = paired?.ci ? `; paired difference ${fmt(paired.difference)}, CI [${fmt(paired.ci.low)}, ${fmt(paired.ci.high)}]` : "";
      return {
        metric: gate.metric,
        threshold,
        value: value2,
        verdict: ok ? "pass" : "fail",
        detail: `${fmt(value2)} ${ok ? "≥" : "<"} ${gate.factor} × ${best.name} (${fmt(bestValue)})${diff}` + (missing.length ? `; not evaluated: ${missing.join(", ")}` : "")
      };
    }
    case "significantly-better": {
      const value2 = candidate.metrics[gate.metric].value;
      const baselines = report.recommenders.filter(
        (r) => r.kind === "baseline" && r.metrics[gate.metric].value !== null
      );
      const reference = gate.than === "best-baseline" ? baselines.reduce(
        (a, b) => !a || b.metrics[gate.metric].value > a.metrics[gate.metric].value ? b : a,
        void 0
      ) : report.recommenders.find((r) => r.name === gate.than);
      const paired = report.comparisons.find(
        (c) => c.candidate === candidate.name && c.reference === reference?.name && c.metric === gate.metric
      );
      const referenceValue = reference?.metrics[gate.metric].value ?? null;
      if (!reference || !paired?.ci || paired.difference === null || value2 === null || referenceValue === null) {
        return {
          metric: gate.metric,
          threshold: null,
          value: value2,
          verdict: "skipped",
          detail: reference ? `${gate.metric} has no samples` : gate.than === "best-baseline" ? "no baseline was evaluated" : `${gate.than} was not evaluated`
        };
      }
      const { low, high } = paired.ci;
      const ok = low > 0;
      const ratio = referenceValue > 0 ? ` (×${(value2 / referenceValue).toFixed(3)})` : "";
      return {
        metric: gate.metric,
        threshold: referenceValue,
        value: value2,
        verdict: ok ? "pass" : "fail",
        detail: `${fmt(value2)} vs ${reference.name} ${fmt(referenceValue)}${ratio}: paired difference ${fmt(paired.difference)}, ${Math.round(paired.ci.level * 100)}% CI [${fmt(low)}, ${fmt(high)}]${ok ? " > 0" : ", not above 0"}`
      };
    }
    case "relative-to-production": {
      const production = report.recommenders.find((r) => r.name === report.roles.production);
      const value2 = candidate.metrics[gate.metric].value;
      if (!production) {
        return {
          metric: gate.metric,
          threshold: null,
          value: value2,
          verdict: "skipped",
          detail: "no production model was evaluated"
        };
      }
      const prod = production.metrics[gate.metric].value;
      const paired = report.comparisons.find(
        (c) => c.candidate === candidate.name && c.reference === production.name && c.metric === gate.metric
      );
      if (prod === null || value2 === null || !paired?.ci || paired.difference === null) {
        return {
          metric: gate.metric,
          threshold: null,
          value: value2,
          verdict: "skipped",
          detail: `${gate.metric} has no samples`
        };
      }
      const threshold = prod - gate.tolerance;
      const d = paired.difference;
      const { low, high } = paired.ci;
      const interval = `difference ${fmt(d)}, CI [${fmt(low)}, ${fmt(high)}], tolerance ${gate.tolerance}`;
      let verdict = "pass";
      let why = "no regression beyond the tolerance";
      if (high < -gate.tolerance) {
        verdict = "fail";
        why = "a regression beyond the tolerance, outside the noise";
      } else if (d < -gate.tolerance) {
        verdict = "warn";
        why = "below the tolerance, but within the noise";
      }
      return {
        metric: gate.metric,
        threshold,
        value: value2,
        verdict,
        detail: `vs ${production.name} ${fmt(prod)}: ${interval}: ${why}`
      };
    }
    case "slice-floor": {
      const families = gate.families ?? SLICE_FAMILIES;
      const big = candidate.slices.filter(
        (s) => families.includes(s.family) && s.n >= gate.min_count && s.hr20 !== null
      );
      const metric = "hr@20 by slice";
      if (big.length === 0) {
        return {
          metric,
          threshold: gate.min,
          value: null,
          verdict: "skipped",
          detail: `no slice holds ${gate.min_count} prefixes`
        };
      }
      const worst = big.reduce((a, b) => b.hr20 < a.hr20 ? b : a);
      const below = big.filter((s) => s.hr20 < gate.min).length;
      return {
        metric,
        threshold: gate.min,
        value: worst.hr20,
        verdict: below === 0 ? "pass" : "fail",
        detail: `worst ${worst.family}=${worst.slice}: ${fmt(worst.hr20)} (n = ${worst.n}); ${below} of ${big.length} slices of ≥ ${gate.min_count} prefixes below ${gate.min}`
      };
    }
  }
}
function judgeDrift(gate, drift) {
  const base = { metric: gate.metric, threshold: gate.max };
  if (!drift || drift.servedEvents === 0) {
    return { ...base, value: null, verdict: "skipped", detail: "no production traffic was loaded" };
  }
  const value2 = DRIFT_METRICS[gate.metric](drift);
  const ok = value2 <= gate.max;
  return {
    ...base,
    value: value2,
    verdict: ok ? "pass" : "fail",
    detail: `${gate.metric} = ${fmt(value2)} over ${drift.servedEvents} served events ${ok ? "≤" : ">"} ${gate.max}`
  };
}
function settle(gate, judged, warnOnly) {
  const verdict = judged.verdict === "fail" && warnOnly ? "warn" : judged.verdict;
  return { name: gate.name, kind: gate.kind, blocking: gate.blocking, ...judged, verdict };
}
function failedChecks(result) {
  return result.checks.filter((c) => c.verdict === "fail");
}
function evaluateGates(config, report, context = {}) {
  const candidate = report.recommenders.find((r) => r.name === report.roles.candidate);
  const checks = config.gates.map((gate) => {
    const head = { name: gate.name, kind: gate.kind, blocking: gate.blocking };
    const skipped = (detail) => ({
      ...head,
      metric: gate.kind === "slice-floor" ? "hr@20 by slice" : gate.metric,
      threshold: null,
      value: null,
      verdict: "skipped",
      detail
    });
    if (gate.sources && context.source && !gate.sources.includes(context.source)) {
      return skipped(
        `applies to ${gate.sources.join(", ")} data only, this run's is ${context.source}: set a floor for your data in gates.yml (sources: [${context.source}])`
      );
    }
    if (!candidate) return skipped("no candidate model was evaluated");
    const warnOnly = !gate.blocking || gate.kind === "drift";
    return settle(gate, judge(gate, report, candidate, context.drift), warnOnly);
  });
  return {
    passed: !checks.some((c) => c.verdict === "fail"),
    candidate: candidate?.name ?? null,
    checks
  };
}

// pipeline/text-table.ts
function textTable(header, rows) {
  const cells = rows.map((row) => row.map(String));
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => (r[c] ?? "").length)));
  const numeric = header.map(
    (_, c) => c > 0 && cells.length > 0 && cells.every((r) => /^[-+]?[\d.]+%?( \[.*\])?$|^n\/a$/.test(r[c] ?? ""))
  );
  const line = (row) => row.map(
    (cell2, c) => numeric[c] ? cell2.padStart(widths[c]) : cell2.padEnd(widths[c])
  ).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...cells.map(line)].join("\n");
}

// pipeline/evaluate/format.ts
var num = (value2, digits = 4) => value2 === null ? "n/a" : value2.toFixed(digits);
function withCi(f) {
  return f.ci ? `${num(f.value)} [${num(f.ci.low)}, ${num(f.ci.high)}]` : num(f.value);
}
function formatMetricTable(report) {
  const level = Math.round(report.settings.confidence * 100);
  const header = [
    "recommender",
    "kind",
    "HR@10",
    `HR@20 [${level}% CI]`,
    "MRR@10",
    `MRR@20 [${level}% CI]`,
    "last HR@20",
    "cov@20",
    "pop bias",
    "repeats",
    "perturb",
    "shuffle",
    "unknown ok"
  ];
  const rows = report.recommenders.map((r) => {
    const m = r.metrics;
    const role = r.name === report.roles.candidate ? " *" : r.name === report.roles.production ? " (prod)" : "";
    return [
      `${r.name}${role}`,
      r.kind,
      num(m["hr@10"].value),
      withCi(m["hr@20"]),
      num(m["mrr@10"].value),
      withCi(m["mrr@20"]),
      num(m["last_hr@20"].value),
      num(m["coverage@20"].value),
      num(m.popularity_bias.value, 3),
      num(m.repeat_share.value, 3),
      num(m.perturbation_overlap.value, 3),
      num(m.shuffle_overlap.value, 3),
      num(m.unknown_sku_validity.value, 3)
    ];
  });
  const c = report.counts;
  const footer = `${c.prefixes} prefixes from ${c.evaluatedSessions} of ${c.evaluableSessions} test sessions (${c.lastItems} last items); catalog ${c.catalogItems} SKUs, ${c.trainItems} seen in train; robustness: ${c.perturbed} perturbed, ${c.shuffled} shuffled, ${c.unknownSkuSessions} unknown-SKU sessions` + (report.roles.candidate ? `; * = candidate` : "");
  return `${textTable(header, rows)}
${footer}`;
}
function formatGateTable(result) {
  const header = ["gate", "kind", "metric", "threshold", "value", "verdict", "blocking"];
  const rows = result.checks.map((c) => [
    c.name,
    c.kind,
    c.metric,
    num(c.threshold),
    num(c.value),
    c.verdict.toUpperCase(),
    c.blocking ? "yes" : "no"
  ]);
  const details2 = result.checks.map((c) => `  ${c.name}: ${c.detail}`).join("\n");
  const verdict = result.passed ? "gates passed" : `gates FAILED (${failedChecks(result).length} blocking)`;
  return `${textTable(header, rows)}
${details2}
${verdict}${result.candidate ? ` for ${result.candidate}` : ""}`;
}

// pipeline/evaluate/stage.ts
import { existsSync as existsSync5 } from "node:fs";
import { mkdtemp as mkdtemp3, rm as rm6 } from "node:fs/promises";
import { tmpdir as tmpdir3 } from "node:os";
import { join as join9 } from "node:path";
import { fileURLToPath } from "node:url";

// pipeline/data/oracle.ts
import { readFile as readFile4 } from "node:fs/promises";
import { z as z5 } from "zod";
var probability = z5.number().min(0).max(1);
var index = z5.number().int().nonnegative();
var modelSchema = z5.object({
  format: z5.literal("coveo-synthetic-hmm"),
  version: z5.literal(1),
  seed: z5.number().int(),
  skus: z5.array(z5.string().regex(/^[0-9a-f]{64}$/)).min(2),
  intent: z5.object({ stay: probability, switchWithinGroup: probability }),
  emission: z5.object({ related: probability, popularity: probability, revisit: probability }),
  leaves: z5.array(
    z5.object({
      category: z5.string(),
      group: index,
      initial: probability,
      items: z5.array(index).min(1),
      probabilities: z5.array(probability).min(1)
    })
  ).min(1),
  related: z5.array(z5.object({ items: z5.array(index), probabilities: z5.array(probability) }))
});
function parseGenerativeModel(value2) {
  const result = modelSchema.safeParse(value2);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `not a generative model: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`
    );
  }
  const model = result.data;
  const n2 = model.skus.length;
  if (model.related.length !== n2) {
    throw new Error(
      `not a generative model: related has ${model.related.length} entries for ${n2} skus`
    );
  }
  if (model.intent.stay + model.intent.switchWithinGroup > 1 + 1e-9) {
    throw new Error("not a generative model: intent.stay + intent.switchWithinGroup exceeds 1");
  }
  const { related, popularity, revisit } = model.emission;
  if (Math.abs(related + popularity + revisit - 1) > 1e-9 || related <= 0) {
    throw new Error("not a generative model: emission weights must sum to 1 with related > 0");
  }
  const owner = new Int32Array(n2).fill(-1);
  model.leaves.forEach((leaf, c) => {
    if (leaf.items.length !== leaf.probabilities.length) {
      throw new Error(`not a generative model: leaf ${c} has mismatched items and probabilities`);
    }
    for (const item of leaf.items) {
      if (item >= n2 || owner[item] !== -1) {
        throw new Error(`not a generative model: item ${item} out of range or in two leaves`);
      }
      owner[item] = c;
    }
  });
  model.related.forEach((entry, i) => {
    if (entry.items.length !== entry.probabilities.length) {
      throw new Error(`not a generative model: related[${i}] has mismatched lists`);
    }
    if (owner[i] !== -1 && entry.items.length === 0) {
      throw new Error(`not a generative model: browsable item ${i} has no related items`);
    }
    for (const item of entry.items) {
      if (item >= n2 || item === i || owner[item] === -1) {
        throw new Error(`not a generative model: related[${i}] points at item ${item}`);
      }
    }
  });
  return model;
}
async function loadGenerativeModel(path2) {
  const text = await readFile4(path2, "utf8");
  let value2;
  try {
    value2 = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path2}: not JSON (${error.message})`);
  }
  try {
    return parseGenerativeModel(value2);
  } catch (error) {
    throw new Error(`${path2}: ${error.message}`);
  }
}
var ZeroProbabilityPrefixError = class extends Error {
};
var Oracle = class {
  model;
  skuIndex = /* @__PURE__ */ new Map();
  nItems;
  nLeaves;
  itemLeaf;
  itemPop;
  leafStart;
  leafItems;
  leafProb;
  leafGroup;
  initial;
  groupShare;
  nGroups;
  relStart;
  relItem;
  relProb;
  stay;
  switchGroup;
  switchGlobal;
  // Scratch state of the latest prediction, reused so filtering allocates nothing per step.
  filtered;
  weights;
  groupMass;
  seenStamp;
  candidateStamp;
  heap;
  heapKey;
  cursor;
  history = [];
  epoch = 0;
  candidateEpoch = 0;
  generation = 0;
  last = -1;
  weightSum = 0;
  wRelated = 0;
  wPopularity = 1;
  wRevisit = 0;
  constructor(model) {
    this.model = model;
    this.nItems = model.skus.length;
    this.nLeaves = model.leaves.length;
    model.skus.forEach((sku, i) => this.skuIndex.set(sku, i));
    this.itemLeaf = new Int32Array(this.nItems).fill(-1);
    this.itemPop = new Float64Array(this.nItems);
    this.leafStart = new Int32Array(this.nLeaves + 1);
    let total = 0;
    for (const leaf of model.leaves) total += leaf.items.length;
    this.leafItems = new Int32Array(total);
    this.leafProb = new Float64Array(total);
    this.leafGroup = new Int32Array(this.nLeaves);
    this.initial = new Float64Array(this.nLeaves);
    let offset = 0;
    let maxGroup = 0;
    model.leaves.forEach((leaf, c) => {
      this.leafStart[c] = offset;
      this.leafGroup[c] = leaf.group;
      this.initial[c] = leaf.initial;
      maxGroup = Math.max(maxGroup, leaf.group);
      const order = leaf.items.map((_, k) => k);
      order.sort(
        (x, y) => leaf.probabilities[y] - leaf.probabilities[x] || leaf.items[x] - leaf.items[y]
      );
      for (const k of order) {
        const item = leaf.items[k];
        const p = leaf.probabilities[k];
        this.leafItems[offset] = item;
        this.leafProb[offset] = p;
        this.itemLeaf[item] = c;
        this.itemPop[item] = p;
        offset++;
      }
    });
    this.leafStart[this.nLeaves] = offset;
    this.nGroups = maxGroup + 1;
    const groupInitial = new Float64Array(this.nGroups);
    for (let c = 0; c < this.nLeaves; c++) {
      const g = this.leafGroup[c];
      groupInitial[g] = groupInitial[g] + this.initial[c];
    }
    this.groupShare = new Float64Array(this.nLeaves);
    for (let c = 0; c < this.nLeaves; c++) {
      const mass = groupInitial[this.leafGroup[c]];
      this.groupShare[c] = mass > 0 ? this.initial[c] / mass : 0;
    }
    this.relStart = new Int32Array(this.nItems + 1);
    let edges = 0;
    for (const entry of model.related) edges += entry.items.length;
    this.relItem = new Int32Array(edges);
    this.relProb = new Float64Array(edges);
    edges = 0;
    model.related.forEach((entry, i) => {
      this.relStart[i] = edges;
      entry.items.forEach((item, k) => {
        this.relItem[edges] = item;
        this.relProb[edges] = entry.probabilities[k];
        edges++;
      });
    });
    this.relStart[this.nItems] = edges;
    this.stay = model.intent.stay;
    this.switchGroup = model.intent.switchWithinGroup;
    this.switchGlobal = Math.max(0, 1 - this.stay - this.switchGroup);
    this.filtered = new Float64Array(this.nLeaves);
    this.weights = new Float64Array(this.nLeaves);
    this.groupMass = new Float64Array(this.nGroups);
    this.seenStamp = new Uint32Array(this.nItems);
    this.candidateStamp = new Uint32Array(this.nItems);
    this.heap = new Int32Array(this.nLeaves);
    this.heapKey = new Float64Array(this.nLeaves);
    this.cursor = new Int32Array(this.nLeaves);
  }
  get size() {
    return this.nItems;
  }
  indexOf(sku) {
    const i = this.skuIndex.get(sku);
    if (i === void 0) throw new ZeroProbabilityPrefixError(`unknown sku ${sku}`);
    return i;
  }
  skuOf(item) {
    return this.model.skus[item];
  }
  /** P(x_{t+1} = sku | prefix) for every sku with non-zero probability; sums to 1. */
  nextItemDistribution(prefix) {
    const prediction = this.predict(prefix.map((sku) => this.indexOf(sku)));
    const out = /* @__PURE__ */ new Map();
    for (let c = 0; c < this.nLeaves; c++) {
      for (let k = this.leafStart[c]; k < this.leafStart[c + 1]; k++) {
        const item = this.leafItems[k];
        const p = prediction.probability(item);
        if (p > 0) out.set(this.skuOf(item), p);
      }
    }
    return out;
  }
  topK(prefix, k) {
    const prediction = this.predict(prefix.map((sku) => this.indexOf(sku)));
    return prediction.topK(k).map(({ item, p }) => ({ sku: this.skuOf(item), p }));
  }
  /**
   * Runs the forward filter over `prefix` (item indices). The returned prediction reads this
   * oracle's scratch buffers, so it is valid only until the next call to predict.
   */
  predict(prefix) {
    const generation = ++this.generation;
    this.resetHistory();
    const n2 = prefix.length;
    if (n2 === 0) {
      this.last = -1;
      this.wRelated = 0;
      this.wRevisit = 0;
      this.wPopularity = 1;
      this.weightSum = 0;
      for (let c = 0; c < this.nLeaves; c++) {
        this.weights[c] = this.initial[c];
        this.weightSum += this.initial[c];
      }
    } else {
      const first = prefix[0];
      const leaf = this.leafOfObserved(first, 0);
      this.filtered.fill(0);
      this.filtered[leaf] = 1;
      this.remember(first);
      for (let t = 1; t < n2; t++) {
        this.prepareNext(prefix[t - 1]);
        const item = prefix[t];
        this.observe(item, t);
        this.remember(item);
      }
      this.prepareNext(prefix[n2 - 1]);
    }
    const check2 = () => {
      if (generation !== this.generation) {
        throw new Error("stale oracle prediction: predict() was called again since");
      }
    };
    return {
      probability: (item) => {
        check2();
        return this.probabilityOf(item);
      },
      topK: (k) => {
        check2();
        return this.topKNow(k);
      },
      rankWithin: (item, k) => {
        check2();
        const p = this.probabilityOf(item);
        if (p <= 0) return 0;
        const top = this.topKNow(k);
        const at = top.findIndex((entry) => entry.item === item);
        return at === -1 ? 0 : at + 1;
      }
    };
  }
  resetHistory() {
    this.history.length = 0;
    this.epoch++;
    if (this.epoch === 4294967295) {
      this.seenStamp.fill(0);
      this.epoch = 1;
    }
  }
  remember(item) {
    if (this.seenStamp[item] !== this.epoch) {
      this.seenStamp[item] = this.epoch;
      this.history.push(item);
    }
  }
  leafOfObserved(item, position) {
    const leaf = item >= 0 && item < this.nItems ? this.itemLeaf[item] : -1;
    if (leaf < 0) {
      throw new ZeroProbabilityPrefixError(
        `prefix item ${position} (${this.model.skus[item] ?? item}) is never emitted by the process`
      );
    }
    return leaf;
  }
  /**
   * From the filtered P(z_t | x_1..x_t), computes the unnormalized leaf weights
   * w_c = P(z_{t+1} = c | x_1..x_t) / (1 - popularity'·Pop_c(x_t)) and the mixture weights in
   * effect for the next emission, with `last` = x_t.
   */
  prepareNext(last) {
    this.last = last;
    this.groupMass.fill(0);
    for (let c = 0; c < this.nLeaves; c++) {
      const g = this.leafGroup[c];
      this.groupMass[g] = this.groupMass[g] + this.filtered[c];
    }
    const revisitable = this.history.length - 1;
    const { related, popularity, revisit } = this.model.emission;
    if (revisitable > 0) {
      this.wRelated = related;
      this.wPopularity = popularity;
      this.wRevisit = revisit;
    } else {
      this.wRelated = related / (related + popularity);
      this.wPopularity = popularity / (related + popularity);
      this.wRevisit = 0;
    }
    const lastLeaf = this.itemLeaf[last];
    let sum3 = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      let p = this.stay * this.filtered[c] + this.switchGroup * this.groupMass[this.leafGroup[c]] * this.groupShare[c] + this.switchGlobal * this.initial[c];
      if (c === lastLeaf) p /= 1 - this.wPopularity * this.itemPop[last];
      this.weights[c] = p;
      sum3 += p;
    }
    this.weightSum = sum3;
  }
  /** a'·R(x_t, j) + g'·U_D(j): the part of the emission that does not depend on the leaf. */
  shared(item) {
    let mass = 0;
    if (this.last >= 0) {
      const end = this.relStart[this.last + 1];
      for (let e = this.relStart[this.last]; e < end; e++) {
        if (this.relItem[e] === item) {
          mass += this.wRelated * this.relProb[e];
          break;
        }
      }
    }
    if (this.wRevisit > 0 && item !== this.last && this.seenStamp[item] === this.epoch) {
      mass += this.wRevisit / (this.history.length - 1);
    }
    return mass;
  }
  probabilityOf(item) {
    if (item < 0 || item >= this.nItems || item === this.last) return 0;
    let p = this.weightSum * this.shared(item);
    const leaf = this.itemLeaf[item];
    if (leaf >= 0)
      p += this.wPopularity * this.weights[leaf] * this.itemPop[item];
    return p;
  }
  /** Bayes update of the leaf posterior with the observed next item. */
  observe(item, position) {
    const leaf = this.leafOfObserved(item, position);
    if (item === this.last) {
      throw new ZeroProbabilityPrefixError(
        `prefix item ${position} repeats the item before it (the process never does; collapse first)`
      );
    }
    const shared = this.shared(item);
    let total = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      let f = this.weights[c] * shared;
      if (c === leaf)
        f += this.weights[c] * this.wPopularity * this.itemPop[item];
      this.filtered[c] = f;
      total += f;
    }
    if (!(total > 0)) {
      throw new ZeroProbabilityPrefixError(`prefix item ${position} has zero probability here`);
    }
    for (let c = 0; c < this.nLeaves; c++) this.filtered[c] = this.filtered[c] / total;
  }
  /**
   * Exact top-k without scoring the catalog: items reachable through the shared part (related
   * items of x_t, revisitable history) are scored exactly; every other item's probability is its
   * popularity term alone, so the leaves' lists are merged lazily in decreasing order of that term
   * and the walk stops once it cannot beat the current k-th best.
   */
  topKNow(k) {
    const top = [];
    if (k <= 0) return top;
    this.candidateEpoch++;
    if (this.candidateEpoch === 4294967295) {
      this.candidateStamp.fill(0);
      this.candidateEpoch = 1;
    }
    if (this.last >= 0) {
      this.candidateStamp[this.last] = this.candidateEpoch;
      const end = this.relStart[this.last + 1];
      for (let e = this.relStart[this.last]; e < end; e++) {
        this.offerExact(top, k, this.relItem[e]);
      }
      if (this.wRevisit > 0) for (const item of this.history) this.offerExact(top, k, item);
    }
    const heap = this.heap;
    let size = 0;
    for (let c = 0; c < this.nLeaves; c++) {
      const start = this.leafStart[c];
      const w = this.weights[c];
      if (w > 0 && start < this.leafStart[c + 1]) {
        this.cursor[c] = start;
        this.heapKey[c] = this.wPopularity * w * this.leafProb[start];
        heap[size++] = c;
      }
    }
    for (let i = (size >> 1) - 1; i >= 0; i--) this.siftDown(i, size);
    while (size > 0) {
      const c = heap[0];
      const bound = this.heapKey[c];
      if (!(bound > 0)) break;
      if (top.length === k && bound < top[k - 1].p) break;
      const item = this.leafItems[this.cursor[c]];
      this.offerExact(top, k, item);
      const next = this.cursor[c] + 1;
      if (next < this.leafStart[c + 1]) {
        this.cursor[c] = next;
        this.heapKey[c] = this.wPopularity * this.weights[c] * this.leafProb[next];
      } else {
        heap[0] = heap[--size];
      }
      if (size > 0) this.siftDown(0, size);
    }
    return top;
  }
  /** Scores `item` exactly, once per topK call, and keeps it if it makes the top k. */
  offerExact(top, k, item) {
    if (this.candidateStamp[item] === this.candidateEpoch) return;
    this.candidateStamp[item] = this.candidateEpoch;
    const p = this.probabilityOf(item);
    if (!(p > 0)) return;
    if (top.length === k) {
      const worst = top[k - 1];
      if (p < worst.p || p === worst.p && item > worst.item) return;
      top.pop();
    }
    let at = top.length;
    while (at > 0) {
      const prev = top[at - 1];
      if (prev.p > p || prev.p === p && prev.item < item) break;
      at--;
    }
    top.splice(at, 0, { item, p });
  }
  heapAbove(a, b) {
    const ka = this.heapKey[a];
    const kb = this.heapKey[b];
    if (ka !== kb) return ka > kb;
    return this.leafItems[this.cursor[a]] < this.leafItems[this.cursor[b]];
  }
  siftDown(from, size) {
    const heap = this.heap;
    let i = from;
    for (; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < size && this.heapAbove(heap[l], heap[best])) best = l;
      if (r < size && this.heapAbove(heap[r], heap[best])) best = r;
      if (best === i) return;
      const tmp = heap[i];
      heap[i] = heap[best];
      heap[best] = tmp;
      i = best;
    }
  }
};

// pipeline/data/generator/index.ts
import { mkdir as mkdir5, writeFile as writeFile3 } from "node:fs/promises";
import { join as join4, resolve } from "node:path";

// pipeline/data/generator/format.ts
var DECIMALS = 4;
var NEGATIVE_ZERO = `-${0 .toFixed(DECIMALS)}`;
function fixed(value2) {
  const text = value2.toFixed(DECIMALS);
  return text === NEGATIVE_ZERO ? text.slice(1) : text;
}
function floatListField(values) {
  let out = '"[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ", ";
    out += fixed(values[i]);
  }
  return `${out}]"`;
}
function stringListField(values) {
  if (values.length === 0) return "";
  return `"['${values.join("', '")}']"`;
}
function jsonStringListField(values) {
  return values.length === 0 ? '"[]"' : `"[""${values.join('"",""')}""]"`;
}
function jsonNumberListField(values) {
  return `"[${values.join(",")}]"`;
}
function probabilityText(p) {
  if (!(p > 0)) return "0";
  let exponent = Math.floor(Math.log10(p));
  if (exponent >= -6 && exponent < 0) {
    let significand = Math.round(p * 10 ** (5 - exponent));
    if (significand >= 1e6) {
      exponent++;
      significand = 1e5;
      if (exponent === 0) return "1";
    }
    let digits = String(significand);
    let end = digits.length;
    while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
    digits = digits.slice(0, end);
    return `0.${"0".repeat(-exponent - 1)}${digits}`;
  }
  return String(Number(p.toPrecision(6)));
}

// pipeline/data/generator/hashes.ts
import { createHash as createHash4 } from "node:crypto";
function stableHash(seed2, kind, index2) {
  return createHash4("sha256").update(`${seed2}:${kind}:${index2}`).digest("hex");
}

// pipeline/data/generator/catalog.ts
var STREAM2 = { catalog: 1, content: 2, process: 3, decorate: 4 };
var WORLD_PARAMS = {
  /** About one leaf (hidden intent state) per this many SKUs: the oracle's state space. */
  skusPerLeaf: 100,
  minLeaves: 3,
  maxLeaves: 256,
  minItemsPerLeaf: 3,
  /** Leaf sizes vary lognormally: a few big categories, many small ones. */
  leafSizeSigma: 0.8,
  /** Share of the catalog the process can emit; the rest are catalog rows never browsed. */
  browsableShare: 0.88,
  /** Zipf exponent of global item popularity over a random ranking. */
  popularityExponent: 0.75,
  /** Share of catalog rows with content (vectors, category, price), as in the real file (~48%). */
  metadataShare: 0.48,
  related: {
    minDegree: 4,
    meanExtraDegree: 12,
    maxDegree: 40,
    /** Where neighbours come from: the same leaf, the same top-level group, anywhere. */
    sameLeaf: 0.55,
    sameGroup: 0.3,
    /** Weight of the r-th drawn neighbour ∝ (r + 1)^-exponent, jittered. */
    weightExponent: 0.6
  },
  intent: { stay: 0.8, switchWithinGroup: 0.12 },
  emission: { related: 0.45, popularity: 0.4, revisit: 0.15 },
  vectorDimension: 50,
  /** Non-product pages (home, listings, cart...) that pageviews without a SKU point at. */
  pagePool: 5e3
};
var MIN_SKUS = 10;
function clamp(value2, lo, hi) {
  return Math.max(lo, Math.min(hi, value2));
}
function cumulative2(weights) {
  const out = new Float64Array(weights.length);
  let sum3 = 0;
  for (let i = 0; i < weights.length; i++) {
    sum3 += weights[i];
    out[i] = sum3;
  }
  return out;
}
function buildWorld(seed2, skus) {
  const P2 = WORLD_PARAMS;
  const [lo, hi] = seedWords(seed2);
  const rng = Rng.from(lo, hi, STREAM2.catalog);
  const leaves = clamp(Math.round(skus / P2.skusPerLeaf), P2.minLeaves, P2.maxLeaves);
  const tops = clamp(Math.round(Math.cbrt(leaves) * 1.2), 2, 12);
  const mids = clamp(Math.round(leaves / 3), tops, leaves);
  const midTop = new Int32Array(mids);
  for (let m = 0; m < mids; m++) midTop[m] = m < tops ? m : rng.int(tops);
  const leafMid = new Int32Array(leaves);
  for (let c = 0; c < leaves; c++) leafMid[c] = c < mids ? c : rng.int(mids);
  const nodeHash = (node) => stableHash(seed2, "category", node);
  const leafPath = [];
  const leafGroup = new Int32Array(leaves);
  for (let c = 0; c < leaves; c++) {
    const m = leafMid[c];
    const t = midTop[m];
    leafGroup[c] = t;
    leafPath.push(`${nodeHash(t)}/${nodeHash(tops + m)}/${nodeHash(tops + mids + c)}`);
  }
  const sizeWeight = new Float64Array(leaves);
  for (let c = 0; c < leaves; c++) sizeWeight[c] = Math.exp(P2.leafSizeSigma * rng.normal());
  const sizeCumulative = cumulative2(sizeWeight);
  const labels = [];
  for (let c = 0; c < leaves; c++) for (let k = 0; k < P2.minItemsPerLeaf; k++) labels.push(c);
  while (labels.length < skus) labels.push(rng.pickCumulative(sizeCumulative));
  rng.shuffle(labels);
  const itemLeaf = Int32Array.from(labels);
  const browsable = new Uint8Array(skus);
  const browsableInLeaf = new Int32Array(leaves);
  for (let i = 0; i < skus; i++) {
    if (rng.chance(P2.browsableShare)) {
      const c = itemLeaf[i];
      browsable[i] = 1;
      browsableInLeaf[c] = browsableInLeaf[c] + 1;
    }
  }
  for (let i = 0; i < skus; i++) {
    const c = itemLeaf[i];
    if (!browsable[i] && browsableInLeaf[c] < 2) {
      browsable[i] = 1;
      browsableInLeaf[c] = browsableInLeaf[c] + 1;
    }
  }
  const ranked = [];
  for (let i = 0; i < skus; i++) if (browsable[i]) ranked.push(i);
  rng.shuffle(ranked);
  const popularity = new Float64Array(skus);
  ranked.forEach((item, r) => {
    popularity[item] = Math.pow(r + 1, -P2.popularityExponent);
  });
  let totalPopularity = 0;
  for (const item of ranked) totalPopularity += popularity[item];
  const leafItems = Array.from({ length: leaves }, () => []);
  for (let i = 0; i < skus; i++)
    if (browsable[i]) leafItems[itemLeaf[i]].push(i);
  const byPopularity = (a, b) => popularity[b] - popularity[a] || a - b;
  const leafModels = leafItems.map((items, c) => {
    items.sort(byPopularity);
    let mass = 0;
    for (const item of items) mass += popularity[item];
    return {
      category: leafPath[c],
      group: leafGroup[c],
      initial: mass / totalPopularity,
      items,
      probabilities: items.map((item) => popularity[item] / mass)
    };
  });
  const related = buildRelatedGraph(rng, skus, itemLeaf, leafGroup, leafItems, popularity);
  const skuHashes = [];
  const productUrl = [];
  for (let i = 0; i < skus; i++) {
    skuHashes.push(stableHash(seed2, "sku", i));
    productUrl.push(stableHash(seed2, "product-url", i));
  }
  const pageUrl = [];
  const pageWeight = new Float64Array(P2.pagePool);
  for (let k = 0; k < P2.pagePool; k++) {
    pageUrl.push(stableHash(seed2, "page-url", k));
    pageWeight[k] = 1 / (k + 1);
  }
  const hasMetadata = new Uint8Array(skus);
  const priceBucket2 = new Uint8Array(skus);
  const leafPrice = new Float64Array(leaves);
  for (let c = 0; c < leaves; c++) leafPrice[c] = 1 + rng.int(10);
  for (let i = 0; i < skus; i++) {
    hasMetadata[i] = rng.chance(P2.metadataShare) ? 1 : 0;
    const base = leafPrice[itemLeaf[i]];
    priceBucket2[i] = clamp(Math.round(base + 1.5 * rng.normal()), 1, 10);
  }
  const dim = P2.vectorDimension;
  const leafCentroid = new Float64Array(leaves * dim);
  for (let k = 0; k < leafCentroid.length; k++) leafCentroid[k] = 0.3 * rng.normal();
  const midCentroid = new Float64Array(mids * dim);
  for (let k = 0; k < midCentroid.length; k++) midCentroid[k] = 0.3 * rng.normal();
  const popularItems = Int32Array.from(ranked).sort();
  const model = {
    format: "coveo-synthetic-hmm",
    version: 1,
    seed: seed2,
    skus: skuHashes,
    intent: { ...P2.intent },
    emission: { ...P2.emission },
    leaves: leafModels,
    related
  };
  return {
    model,
    catalog: {
      seed: seed2,
      skus: skuHashes,
      itemLeaf,
      browsable,
      leafPath,
      leafMid,
      hasMetadata,
      priceBucket: priceBucket2,
      productUrl,
      pageUrl,
      pageCumulative: cumulative2(pageWeight),
      popularItems,
      popularCumulative: cumulative2(Array.from(popularItems, (i) => popularity[i])),
      leafCentroid,
      midCentroid
    }
  };
}
function buildRelatedGraph(rng, skus, itemLeaf, leafGroup, leafItems, popularity) {
  const P2 = WORLD_PARAMS.related;
  const pool = (items) => ({
    items,
    cumulative: cumulative2(items.map((i) => popularity[i]))
  });
  const leafPools = leafItems.map(pool);
  const groupMembers = [];
  leafItems.forEach((items, c) => {
    const g = leafGroup[c];
    while (groupMembers.length <= g) groupMembers.push([]);
    groupMembers[g].push(...items);
  });
  const groupPools = groupMembers.map(pool);
  const globalPool = pool(leafItems.flat());
  const browsableCount = globalPool.items.length;
  const graph = [];
  for (let i = 0; i < skus; i++) {
    const c = itemLeaf[i];
    if (!popularity[i]) {
      graph.push({ items: [], probabilities: [] });
      continue;
    }
    const degree = Math.min(
      P2.maxDegree,
      browsableCount - 1,
      P2.minDegree + Math.floor(rng.exponential(P2.meanExtraDegree))
    );
    const chosen = [];
    for (let attempt = 0; chosen.length < degree && attempt < 30 * degree; attempt++) {
      const u = rng.float();
      const source = u < P2.sameLeaf ? leafPools[c] : u < P2.sameLeaf + P2.sameGroup ? groupPools[leafGroup[c]] : globalPool;
      const j = source.items[rng.pickCumulative(source.cumulative)];
      if (j !== i && !chosen.includes(j)) chosen.push(j);
    }
    if (chosen.length === 0) chosen.push(globalPool.items.find((j) => j !== i));
    const weights = chosen.map((_, r) => Math.pow(r + 1, -P2.weightExponent) * (0.5 + rng.float()));
    const total = weights.reduce((a, b) => a + b, 0);
    const order = chosen.map((_, r) => r);
    order.sort((a, b) => weights[b] - weights[a] || a - b);
    graph.push({
      items: order.map((r) => chosen[r]),
      probabilities: order.map((r) => weights[r] / total)
    });
  }
  return graph;
}
function* catalogRows(world) {
  const { catalog } = world;
  const [lo, hi] = seedWords(catalog.seed);
  const rng = Rng.from(lo, hi, STREAM2.content);
  const dim = WORLD_PARAMS.vectorDimension;
  const description = new Float64Array(dim);
  const image = new Float64Array(dim);
  for (let i = 0; i < catalog.skus.length; i++) {
    const sku = catalog.skus[i];
    if (!catalog.hasMetadata[i]) {
      yield `${sku},,,,
`;
      continue;
    }
    const leaf = catalog.itemLeaf[i];
    const mid = catalog.leafMid[leaf];
    for (let k = 0; k < dim; k++) {
      description[k] = catalog.leafCentroid[leaf * dim + k] + 0.15 * rng.normal();
      image[k] = catalog.midCentroid[mid * dim + k] + 0.2 * rng.normal();
    }
    yield `${sku},${floatListField(description)},${catalog.leafPath[leaf]},${floatListField(image)},${catalog.priceBucket[i]}.0
`;
  }
}

// pipeline/data/generator/decorate.ts
var MINUTE = 6e4;
var DECORATION_PARAMS = {
  /** 2019-02-12: the real set's timestamps sit around 1.55e12 too. */
  windowStartMs: 155e10,
  windowMs: 42 * 24 * 60 * MINUTE,
  /** Per interaction. */
  repeatDetail: 0.05,
  remove: 0.032,
  /**
   * Carts cluster in a minority of sessions (real: 4.35% of sessions add, 1.5 adds each), so a
   * session id is a shopper or not; shoppers add an item after viewing it this often, and
   * end a process-session with a purchase of its last item this often.
   */
  shopper: 0.15,
  shopperAdd: 0.2,
  shopperPurchase: 0.11,
  /**
   * Non-product pageviews after an interaction (geometric continuation). Fewer after the last
   * one, so one-item sessions stay short (median 3 events) while pageviews make up ~71% of rows.
   */
  fillerContinue: 0.62,
  trailingFillerContinue: 0.45,
  maxFiller: 8,
  /** Chance of a search between two interactions, and in a pageview-only session. */
  search: 0.09,
  searchWithoutProducts: 0.2,
  /** Real: 26.5% of searches show no results. */
  noResults: 0.265,
  resultsMin: 3,
  resultsMax: 20,
  /** The next item is among the results this often, and then clicked this often. */
  nextInResults: 0.35,
  clickNext: 0.8,
  /** Pageviews of a session id without products: 1 + floor(lognormal). */
  pageviewOnlyMu: -0.35,
  pageviewOnlySigma: 1.1,
  pageviewOnlyMax: 60,
  eventGapMedianMs: 2e4,
  eventGapSigma: 1.1,
  /** Time spent before opening the next product. */
  thinkGapMedianMs: 45e3,
  thinkGapSigma: 1,
  minGapMs: 1e3,
  maxGapMs: 20 * MINUTE,
  /** Cap on the time between two consecutive product views, safely under the 30-minute cut. */
  segmentBudgetMs: 25 * MINUTE,
  blockPauseMinMs: 31 * MINUTE,
  blockPauseMeanExtraMs: 3 * 60 * MINUTE,
  queryNoise: 0.25
};
var Kind = { View: 0, Add: 1, Remove: 2, Purchase: 3, Click: 4, Page: 5, Search: 6 };
var CART_PAGE = 1;
var CHECKOUT_PAGE = 2;
var SEARCH_PAGE = 3;
var Decorator = class {
  catalog;
  leafItems;
  leafCumulative;
  initialCumulative;
  // Per-session output and the pending events of the current segment.
  sid = "";
  out = emptySession();
  kinds = [];
  /** The SKU of a product event, or the page index of a non-product pageview. */
  targets = [];
  gaps = [];
  payloads = [];
  constructor(world) {
    this.catalog = world.catalog;
    this.leafItems = world.model.leaves.map((leaf) => Int32Array.from(leaf.items));
    this.leafCumulative = world.model.leaves.map((leaf) => cumulative(leaf.probabilities));
    this.initialCumulative = cumulative(world.model.leaves.map((leaf) => leaf.initial));
  }
  decorate(plan2, sessionId, rng) {
    const P2 = DECORATION_PARAMS;
    this.sid = sessionId;
    this.out = emptySession();
    let t = P2.windowStartMs + rng.int(P2.windowMs);
    if (plan2.blocks.length === 0) {
      this.pageviewOnly(rng, t);
      return this.out;
    }
    const shopper = rng.chance(P2.shopper);
    plan2.blocks.forEach((block, b) => {
      if (b > 0) {
        t += P2.blockPauseMinMs + Math.floor(rng.exponential(P2.blockPauseMeanExtraMs));
      }
      this.out.blockStarts.push(t);
      t = this.block(rng, block, t, shopper);
    });
    return this.out;
  }
  pageviewOnly(rng, start) {
    const P2 = DECORATION_PARAMS;
    const count2 = Math.min(
      P2.pageviewOnlyMax,
      1 + Math.floor(Math.exp(P2.pageviewOnlyMu + P2.pageviewOnlySigma * rng.normal()))
    );
    const searchAfter = rng.chance(P2.searchWithoutProducts) ? rng.int(count2) : -1;
    let t = start;
    for (let k = 0; k < count2; k++) {
      if (k > 0) t += this.eventGap(rng);
      this.emitPage(t, this.pickPage(rng));
      if (k === searchAfter) {
        t += this.eventGap(rng);
        const leaf = rng.pickCumulative(this.initialCumulative);
        this.emitSearch(rng, t, { leaf, results: this.searchResults(rng, leaf, -1), clicked: [] });
      }
    }
  }
  /** Decorates one process-session starting at `start`; returns the time of its last event. */
  block(rng, block, start, shopper) {
    const P2 = DECORATION_PARAMS;
    const { items, intents } = block;
    const addChance = shopper ? P2.shopperAdd : 0;
    const purchase = shopper && rng.chance(P2.shopperPurchase);
    const added = [];
    let t = start;
    this.emitView(t, items[0]);
    for (let s = 0; s < items.length; s++) {
      const x = items[s];
      const last = s === items.length - 1;
      this.clearSegment();
      if (rng.chance(P2.repeatDetail)) this.push(Kind.View, x, this.eventGap(rng));
      if (rng.chance(addChance) || last && purchase) {
        this.push(Kind.Add, x, this.eventGap(rng));
        added.push(x);
      }
      if (rng.chance(P2.remove)) {
        const sku = added.length > 0 && rng.chance(0.5) ? added[rng.int(added.length)] : this.catalog.popularItems[rng.pickCumulative(this.catalog.popularCumulative)];
        this.push(Kind.Remove, sku, this.eventGap(rng));
      }
      if (last && purchase) this.push(Kind.Purchase, x, this.eventGap(rng));
      const fillers = rng.geometric(
        last ? P2.trailingFillerContinue : P2.fillerContinue,
        P2.maxFiller
      );
      for (let k = 0; k < fillers; k++)
        this.push(Kind.Page, this.pickPage(rng), this.eventGap(rng));
      if (!last) {
        const next = items[s + 1];
        if (rng.chance(P2.search)) {
          const leaf = intents[s + 1];
          const results = this.searchResults(rng, leaf, next);
          const clicked = results.includes(next) && rng.chance(P2.clickNext) ? [next] : [];
          this.push(Kind.Search, next, this.eventGap(rng), { leaf, results, clicked });
          if (clicked.length > 0) this.push(Kind.Click, next, this.eventGap(rng));
        }
        this.push(Kind.View, next, this.gap(rng, P2.thinkGapMedianMs, P2.thinkGapSigma));
      }
      t = this.flushSegment(rng, t);
    }
    return t;
  }
  clearSegment() {
    this.kinds.length = 0;
    this.targets.length = 0;
    this.gaps.length = 0;
    this.payloads.length = 0;
  }
  push(kind, target, gap, payload = null) {
    this.kinds.push(kind);
    this.targets.push(target);
    this.gaps.push(gap);
    this.payloads.push(payload);
  }
  /** Emits the pending segment after `t`, squeezed into the budget if its gaps add up too long. */
  flushSegment(rng, t) {
    const P2 = DECORATION_PARAMS;
    let total = 0;
    for (const gap of this.gaps) total += gap;
    const scale = total > P2.segmentBudgetMs ? P2.segmentBudgetMs / total : 1;
    for (let k = 0; k < this.kinds.length; k++) {
      t += scale === 1 ? this.gaps[k] : Math.max(1, Math.floor(this.gaps[k] * scale));
      const sku = this.targets[k];
      switch (this.kinds[k]) {
        case Kind.View:
          this.emitView(t, sku);
          break;
        case Kind.Add:
          this.emitProduct(t, "add", sku, this.catalog.productUrl[sku]);
          break;
        case Kind.Remove:
          this.emitProduct(t, "remove", sku, this.catalog.pageUrl[CART_PAGE]);
          break;
        case Kind.Purchase:
          this.emitProduct(t, "purchase", sku, this.catalog.pageUrl[CHECKOUT_PAGE]);
          break;
        case Kind.Click:
          this.emitProduct(t, "click", sku, this.catalog.pageUrl[SEARCH_PAGE]);
          break;
        case Kind.Page:
          this.emitPage(t, sku);
          break;
        case Kind.Search:
          this.emitSearch(rng, t, this.payloads[k]);
          break;
      }
    }
    return t;
  }
  eventGap(rng) {
    return this.gap(rng, DECORATION_PARAMS.eventGapMedianMs, DECORATION_PARAMS.eventGapSigma);
  }
  gap(rng, median, sigma) {
    const P2 = DECORATION_PARAMS;
    const ms = Math.round(median * Math.exp(sigma * rng.normal()));
    return Math.min(P2.maxGapMs, Math.max(P2.minGapMs, ms));
  }
  pickPage(rng) {
    return rng.pickCumulative(this.catalog.pageCumulative);
  }
  /** Results from the intent's leaf by popularity; the next item is sometimes among them. */
  searchResults(rng, leaf, next) {
    const P2 = DECORATION_PARAMS;
    if (rng.chance(P2.noResults)) return [];
    const items = this.leafItems[leaf];
    const cumulative3 = this.leafCumulative[leaf];
    const want = Math.min(items.length, P2.resultsMin + rng.int(P2.resultsMax - P2.resultsMin + 1));
    const results = [];
    for (let attempt = 0; results.length < want && attempt < 4 * want; attempt++) {
      const item = items[rng.pickCumulative(cumulative3)];
      if (!results.includes(item)) results.push(item);
    }
    if (next >= 0 && !results.includes(next) && rng.chance(P2.nextInResults)) {
      results.splice(rng.int(results.length + 1), 0, next);
    }
    return results;
  }
  hashes(items) {
    return items.map((item) => this.catalog.skus[item]);
  }
  emitView(t, sku) {
    const hash2 = this.catalog.skus[sku];
    const url = this.catalog.productUrl[sku];
    this.out.browsing += `${this.sid},pageview,,${hash2},${t},${url}
${this.sid},event_product,detail,${hash2},${t},${url}
`;
    this.out.browsingRows += 2;
    this.out.pageviews++;
    this.out.productEvents++;
  }
  emitProduct(t, action, sku, url) {
    this.out.browsing += `${this.sid},event_product,${action},${this.catalog.skus[sku]},${t},${url}
`;
    this.out.browsingRows++;
    this.out.productEvents++;
  }
  emitPage(t, page) {
    this.out.browsing += `${this.sid},pageview,,,${t},${this.catalog.pageUrl[page]}
`;
    this.out.browsingRows++;
    this.out.pageviews++;
  }
  emitSearch(rng, t, payload) {
    const dim = WORLD_PARAMS.vectorDimension;
    const centroid = this.catalog.leafCentroid;
    let vector2 = '"[';
    for (let k = 0; k < dim; k++) {
      const value2 = centroid[payload.leaf * dim + k] + DECORATION_PARAMS.queryNoise * rng.normal();
      vector2 += k === 0 ? fixed(value2) : `, ${fixed(value2)}`;
    }
    vector2 += ']"';
    this.out.search += `${this.sid},${t},${vector2},${stringListField(this.hashes(payload.results))},${stringListField(this.hashes(payload.clicked))}
`;
    this.out.searchRows++;
  }
};
function emptySession() {
  return {
    browsing: "",
    search: "",
    blockStarts: [],
    browsingRows: 0,
    searchRows: 0,
    productEvents: 0,
    pageviews: 0
  };
}

// pipeline/data/generator/process.ts
var SESSION_PARAMS = {
  /** Share of session ids with any product interaction (real: 66.1% have a detail). */
  productShare: 0.66,
  /** Chance that a session id carries one more process-session after a ≥ 30-minute pause. */
  extraBlockChance: 0.1,
  maxBlocks: 6,
  /** Interactions per process-session: 1 + floor(lognormal(mu, sigma)), at most maxLength. */
  lengthMu: 0.05,
  lengthSigma: 1.2,
  maxLength: 60
};
function sampleLength(rng) {
  const P2 = SESSION_PARAMS;
  const n2 = 1 + Math.floor(Math.exp(P2.lengthMu + P2.lengthSigma * rng.normal()));
  return Math.min(n2, P2.maxLength);
}
var ProcessSampler = class {
  constructor(model) {
    this.model = model;
    this.leafItems = model.leaves.map((leaf) => Int32Array.from(leaf.items));
    this.leafCumulative = model.leaves.map((leaf) => cumulative(leaf.probabilities));
    this.initialCumulative = cumulative(model.leaves.map((leaf) => leaf.initial));
    this.leafGroup = Int32Array.from(model.leaves.map((leaf) => leaf.group));
    const members = [];
    model.leaves.forEach((leaf, c) => {
      while (members.length <= leaf.group) members.push([]);
      members[leaf.group].push(c);
    });
    this.groupLeaves = members.map((leaves) => Int32Array.from(leaves));
    this.groupCumulative = members.map(
      (leaves) => cumulative(leaves.map((c) => model.leaves[c].initial))
    );
    this.relatedItems = model.related.map((entry) => Int32Array.from(entry.items));
    this.relatedCumulative = model.related.map((entry) => cumulative(entry.probabilities));
  }
  model;
  leafItems;
  leafCumulative;
  initialCumulative;
  groupLeaves;
  groupCumulative;
  leafGroup;
  relatedItems;
  relatedCumulative;
  fromLeaf(rng, leaf) {
    const items = this.leafItems[leaf];
    return items[rng.pickCumulative(this.leafCumulative[leaf])];
  }
  nextIntent(rng, z7) {
    const { stay, switchWithinGroup } = this.model.intent;
    const u = rng.float();
    if (u < stay) return z7;
    if (u < stay + switchWithinGroup) {
      const g = this.leafGroup[z7];
      const leaves = this.groupLeaves[g];
      return leaves[rng.pickCumulative(this.groupCumulative[g])];
    }
    return rng.pickCumulative(this.initialCumulative);
  }
  sample(rng, length) {
    let z7 = rng.pickCumulative(this.initialCumulative);
    let x = this.fromLeaf(rng, z7);
    const items = [x];
    const intents = [z7];
    const distinct = [x];
    const revisitable = [];
    for (let t = 1; t < length; t++) {
      z7 = this.nextIntent(rng, z7);
      revisitable.length = 0;
      for (const item of distinct) if (item !== x) revisitable.push(item);
      let { related, popularity } = this.model.emission;
      if (revisitable.length === 0) {
        const sum3 = related + popularity;
        related /= sum3;
        popularity /= sum3;
      }
      let next;
      do {
        const u = rng.float();
        if (u < related) {
          const neighbours = this.relatedItems[x];
          next = neighbours[rng.pickCumulative(this.relatedCumulative[x])];
        } else if (u < related + popularity) {
          next = this.fromLeaf(rng, z7);
        } else {
          next = revisitable[rng.int(revisitable.length)];
        }
      } while (next === x);
      x = next;
      items.push(x);
      intents.push(z7);
      if (!distinct.includes(x)) distinct.push(x);
    }
    return { items, intents };
  }
};
function planSession(sampler, seed2, index2) {
  const P2 = SESSION_PARAMS;
  const [lo, hi] = seedWords(seed2);
  const rng = Rng.from(lo, hi, STREAM2.process, index2);
  const blocks = [];
  if (rng.chance(P2.productShare)) {
    const count2 = 1 + rng.geometric(P2.extraBlockChance, P2.maxBlocks - 1);
    for (let b = 0; b < count2; b++) blocks.push(sampler.sample(rng, sampleLength(rng)));
  }
  return { index: index2, blocks };
}

// pipeline/data/generator/writer.ts
import { createWriteStream as createWriteStream3 } from "node:fs";
import { once } from "node:events";
import { finished } from "node:stream/promises";
var CHUNK_CHARS = 1 << 20;
var ChunkedWriter = class {
  constructor(path2) {
    this.path = path2;
    this.stream = createWriteStream3(path2, { highWaterMark: 4 * CHUNK_CHARS });
    this.stream.on("error", (error) => {
      this.failure ??= error;
    });
  }
  path;
  stream;
  parts = [];
  size = 0;
  failure = null;
  async write(text) {
    if (this.failure) throw this.failure;
    if (text.length === 0) return;
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= CHUNK_CHARS) await this.flush();
  }
  async flush() {
    if (this.size === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk, "latin1")) await once(this.stream, "drain");
    if (this.failure) throw this.failure;
  }
  async close() {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
  }
  /** Abandons the file after an error elsewhere, without waiting on a stream that may be broken. */
  destroy() {
    this.stream.destroy();
  }
};

// pipeline/data/generator/index.ts
var MODEL_FILE = "generative-model.json";
var ORACLE_FILE = "oracle_topk.csv";
var ORACLE_K = 20;
var ORACLE_COLUMNS = [
  "session_id_hash",
  "session_start_ms",
  "position",
  "target_sku",
  "target_probability",
  "target_rank",
  "topk_skus",
  "topk_probabilities"
];
var PROGRESS_EVERY = 5e3;
function checkOptions(options) {
  const { sessions, skus, seed: seed2 } = options;
  if (!Number.isSafeInteger(sessions) || sessions < 1) {
    throw new InputError(`sessions must be a positive integer, got ${sessions}`, {
      field: "sessions"
    });
  }
  if (!Number.isSafeInteger(skus) || skus < MIN_SKUS) {
    throw new InputError(`skus must be an integer of at least ${MIN_SKUS}, got ${skus}`, {
      field: "skus"
    });
  }
  if (!Number.isSafeInteger(seed2)) {
    throw new InputError(`seed must be an integer, got ${seed2}`, { field: "seed" });
  }
}
async function generate(options) {
  checkOptions(options);
  const started = performance.now();
  const { sessions, skus, seed: seed2 } = options;
  const outDir = resolve(options.outDir);
  await mkdir5(outDir, { recursive: true });
  const files = {
    browsing: join4(outDir, DATA_FILES.browsing.file),
    search: join4(outDir, DATA_FILES.search.file),
    catalog: join4(outDir, DATA_FILES.catalog.file),
    model: join4(outDir, MODEL_FILE),
    oracle: join4(outDir, ORACLE_FILE)
  };
  const world = buildWorld(seed2, skus);
  const oracle = new Oracle(world.model);
  const sampler = new ProcessSampler(world.model);
  const decorator = new Decorator(world);
  const [lo, hi] = seedWords(seed2);
  const counts = {
    sessions,
    browsingRows: 0,
    searchRows: 0,
    catalogRows: 0,
    productEvents: 0,
    pageviews: 0,
    processSessions: 0,
    evaluableSessions: 0
  };
  const writers = {
    browsing: new ChunkedWriter(files.browsing),
    search: new ChunkedWriter(files.search),
    catalog: new ChunkedWriter(files.catalog),
    oracle: new ChunkedWriter(files.oracle)
  };
  try {
    await writers.browsing.write(`${DATA_FILES.browsing.columns.join(",")}
`);
    await writers.search.write(`${DATA_FILES.search.columns.join(",")}
`);
    await writers.catalog.write(`${DATA_FILES.catalog.columns.join(",")}
`);
    await writers.oracle.write(`${ORACLE_COLUMNS.join(",")}
`);
    for (const row of catalogRows(world)) {
      await writers.catalog.write(row);
      counts.catalogRows++;
    }
    await writers.catalog.close();
    for (let index2 = 0; index2 < sessions; index2++) {
      const sid = stableHash(seed2, "session", index2);
      const plan2 = planSession(sampler, seed2, index2);
      const decorated = decorator.decorate(plan2, sid, Rng.from(lo, hi, STREAM2.decorate, index2));
      await writers.browsing.write(decorated.browsing);
      await writers.search.write(decorated.search);
      counts.browsingRows += decorated.browsingRows;
      counts.searchRows += decorated.searchRows;
      counts.productEvents += decorated.productEvents;
      counts.pageviews += decorated.pageviews;
      counts.processSessions += plan2.blocks.length;
      let oracleRows = "";
      plan2.blocks.forEach((block, b) => {
        const n2 = block.items.length;
        if (n2 < 2) return;
        counts.evaluableSessions++;
        const target = block.items[n2 - 1];
        const prediction = oracle.predict(block.items.slice(0, n2 - 1));
        const top = prediction.topK(ORACLE_K);
        const rank = top.findIndex((entry) => entry.item === target) + 1;
        oracleRows += `${sid},${decorated.blockStarts[b]},${n2},${oracle.skuOf(target)},${probabilityText(prediction.probability(target))},${rank > 0 ? rank : ""},${jsonStringListField(top.map((entry) => oracle.skuOf(entry.item)))},${jsonNumberListField(top.map((entry) => probabilityText(entry.p)))}
`;
      });
      await writers.oracle.write(oracleRows);
      if (options.onProgress && ((index2 + 1) % PROGRESS_EVERY === 0 || index2 + 1 === sessions)) {
        options.onProgress(index2 + 1);
      }
    }
    await Promise.all([writers.browsing.close(), writers.search.close(), writers.oracle.close()]);
  } catch (error) {
    for (const writer of Object.values(writers)) writer.destroy();
    throw error;
  }
  await writeFile3(files.model, `${JSON.stringify(world.model)}
`);
  return { outDir, files, counts, seconds: (performance.now() - started) / 1e3 };
}

// pipeline/store/registry.ts
import { randomBytes as randomBytes2 } from "node:crypto";
import { z as z6 } from "zod";

// pipeline/store/runs.ts
import { randomBytes } from "node:crypto";
var RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
function newRunId(now = /* @__PURE__ */ new Date()) {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}
function validateRunId(id) {
  if (!RUN_ID.test(id)) {
    throw new Error(
      `invalid run id "${id}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`
    );
  }
  return id;
}
function runFolder(runId2) {
  return `runs/${validateRunId(runId2)}/`;
}
function stageKey(runId2, stage, name2 = "stage.json") {
  return `runs/${validateRunId(runId2)}/${stage}/${name2}`;
}
async function writeStageRecord(store, record) {
  const key = stageKey(record.runId, record.stage);
  await store.put(key, `${JSON.stringify(record, null, 2)}
`);
  return key;
}
async function readStageRecord(store, runId2, stage) {
  const bytes = await store.get(stageKey(runId2, stage));
  return bytes ? JSON.parse(Buffer.from(bytes).toString("utf8")) : void 0;
}

// pipeline/store/registry.ts
var PRODUCTION_KEY = "registry/production.json";
var HISTORY_PREFIX = "registry/history/";
var FORMAT = "mlops-session-recs/registry@1";
var runId = z6.string().refine(
  (id) => {
    try {
      validateRunId(id);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid run id" }
);
var estimate = z6.object({ value: z6.number(), lower: z6.number(), upper: z6.number() });
var entrySchema = z6.object({
  format: z6.literal(FORMAT),
  action: z6.enum(["promote", "rollback"]),
  runId,
  promotedAt: z6.iso.datetime(),
  deployment: z6.object({
    target: z6.enum(["local", "sagemaker"]),
    endpoint: z6.string().min(1),
    endpointConfigName: z6.string().optional(),
    modelName: z6.string().optional(),
    modelDataUrl: z6.string().optional(),
    modelDataSha256: z6.string().regex(/^[0-9a-f]{64}$/).optional()
  }),
  metrics: z6.object({
    hr20: estimate,
    mrr20: estimate,
    examples: z6.number().int().nonnegative()
  }),
  gates: z6.object({ passed: z6.boolean(), failedBlocking: z6.array(z6.string()) }),
  verdict: z6.enum([
    "gates-failed",
    "no-champion",
    "better",
    "non-inferior",
    "worse",
    "significantly-worse",
    "rollback"
  ]),
  reason: z6.string(),
  forced: z6.boolean(),
  previousRunId: runId.nullable(),
  rolledBackFrom: runId.optional()
});
async function readProduction(store) {
  return (await readProductionVersioned(store)).entry;
}
async function readProductionVersioned(store) {
  const object2 = await store.getVersioned(PRODUCTION_KEY);
  if (!object2) return { entry: void 0, version: null };
  const entry = parseEntry(
    store,
    PRODUCTION_KEY,
    object2.bytes,
    `restore it from the newest file under ${HISTORY_PREFIX} (same format), or delete it to start with no model in production`
  );
  return { entry, version: object2.version };
}
async function recordPromotion(store, record, now = /* @__PURE__ */ new Date()) {
  validateRunId(record.runId);
  if (!record.decision.promote) {
    throw new PipelineError(
      `registry: run ${record.runId} was not promoted (${record.decision.reason}); nothing to record`
    );
  }
  const { entry: current, version } = await readProductionVersioned(store);
  const entry = {
    format: FORMAT,
    action: "promote",
    runId: record.runId,
    promotedAt: now.toISOString(),
    deployment: record.deployment,
    metrics: record.metrics,
    gates: record.gates,
    verdict: record.decision.verdict,
    reason: record.decision.reason,
    forced: record.decision.forced,
    previousRunId: current?.runId ?? null
  };
  await writeEntry(store, entry, now, version);
  return entry;
}
async function promotionHistory(store) {
  const keys = (await store.list(HISTORY_PREFIX)).filter((key) => key.endsWith(".json"));
  const entries = await Promise.all(
    keys.map(async (key) => {
      const bytes = await store.get(key);
      if (!bytes) return void 0;
      return parseEntry(
        store,
        key,
        bytes,
        "fix or delete that file; history files are independent, the others are unaffected"
      );
    })
  );
  return entries.filter((e) => e !== void 0);
}
async function writeEntry(store, entry, now, readVersion) {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  const key = `${HISTORY_PREFIX}${stamp}-${entry.action}-${entry.runId}-${randomBytes2(2).toString("hex")}.json`;
  const text = `${JSON.stringify(entry, null, 2)}
`;
  await store.put(key, text);
  if (!await store.putIfUnchanged(PRODUCTION_KEY, text, readVersion)) {
    const winner = await readProduction(store);
    throw new PipelineError(
      `registry: production.json changed while run ${entry.runId}'s ${entry.action} was being recorded (run ${winner?.runId ?? "none"} is in production now); it was not overwritten`,
      1,
      `Two promotions ran at once (they share one concurrency group in the workflows). This attempt is in ${key}; check the endpoint, then promote again if run ${entry.runId} should win.`
    );
  }
}
function parseEntry(store, key, bytes, hint2) {
  const where = `${store.location.replace(/\/$/, "")}/${key}`;
  let value2;
  try {
    value2 = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new PipelineError(
      `registry damaged: ${where} is not valid JSON (${error.message})`,
      2,
      hint2
    );
  }
  const parsed = entrySchema.safeParse(value2);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field2 = issue?.path.length ? issue.path.join(".") : "(the whole object)";
    throw new PipelineError(
      `registry damaged: ${where}: ${field2}: ${issue?.message ?? "invalid"} (expected a ${FORMAT} entry)`,
      2,
      hint2
    );
  }
  return parsed.data;
}

// pipeline/model/artifact.ts
import { mkdir as mkdir6, readFile as readFile5, writeFile as writeFile4 } from "node:fs/promises";
import { join as join5 } from "node:path";

// pipeline/model/wasm-binary.ts
var I32 = 127;
var F32 = 125;
var V128 = 123;
function uleb(value2) {
  if (!(Number.isInteger(value2) && value2 >= 0 && value2 <= 4294967295)) {
    throw new RangeError(`uleb: ${value2} is not a u32`);
  }
  const bytes = [];
  let rest = value2;
  do {
    const low = rest & 127;
    rest = Math.floor(rest / 128);
    bytes.push(rest === 0 ? low : low | 128);
  } while (rest !== 0);
  return bytes;
}
function sleb(value2) {
  if (!(Number.isInteger(value2) && value2 >= -2147483648 && value2 <= 2147483647)) {
    throw new RangeError(`sleb: ${value2} is not an i32`);
  }
  const bytes = [];
  let rest = value2;
  for (; ; ) {
    const low = rest & 127;
    rest >>= 7;
    const done = rest === 0 && (low & 64) === 0 || rest === -1 && (low & 64) !== 0;
    bytes.push(done ? low : low | 128);
    if (done) return bytes;
  }
}
function name(text) {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}
function vector(items) {
  return [...uleb(items.length), ...items.flat()];
}
function section(id, content) {
  return [id, ...uleb(content.length), ...content];
}
function simd(opcode, ...immediates) {
  return [253, ...uleb(opcode), ...immediates];
}
function memarg(alignLog2, offset) {
  return [...uleb(alignLog2), ...uleb(offset)];
}
var op = {
  block: [2, 64],
  loop: [3, 64],
  end: [11],
  br: (depth) => [12, ...uleb(depth)],
  brIf: (depth) => [13, ...uleb(depth)],
  localGet: (index2) => [32, ...uleb(index2)],
  localSet: (index2) => [33, ...uleb(index2)],
  i32Const: (value2) => [65, ...sleb(value2)],
  i32GeU: [79],
  i32GtU: [75],
  i32Add: [106],
  i32Mul: [108],
  i32Shl: [116],
  f32Load: (offset = 0) => [42, ...memarg(2, offset)],
  f32Store: (offset = 0) => [56, ...memarg(2, offset)],
  f32Add: [146],
  f32Mul: [148],
  v128Load: (offset = 0) => simd(0, ...memarg(4, offset)),
  v128Load32Splat: (offset = 0) => simd(9, ...memarg(2, offset)),
  v128Store: (offset = 0) => simd(11, ...memarg(4, offset)),
  /** Four f32 lanes of the same value. */
  f32x4Const: (value2) => simd(12, ...new Uint8Array(Float32Array.of(value2, value2, value2, value2).buffer)),
  /** Four i32 lanes of the same value. */
  i32x4Const: (value2) => simd(12, ...new Uint8Array(Int32Array.of(value2, value2, value2, value2).buffer)),
  f32x4Splat: simd(19),
  v128And: simd(78),
  f32x4Ge: simd(70),
  f32x4Nearest: simd(106),
  i32x4Shl: simd(171),
  i32x4Add: simd(174),
  f32x4Add: simd(228),
  f32x4Sub: simd(229),
  f32x4Mul: simd(230),
  f32x4Max: simd(233),
  i32x4TruncSatF32x4S: simd(248)
};
function wasmModule(functions) {
  const signatures = [...new Set(functions.map((f) => f.params.join(",")))];
  const types = section(
    1,
    vector(
      signatures.map((signature) => [
        96,
        ...vector(signature.split(",").map((t) => [Number(t)])),
        0
      ])
    )
  );
  const imports = section(2, vector([[...name("env"), ...name("memory"), 2, 0, 0]]));
  const declarations = section(
    3,
    vector(functions.map((f) => uleb(signatures.indexOf(f.params.join(",")))))
  );
  const exports = section(
    7,
    vector(functions.map((f, index2) => [...name(f.name), 0, ...uleb(index2)]))
  );
  const code2 = section(
    10,
    vector(
      functions.map((f) => {
        const runs = [];
        for (let i = 0; i < f.locals.length; ) {
          let j = i;
          while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
          runs.push([...uleb(j - i), f.locals[i]]);
          i = j;
        }
        const body3 = [...vector(runs), ...f.body.flat(), ...op.end];
        return [...uleb(body3.length), ...body3];
      })
    )
  );
  return Uint8Array.from([
    ...[0, 97, 115, 109, 1, 0, 0, 0],
    ...types,
    ...imports,
    ...declarations,
    ...exports,
    ...code2
  ]);
}

// pipeline/model/simd-kernels.ts
var BLOCKS = [8, 4, 2];
var BLOCK = BLOCKS[0];
var PAGE_BYTES = 65536;
var MAX_PAGES = 65536;
var X = 0;
var ROWS = 1;
var M = 2;
var STRIDE = 3;
var WIDTH = 4;
var INIT = 5;
var OUT = 6;
var OUT_STRIDE = 7;
var PARAMS = 8;
var J = 8;
var K = 9;
var P = 10;
var XP = 11;
var ROW_BYTES = 12;
var O = 13;
var ACC_F32 = 14;
var Y = 15;
var ACC = 16;
var byteAddress = (base, index2) => [
  ...op.localGet(base),
  ...op.localGet(index2),
  ...op.i32Const(2),
  ...op.i32Shl,
  ...op.i32Add
];
function whileNot(stop, body3) {
  return [op.block, op.loop, [...stop, ...op.brIf(1)], ...body3, op.br(0), op.end, op.end];
}
function chunkLoop(states, vectors) {
  const acc = (s, c) => ACC + s * vectors + c;
  const splat = (s) => ACC + states * vectors + s;
  const width = 4 * vectors;
  const body3 = [[...byteAddress(INIT, J), ...op.localSet(P)]];
  for (let s = 0; s < states; s++) {
    for (let c = 0; c < vectors; c++) {
      body3.push([...op.localGet(P), ...op.v128Load(16 * c), ...op.localSet(acc(s, c))]);
    }
  }
  const row = [];
  for (let s = 0; s < states; s++) {
    row.push([...op.localGet(XP), ...op.v128Load32Splat(4 * s), ...op.localSet(splat(s))]);
  }
  for (let c = 0; c < vectors; c++) {
    row.push([...op.localGet(P), ...op.v128Load(16 * c), ...op.localSet(Y)]);
    for (let s = 0; s < states; s++) {
      row.push([
        ...op.localGet(acc(s, c)),
        ...op.localGet(splat(s)),
        ...op.localGet(Y),
        ...op.f32x4Mul,
        ...op.f32x4Add,
        ...op.localSet(acc(s, c))
      ]);
    }
  }
  row.push(
    [...op.localGet(P), ...op.localGet(ROW_BYTES), ...op.i32Add, ...op.localSet(P)],
    [...op.localGet(XP), ...op.i32Const(4 * states), ...op.i32Add, ...op.localSet(XP)],
    [...op.localGet(K), ...op.i32Const(1), ...op.i32Add, ...op.localSet(K)]
  );
  body3.push(
    [...byteAddress(M, J), ...op.localSet(P)],
    [...op.localGet(X), ...op.localSet(XP)],
    [...op.i32Const(0), ...op.localSet(K)],
    ...whileNot([...op.localGet(K), ...op.localGet(ROWS), ...op.i32GeU], row)
  );
  for (let s = 0; s < states; s++) {
    body3.push([
      ...op.localGet(OUT),
      ...op.localGet(OUT_STRIDE),
      ...op.i32Const(4 * s),
      ...op.i32Mul,
      ...op.i32Add,
      ...op.localGet(J),
      ...op.i32Const(2),
      ...op.i32Shl,
      ...op.i32Add,
      ...op.localSet(O)
    ]);
    for (let c = 0; c < vectors; c++) {
      body3.push([...op.localGet(O), ...op.localGet(acc(s, c)), ...op.v128Store(16 * c)]);
    }
  }
  body3.push([...op.localGet(J), ...op.i32Const(width), ...op.i32Add, ...op.localSet(J)]);
  return whileNot(
    [...op.localGet(J), ...op.i32Const(width), ...op.i32Add, ...op.localGet(WIDTH), ...op.i32GtU],
    body3
  );
}
function scalarLoop() {
  const row = [
    [...op.localGet(ACC_F32), ...op.localGet(XP), ...op.f32Load(0)],
    [...op.localGet(P), ...op.f32Load(0), ...op.f32Mul, ...op.f32Add, ...op.localSet(ACC_F32)],
    [...op.localGet(P), ...op.localGet(ROW_BYTES), ...op.i32Add, ...op.localSet(P)],
    [...op.localGet(XP), ...op.i32Const(4), ...op.i32Add, ...op.localSet(XP)],
    [...op.localGet(K), ...op.i32Const(1), ...op.i32Add, ...op.localSet(K)]
  ];
  return whileNot(
    [...op.localGet(J), ...op.localGet(WIDTH), ...op.i32GeU],
    [
      [...byteAddress(INIT, J), ...op.f32Load(0), ...op.localSet(ACC_F32)],
      [...byteAddress(M, J), ...op.localSet(P)],
      [...op.localGet(X), ...op.localSet(XP)],
      [...op.i32Const(0), ...op.localSet(K)],
      ...whileNot([...op.localGet(K), ...op.localGet(ROWS), ...op.i32GeU], row),
      [...byteAddress(OUT, J), ...op.localGet(ACC_F32), ...op.f32Store(0)],
      [...op.localGet(J), ...op.i32Const(1), ...op.i32Add, ...op.localSet(J)]
    ]
  );
}
function kernel(name2, states, body3, vectors) {
  return {
    name: name2,
    params: Array(PARAMS).fill(I32),
    // j, k, p, xp, rowBytes, o; the scalar accumulator; y; the accumulators; the splats
    locals: [
      ...Array(6).fill(I32),
      F32,
      ...Array(1 + states * vectors + states).fill(V128)
    ],
    body: [
      [...op.localGet(STRIDE), ...op.i32Const(2), ...op.i32Shl, ...op.localSet(ROW_BYTES)],
      [...op.i32Const(0), ...op.localSet(J)],
      ...body3
    ]
  };
}
var E_VALUES = 0;
var E_COUNT = 1;
var E_SHIFT = 2;
var E_WEIGHT = 3;
var E_OUT = 4;
var E_I = 5;
var E_X = 6;
var E_N = 7;
var E_R = 8;
var E_P = 9;
var E_MASK = 10;
var E_SHIFTS = 11;
var E_WEIGHTS = 12;
var EXP_FLOOR = -87.33654;
function expAddFunction() {
  const get = op.localGet;
  const set = op.localSet;
  const coefficients = [
    198756915e-12,
    0.0013981999507,
    0.0083334519073,
    0.041665795894,
    0.16666665459,
    0.50000001201
  ];
  const polynomial = [
    [...op.f32x4Const(coefficients[0]), ...set(E_P)]
  ];
  for (const c of coefficients.slice(1)) {
    polynomial.push([
      ...get(E_P),
      ...get(E_R),
      ...op.f32x4Mul,
      ...op.f32x4Const(c),
      ...op.f32x4Add,
      ...set(E_P)
    ]);
  }
  const address = (base) => [
    ...get(base),
    ...get(E_I),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add
  ];
  return {
    name: "expAdd",
    params: [I32, I32, F32, F32, I32],
    locals: [I32, ...Array(7).fill(V128)],
    body: [
      [...get(E_SHIFT), ...op.f32x4Splat, ...set(E_SHIFTS)],
      [...get(E_WEIGHT), ...op.f32x4Splat, ...set(E_WEIGHTS)],
      [...op.i32Const(0), ...set(E_I)],
      ...whileNot(
        [...get(E_I), ...get(E_COUNT), ...op.i32GeU],
        [
          [...address(E_VALUES), ...op.v128Load(0), ...get(E_SHIFTS), ...op.f32x4Sub, ...set(E_X)],
          [...get(E_X), ...op.f32x4Const(EXP_FLOOR), ...op.f32x4Ge, ...set(E_MASK)],
          [...get(E_X), ...op.f32x4Const(EXP_FLOOR), ...op.f32x4Max, ...set(E_X)],
          // n = round(x / ln 2); r = x − n·C1 − n·C2, where C1 + C2 = ln 2 and n·C1 is exact
          [...get(E_X), ...op.f32x4Const(Math.LOG2E), ...op.f32x4Mul, ...op.f32x4Nearest],
          set(E_N),
          [...get(E_X), ...get(E_N), ...op.f32x4Const(0.693359375), ...op.f32x4Mul, ...op.f32x4Sub],
          [
            ...get(E_N),
            ...op.f32x4Const(-21219444e-11),
            ...op.f32x4Mul,
            ...op.f32x4Sub,
            ...set(E_R)
          ],
          ...polynomial,
          // e^r = P·r² + r + 1
          [...get(E_P), ...get(E_R), ...get(E_R), ...op.f32x4Mul, ...op.f32x4Mul],
          [...get(E_R), ...op.f32x4Add, ...op.f32x4Const(1), ...op.f32x4Add, ...set(E_P)],
          // times 2^n, whose float32 bits are (n + 127) << 23; 0 below the floor
          [...get(E_P), ...get(E_N), ...op.i32x4TruncSatF32x4S, ...op.i32x4Const(127)],
          [...op.i32x4Add, ...op.i32Const(23), ...op.i32x4Shl, ...op.f32x4Mul],
          [...get(E_MASK), ...op.v128And, ...set(E_P)],
          [...address(E_OUT), ...address(E_OUT), ...op.v128Load(0)],
          [...get(E_WEIGHTS), ...get(E_P), ...op.f32x4Mul, ...op.f32x4Add, ...op.v128Store(0)],
          [...get(E_I), ...op.i32Const(4), ...op.i32Add, ...set(E_I)]
        ]
      )
    ]
  };
}
var compiled;
function kernelModule() {
  compiled ??= new WebAssembly.Module(
    wasmModule([
      // One vector, any width: eight columns at a time, then four, then one.
      kernel("matVecAdd", 1, [...chunkLoop(1, 2), ...chunkLoop(1, 1), ...scalarLoop()], 2),
      // Blocks of vectors, a width that is a multiple of 4.
      kernel("matVecAdd8", 8, chunkLoop(8, 1), 1),
      kernel("matVecAdd4", 4, chunkLoop(4, 1), 1),
      kernel("matVecAdd2", 2, [...chunkLoop(2, 2), ...chunkLoop(2, 1)], 2),
      expAddFunction()
    ])
  );
  return compiled;
}
var KernelLayout = class {
  floats = 0;
  /** A region of `floats` values, 16-byte aligned; returns its offset in floats. */
  reserve(floats) {
    const at = this.floats;
    this.floats += Math.ceil(floats / 4) * 4;
    return at;
  }
  /** The memory for every region reserved so far. `what` names the model in the error. */
  create(what) {
    const bytes = this.floats * 4;
    const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
    if (pages > MAX_PAGES) {
      throw new PipelineError(
        `${what} needs ${(bytes / 2 ** 30).toFixed(1)} GiB of weights and scratch, over the 4 GiB a wasm32 kernel addresses`,
        1,
        "train with fewer items (a higher train.minCount) or fewer hidden units"
      );
    }
    return new KernelMemory(pages);
  }
};
var KernelMemory = class {
  /** The whole memory as floats. */
  f32;
  matVec;
  matVecBlocks;
  exp;
  constructor(pages) {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const exports = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports;
    this.matVec = exports.matVecAdd;
    this.matVecBlocks = {
      8: exports.matVecAdd8,
      4: exports.matVecAdd4,
      2: exports.matVecAdd2
    };
    this.exp = exports.expAdd;
    this.f32 = new Float32Array(memory.buffer);
  }
  view(at, floats) {
    return this.f32.subarray(at, at + floats);
  }
  /**
   * out[j] = init[j] + Σ_k x[k] · m[k·stride + j] for j < width, k < rows. `out` may be `init`
   * (an accumulation).
   */
  matVecAdd(x, rows, m, stride, width, init, out) {
    this.matVec(x * 4, rows, m * 4, stride, width, init * 4, out * 4, 0);
  }
  /**
   * matVecAdd for `states` vectors at once: vector s's k-th value at x + k·states + s, its
   * result at out + s·outStride; `width` a multiple of 4.
   */
  matVecAddBlock(states, x, rows, m, stride, width, init, out, outStride) {
    if (width % 4 !== 0) {
      throw new RangeError(`matVecAddBlock: width ${width} is not a multiple of 4`);
    }
    this.matVecBlocks[states](x * 4, rows, m * 4, stride, width, init * 4, out * 4, outStride);
  }
  /**
   * out[i] += w · exp(values[i] − shift) for i < count (a multiple of 4), float32; values more
   * than 87.3 below `shift` (−∞ included) add 0.
   */
  expAdd(values, count2, shift, w, out) {
    if (count2 % 4 !== 0) throw new RangeError(`expAdd: count ${count2} is not a multiple of 4`);
    this.exp(values * 4, count2, shift, w, out * 4);
  }
};

// pipeline/model/blend.ts
var COMPONENT_KINDS = ["neural", "sknn", "cooccurrence", "repeat"];
function describeBlend(spec) {
  return spec.components.map((c) => `${c.kind} ${c.weight}`).join(", ");
}
function checkBlend(spec, evidence) {
  if (spec.components.length === 0) throw new Error("a blend needs at least one component");
  const seen = /* @__PURE__ */ new Set();
  for (const { kind, weight } of spec.components) {
    if (!COMPONENT_KINDS.includes(kind)) throw new Error(`unknown blend component "${kind}"`);
    if (seen.has(kind)) throw new Error(`blend component "${kind}" appears twice`);
    seen.add(kind);
    if (!(weight >= 0 && Number.isFinite(weight))) {
      throw new Error(`blend component "${kind}" has weight ${weight}: expected a number ≥ 0`);
    }
    if (kind === "neural" && !evidence.net) throw new Error("the blend needs the network");
    if ((kind === "sknn" || kind === "cooccurrence") && !evidence.index) {
      throw new Error(`the blend's "${kind}" component needs the train sessions' index`);
    }
  }
  return spec;
}
var BlendScorer = class {
  spec;
  vocabSize;
  net;
  index;
  excludeLast;
  /**
   * The dense buffers, [paddedSize] each, in kernel memory for the exp kernel: a prefix's logits,
   * the network's values, and the blend's scores. Lanes past vocabSize hold −∞ logits (so exp
   * adds 0 there) and are never read.
   */
  dense;
  paddedSize;
  logitsAt;
  valuesAt;
  blendAt;
  logitsView;
  valuesView;
  blendView;
  logitBuffer = new Float32Array(0);
  repeatIds;
  repeatValues;
  repeatSlot;
  repeatStamp;
  stamp = 0;
  constructor(spec, evidence, options) {
    this.spec = checkBlend(spec, evidence);
    this.vocabSize = evidence.vocabSize;
    this.net = evidence.net;
    this.index = evidence.index;
    this.excludeLast = options.excludeLast;
    this.paddedSize = Math.ceil(this.vocabSize / 4) * 4;
    const layout = new KernelLayout();
    this.logitsAt = layout.reserve(this.paddedSize);
    this.valuesAt = layout.reserve(this.paddedSize);
    this.blendAt = layout.reserve(this.paddedSize);
    this.dense = layout.create(`a blend over ${this.vocabSize} ids`);
    this.logitsView = this.dense.view(this.logitsAt, this.vocabSize);
    this.valuesView = this.dense.view(this.valuesAt, this.vocabSize);
    this.blendView = this.dense.view(this.blendAt, this.vocabSize);
    this.dense.f32.fill(
      Number.NEGATIVE_INFINITY,
      this.logitsAt + this.vocabSize,
      this.logitsAt + this.paddedSize
    );
    this.repeatIds = new Int32Array(this.vocabSize);
    this.repeatValues = new Float64Array(this.vocabSize);
    this.repeatSlot = new Int32Array(this.vocabSize);
    this.repeatStamp = new Int32Array(this.vocabSize);
  }
  /** Ids never recommended for this prefix: padding, unknown and, with collapsed repeats, the last. */
  excluded(prefix) {
    const last = prefix.length > 0 ? prefix[prefix.length - 1] : -1;
    return this.excludeLast && last >= FIRST_ITEM_ID ? [0, 1, last] : [0, 1];
  }
  /**
   * The network's logits for many prefixes at once, [prefixes.length × vocabSize] (the runtime
   * scores several prefixes per pass over the output matrix), for `score` and `neural` to take
   * row by row; undefined when the blend does not use the network. The array is this scorer's
   * buffer, overwritten by the next call.
   */
  logits(prefixes) {
    const uses = this.spec.components.some(
      (c) => c.kind === "neural" && (c.weight > 0 || this.spec.components.length === 1)
    );
    if (!uses) return void 0;
    const size = prefixes.length * this.vocabSize;
    if (this.logitBuffer.length < size) this.logitBuffer = new Float32Array(size);
    const rows = this.logitBuffer.subarray(0, size);
    return this.net.scores(prefixes.map(knownIds), rows);
  }
  /**
   * The blended score of every id for `prefix` (ids, oldest first), [vocabSize]; excluded ids get
   * −∞. The array is this scorer's buffer, overwritten by the next call. `logits`: the prefix's
   * row of `logits()`, when computed.
   */
  score(prefix, logits) {
    const excluded2 = this.excluded(prefix);
    const alone = this.spec.components.length === 1;
    const out = this.blendView;
    out.fill(0);
    for (const { kind, weight } of this.spec.components) {
      const w = alone ? 1 : weight;
      if (w === 0) continue;
      if (kind === "neural" && alone) {
        out.set(this.neural(prefix, excluded2, true, logits));
      } else if (kind === "neural") {
        const max2 = this.loadLogits(prefix, excluded2, logits);
        this.dense.expAdd(this.logitsAt, this.paddedSize, max2, w, this.blendAt);
      } else {
        const c = this.sparse(kind, prefix, excluded2);
        const scale = w * c.scale;
        for (let i = 0; i < c.length; i++) {
          const id = c.ids[i];
          out[id] = out[id] + scale * c.values[i];
        }
      }
    }
    for (const id of excluded2) out[id] = Number.NEGATIVE_INFINITY;
    return out;
  }
  /**
   * The network's values for `prefix`: exp(logit − max eligible logit), so its best eligible item
   * scores 1; or, with `probabilities`, its softmax over the whole vocabulary (the seeds' model's
   * output, padding and unknown included). Excluded ids get 0. The array is this scorer's buffer,
   * overwritten by the next call. `logits`: the prefix's row of `logits()`, when computed.
   */
  neural(prefix, excluded2, probabilities = false, logits) {
    const max2 = this.loadLogits(prefix, probabilities ? [] : excluded2, logits);
    const values = this.valuesView;
    values.fill(0);
    this.dense.expAdd(this.logitsAt, this.paddedSize, max2, 1, this.valuesAt);
    if (probabilities) {
      let sum3 = 0;
      for (let id = 0; id < this.vocabSize; id++) sum3 += values[id];
      for (let id = 0; id < this.vocabSize; id++) values[id] = values[id] / sum3;
      for (const id of excluded2) values[id] = 0;
    }
    return values;
  }
  /**
   * Puts the prefix's logits in the kernel's buffer (copied from `logits`, or computed), with
   * `excluded` at −∞; returns the largest.
   */
  loadLogits(prefix, excluded2, logits) {
    const values = this.logitsView;
    if (logits) values.set(logits);
    else this.net.scores([knownIds(prefix)], values);
    for (const id of excluded2) values[id] = Number.NEGATIVE_INFINITY;
    let max2 = Number.NEGATIVE_INFINITY;
    for (let id = 0; id < this.vocabSize; id++) {
      if (values[id] > max2) max2 = values[id];
    }
    return max2;
  }
  /**
   * A sparse component's values for `prefix`. The arrays may be buffers of the index or of this
   * scorer, overwritten by the next call of the same component.
   */
  sparse(kind, prefix, excluded2) {
    if (kind === "sknn") {
      const view = this.index.sknn(withoutUnknown(prefix));
      return scaled(view.ids, view.scores, view.length, excluded2);
    }
    if (kind === "cooccurrence") {
      const last = prefix.length > 0 ? prefix[prefix.length - 1] : -1;
      const next = this.index.successors(last >= FIRST_ITEM_ID ? last : -1);
      return scaled(next.ids, next.counts, next.length, excluded2);
    }
    return this.repeat(prefix, excluded2);
  }
  repeat(prefix, excluded2) {
    this.stamp++;
    let length = 0;
    const n2 = prefix.length;
    for (let i = 0; i < n2; i++) {
      const id = prefix[i];
      if (id < FIRST_ITEM_ID || id >= this.vocabSize) continue;
      if (this.repeatStamp[id] !== this.stamp) {
        this.repeatStamp[id] = this.stamp;
        this.repeatSlot[id] = length;
        this.repeatIds[length++] = id;
      }
      this.repeatValues[this.repeatSlot[id]] = (i + 1) / n2;
    }
    return scaled(this.repeatIds, this.repeatValues, length, excluded2);
  }
};
function knownIds(prefix) {
  return Int32Array.from(prefix).filter((id) => id >= FIRST_ITEM_ID);
}
function withoutUnknown(prefix) {
  return Int32Array.from(prefix, (id) => id >= FIRST_ITEM_ID ? id : -1);
}
function scaled(ids, values, length, excluded2) {
  let max2 = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v > max2 && !excluded2.includes(ids[i])) max2 = v;
  }
  return { ids, values, length, scale: max2 > 0 ? 1 / max2 : 0 };
}

// pipeline/model/legacy-artifact.ts
function damaged(path2, why) {
  return new PipelineError(
    `model artifact damaged: ${path2}: ${why}`,
    2,
    "re-run `pipeline train` to write the artifact again"
  );
}
function readLegacyNetwork(modelJson, bin, path2) {
  const json = modelJson;
  const layers = json.modelTopology?.config?.layers;
  const manifest2 = json.weightsManifest?.[0]?.weights;
  if (!Array.isArray(layers) || !Array.isArray(manifest2)) {
    throw damaged(path2, "not a tfjs-layers model (no layers or weights manifest)");
  }
  const embedding = layers.find((l) => l.class_name === "Embedding")?.config;
  const recurrent = layers.filter((l) => l.class_name === "LSTM" || l.class_name === "GRU");
  const cells = new Set(recurrent.map((l) => l.class_name));
  const maxLen = embedding?.input_length ?? embedding?.batch_input_shape?.[1];
  if (!embedding?.input_dim || !embedding.output_dim || typeof maxLen !== "number" || recurrent.length === 0 || cells.size !== 1) {
    throw damaged(
      path2,
      "expected Embedding → LSTM or GRU layers → Dense, as `pipeline train` wrote"
    );
  }
  const net = {
    cell: recurrent[0]?.class_name === "GRU" ? "gru" : "lstm",
    vocabSize: embedding.input_dim,
    embeddingDim: embedding.output_dim,
    hiddenUnits: recurrent[0]?.config?.units ?? 0,
    layers: recurrent.length,
    tied: false,
    maxLen
  };
  const names = [
    "embedding",
    ...recurrent.flatMap((_, i) => [`rnn_${i}/kernel`, `rnn_${i}/recurrent`, `rnn_${i}/bias`]),
    "output/kernel",
    "output/bias"
  ];
  if (manifest2.length !== names.length) {
    throw damaged(path2, `expected ${names.length} weights, the manifest lists ${manifest2.length}`);
  }
  const weights = /* @__PURE__ */ new Map();
  let offset = 0;
  manifest2.forEach((entry, i) => {
    if ((entry.dtype ?? "float32") !== "float32") {
      throw damaged(path2, `weight ${entry.name} is ${entry.dtype}, expected float32`);
    }
    const bytes = entry.shape.reduce((a, b) => a * b, 1) * 4;
    if (offset + bytes > bin.byteLength)
      throw damaged(path2, `weight ${entry.name} runs past weights.bin`);
    weights.set(
      names[i],
      new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + bytes))
    );
    offset += bytes;
  });
  return { net, weights };
}

// pipeline/model/neighbours.ts
var NEIGHBOUR_DEFAULTS = { neighbours: 100, sampleSize: 500 };
function positiveInteger2(value2, what) {
  if (!Number.isSafeInteger(value2) || value2 < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value2}`);
  }
  return value2;
}
function nextEpoch(epoch, stamps) {
  if (epoch === 4294967295) {
    stamps.fill(0);
    return 1;
  }
  return epoch + 1;
}
function cutoff(values, n2, count2, scratch) {
  if (n2 <= count2) return Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n2; i++) scratch[i] = values[i];
  const target = n2 - count2;
  let lo = 0;
  let hi = n2 - 1;
  while (lo < hi) {
    const pivot = scratch[lo + hi >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] < pivot) i++;
      while (scratch[j] > pivot) j--;
      if (i <= j) {
        const tmp = scratch[i];
        scratch[i++] = scratch[j];
        scratch[j--] = tmp;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return scratch[target];
}
function siftDown(heap, from, size, postings, cursor) {
  let i = from;
  for (; ; ) {
    const left = 2 * i + 1;
    if (left >= size) return;
    let top = i;
    let topHead = postings[cursor[heap[i]]];
    for (let child = left; child <= left + 1 && child < size; child++) {
      const head = postings[cursor[heap[child]]];
      if (head > topHead) {
        top = child;
        topHead = head;
      }
    }
    if (top === i) return;
    const tmp = heap[i];
    heap[i] = heap[top];
    heap[top] = tmp;
    i = top;
  }
}
function rankSuccessors(sessions, itemCount) {
  const pairStart = new Int32Array(itemCount + 1);
  for (const session2 of sessions) {
    for (let t = 1; t < session2.length; t++) {
      const from = session2[t - 1];
      pairStart[from + 1] = pairStart[from + 1] + 1;
    }
  }
  for (let a = 0; a < itemCount; a++) {
    pairStart[a + 1] = pairStart[a + 1] + pairStart[a];
  }
  const next = new Int32Array(pairStart[itemCount]);
  const cursor = pairStart.slice(0, itemCount);
  for (const session2 of sessions) {
    for (let t = 1; t < session2.length; t++) {
      const from = session2[t - 1];
      next[cursor[from]] = session2[t];
      cursor[from] = cursor[from] + 1;
    }
  }
  const start = new Int32Array(itemCount + 1);
  const ids = new Int32Array(next.length);
  const counts = new Int32Array(next.length);
  const tally = new Int32Array(itemCount);
  let size = 0;
  for (let a = 0; a < itemCount; a++) {
    const first = start[a] = size;
    for (let p = pairStart[a]; p < pairStart[a + 1]; p++) {
      const b = next[p];
      if (tally[b] === 0) ids[size++] = b;
      tally[b] = tally[b] + 1;
    }
    ids.subarray(first, size).sort((x, y) => tally[y] - tally[x] || x - y);
    for (let i = first; i < size; i++) {
      const b = ids[i];
      counts[i] = tally[b];
      tally[b] = 0;
    }
  }
  start[itemCount] = size;
  return [start, ids.slice(0, size), counts.slice(0, size)];
}
var SessionIndex = class {
  itemCount;
  neighbours;
  sampleSize;
  /** Distinct items of each session, first occurrence first: sessionItems[sessionStart[s] ..). */
  sessionStart;
  sessionItems;
  /** Sessions holding each item, ascending: postings[postingStart[i] .. postingStart[i + 1]). */
  postingStart;
  postings;
  /** Successors of each item, ranked: successorIds[successorStart[i] .. successorStart[i + 1]). */
  successorStart;
  successorIds;
  successorCounts;
  // Scratch buffers reused by every prefix.
  weight;
  weightStamp;
  weightEpoch = 0;
  /** Position of each touched item in the view (valid where scoreStamp is current). */
  slot;
  scoreStamp;
  scoreEpoch = 0;
  known;
  candidateSessions;
  candidateSims;
  chosen;
  scratch;
  mergeCursor;
  mergeFloor;
  mergeWeight;
  mergeHeap;
  view;
  /**
   * @param sessions train sessions as item ids, oldest first (by session start).
   * @param itemCount ids run over [0, itemCount) (the vocabulary size, padding and unknown
   *   included).
   */
  constructor(sessions, itemCount, options = {}) {
    this.neighbours = positiveInteger2(
      options.neighbours ?? NEIGHBOUR_DEFAULTS.neighbours,
      "neighbours"
    );
    this.sampleSize = positiveInteger2(
      options.sampleSize ?? NEIGHBOUR_DEFAULTS.sampleSize,
      "sampleSize"
    );
    if (!Number.isSafeInteger(itemCount) || itemCount < 0) {
      throw new RangeError(`itemCount must be a non-negative integer, got ${itemCount}`);
    }
    this.itemCount = itemCount;
    let total = 0;
    for (const session2 of sessions) total += session2.length;
    const starts = new Int32Array(sessions.length + 1);
    const distinct = new Int32Array(total);
    const postingCount = new Int32Array(itemCount + 1);
    const seen = new Uint32Array(itemCount);
    let size = 0;
    sessions.forEach((session2, s) => {
      starts[s] = size;
      for (let t = 0; t < session2.length; t++) {
        const id = session2[t];
        if (!Number.isInteger(id) || id < 0 || id >= itemCount) {
          throw new RangeError(`session ${s} holds id ${id}, outside [0, ${itemCount})`);
        }
        if (seen[id] === s + 1) continue;
        seen[id] = s + 1;
        distinct[size++] = id;
        postingCount[id + 1] = postingCount[id + 1] + 1;
      }
    });
    starts[sessions.length] = size;
    this.sessionStart = starts;
    this.sessionItems = distinct.slice(0, size);
    for (let i = 0; i < itemCount; i++) {
      postingCount[i + 1] = postingCount[i + 1] + postingCount[i];
    }
    this.postingStart = postingCount;
    this.postings = new Int32Array(size);
    const cursor = postingCount.slice(0, itemCount);
    for (let s = 0; s < sessions.length; s++) {
      for (let e = starts[s]; e < starts[s + 1]; e++) {
        const id = this.sessionItems[e];
        this.postings[cursor[id]] = s;
        cursor[id] = cursor[id] + 1;
      }
    }
    [this.successorStart, this.successorIds, this.successorCounts] = rankSuccessors(
      sessions,
      itemCount
    );
    this.weight = new Float64Array(itemCount);
    this.weightStamp = new Uint32Array(itemCount);
    this.slot = new Int32Array(itemCount);
    this.scoreStamp = new Uint32Array(itemCount);
    this.known = new Int32Array(itemCount);
    this.candidateSessions = new Int32Array(this.sampleSize);
    this.candidateSims = new Float64Array(this.sampleSize);
    this.chosen = new Int32Array(Math.min(this.neighbours, this.sampleSize));
    this.scratch = new Float64Array(Math.max(this.sampleSize, itemCount));
    this.mergeCursor = new Int32Array(itemCount);
    this.mergeFloor = new Int32Array(itemCount);
    this.mergeWeight = new Float64Array(itemCount);
    this.mergeHeap = new Int32Array(itemCount);
    this.view = {
      ids: new Int32Array(itemCount),
      scores: new Float64Array(itemCount),
      length: 0
    };
  }
  /**
   * The V-SKNN scores of the items the neighbours of `prefix` hold, in the order they were first
   * reached; empty when no train session shares an item with it. Ids outside [0, itemCount) are
   * ignored (they still count in the prefix's length L).
   *
   * The view and its arrays are this index's buffers, overwritten by the next call: read them
   * (or copy) before scoring another prefix, and do not write to them.
   */
  sknn(prefix) {
    const view = this.view;
    view.length = 0;
    const known = this.weigh(prefix);
    if (known === 0) return view;
    const candidates = this.candidates(known);
    const chosen = this.chooseNeighbours(candidates);
    this.scoreEpoch = nextEpoch(this.scoreEpoch, this.scoreStamp);
    const { ids, scores } = view;
    let touched = 0;
    for (let c = 0; c < chosen; c++) {
      const candidate = this.chosen[c];
      const s = this.candidateSessions[candidate];
      const sim = this.candidateSims[candidate];
      for (let e = this.sessionStart[s]; e < this.sessionStart[s + 1]; e++) {
        const id = this.sessionItems[e];
        if (this.scoreStamp[id] !== this.scoreEpoch) {
          this.scoreStamp[id] = this.scoreEpoch;
          this.slot[id] = touched;
          ids[touched] = id;
          scores[touched++] = sim;
        } else {
          const at = this.slot[id];
          scores[at] = scores[at] + sim;
        }
      }
    }
    view.length = touched;
    return view;
  }
  /**
   * The ids of the `count` highest scores of `view` (an `sknn` result of this index), best first;
   * equal scores by smaller id (with the vocabulary's ids: the more popular item).
   */
  top(view, count2) {
    const { ids, scores, length } = view;
    const threshold = cutoff(scores, length, count2, this.scratch);
    const picked = [];
    for (let i = 0; i < length; i++) if (scores[i] >= threshold) picked.push(i);
    picked.sort(
      (a, b) => scores[b] - scores[a] || ids[a] - ids[b]
    );
    if (picked.length > count2) picked.length = count2;
    return picked.map((i) => ids[i]);
  }
  /**
   * The items that directly followed `item` in train and how often, most often first, equal
   * counts by smaller id; empty for an id outside [0, itemCount) or one that never had a
   * successor. The arrays are read-only views into this index (no copy): do not write to them.
   */
  successors(item) {
    const known = Number.isInteger(item) && item >= 0 && item < this.itemCount;
    const from = known ? this.successorStart[item] : 0;
    const to = known ? this.successorStart[item + 1] : 0;
    return {
      ids: this.successorIds.subarray(from, to),
      counts: this.successorCounts.subarray(from, to),
      length: to - from
    };
  }
  /**
   * Sets the position weights of the prefix's ids that some session holds; returns how many
   * distinct ones (in `known`, first occurrence first).
   */
  weigh(prefix) {
    this.weightEpoch = nextEpoch(this.weightEpoch, this.weightStamp);
    let known = 0;
    const length = prefix.length;
    for (let i = 0; i < length; i++) {
      const id = prefix[i];
      if (!(id >= 0 && id < this.itemCount && Number.isInteger(id))) continue;
      if (this.postingStart[id] === this.postingStart[id + 1]) continue;
      if (this.weightStamp[id] !== this.weightEpoch) {
        this.weightStamp[id] = this.weightEpoch;
        this.known[known++] = id;
      }
      this.weight[id] = (i + 1) / length;
    }
    return known;
  }
  /**
   * The `sampleSize` most recent sessions holding any of the `lists` known items, most recent
   * first, with their similarities, into candidateSessions/candidateSims; returns how many.
   * A merge of the posting lists from their tails (each list ascends): a session in several
   * lists comes out of each in turn, consecutively (the merge takes the largest id), so its
   * similarity — the weights of the lists it is in — adds up without reading its items.
   */
  candidates(lists) {
    const cursor = this.mergeCursor;
    const floor = this.mergeFloor;
    const weight = this.mergeWeight;
    const heap = this.mergeHeap;
    const postings = this.postings;
    for (let l = 0; l < lists; l++) {
      const id = this.known[l];
      cursor[l] = this.postingStart[id + 1] - 1;
      floor[l] = this.postingStart[id];
      weight[l] = this.weight[id];
      heap[l] = l;
    }
    let size = lists;
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, i, size, postings, cursor);
    const sessions = this.candidateSessions;
    const sims = this.candidateSims;
    let n2 = 0;
    let current = -1;
    while (size > 0) {
      const l = heap[0];
      const session2 = postings[cursor[l]];
      if (session2 !== current) {
        if (n2 === this.sampleSize) break;
        current = session2;
        sessions[n2] = current;
        sims[n2++] = 0;
      }
      sims[n2 - 1] = sims[n2 - 1] + weight[l];
      cursor[l] = cursor[l] - 1;
      if (cursor[l] < floor[l]) heap[0] = heap[--size];
      siftDown(heap, 0, size, postings, cursor);
    }
    return n2;
  }
  /**
   * The candidates (indices) of the `neighbours` largest similarities into `chosen`; returns
   * how many. Those above the threshold in candidate order, then those equal to it, lower
   * indices first (candidates come most recent first, so recency breaks similarity ties).
   */
  chooseNeighbours(candidates) {
    const sims = this.candidateSims;
    const threshold = cutoff(sims, candidates, this.neighbours, this.scratch);
    let picked = 0;
    for (let i = 0; i < candidates; i++) {
      if (sims[i] > threshold) this.chosen[picked++] = i;
    }
    for (let i = 0; i < candidates && picked < this.neighbours; i++) {
      if (sims[i] === threshold) this.chosen[picked++] = i;
    }
    return picked;
  }
};

// pipeline/model/net.ts
var GATES = { lstm: 4, gru: 3 };
function netWeightSpecs(config) {
  const { vocabSize: v, embeddingDim: e, hiddenUnits: h } = config;
  const g = GATES[config.cell] * h;
  const specs = [{ name: "embedding", shape: [v, e] }];
  for (let layer = 0; layer < config.layers; layer++) {
    specs.push(
      { name: `rnn_${layer}/kernel`, shape: [layer === 0 ? e : h, g] },
      { name: `rnn_${layer}/recurrent`, shape: [h, g] },
      { name: `rnn_${layer}/bias`, shape: [g] }
    );
  }
  if (!config.tied) specs.push({ name: "output/kernel", shape: [h, v] });
  specs.push({ name: "output/bias", shape: [v] });
  return specs;
}
function integerAtLeast(config, field2, min) {
  const value2 = config[field2];
  if (typeof value2 !== "number" || !Number.isInteger(value2) || value2 < min) {
    throw new InputError(
      `invalid model setting ${JSON.stringify(value2)}: expected an integer of at least ${min}`,
      { field: `model.${field2}` }
    );
  }
}
function validateNetConfig(config) {
  integerAtLeast(config, "vocabSize", 3);
  integerAtLeast(config, "embeddingDim", 1);
  integerAtLeast(config, "hiddenUnits", 1);
  integerAtLeast(config, "layers", 1);
  integerAtLeast(config, "maxLen", 1);
  if (config.cell !== "lstm" && config.cell !== "gru") {
    throw new InputError(`invalid model setting "${String(config.cell)}": expected lstm or gru`, {
      field: "model.cell"
    });
  }
  if (typeof config.tied !== "boolean") {
    throw new InputError(
      `invalid model setting ${JSON.stringify(config.tied)}: expected a boolean`,
      {
        field: "model.tied"
      }
    );
  }
  if (config.tied && config.hiddenUnits !== config.embeddingDim) {
    throw new InputError(
      `tied embeddings need as many hidden units as embedding dimensions, got ${config.hiddenUnits} and ${config.embeddingDim}`,
      { field: "model.hiddenUnits" },
      "set --hidden-units equal to --embedding-dim, or --tied false"
    );
  }
  return config;
}

// pipeline/model/net-runtime.ts
var INPUT_TABLE_MAX_FLOATS = 16 * 1024 * 1024;
function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}
function checkedWeights(config, weights) {
  const specs = netWeightSpecs(config);
  const describe4 = `${config.cell} net (vocabSize ${config.vocabSize}, embeddingDim ${config.embeddingDim}, hiddenUnits ${config.hiddenUnits}, layers ${config.layers}, tied ${config.tied})`;
  const checked = /* @__PURE__ */ new Map();
  for (const { name: name2, shape } of specs) {
    const expected = shape.reduce((a, b) => a * b, 1);
    const values = weights.get(name2);
    if (values === void 0) {
      throw new PipelineError(
        `weight "${name2}" is missing: a ${describe4} needs it with shape [${shape.join(", ")}] (${expected} values)`
      );
    }
    if (!(values instanceof Float32Array) || values.length !== expected) {
      const actual = values instanceof Float32Array ? `${values.length} values` : "not a Float32Array";
      throw new PipelineError(
        `weight "${name2}" has the wrong size: expected shape [${shape.join(", ")}] (${expected} values), got ${actual}`
      );
    }
    checked.set(name2, values);
  }
  for (const name2 of weights.keys()) {
    if (!checked.has(name2)) {
      throw new PipelineError(
        `unexpected weight "${name2}": a ${describe4} has only ${specs.map((s) => s.name).join(", ")}`
      );
    }
  }
  return checked;
}
var NetRuntime = class {
  config;
  /** Output size of the last recurrent layer (hiddenUnits). */
  stateSize;
  vocabSize;
  gateWidth;
  /** Weights, tables and scratch; the fields below are offsets in it (floats). */
  memory;
  embedding;
  layers;
  /** [vocabSize, G]: embedding · W₀ + b₀ per id, or null when too large (computed per step). */
  inputTable;
  /** [hidden, outputWidth]: output/kernel, or the transposed embedding when tied. */
  outputMatrix;
  /** vocabSize rounded up to a multiple of 4 (zero columns), as the blocked kernel needs. */
  outputWidth;
  outputBias;
  // Scratch, reused by every call (the class is used from one thread).
  /** h of every layer, [layers, hidden]. */
  hidden;
  /** LSTM cell state of every layer, [layers, hidden]. */
  cell;
  /** Gate pre-activations of the current layer and step, [G]. */
  gates;
  /** GRU: r ⊙ h, [hidden]. */
  resetHidden;
  /** Final states of a block of prefixes, k-major [hidden, block] (the blocked kernels' input). */
  blockStates;
  /** Scores of up to BLOCK prefixes, [BLOCK, outputWidth]. */
  blockScores;
  // Views of the scratch for the element-wise parts (made once: subarray allocates).
  hiddenView;
  cellView;
  gatesView;
  resetView;
  /**
   * Checks every weight of netWeightSpecs(config) is present with the right length, and no
   * others. The weights are copied into kernel memory (or folded into tables), so later changes
   * to the map's arrays do not reach the runtime.
   */
  constructor(config, weights, options = {}) {
    this.config = { ...validateNetConfig(config) };
    const { vocabSize: v, embeddingDim: e, hiddenUnits: h, layers } = this.config;
    const g = GATES[config.cell] * h;
    const w = checkedWeights(config, weights);
    this.vocabSize = v;
    this.stateSize = h;
    this.gateWidth = g;
    this.outputWidth = Math.ceil(v / 4) * 4;
    const tableMax = options.inputTableMaxFloats ?? INPUT_TABLE_MAX_FLOATS;
    const layout = new KernelLayout();
    this.embedding = layout.reserve(v * e);
    this.layers = Array.from({ length: layers }, (_, layer) => {
      const inputSize = layer === 0 ? e : h;
      return {
        inputSize,
        kernel: layout.reserve(inputSize * g),
        recurrent: layout.reserve(h * g),
        bias: layout.reserve(g)
      };
    });
    this.inputTable = v * g <= tableMax ? layout.reserve(v * g) : null;
    this.outputMatrix = layout.reserve(h * this.outputWidth);
    this.outputBias = layout.reserve(this.outputWidth);
    this.hidden = layout.reserve(layers * h);
    this.cell = layout.reserve(layers * h);
    this.gates = layout.reserve(g);
    this.resetHidden = layout.reserve(h);
    this.blockStates = layout.reserve(h * BLOCK);
    this.blockScores = layout.reserve(BLOCK * this.outputWidth);
    this.memory = layout.create(
      `the ${config.cell} net (vocabSize ${v}, hiddenUnits ${h}, layers ${layers})`
    );
    const f32 = this.memory.f32;
    const weight = (name2) => w.get(name2);
    f32.set(weight("embedding"), this.embedding);
    this.layers.forEach((layer, l) => {
      f32.set(weight(`rnn_${l}/kernel`), layer.kernel);
      f32.set(weight(`rnn_${l}/recurrent`), layer.recurrent);
      f32.set(weight(`rnn_${l}/bias`), layer.bias);
    });
    const width = this.outputWidth;
    if (config.tied) {
      const embedding = weight("embedding");
      for (let id = 0; id < v; id++) {
        for (let k = 0; k < h; k++) {
          f32[this.outputMatrix + k * width + id] = embedding[id * e + k];
        }
      }
    } else {
      const kernel2 = weight("output/kernel");
      for (let k = 0; k < h; k++) {
        f32.set(kernel2.subarray(k * v, (k + 1) * v), this.outputMatrix + k * width);
      }
    }
    f32.set(weight("output/bias"), this.outputBias);
    if (this.inputTable !== null) this.buildInputTable(this.inputTable);
    this.hiddenView = this.memory.view(this.hidden, layers * h);
    this.cellView = this.memory.view(this.cell, layers * h);
    this.gatesView = this.memory.view(this.gates, g);
    this.resetView = this.memory.view(this.resetHidden, h);
  }
  /** Each id's row x·W₀ + b₀, by the same kernel call the per-step path makes. */
  buildInputTable(table3) {
    const { kernel: kernel2, bias, inputSize } = this.layers[0];
    const g = this.gateWidth;
    for (let id = 0; id < this.vocabSize; id++) {
      this.memory.matVecAdd(
        this.embedding + id * inputSize,
        inputSize,
        kernel2,
        g,
        g,
        bias,
        table3 + id * g
      );
    }
  }
  /**
   * Scores (logits, before any softmax) over all vocabulary ids for each prefix, row-major
   * [prefixes.length, vocabSize] into `out` (allocated when not given). A prefix is item ids
   * (encoded, no padding; the unknown id 1 is read like any other); only its last `maxLen` ids
   * are read. An empty prefix gives the scores of the zero state.
   */
  scores(prefixes, out) {
    const v = this.vocabSize;
    const h = this.stateSize;
    const width = this.outputWidth;
    const n2 = prefixes.length;
    const result = this.checkedOutput(out, n2 * v, "scores");
    const f32 = this.memory.f32;
    const top = this.hidden + (this.config.layers - 1) * h;
    for (let p = 0; p < n2; ) {
      const block = BLOCKS.find((size) => size <= n2 - p);
      if (block === void 0) {
        this.run(prefixes[p], p);
        const scores = this.blockScores;
        this.memory.matVecAdd(top, h, this.outputMatrix, width, v, this.outputBias, scores);
        result.set(f32.subarray(scores, scores + v), p * v);
        p++;
        continue;
      }
      for (let s = 0; s < block; s++) {
        this.run(prefixes[p + s], p + s);
        for (let k = 0; k < h; k++) {
          f32[this.blockStates + k * block + s] = f32[top + k];
        }
      }
      this.memory.matVecAddBlock(
        block,
        this.blockStates,
        h,
        this.outputMatrix,
        width,
        width,
        this.outputBias,
        this.blockScores,
        width
      );
      for (let s = 0; s < block; s++) {
        const row = this.blockScores + s * width;
        result.set(f32.subarray(row, row + v), (p + s) * v);
      }
      p += block;
    }
    return result;
  }
  /** The final hidden state of each prefix, [prefixes.length, stateSize]. */
  states(prefixes, out) {
    const h = this.stateSize;
    const result = this.checkedOutput(out, prefixes.length * h, "states");
    const top = this.hiddenView.subarray((this.config.layers - 1) * h);
    for (let p = 0; p < prefixes.length; p++) {
      this.run(prefixes[p], p);
      result.set(top, p * h);
    }
    return result;
  }
  checkedOutput(out, size, what) {
    if (out === void 0) return new Float32Array(size);
    if (out.length < size) {
      throw new RangeError(
        `${what}: the output array holds ${out.length} values, ${size} are needed`
      );
    }
    return out;
  }
  /** Runs one prefix from the zero state; the final states are left in `hidden`. */
  run(prefix, index2) {
    this.hiddenView.fill(0);
    this.cellView.fill(0);
    const v = this.vocabSize;
    for (let t = Math.max(0, prefix.length - this.config.maxLen); t < prefix.length; t++) {
      const id = prefix[t];
      if (!(id >= 0 && id < v && Number.isInteger(id))) {
        throw new RangeError(
          `prefix ${index2} holds id ${id} at position ${t}: ids are integers in [0, ${v})`
        );
      }
      if (id === 0) continue;
      this.step(id);
    }
  }
  /** One time step through every layer. */
  step(id) {
    const h = this.stateSize;
    const g = this.gateWidth;
    const memory = this.memory;
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      if (l === 0 && this.inputTable !== null) {
        const row = this.inputTable + id * g;
        memory.f32.copyWithin(this.gates, row, row + g);
      } else {
        const input = l === 0 ? this.embedding + id * layer.inputSize : this.hidden + (l - 1) * h;
        memory.matVecAdd(input, layer.inputSize, layer.kernel, g, g, layer.bias, this.gates);
      }
      if (this.config.cell === "lstm") this.lstmCell(layer.recurrent, l * h);
      else this.gruCell(layer.recurrent, l * h);
    }
  }
  /** z (= x·W + b) += h·U, then the LSTM update of layer state at `at` (gates i, f, c, o). */
  lstmCell(recurrent, at) {
    const h = this.stateSize;
    const z7 = this.gatesView;
    const hidden = this.hiddenView;
    const cell2 = this.cellView;
    this.memory.matVecAdd(this.hidden + at, h, recurrent, 4 * h, 4 * h, this.gates, this.gates);
    for (let j = 0; j < h; j++) {
      const input = sigmoid(z7[j]);
      const forget = sigmoid(z7[h + j]);
      const candidate = Math.tanh(z7[2 * h + j]);
      const output = sigmoid(z7[3 * h + j]);
      const c = forget * cell2[at + j] + input * candidate;
      cell2[at + j] = c;
      hidden[at + j] = output * Math.tanh(c);
    }
  }
  /**
   * z (= x·W + b) plus the recurrent terms, then the GRU update of the state at `at` (gates
   * z, r, h; the reset gate applies to h before its product with U_h, tfjs-layers' variant).
   */
  gruCell(recurrent, at) {
    const h = this.stateSize;
    const g = 3 * h;
    const z7 = this.gatesView;
    const hidden = this.hiddenView;
    const reset = this.resetView;
    const memory = this.memory;
    memory.matVecAdd(this.hidden + at, h, recurrent, g, 2 * h, this.gates, this.gates);
    for (let j = 0; j < h; j++) {
      z7[j] = sigmoid(z7[j]);
      reset[j] = sigmoid(z7[h + j]) * hidden[at + j];
    }
    const candidates = this.gates + 2 * h;
    memory.matVecAdd(this.resetHidden, h, recurrent + 2 * h, g, h, candidates, candidates);
    for (let j = 0; j < h; j++) {
      const update = z7[j];
      const candidate = Math.tanh(z7[2 * h + j]);
      hidden[at + j] = update * hidden[at + j] + (1 - update) * candidate;
    }
  }
};

// pipeline/model/top-k.ts
function worse(va, ia, vb, ib) {
  return va < vb || va === vb && ia > ib;
}
function excluded(id, exclude) {
  for (let e = 0; e < exclude.length; e++) if (exclude[e] === id) return true;
  return false;
}
function siftDown2(ids, values, size, at) {
  const id = ids[at];
  const value2 = values[at];
  let hole = at;
  for (; ; ) {
    let child = 2 * hole + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size && worse(
      values[right],
      ids[right],
      values[child],
      ids[child]
    )) {
      child = right;
    }
    if (!worse(values[child], ids[child], value2, id)) break;
    ids[hole] = ids[child];
    values[hole] = values[child];
    hole = child;
  }
  ids[hole] = id;
  values[hole] = value2;
}
function siftUp(ids, values, at) {
  const id = ids[at];
  const value2 = values[at];
  let hole = at;
  while (hole > 0) {
    const parent = hole - 1 >> 1;
    if (!worse(value2, id, values[parent], ids[parent])) break;
    ids[hole] = ids[parent];
    values[hole] = values[parent];
    hole = parent;
  }
  ids[hole] = id;
  values[hole] = value2;
}
function topK(scores, from, length, k, exclude, ids, values) {
  if (!Number.isInteger(from) || !Number.isInteger(length) || from < 0 || length < 0) {
    throw new RangeError(`topK: invalid row [${from}, ${from} + ${length})`);
  }
  if (from + length > scores.length) {
    throw new RangeError(`topK: row [${from}, ${from + length}) exceeds ${scores.length} scores`);
  }
  if (!Number.isInteger(k) || k < 0)
    throw new RangeError(`topK: k must be an integer ≥ 0, got ${k}`);
  if (ids.length < k || values.length < k) {
    throw new RangeError(
      `topK: output arrays hold ${Math.min(ids.length, values.length)} < k = ${k}`
    );
  }
  let size = 0;
  let id = 0;
  for (; id < length && size < k; id++) {
    const value2 = scores[from + id];
    if (value2 !== value2 || excluded(id, exclude)) continue;
    ids[size] = id;
    values[size] = value2;
    siftUp(ids, values, size++);
  }
  let root = size > 0 ? values[0] : Number.POSITIVE_INFINITY;
  for (; id < length; id++) {
    const value2 = scores[from + id];
    if (!(value2 > root) || excluded(id, exclude)) continue;
    ids[0] = id;
    values[0] = value2;
    siftDown2(ids, values, size, 0);
    root = values[0];
  }
  for (let end = size - 1; end > 0; end--) {
    const id2 = ids[0];
    const value2 = values[0];
    ids[0] = ids[end];
    values[0] = values[end];
    ids[end] = id2;
    values[end] = value2;
    siftDown2(ids, values, end, 0);
  }
  return size;
}

// pipeline/model/predictor.ts
var Predictor = class {
  constructor(vocabulary, scorer) {
    this.vocabulary = vocabulary;
    this.scorer = scorer;
    if (scorer.vocabSize !== vocabulary.size) {
      throw new Error(
        `the blend scores ${scorer.vocabSize} ids but the vocabulary has ${vocabulary.size}`
      );
    }
    this.topIds = new Int32Array(vocabulary.size);
    this.topValues = new Float32Array(vocabulary.size);
    const items = vocabulary.size - FIRST_ITEM_ID;
    let total = 0;
    for (let id = FIRST_ITEM_ID; id < vocabulary.size; id++) {
      total += vocabulary.count(vocabulary.sku(id));
    }
    this.popular = Array.from({ length: items }, (_, i) => {
      const sku = vocabulary.sku(i + FIRST_ITEM_ID);
      return { sku, score: vocabulary.count(sku) / Math.max(total, 1) };
    });
  }
  vocabulary;
  scorer;
  topIds;
  topValues;
  popular;
  /** Real items the vocabulary holds: the most any ranking can return. */
  get items() {
    return this.vocabulary.size - FIRST_ITEM_ID;
  }
  /**
   * The top k SKUs for each session (oldest SKU first). k is capped at the items that can be
   * recommended.
   */
  predict(sessions, k) {
    if (!Number.isInteger(k) || k < 1)
      throw new RangeError(`k must be a positive integer, got ${k}`);
    const top = Math.min(k, this.items);
    const encoded = sessions.map((session2) => {
      const ids = this.vocabulary.encode(session2);
      let unknownSkus = 0;
      for (const id of ids) if (id === UNKNOWN_ID) unknownSkus++;
      return { ids, unknownSkus };
    });
    const scored = encoded.filter((e) => e.unknownSkus < e.ids.length);
    const logits = scored.length > 0 ? this.scorer.logits(scored.map((e) => e.ids)) : void 0;
    const v = this.vocabulary.size;
    let row = 0;
    return encoded.map(({ ids, unknownSkus }) => {
      if (unknownSkus === ids.length) {
        return { items: this.popular.slice(0, top), unknownSkus, fallback: true };
      }
      const scores = this.scorer.score(ids, logits?.subarray(row * v, (row + 1) * v));
      row++;
      const excluded2 = this.scorer.excluded(ids);
      const n2 = topK(scores, 0, scores.length, top, excluded2, this.topIds, this.topValues);
      const items = [];
      for (let i = 0; i < n2; i++) {
        items.push({
          sku: this.vocabulary.sku(this.topIds[i]),
          score: this.topValues[i]
        });
      }
      return { items, unknownSkus, fallback: false };
    });
  }
};

// pipeline/model/sessions.ts
function splitSessions(block) {
  const out = [];
  for (let s = 0; s + 1 < block.offsets.length; s++) {
    out.push(block.ids.subarray(block.offsets[s], block.offsets[s + 1]));
  }
  return out;
}

// pipeline/model/artifact.ts
var MODEL_FORMAT = "mlops-session-recs/model@2";
var LEGACY_MODEL_FORMAT = "mlops-session-recs/model@1";
var ARTIFACT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  sessions: "sessions.bin",
  vocabulary: "vocabulary.json",
  config: "model-config.json",
  history: "history.json"
};
var REQUIRED_ARTIFACT_FILES = Object.values(ARTIFACT_FILES).filter(
  (file) => file !== ARTIFACT_FILES.sessions
);
function encodeSessions(sessions) {
  const count2 = sessions.offsets.length - 1;
  const words = new Int32Array(1 + sessions.offsets.length + sessions.ids.length);
  words[0] = count2;
  words.set(sessions.offsets, 1);
  words.set(sessions.ids, 1 + sessions.offsets.length);
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}
function decodeSessions(bytes, path2) {
  const fail2 = (why) => damaged2(path2, why);
  if (bytes.byteLength % 4 !== 0 || bytes.byteLength < 8)
    throw fail2("it is not a list of int32 words");
  const words = new Int32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  );
  const count2 = words[0];
  if (!(count2 >= 0 && 2 + count2 <= words.length)) throw fail2("its session count is out of range");
  const offsets = words.subarray(1, 2 + count2);
  const ids = words.subarray(2 + count2);
  if (offsets[0] !== 0 || offsets[count2] !== ids.length)
    throw fail2("its offsets do not cover its ids");
  return { offsets, ids };
}
async function saveModelArtifact(dir, parts) {
  await mkdir6(dir, { recursive: true });
  const entries = [];
  const chunks = [];
  let offset = 0;
  for (const { name: name2, shape } of netWeightSpecs(parts.net)) {
    const values = parts.weights.get(name2);
    if (!values) throw new Error(`saveModelArtifact: no weight ${name2}`);
    entries.push({ name: name2, shape, offset });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    offset += values.byteLength;
  }
  const model = {
    format: MODEL_FORMAT,
    net: parts.net,
    weights: entries,
    blend: parts.blend,
    ablation: parts.ablation,
    neighbours: parts.neighbours
  };
  await writeFile4(join5(dir, ARTIFACT_FILES.model), JSON.stringify(model, null, 2));
  await writeFile4(join5(dir, ARTIFACT_FILES.weights), Buffer.concat(chunks));
  await writeFile4(join5(dir, ARTIFACT_FILES.sessions), encodeSessions(parts.sessions));
  await writeFile4(join5(dir, ARTIFACT_FILES.vocabulary), JSON.stringify(parts.vocabulary));
  await writeFile4(join5(dir, ARTIFACT_FILES.config), JSON.stringify(parts.config, null, 2));
  await writeFile4(join5(dir, ARTIFACT_FILES.history), JSON.stringify(parts.history, null, 2));
  return Object.values(ARTIFACT_FILES);
}
function damaged2(path2, why) {
  return new PipelineError(
    `model artifact damaged: ${path2}: ${why}`,
    2,
    "re-run `pipeline train` to write the artifact again"
  );
}
async function readBytes(dir, file) {
  const path2 = join5(dir, file);
  try {
    return await readFile5(path2);
  } catch (error) {
    throw new PipelineError(
      `model artifact incomplete: cannot read ${path2} (${error.code ?? error.message})`,
      2,
      "point --model at a folder written by `pipeline train` (it holds model.json, weights.bin, vocabulary.json and model-config.json)"
    );
  }
}
async function readJson(dir, file) {
  const bytes = await readBytes(dir, file);
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw damaged2(join5(dir, file), `not valid JSON (${error.message})`);
  }
}
function parseConfig(value2, path2) {
  const config = value2;
  if (config?.format === LEGACY_MODEL_FORMAT) return config;
  if (config?.format !== MODEL_FORMAT || typeof config.net !== "object") {
    throw damaged2(path2, `not a model config (format ${MODEL_FORMAT})`);
  }
  validateNetConfig(config.net);
  return config;
}
function parseBlend(value2, path2, what) {
  const blend = value2;
  const components = blend?.components;
  if (!Array.isArray(components) || !components.every(
    (c) => typeof c === "object" && c !== null && COMPONENT_KINDS.includes(c.kind) && typeof c.weight === "number"
  )) {
    throw damaged2(path2, `its ${what} is not a list of {kind, weight} components`);
  }
  return { components: components.map((c) => ({ kind: c.kind, weight: c.weight })) };
}
function readWeights(net, entries, bin, path2) {
  const weights = /* @__PURE__ */ new Map();
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const { name: name2, shape } of netWeightSpecs(net)) {
    const entry = byName.get(name2);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!entry || entry.offset + size * 4 > bin.byteLength) {
      throw damaged2(path2, `weight ${name2} is missing or runs past weights.bin`);
    }
    const bytes = bin.subarray(entry.offset, entry.offset + size * 4);
    weights.set(
      name2,
      new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    );
  }
  return weights;
}
async function loadModelArtifact(dir) {
  const configPath = join5(dir, ARTIFACT_FILES.config);
  const config = parseConfig(await readJson(dir, ARTIFACT_FILES.config), configPath);
  let vocabulary;
  try {
    vocabulary = Vocabulary.fromJSON(await readJson(dir, ARTIFACT_FILES.vocabulary));
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    throw damaged2(join5(dir, ARTIFACT_FILES.vocabulary), error.message);
  }
  const modelPath = join5(dir, ARTIFACT_FILES.model);
  const modelJson = await readJson(dir, ARTIFACT_FILES.model);
  const bin = await readBytes(dir, ARTIFACT_FILES.weights);
  let net;
  let weights;
  let blend = { components: [{ kind: "neural", weight: 1 }] };
  let ablation = null;
  let index2;
  if (config.format === LEGACY_MODEL_FORMAT) {
    ({ net, weights } = readLegacyNetwork(modelJson, bin, modelPath));
    config.net = net;
  } else {
    const model = modelJson;
    if (model.format !== MODEL_FORMAT || typeof model.net !== "object" || !Array.isArray(model.weights)) {
      throw damaged2(modelPath, `not a ${MODEL_FORMAT} model`);
    }
    net = validateNetConfig(model.net);
    weights = readWeights(net, model.weights, bin, modelPath);
    blend = parseBlend(model.blend, modelPath, "blend");
    ablation = model.ablation ? parseBlend(model.ablation, modelPath, "ablation") : null;
    const usesIndex = [...blend.components, ...ablation?.components ?? []].some(
      (c) => c.kind === "sknn" || c.kind === "cooccurrence"
    );
    if (usesIndex) {
      const sessionsPath = join5(dir, ARTIFACT_FILES.sessions);
      const sessions = decodeSessions(await readBytes(dir, ARTIFACT_FILES.sessions), sessionsPath);
      try {
        index2 = new SessionIndex(splitSessions(sessions), vocabulary.size, {
          ...NEIGHBOUR_DEFAULTS,
          ...model.neighbours
        });
      } catch (error) {
        throw damaged2(sessionsPath, error.message);
      }
    }
  }
  if (vocabulary.size !== net.vocabSize) {
    throw new PipelineError(
      `model artifact inconsistent: the vocabulary has ${vocabulary.size} ids but the model ${net.vocabSize}`,
      2,
      "the folder mixes files of two trainings; re-run `pipeline train`"
    );
  }
  const runtime = new NetRuntime(net, weights);
  const evidence = { vocabSize: vocabulary.size, net: runtime, ...index2 ? { index: index2 } : {} };
  const predictorFor = (spec) => new Predictor(
    vocabulary,
    new BlendScorer(spec, evidence, { excludeLast: config.excludeLastItem })
  );
  const predictor = predictorFor(blend);
  return {
    config,
    vocabulary,
    blend,
    ablation,
    predict: async (sessions, k) => predictor.predict(sessions, k),
    withBlend(spec) {
      const other = predictorFor(spec);
      return { predict: async (sessions, k) => other.predict(sessions, k) };
    }
  };
}

// pipeline/train/fetch-artifact.ts
import { existsSync as existsSync3 } from "node:fs";
import { readdir as readdir2, stat as stat4 } from "node:fs/promises";
import { join as join7, relative as relative2, sep as sep2 } from "node:path";

// pipeline/train/train.ts
import { mkdtemp as mkdtemp2, rm as rm5 } from "node:fs/promises";
import { tmpdir as tmpdir2 } from "node:os";
import { join as join6 } from "node:path";

// pipeline/model/fit-blend.ts
var FIT_K = 20;
var NEURAL_CANDIDATES = 200;
var LOGIT_CHUNK = 64;
var GRID = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.4, 2, 3, 5];
var ROUNDS = 3;
function fitCase(scorer, prefix, target, logits) {
  const kinds = scorer.spec.components.map((c) => c.kind);
  const excluded2 = scorer.excluded(prefix);
  const eligible = (id) => id >= 0 && id < scorer.vocabSize && !excluded2.includes(id);
  const columns2 = [];
  const chosen = /* @__PURE__ */ new Set();
  if (eligible(target)) chosen.add(target);
  let dense;
  for (const kind of kinds) {
    const column = /* @__PURE__ */ new Map();
    if (kind === "neural") {
      dense = scorer.neural(prefix, excluded2, false, logits).slice();
      for (const id of largest(dense, NEURAL_CANDIDATES, excluded2)) chosen.add(id);
    } else {
      const c = scorer.sparse(kind, prefix, excluded2);
      for (let i = 0; i < c.length; i++) {
        const id = c.ids[i];
        if (!eligible(id)) continue;
        column.set(id, c.values[i] * c.scale);
        chosen.add(id);
      }
    }
    columns2.push(column);
  }
  const valueOf = (id, k) => kinds[k] === "neural" ? dense[id] : columns2[k].get(id) ?? 0;
  const beaten = (id) => eligible(target) && id > target && kinds.every((_, k) => valueOf(id, k) <= valueOf(target, k));
  const ids = Int32Array.from([...chosen].filter((id) => !beaten(id)));
  const values = new Float32Array(ids.length * kinds.length);
  ids.forEach((id, i) => {
    for (let k = 0; k < kinds.length; k++) values[i * kinds.length + k] = valueOf(id, k);
  });
  let zeroAhead = 0;
  if (eligible(target)) {
    zeroAhead = target - excluded2.filter((id) => id < target).length;
    for (const id of ids) if (id < target) zeroAhead--;
  }
  return { ids, values, target: eligible(target) ? ids.indexOf(target) : -1, zeroAhead };
}
function largest(values, count2, excluded2) {
  const ids = new Int32Array(count2);
  const n2 = topK(values, 0, values.length, count2, excluded2, ids, new Float32Array(count2));
  return ids.subarray(0, n2);
}
function rankOf2(c, weights, limit = Infinity) {
  if (c.target < 0) return Number.POSITIVE_INFINITY;
  const k = weights.length;
  const score = (i) => {
    let s = 0;
    for (let j = 0; j < k; j++) s += weights[j] * c.values[i * k + j];
    return s;
  };
  const targetScore = score(c.target);
  const targetId = c.ids[c.target];
  let rank = 1;
  for (let i = 0; i < c.ids.length; i++) {
    if (i === c.target) continue;
    const s = score(i);
    if (s > targetScore || s === targetScore && c.ids[i] < targetId) {
      if (++rank > limit) return rank;
    }
  }
  return targetScore > 0 ? rank : rank + c.zeroAhead;
}
function fitMetrics(cases, weights) {
  let hits = 0;
  let reciprocal = 0;
  for (const c of cases) {
    const rank = rankOf2(c, weights, FIT_K);
    if (rank <= FIT_K) {
      hits++;
      reciprocal += 1 / rank;
    }
  }
  const n2 = Math.max(cases.length, 1);
  return { hr: hits / n2, mrr: reciprocal / n2, cases: cases.length };
}
function perCase(cases, weights, scale) {
  return Float64Array.from(cases, (c) => {
    const rank = rankOf2(c, weights, FIT_K);
    return rank <= FIT_K ? 1 / scale.hr + 1 / rank / scale.mrr : 0;
  });
}
function objectiveOf(m, scale) {
  return m.hr / scale.hr + m.mrr / scale.mrr;
}
function lineMetrics(cases, weights, k, values) {
  const hits = values.map(() => 0);
  const reciprocal = values.map(() => 0);
  const width = weights.length;
  let base = new Float64Array(256);
  for (const c of cases) {
    if (c.target < 0) continue;
    const n3 = c.ids.length;
    if (base.length < n3) base = new Float64Array(2 * n3);
    for (let i = 0; i < n3; i++) {
      let s = 0;
      for (let j = 0; j < width; j++) {
        if (j !== k) s += weights[j] * c.values[i * width + j];
      }
      base[i] = s;
    }
    const t = c.target;
    const targetId = c.ids[t];
    values.forEach((x, g) => {
      const own = base[t] + x * c.values[t * width + k];
      let rank = 1;
      for (let i = 0; i < n3 && rank <= FIT_K; i++) {
        if (i === t) continue;
        const s = base[i] + x * c.values[i * width + k];
        if (s > own || s === own && c.ids[i] < targetId) rank++;
      }
      if (!(own > 0)) rank += c.zeroAhead;
      if (rank <= FIT_K) {
        hits[g] = hits[g] + 1;
        reciprocal[g] = reciprocal[g] + 1 / rank;
      }
    });
  }
  const n2 = Math.max(cases.length, 1);
  return values.map((_, g) => ({
    hr: hits[g] / n2,
    mrr: reciprocal[g] / n2,
    cases: cases.length
  }));
}
function fitWeights(kinds, cases) {
  const reference = fitMetrics(
    cases,
    kinds.map(() => 1)
  );
  const scale = reference.hr > 0 && reference.mrr > 0 ? reference : { hr: 1, mrr: 1, cases: cases.length };
  const objective = (w) => objectiveOf(fitMetrics(cases, w), scale);
  const singles = kinds.map((_, k) => kinds.map((__, j) => j === k ? 1 : 0));
  const bestSingle = singles.reduce((a, b) => objective(b) > objective(a) ? b : a);
  let blend = { weights: bestSingle, score: objective(bestSingle) };
  for (const start of kinds.length > 1 ? [kinds.map(() => 1), bestSingle] : []) {
    const weights2 = [...start];
    let best = objective(weights2);
    for (let round = 0; round < ROUNDS; round++) {
      let improved = false;
      for (let k = 0; k < kinds.length; k++) {
        const values = GRID.filter((value2) => weights2.some((w, j) => (j === k ? value2 : w) > 0));
        lineMetrics(cases, weights2, k, values).forEach((metrics, g) => {
          const score = objectiveOf(metrics, scale);
          if (score > best + 1e-12) {
            best = score;
            weights2[k] = values[g];
            improved = true;
          }
        });
      }
      if (!improved) break;
    }
    if (best > blend.score + 1e-12) blend = { weights: weights2, score: best };
  }
  let chosen = blend.weights;
  if (chosen !== bestSingle && cases.length > 1) {
    const a = perCase(cases, chosen, scale);
    const b = perCase(cases, bestSingle, scale);
    let sum3 = 0;
    let squares = 0;
    for (let i = 0; i < a.length; i++) {
      const d = a[i] - b[i];
      sum3 += d;
      squares += d * d;
    }
    const n2 = a.length;
    const mean2 = sum3 / n2;
    const standardError = Math.sqrt(Math.max(squares / n2 - mean2 * mean2, 0) / (n2 - 1));
    if (mean2 <= standardError) chosen = bestSingle;
  }
  const largest2 = Math.max(...chosen);
  const weights = chosen.map((w) => Number((w / largest2).toPrecision(4)));
  return {
    spec: { components: kinds.map((kind, k) => ({ kind, weight: weights[k] })) },
    metrics: fitMetrics(cases, weights)
  };
}
function fitCases(kinds, evidence, sessions, options) {
  const scorer = new BlendScorer(
    { components: kinds.map((kind) => ({ kind, weight: 1 })) },
    evidence,
    { excludeLast: options.excludeLast }
  );
  const wanted = [];
  for (const session2 of sessions) {
    for (let t = 1; t < session2.length && wanted.length < options.limit; t++) {
      const prefix = session2.subarray(0, t);
      if (prefix.some((id) => id >= FIRST_ITEM_ID)) {
        wanted.push({ prefix, target: session2[t] });
      }
    }
    if (wanted.length >= options.limit) break;
  }
  const cases = [];
  const v = evidence.vocabSize;
  for (let at = 0; at < wanted.length; at += LOGIT_CHUNK) {
    const chunk = wanted.slice(at, at + LOGIT_CHUNK);
    const logits = scorer.logits(chunk.map((w) => w.prefix));
    chunk.forEach(
      ({ prefix, target }, i) => cases.push(fitCase(scorer, prefix, target, logits?.subarray(i * v, (i + 1) * v)))
    );
  }
  return cases;
}
function selectComponents(cases, width, columns2) {
  return cases.map((c) => {
    const values = new Float32Array(c.ids.length * columns2.length);
    for (let i = 0; i < c.ids.length; i++) {
      columns2.forEach(
        (column, k) => values[i * columns2.length + k] = c.values[i * width + column]
      );
    }
    return { ...c, values };
  });
}

// pipeline/train/backend.ts
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";

// pipeline/train/kernels/gather-rows.ts
import {
  GatherV2,
  getKernel,
  registerKernel,
  unregisterKernel,
  util
} from "@tensorflow/tfjs";
var registered;
function wrap(stock) {
  const kernelFunc = (args) => {
    const { x, indices } = args.inputs;
    const { axis, batchDims } = args.attrs;
    const rowAxis = util.parseAxisParam(axis, x.shape)[0];
    if (rowAxis !== 0 || (batchDims ?? 0) !== 0 || x.dtype !== "float32" && x.dtype !== "int32") {
      return stock.kernelFunc(args);
    }
    const backend = args.backend;
    const rows = x.shape[0];
    const width = util.sizeFromShape(x.shape.slice(1));
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const ids = backend.typedArrayFromHeap(indices);
    const source = backend.typedArrayFromHeap(x);
    const target = backend.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i];
      if (!(row >= 0 && row < rows)) {
        throw new Error(`GatherV2: the index value ${row} is not in [0, ${rows - 1}]`);
      }
      if (width === 1) target[i] = source[row];
      else target.set(source.subarray(row * width, row * width + width), i * width);
    }
    return out;
  };
  return { ...stock, kernelFunc };
}
function registerGatherRows() {
  const current = getKernel(GatherV2, "wasm");
  if (!current || current === registered) return;
  registered = wrap(current);
  unregisterKernel(GatherV2, "wasm");
  registerKernel(registered);
}

// pipeline/train/kernels/matmul-transpose.ts
import {
  BatchMatMul,
  getKernel as getKernel2,
  registerKernel as registerKernel2,
  Transpose,
  unregisterKernel as unregisterKernel2,
  _FusedMatMul
} from "@tensorflow/tfjs";
var KERNELS = [BatchMatMul, _FusedMatMul];
var wrappers = /* @__PURE__ */ new Map();
function wrap2(stock) {
  const transpose5 = getKernel2(Transpose, stock.backendName);
  if (!transpose5) throw new Error(`no Transpose kernel on ${stock.backendName}`);
  const kernelFunc = (args) => {
    const attrs = args.attrs;
    if (!attrs.transposeA && !attrs.transposeB) return stock.kernelFunc(args);
    const inputs = args.inputs;
    const backend = args.backend;
    const temporary = [];
    const swapped = (x) => {
      const rank = x.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const out = transpose5.kernelFunc({
        inputs: { x },
        backend: args.backend,
        attrs: { perm }
      });
      temporary.push(out);
      return out;
    };
    const a = inputs.a;
    const b = inputs.b;
    try {
      return stock.kernelFunc({
        ...args,
        inputs: {
          ...inputs,
          a: attrs.transposeA ? swapped(a) : a,
          b: attrs.transposeB ? swapped(b) : b
        },
        attrs: { ...args.attrs, transposeA: false, transposeB: false }
      });
    } finally {
      for (const info3 of temporary) backend.disposeData(info3.dataId);
    }
  };
  return { ...stock, kernelFunc };
}
function registerTransposedMatMul() {
  for (const name2 of KERNELS) {
    const current = getKernel2(name2, "wasm");
    if (!current || wrappers.get(name2) === current) continue;
    const wrapper = wrap2(current);
    unregisterKernel2(name2, "wasm");
    registerKernel2(wrapper);
    wrappers.set(name2, wrapper);
  }
}

// pipeline/train/kernels/segment-sum.ts
import {
  getKernel as getKernel3,
  registerKernel as registerKernel3,
  unregisterKernel as unregisterKernel3,
  UnsortedSegmentSum,
  util as util2
} from "@tensorflow/tfjs";
function plan(args, backendName) {
  const { x, segmentIds } = args.inputs;
  const { numSegments } = args.attrs;
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum: expected inputs x and segmentIds");
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(
      `UnsortedSegmentSum on ${backendName}: unsupported dtype ${x.dtype} (float32 or int32)`
    );
  }
  const idsRank = segmentIds.shape.length;
  if (idsRank > x.shape.length || segmentIds.shape.some((dim, axis) => dim !== x.shape[axis])) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(",")}] must be a prefix of x shape [${x.shape.join(",")}]`
    );
  }
  const innerShape = x.shape.slice(idsRank);
  return {
    x,
    segmentIds,
    numSegments,
    dtype: x.dtype,
    outShape: [numSegments, ...innerShape],
    inner: util2.sizeFromShape(innerShape),
    rows: util2.sizeFromShape(segmentIds.shape)
  };
}
function sumSegments(p, values, ids, out) {
  out.fill(0);
  const slotOf = new Int32Array(p.numSegments).fill(-1);
  const segments = [];
  for (let row = 0; row < p.rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= p.numSegments || slotOf[segment] !== -1) continue;
    slotOf[segment] = segments.length;
    segments.push(segment);
  }
  const sums = new Float64Array(segments.length * p.inner);
  for (let row = 0; row < p.rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= p.numSegments) continue;
    const from = row * p.inner;
    const to = slotOf[segment] * p.inner;
    for (let i = 0; i < p.inner; i++)
      sums[to + i] = sums[to + i] + values[from + i];
  }
  segments.forEach((segment, slot) => {
    out.set(sums.subarray(slot * p.inner, (slot + 1) * p.inner), segment * p.inner);
  });
}
function wasmKernel(args) {
  const p = plan(args, "wasm");
  const backend = args.backend;
  const out = backend.makeOutput(p.outShape, p.dtype);
  sumSegments(
    p,
    backend.typedArrayFromHeap(p.x),
    backend.typedArrayFromHeap(p.segmentIds),
    backend.typedArrayFromHeap(out)
  );
  return out;
}
function cpuKernel(args) {
  const p = plan(args, "cpu");
  const backend = args.backend;
  const size = p.numSegments * p.inner;
  const values = p.dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
  sumSegments(p, backend.readSync(p.x.dataId), backend.readSync(p.segmentIds.dataId), values);
  return backend.makeTensorInfo(p.outShape, p.dtype, values);
}
var wasmUnsortedSegmentSumConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: wasmKernel
};
var cpuUnsortedSegmentSumConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "cpu",
  kernelFunc: cpuKernel
};
var CONFIGS = { wasm: wasmUnsortedSegmentSumConfig, cpu: cpuUnsortedSegmentSumConfig };
function registerSegmentSum(backendName) {
  const config = CONFIGS[backendName];
  const current = getKernel3(UnsortedSegmentSum, backendName);
  if (current === config) return;
  if (current) unregisterKernel3(UnsortedSegmentSum, backendName);
  registerKernel3(config);
}

// pipeline/train/backend.ts
var AUTO_ORDER = ["node-gpu", "node", "wasm", "cpu"];
var INSTALL_HINT = {
  "node-gpu": "npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs network access to download libtensorflow at install time, and CUDA 11.2 + cuDNN 8.1 on the machine)",
  node: "npm install @tensorflow/tfjs-node@4.22.0 (needs network access to download libtensorflow at install time)",
  wasm: "npm ci (@tensorflow/tfjs-backend-wasm is a dependency of this project)",
  cpu: "npm ci (@tensorflow/tfjs-backend-cpu is a dependency of this project)"
};
var requireFromHere = createRequire(__moduleUrl);
async function importOptional(specifier) {
  return import(specifier);
}
async function loadNode(pkg) {
  await importOptional(pkg);
  if (!tf.findBackendFactory("tensorflow")) {
    throw new Error(
      `${pkg} loaded but registered no "tensorflow" backend with this project's @tensorflow/tfjs-core ${tf.version_core}; install the same version (4.22.x)`
    );
  }
  return { tfjsName: "tensorflow" };
}
var wasmPathsSet = false;
async function loadWasm() {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  registerSegmentSum("wasm");
  registerTransposedMatMul();
  registerGatherRows();
  if (!wasmPathsSet) {
    const main = requireFromHere.resolve("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(`${path.dirname(main)}${path.sep}`);
    wasm.setThreadsCount(Math.max(1, os.availableParallelism()));
    wasmPathsSet = true;
  }
  return { tfjsName: "wasm" };
}
var LOADERS = {
  "node-gpu": () => loadNode("@tensorflow/tfjs-node-gpu"),
  node: () => loadNode("@tensorflow/tfjs-node"),
  wasm: loadWasm,
  cpu: async () => {
    await import("@tensorflow/tfjs-backend-cpu");
    registerSegmentSum("cpu");
    return { tfjsName: "cpu" };
  }
};
function reasonOf(error) {
  if (error instanceof Error) {
    return error.message.split("\n")[0] ?? error.message;
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    return String(error.message);
  }
  return String(error);
}
async function activate(name2, loaders) {
  const loaded = await loaders[name2]();
  const ok = await tf.setBackend(loaded.tfjsName);
  if (!ok) throw new Error(`tfjs could not initialise the "${loaded.tfjsName}" backend`);
  await tf.ready();
  if (name2 === "wasm") {
    const { getThreadsCount } = await import("@tensorflow/tfjs-backend-wasm");
    return { ...loaded, threads: getThreadsCount() };
  }
  return loaded;
}
async function selectBackend(preference, loaders = {}) {
  const use = { ...LOADERS, ...loaders };
  if (preference !== "auto") {
    try {
      const loaded = await activate(preference, use);
      return {
        name: preference,
        ...loaded,
        reason: `chosen explicitly (--backend ${preference})`,
        skipped: []
      };
    } catch (error) {
      throw new PipelineError(
        `the "${preference}" tfjs backend could not be loaded: ${reasonOf(error)}`,
        1,
        `install it with: ${INSTALL_HINT[preference]}; or pass --backend auto to use the best backend that loads`
      );
    }
  }
  const skipped = [];
  for (const name2 of AUTO_ORDER) {
    try {
      const loaded = await activate(name2, use);
      const reason = skipped.length ? `auto: first backend that loaded (tried ${[...skipped.map((s) => s.name), name2].join(" → ")})` : "auto: the fastest backend, and it loaded";
      return { name: name2, ...loaded, reason, skipped };
    } catch (error) {
      skipped.push({ name: name2, why: reasonOf(error) });
    }
  }
  throw new PipelineError(
    `no tfjs backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.why}`).join("; ")}`,
    1,
    "run npm ci: the wasm and cpu backends are dependencies of this project"
  );
}

// pipeline/train/batches.ts
var SHUFFLE_STREAM = 1397249350;
var BUCKET_BATCHES = 50;
function rowsOf(block, mode, maxLen) {
  const rows = [];
  const sessions = block.offsets.length - 1;
  for (let s = 0; s < sessions; s++) {
    const from = block.offsets[s];
    const n2 = block.offsets[s + 1] - from;
    if (n2 < 2) continue;
    if (mode === "sequence") {
      for (let start = 0; start < n2 - 1; start += maxLen) {
        const length = Math.min(maxLen, n2 - 1 - start);
        rows.push({ start: from + start, length, everyPosition: true });
      }
    } else {
      const first = mode === "last" ? n2 - 1 : 1;
      for (let t = first; t < n2; t++) {
        const length = Math.min(t, maxLen);
        rows.push({ start: from + t - length, length, everyPosition: false });
      }
    }
  }
  return rows;
}
function targetsOf(row, ids) {
  if (!row.everyPosition) return ids[row.start + row.length] === UNKNOWN_ID ? 0 : 1;
  let n2 = 0;
  for (let t = 1; t <= row.length; t++) if (ids[row.start + t] !== UNKNOWN_ID) n2++;
  return n2;
}
function assemble(rows, ids) {
  const steps = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const inputs = new Int32Array(rows.length * steps);
  const positions = [];
  const targets = [];
  rows.forEach((row, r) => {
    inputs.set(ids.subarray(row.start, row.start + row.length), r * steps);
    for (let t = row.everyPosition ? 0 : row.length - 1; t < row.length; t++) {
      const target = ids[row.start + t + 1];
      if (target === UNKNOWN_ID) continue;
      positions.push(t * rows.length + r);
      targets.push(target);
    }
  });
  return {
    rows: rows.length,
    steps,
    inputs,
    positions: Int32Array.from(positions),
    targets: Int32Array.from(targets)
  };
}
function countTargets(block, plan2) {
  return rowsOf(block, plan2.mode, plan2.maxLen).reduce((n2, r) => n2 + targetsOf(r, block.ids), 0);
}
function* epochBatches(block, plan2, shuffle) {
  const rows = rowsOf(block, plan2.mode, plan2.maxLen);
  const rng = shuffle ? Rng.from(...seedWords(shuffle.seed), SHUFFLE_STREAM, shuffle.epoch) : void 0;
  if (rng) rng.shuffle(rows);
  const window = plan2.batchSize * BUCKET_BATCHES;
  let start = 0;
  while (start < rows.length) {
    let end = start;
    let targets = 0;
    while (end < rows.length && targets < window)
      targets += targetsOf(rows[end++], block.ids);
    const bucket = rows.slice(start, end).sort((a, b) => a.length - b.length);
    const cut = [];
    let current = [];
    let currentTargets = 0;
    for (const row of bucket) {
      const n2 = targetsOf(row, block.ids);
      if (n2 === 0) continue;
      current.push(row);
      currentTargets += n2;
      if (currentTargets >= plan2.batchSize) {
        cut.push(current);
        current = [];
        currentTargets = 0;
      }
    }
    if (current.length > 0) cut.push(current);
    if (rng) rng.shuffle(cut);
    for (const rowsOfBatch of cut) yield assemble(rowsOfBatch, block.ids);
    start = end;
  }
}

// pipeline/train/checkpoint.ts
import { createHash as createHash5 } from "node:crypto";
import * as tf2 from "@tensorflow/tfjs";
var CHECKPOINT_FORMAT = "mlops-session-recs/checkpoint@2";
function fingerprint(parts) {
  return createHash5("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}
var CheckpointStore = class {
  constructor(store, prefix) {
    this.store = store;
    this.prefix = prefix;
  }
  store;
  prefix;
  key(name2) {
    return `${this.prefix}/${name2}`;
  }
  async save(checkpoint) {
    const tensors = [];
    const chunks = [];
    let offset = 0;
    const add4 = (group2, name3, shape, data) => {
      const dtype = data instanceof Int32Array ? "int32" : "float32";
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      tensors.push({ group: group2, name: name3, shape, dtype, offset, bytes: bytes.length });
      chunks.push(bytes);
      offset += bytes.length;
    };
    for (const [name3, values] of checkpoint.weights) add4("weights", name3, [values.length], values);
    for (const { name: name3, tensor: tensor3 } of checkpoint.optimizer) {
      const data = tensor3.dtype === "int32" ? await tensor3.data() : await tensor3.data();
      add4("optimizer", name3, [...tensor3.shape], data);
    }
    for (const [name3, values] of checkpoint.best) add4("best", name3, [values.length], values);
    const { weights: _w, optimizer: _o, best: _b, ...state } = checkpoint;
    const json = { format: CHECKPOINT_FORMAT, ...state, tensors };
    const name2 = `epoch-${checkpoint.epoch}`;
    await this.store.put(this.key(`${name2}.bin`), Buffer.concat(chunks));
    await this.store.put(this.key(`${name2}.json`), JSON.stringify(json));
    await this.store.put(this.key("latest.json"), JSON.stringify({ epoch: checkpoint.epoch }));
    for (const key of await this.store.list(this.prefix)) {
      const match = /\/epoch-(\d+)\.(json|bin)$/.exec(key);
      if (match && Number(match[1]) < checkpoint.epoch) await this.store.delete(key);
    }
  }
  /** The last checkpoint written, or undefined when there is none. */
  async loadLatest() {
    const latest = await this.store.get(this.key("latest.json"));
    if (!latest) return void 0;
    const where = `${this.store.location}/${this.key("latest.json")}`;
    const { epoch } = parseJson(latest, where);
    if (typeof epoch !== "number" || !Number.isInteger(epoch) || epoch < 1) {
      throw damaged3(where, "it does not name an epoch");
    }
    const jsonKey = this.key(`epoch-${epoch}.json`);
    const jsonBytes = await this.store.get(jsonKey);
    const bin = await this.store.get(this.key(`epoch-${epoch}.bin`));
    if (!jsonBytes || !bin) throw damaged3(where, `the files of epoch ${epoch} are missing`);
    const json = parseJson(jsonBytes, `${this.store.location}/${jsonKey}`);
    if (json.format !== CHECKPOINT_FORMAT || !Array.isArray(json.tensors)) {
      throw damaged3(`${this.store.location}/${jsonKey}`, `it is not a ${CHECKPOINT_FORMAT}`);
    }
    const weights = /* @__PURE__ */ new Map();
    const best = /* @__PURE__ */ new Map();
    const optimizer = [];
    for (const entry of json.tensors) {
      if (entry.offset + entry.bytes > bin.byteLength) {
        throw damaged3(
          `${this.store.location}/${jsonKey}`,
          `tensor ${entry.name} runs past the data`
        );
      }
      const bytes = bin.slice(entry.offset, entry.offset + entry.bytes);
      const values = entry.dtype === "int32" ? new Int32Array(bytes.buffer, bytes.byteOffset, entry.bytes / 4) : new Float32Array(bytes.buffer, bytes.byteOffset, entry.bytes / 4);
      if (entry.group === "optimizer") {
        optimizer.push({ name: entry.name, tensor: tf2.tensor(values, entry.shape, entry.dtype) });
      } else {
        (entry.group === "weights" ? weights : best).set(entry.name, Float32Array.from(values));
      }
    }
    const { format: _f, tensors: _t, ...state } = json;
    return { ...state, weights, optimizer, best };
  }
  /** Removes every checkpoint (a finished training keeps the artifact, not the checkpoints). */
  async clear() {
    for (const key of await this.store.list(this.prefix)) await this.store.delete(key);
  }
};
function parseJson(bytes, where) {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw damaged3(where, `it is not valid JSON (${error.message})`);
  }
}
function damaged3(where, why) {
  return new PipelineError(
    `training checkpoint ${where} is damaged: ${why}`,
    1,
    "delete the run's train/checkpoint folder to train from scratch, or start a new run"
  );
}

// pipeline/train/item-features.ts
function tokens(facts) {
  const out = [];
  const path2 = facts.categoryPath === null ? [] : typeof facts.categoryPath === "string" ? facts.categoryPath.split("/") : [...facts.categoryPath];
  const levels = path2.filter((part2) => part2.length > 0);
  for (let depth = 1; depth <= levels.length; depth++) {
    out.push(`c:${levels.slice(0, depth).join("/")}`);
  }
  if (facts.priceBucket !== null && Number.isFinite(facts.priceBucket)) {
    out.push(`p:${Math.round(facts.priceBucket)}`);
  }
  return out;
}
function itemFeatures(vocabulary, facts) {
  const featureIds = /* @__PURE__ */ new Map();
  const offsets = new Int32Array(vocabulary.size + 1);
  const ids = [];
  for (let id = 0; id < vocabulary.size; id++) {
    offsets[id] = ids.length;
    const sku = id >= FIRST_ITEM_ID ? vocabulary.sku(id) : void 0;
    const known = sku === void 0 ? void 0 : facts.get(sku);
    for (const token of known ? tokens(known) : []) {
      let feature = featureIds.get(token);
      if (feature === void 0) featureIds.set(token, feature = featureIds.size);
      ids.push(feature);
    }
  }
  offsets[vocabulary.size] = ids.length;
  return { count: featureIds.size, offsets, ids: Int32Array.from(ids) };
}
async function readCatalogFacts(warehouse) {
  const rows = await warehouse.query("select sku, category_path, price_bucket from item_catalog");
  return new Map(
    rows.map((r) => {
      const path2 = r.category_path;
      return [
        String(r.sku),
        {
          // Snowflake's driver may hand an ARRAY back; DuckDB a '/'-separated text.
          categoryPath: path2 === null || path2 === void 0 ? null : typeof path2 === "string" && !path2.startsWith("[") ? path2 : parseItems(path2, String(r.sku)),
          priceBucket: r.price_bucket === null ? null : Number(r.price_bucket)
        }
      ];
    })
  );
}
function featuresOf(features, items) {
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const id = items[i];
    total += features.offsets[id + 1] - features.offsets[id];
  }
  const ids = new Int32Array(total);
  const segments = new Int32Array(total);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const id = items[i];
    for (let f = features.offsets[id]; f < features.offsets[id + 1]; f++) {
      ids[at] = features.ids[f];
      segments[at++] = i;
    }
  }
  return { ids, segments };
}

// pipeline/train/trainer.ts
import * as tf8 from "@tensorflow/tfjs";

// pipeline/train/heads.ts
import * as tf4 from "@tensorflow/tfjs";

// pipeline/train/ops/softmax-head.ts
import * as tf3 from "@tensorflow/tfjs";
function softmaxHead(hidden, weights, bias, labels, shift) {
  const rows = hidden.shape[0];
  const columns2 = weights.shape[1];
  if (labels.length !== rows) {
    throw new RangeError(`softmaxHead: ${labels.length} labels for ${rows} rows`);
  }
  if (bias.shape[0] !== columns2 || shift && shift.length !== columns2) {
    throw new RangeError(`softmaxHead: bias and shift need ${columns2} columns`);
  }
  const op2 = tf3.customGrad((...args) => {
    const [h, w, b] = args;
    const save = args[3];
    const offset = shift ? tf3.add(b, tf3.tensor1d(shift, "float32")) : b;
    const logits = tf3.add(tf3.matMul(h, w), offset);
    const max2 = tf3.max(logits, 1, true);
    const exp2 = tf3.exp(tf3.sub(logits, max2));
    const sum3 = tf3.sum(exp2, 1, true);
    const flat = Int32Array.from(labels, (label2, row) => row * columns2 + label2);
    const picked = tf3.gather(tf3.reshape(logits, [rows * columns2]), tf3.tensor1d(flat, "int32"));
    const losses = tf3.sub(tf3.add(tf3.squeeze(tf3.log(sum3), [1]), tf3.squeeze(max2, [1])), picked);
    save([h, w, tf3.div(exp2, sum3)]);
    return {
      value: tf3.mean(losses),
      gradFunc: (dy, [h0, w0, probabilities]) => {
        const p = probabilities;
        const scale = tf3.div(dy, rows);
        const labelIds = tf3.tensor1d(labels, "int32");
        const weightsT = tf3.transpose(w0);
        const counts = new Float32Array(columns2);
        for (const label2 of labels) counts[label2] = counts[label2] + 1;
        return [
          tf3.mul(tf3.sub(tf3.matMul(p, weightsT), tf3.gather(weightsT, labelIds)), scale),
          tf3.mul(
            tf3.sub(
              tf3.matMul(tf3.transpose(h0), p),
              tf3.transpose(tf3.unsortedSegmentSum(h0, labelIds, columns2))
            ),
            scale
          ),
          tf3.mul(
            tf3.sub(tf3.reshape(tf3.matMul(tf3.ones([1, rows]), p), [columns2]), tf3.tensor1d(counts)),
            scale
          )
        ];
      }
    };
  });
  return op2(hidden, weights, bias);
}

// pipeline/train/heads.ts
var NEGATIVES_STREAM = 1313163091;
var fullSoftmax = (net, hidden, targets) => softmaxHead(
  hidden,
  net.outputMatrix(),
  net.variable("output/bias"),
  targets
);
var AliasSampler = class {
  probability;
  alias;
  /** log q(id) for every id (−∞ for padding and unknown). */
  logQ;
  constructor(counts, alpha) {
    const n2 = counts.length - FIRST_ITEM_ID;
    const weights = Float64Array.from(
      { length: n2 },
      (_, i) => Math.pow(Math.max(counts[i + FIRST_ITEM_ID] ?? 0, 1), alpha)
    );
    const total = weights.reduce((a, b) => a + b, 0);
    this.logQ = new Float32Array(counts.length).fill(Number.NEGATIVE_INFINITY);
    weights.forEach((w, i) => this.logQ[i + FIRST_ITEM_ID] = Math.log(w / total));
    this.probability = new Float64Array(n2);
    this.alias = new Int32Array(n2);
    const scaled2 = weights.map((w) => w * n2 / total);
    const small = [];
    const large = [];
    scaled2.forEach((p, i) => (p < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop();
      const l = large[large.length - 1];
      this.probability[s] = scaled2[s];
      this.alias[s] = l;
      scaled2[l] = scaled2[l] + scaled2[s] - 1;
      if (scaled2[l] < 1) small.push(large.pop());
    }
    for (const i of [...small, ...large]) this.probability[i] = 1;
  }
  draw(rng) {
    const i = rng.int(this.probability.length);
    return FIRST_ITEM_ID + (rng.float() < this.probability[i] ? i : this.alias[i]);
  }
};
function batchCandidates(targets, draw, negatives) {
  const column = /* @__PURE__ */ new Map();
  const labels = new Int32Array(targets.length);
  targets.forEach((t, row) => {
    let c = column.get(t);
    if (c === void 0) column.set(t, c = column.size);
    labels[row] = c;
  });
  for (let i = 0; i < negatives; i++) {
    const id = draw();
    if (!column.has(id)) column.set(id, column.size);
  }
  return { ids: Int32Array.from(column.keys()), labels };
}
function sampledSoftmax(counts, options, seed2) {
  const sampler = new AliasSampler(counts, options.alpha);
  return (net, hidden, targets, step2) => {
    const rng = Rng.from(...seedWords(seed2), NEGATIVES_STREAM, step2);
    const { ids, labels } = batchCandidates(targets, () => sampler.draw(rng), options.negatives);
    const columns2 = tf4.tensor1d(ids, "int32");
    const weights = net.config.tied ? tf4.transpose(net.embed(ids)) : tf4.gather(net.variable("output/kernel"), columns2, 1);
    const bias = tf4.gather(net.variable("output/bias"), columns2);
    const shift = options.logQ === 0 ? void 0 : Float32Array.from(ids, (id) => -options.logQ * sampler.logQ[id]);
    return softmaxHead(hidden, weights, bias, labels, shift);
  };
}

// pipeline/train/net.ts
import * as tf7 from "@tensorflow/tfjs";

// pipeline/train/ops/recurrent.ts
import * as tf5 from "@tensorflow/tfjs";
var sigmoidGrad = (dy, s) => tf5.mul(dy, tf5.mul(s, tf5.sub(1, s)));
var tanhGrad = (dy, t) => tf5.mul(dy, tf5.sub(1, tf5.square(t)));
function shapesOf(x, batch, recurrent) {
  if (x.shape[0] % batch !== 0) {
    throw new RangeError(
      `recurrent op: ${x.shape[0]} input rows is not a whole number of steps of ${batch}`
    );
  }
  return { batch, steps: x.shape[0] / batch, units: recurrent.shape[0] };
}
function prologue(args, batch) {
  const [x, kernel2, recurrent, bias, save] = args;
  const projected = tf5.add(tf5.matMul(x, kernel2), bias);
  return {
    x,
    kernel: kernel2,
    recurrent,
    save,
    s: shapesOf(x, batch, recurrent),
    projected
  };
}
function stepRows(x, t, batch) {
  return tf5.slice(x, [t * batch, 0], [batch, x.shape[1]]);
}
function inputGradients(x, kernel2, gateGrads) {
  const rows = gateGrads.shape[0];
  return {
    dx: tf5.matMul(gateGrads, tf5.transpose(kernel2)),
    dKernel: tf5.matMul(tf5.transpose(x), gateGrads),
    dBias: tf5.reshape(tf5.matMul(tf5.ones([1, rows]), gateGrads), [gateGrads.shape[1]])
  };
}
var gru = (inputs, batch, weights) => {
  const op2 = tf5.customGrad((...args) => {
    const { x, kernel: kernel2, recurrent, save, s, projected } = prologue(args, batch);
    const u = s.units;
    const b = s.batch;
    const uZr = tf5.slice(recurrent, [0, 0], [u, 2 * u]);
    const uH = tf5.slice(recurrent, [0, 2 * u], [u, u]);
    let h = tf5.zeros([b, u]);
    const outputs = [];
    const saved = [];
    for (let t = 0; t < s.steps; t++) {
      const xw = stepRows(projected, t, b);
      const zr = tf5.sigmoid(
        tf5.add(tf5.slice(xw, [0, 0], [b, 2 * u]), tf5.matMul(h, uZr))
      );
      const z7 = tf5.slice(zr, [0, 0], [b, u]);
      const r = tf5.slice(zr, [0, u], [b, u]);
      const rh = tf5.mul(r, h);
      const candidate = tf5.tanh(tf5.add(tf5.slice(xw, [0, 2 * u], [b, u]), tf5.matMul(rh, uH)));
      const next = tf5.add(candidate, tf5.mul(z7, tf5.sub(h, candidate)));
      saved.push(h, z7, r, rh, candidate);
      outputs.push(next);
      h = next;
    }
    save([x, kernel2, recurrent, ...saved]);
    return {
      value: tf5.concat(outputs, 0),
      gradFunc: (dy, kept) => {
        const [x0, kernel0, recurrent0, ...perStep] = kept;
        const uZrT = tf5.transpose(tf5.slice(recurrent0, [0, 0], [u, 2 * u]));
        const uHT = tf5.transpose(tf5.slice(recurrent0, [0, 2 * u], [u, u]));
        const dZr = new Array(s.steps);
        const dCandidate = new Array(s.steps);
        let dh;
        for (let t = s.steps - 1; t >= 0; t--) {
          const [hPrev, z7, r, , candidate] = perStep.slice(5 * t, 5 * t + 5);
          const out = stepRows(dy, t, b);
          const g = dh ? tf5.add(out, dh) : out;
          const da = tanhGrad(tf5.mul(g, tf5.sub(1, z7)), candidate);
          const dRh = tf5.matMul(da, uHT);
          const dzr = tf5.concat(
            [
              sigmoidGrad(tf5.mul(g, tf5.sub(hPrev, candidate)), z7),
              sigmoidGrad(tf5.mul(dRh, hPrev), r)
            ],
            1
          );
          dh = tf5.add(tf5.add(tf5.mul(g, z7), tf5.mul(dRh, r)), tf5.matMul(dzr, uZrT));
          dZr[t] = dzr;
          dCandidate[t] = da;
        }
        const hPrevRows = tf5.concat(
          perStep.filter((_, i) => i % 5 === 0),
          0
        );
        const rhRows = tf5.concat(
          perStep.filter((_, i) => i % 5 === 3),
          0
        );
        const dZrRows = tf5.concat(dZr, 0);
        const dCandidateRows = tf5.concat(dCandidate, 0);
        const dRecurrent = tf5.concat(
          [
            tf5.matMul(tf5.transpose(hPrevRows), dZrRows),
            tf5.matMul(tf5.transpose(rhRows), dCandidateRows)
          ],
          1
        );
        const gates = tf5.concat([dZrRows, dCandidateRows], 1);
        const { dx, dKernel, dBias } = inputGradients(
          x0,
          kernel0,
          gates
        );
        return [dx, dKernel, dRecurrent, dBias];
      }
    };
  });
  return op2(inputs, weights.kernel, weights.recurrent, weights.bias);
};
var lstm = (inputs, batch, weights) => {
  const op2 = tf5.customGrad((...args) => {
    const { x, kernel: kernel2, recurrent, save, s, projected } = prologue(args, batch);
    const u = s.units;
    const b = s.batch;
    let h = tf5.zeros([b, u]);
    let c = tf5.zeros([b, u]);
    const outputs = [];
    const saved = [];
    const previous = [];
    for (let t = 0; t < s.steps; t++) {
      const a = tf5.add(stepRows(projected, t, b), tf5.matMul(h, recurrent));
      const sig = tf5.sigmoid(a);
      const i = tf5.slice(sig, [0, 0], [b, u]);
      const f = tf5.slice(sig, [0, u], [b, u]);
      const o = tf5.slice(sig, [0, 3 * u], [b, u]);
      const g = tf5.tanh(tf5.slice(a, [0, 2 * u], [b, u]));
      const nextC = tf5.add(tf5.mul(f, c), tf5.mul(i, g));
      const tc = tf5.tanh(nextC);
      const nextH = tf5.mul(o, tc);
      saved.push(c, tf5.concat([i, f, g, o], 1), tc);
      previous.push(h);
      outputs.push(nextH);
      h = nextH;
      c = nextC;
    }
    save([x, kernel2, recurrent, tf5.concat(previous, 0), ...saved]);
    return {
      value: tf5.concat(outputs, 0),
      gradFunc: (dy, kept) => {
        const [x0, kernel0, recurrent0, hPrevRows, ...perStep] = kept;
        const uT = tf5.transpose(recurrent0);
        const dGates = new Array(s.steps);
        let dh;
        let dc;
        for (let t = s.steps - 1; t >= 0; t--) {
          const [cPrev, gates, tc] = perStep.slice(3 * t, 3 * t + 3);
          const i = tf5.slice(gates, [0, 0], [b, u]);
          const f = tf5.slice(gates, [0, u], [b, u]);
          const g = tf5.slice(gates, [0, 2 * u], [b, u]);
          const o = tf5.slice(gates, [0, 3 * u], [b, u]);
          const out = stepRows(dy, t, b);
          const gh = dh ? tf5.add(out, dh) : out;
          const fromH = tanhGrad(tf5.mul(gh, o), tc);
          const gc = dc ? tf5.add(dc, fromH) : fromH;
          const da = tf5.concat(
            [
              sigmoidGrad(tf5.mul(gc, g), i),
              sigmoidGrad(tf5.mul(gc, cPrev), f),
              tanhGrad(tf5.mul(gc, i), g),
              sigmoidGrad(tf5.mul(gh, tc), o)
            ],
            1
          );
          dh = tf5.matMul(da, uT);
          dc = tf5.mul(gc, f);
          dGates[t] = da;
        }
        const gateRows = tf5.concat(dGates, 0);
        const dRecurrent = tf5.matMul(tf5.transpose(hPrevRows), gateRows);
        const { dx, dKernel, dBias } = inputGradients(
          x0,
          kernel0,
          gateRows
        );
        return [dx, dKernel, dRecurrent, dBias];
      }
    };
  });
  return op2(inputs, weights.kernel, weights.recurrent, weights.bias);
};
var RECURRENT_OPS = { gru, lstm };

// pipeline/train/ops/sum-rows.ts
import * as tf6 from "@tensorflow/tfjs";
function sumRows(rows, segments, count2) {
  if (segments.length !== rows.shape[0]) {
    throw new RangeError(`sumRows: ${segments.length} segment ids for ${rows.shape[0]} rows`);
  }
  const op2 = tf6.customGrad((...args) => {
    const [x] = args;
    const ids = tf6.tensor1d(segments, "int32");
    return {
      value: tf6.unsortedSegmentSum(x, ids, count2),
      gradFunc: (dy) => tf6.gather(dy, tf6.tensor1d(segments, "int32"))
    };
  });
  return op2(rows);
}

// pipeline/train/net.ts
var STREAM3 = { init: 1229867348, dropout: 1146244944 };
function glorot(rng, fanIn, fanOut, size) {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: size }, () => (rng.float() * 2 - 1) * limit);
}
function orthogonal(rng, rows, cols) {
  const n2 = Math.min(rows, cols);
  const m = Math.max(rows, cols);
  const vectors = Array.from(
    { length: n2 },
    () => Float64Array.from({ length: m }, () => rng.normal())
  );
  vectors.forEach((v, i) => {
    for (let j = 0; j < i; j++) {
      const u = vectors[j];
      let dot = 0;
      for (let k = 0; k < m; k++) dot += v[k] * u[k];
      for (let k = 0; k < m; k++) v[k] = v[k] - dot * u[k];
    }
    const norm = Math.hypot(...v) || 1;
    for (let k = 0; k < m; k++) v[k] = v[k] / norm;
  });
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n2; i++) {
    for (let k = 0; k < m; k++) {
      out[rows <= cols ? i * cols + k : k * cols + i] = vectors[i][k];
    }
  }
  return out;
}
function initialWeights(config, init) {
  const rng = Rng.from(...seedWords(init.seed), STREAM3.init);
  const weights = /* @__PURE__ */ new Map();
  const h = config.hiddenUnits;
  for (const { name: name2, shape } of netWeightSpecs(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const [rows = 1, cols = 1] = shape;
    let values;
    if (name2 === "embedding") {
      values = Float32Array.from({ length: size }, () => (rng.float() * 2 - 1) * 0.05);
    } else if (name2.endsWith("/recurrent")) {
      values = orthogonal(rng, rows, cols);
    } else if (name2.endsWith("/kernel")) {
      values = glorot(rng, rows, cols, size);
    } else if (name2 === "output/bias") {
      values = new Float32Array(size);
      const counts = init.outputBiasCounts;
      if (counts) {
        let total = 0;
        for (let i = 0; i < size; i++) total += counts[i] ?? 0;
        const floor = Math.log(0.5 / Math.max(total, 1));
        for (let i = 0; i < size; i++) {
          const n2 = counts[i] ?? 0;
          values[i] = n2 > 0 ? Math.log(n2 / total) : floor;
        }
      }
    } else {
      values = new Float32Array(size);
      if (config.cell === "lstm") values.fill(1, h, 2 * h);
    }
    weights.set(name2, values);
  }
  if (init.featureCount) {
    const e = config.embeddingDim;
    weights.set(
      FEATURES,
      Float32Array.from({ length: init.featureCount * e }, () => (rng.float() * 2 - 1) * 0.05)
    );
  }
  return weights;
}
var FEATURES = "item_features";
var TrainableNet = class {
  config;
  /** In netWeightSpecs order, then the feature embedding when the net has item features. */
  variables;
  features;
  allIds;
  constructor(config, weights, features) {
    this.config = validateNetConfig(config);
    this.features = features && features.count > 0 ? features : void 0;
    const specs = netWeightSpecs(config);
    if (this.features) {
      specs.push({ name: FEATURES, shape: [this.features.count, config.embeddingDim] });
    }
    this.variables = new Map(
      specs.map(({ name: name2, shape }) => {
        const values = weights.get(name2);
        if (!values) throw new Error(`TrainableNet: no initial value for ${name2}`);
        return [name2, tf7.variable(tf7.tensor(values, shape, "float32"), true, name2)];
      })
    );
    this.allIds = Int32Array.from({ length: config.vocabSize }, (_, i) => i);
  }
  variable(name2) {
    const v = this.variables.get(name2);
    if (!v) throw new Error(`TrainableNet: no weight ${name2}`);
    return v;
  }
  /**
   * The embeddings of `ids`, [ids.length, embeddingDim]: each item's own row, plus its
   * features' rows when the net has item features.
   */
  embed(ids) {
    const own = tf7.gather(this.variable("embedding"), tf7.tensor1d(ids, "int32"));
    if (!this.features) return own;
    const flat = featuresOf(this.features, ids);
    if (flat.ids.length === 0) return own;
    const rows = tf7.gather(this.variable(FEATURES), tf7.tensor1d(flat.ids, "int32"));
    return tf7.add(own, sumRows(rows, flat.segments, ids.length));
  }
  /**
   * The last recurrent layer's output at every step of a right-padded block, time-major:
   * [steps × rows, units], row t × rows + r for step t of row r (see ./ops/recurrent.ts). With
   * `dropout`, the inputs of every recurrent layer are dropped with that rate, the masks a
   * function of (seed, step, layer).
   */
  states(block, dropout) {
    const { rows, steps } = block;
    const timeMajor = new Int32Array(rows * steps);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < steps; t++) timeMajor[t * rows + r] = block.ids[r * steps + t];
    }
    let x = this.embed(timeMajor);
    const drop = dropout && dropout.rate > 0 ? dropoutMasks(dropout) : void 0;
    for (let layer = 0; layer < this.config.layers; layer++) {
      if (drop) x = tf7.mul(x, drop(x.shape, layer));
      x = RECURRENT_OPS[this.config.cell](x, rows, {
        kernel: this.variable(`rnn_${layer}/kernel`),
        recurrent: this.variable(`rnn_${layer}/recurrent`),
        bias: this.variable(`rnn_${layer}/bias`)
      });
    }
    return x;
  }
  /** The [units, vocabSize] output matrix: the embeddings' transpose when tied. */
  outputMatrix() {
    return this.config.tied ? tf7.transpose(this.embed(this.allIds)) : this.variable("output/kernel");
  }
  /** Item scores (logits) of hidden states [rows, units] → [rows, vocabSize]. */
  logits(hidden) {
    return tf7.add(tf7.matMul(hidden, this.outputMatrix()), this.variable("output/bias"));
  }
  /** The current values of every variable, for checkpoints. */
  async weights() {
    const out = /* @__PURE__ */ new Map();
    for (const [name2, v] of this.variables) out.set(name2, Float32Array.from(await v.data()));
    return out;
  }
  /**
   * `weights` as the artifact stores them (netWeightSpecs): with item features, each item's
   * embedding has its features' embeddings added, so the inference runtime needs no features.
   */
  exportWeights(weights) {
    return materialize(this.config, weights, this.features);
  }
  /** Sets every weight (a checkpoint, the best epoch's weights). */
  assign(weights) {
    for (const [name2, v] of this.variables) {
      const values = weights.get(name2);
      if (!values) throw new Error(`TrainableNet: no value for ${name2}`);
      tf7.tidy(() => v.assign(tf7.tensor(values, v.shape, "float32")));
    }
  }
  dispose() {
    for (const v of this.variables.values()) v.dispose();
  }
};
function dropoutMasks(d) {
  return (shape, layer) => {
    const rng = Rng.from(...seedWords(d.seed), STREAM3.dropout, d.step, layer);
    const size = shape.reduce((a, b) => a * b, 1);
    const keep = 1 / (1 - d.rate);
    const mask = new Float32Array(size);
    for (let i = 0; i < size; i++) mask[i] = rng.float() < d.rate ? 0 : keep;
    return tf7.tensor(mask, shape, "float32");
  };
}
function materialize(config, weights, features) {
  const out = /* @__PURE__ */ new Map();
  for (const { name: name2 } of netWeightSpecs(config)) {
    const values = weights.get(name2);
    if (!values) throw new Error(`materialize: no weight ${name2}`);
    out.set(name2, values);
  }
  const table3 = weights.get(FEATURES);
  if (!features || features.count === 0 || !table3) return out;
  const e = config.embeddingDim;
  const embedding = Float32Array.from(out.get("embedding"));
  for (let id = 0; id < config.vocabSize; id++) {
    for (let f = features.offsets[id]; f < features.offsets[id + 1]; f++) {
      const row = features.ids[f] * e;
      for (let k = 0; k < e; k++) {
        embedding[id * e + k] = embedding[id * e + k] + table3[row + k];
      }
    }
  }
  out.set("embedding", embedding);
  return out;
}

// pipeline/train/trainer.ts
function readAdamPowers(optimizer) {
  const { accBeta1, accBeta2 } = optimizer;
  if (!accBeta1 || !accBeta2) return void 0;
  return [accBeta1.dataSync()[0], accBeta2.dataSync()[0]];
}
function restoreAdamPowers(optimizer, powers) {
  const { accBeta1, accBeta2 } = optimizer;
  if (!powers || !accBeta1 || !accBeta2) return;
  accBeta1.assign(tf8.scalar(powers[0]));
  accBeta2.assign(tf8.scalar(powers[1]));
}
function validationPrefixes(block, examples) {
  let sessions = 0;
  let prefixes = 0;
  while (sessions + 1 < block.offsets.length && prefixes < examples) {
    const n2 = block.offsets[sessions + 1] - block.offsets[sessions];
    prefixes += Math.max(n2 - 1, 0);
    sessions++;
  }
  const end = block.offsets[sessions];
  return { offsets: block.offsets.subarray(0, sessions + 1), ids: block.ids.subarray(0, end) };
}
function hitRateAt20(net, block, maxLen, excludeLast) {
  let hits = 0;
  let examples = 0;
  const plan2 = { mode: "all-prefixes", maxLen, batchSize: 256 };
  for (const batch of epochBatches(block, plan2)) {
    const n2 = batch.targets.length;
    const excluded2 = new Int32Array(n2 * 3);
    batch.positions.forEach((position, i) => {
      const row = position % batch.rows;
      const step2 = Math.floor(position / batch.rows);
      const last = excludeLast ? batch.inputs[row * batch.steps + step2] : PAD_ID;
      excluded2.set(
        [PAD_ID, UNKNOWN_ID, last === batch.targets[i] ? PAD_ID : last],
        i * 3
      );
    });
    const [ahead, own, blocked] = tf8.tidy(() => {
      const states = net.states({ rows: batch.rows, steps: batch.steps, ids: batch.inputs });
      const logits = net.logits(
        tf8.gather(states, tf8.tensor1d(batch.positions, "int32"))
      );
      const rows = tf8.range(0, n2, 1, "int32");
      const pick = (ids) => tf8.gatherND(logits, tf8.stack([rows, ids], 1));
      const targetLogits = pick(tf8.tensor1d(batch.targets, "int32"));
      const beat2 = tf8.sum(tf8.step(tf8.sub(logits, tf8.expandDims(targetLogits, 1))), 1);
      const excludedLogits = tf8.reshape(
        tf8.gather(
          tf8.reshape(logits, [-1]),
          tf8.tensor1d(
            excluded2.map((id, j) => Math.floor(j / 3) * net.config.vocabSize + id),
            "int32"
          )
        ),
        [n2, 3]
      );
      return [beat2, targetLogits, excludedLogits];
    });
    const [beat, target, other] = [ahead.dataSync(), own.dataSync(), blocked.dataSync()];
    tf8.dispose([ahead, own, blocked]);
    for (let i = 0; i < n2; i++) {
      examples++;
      let rank = 1 + beat[i];
      const seen = /* @__PURE__ */ new Set();
      for (let j = 0; j < 3; j++) {
        const id = excluded2[i * 3 + j];
        if (!seen.has(id) && other[i * 3 + j] > target[i]) rank--;
        seen.add(id);
      }
      if (rank <= 20) hits++;
    }
  }
  return { hr20: examples === 0 ? 0 : hits / examples, examples };
}
async function trainModel(input) {
  const { options, reporter } = input;
  const net = new TrainableNet(
    input.net,
    initialWeights(input.net, {
      seed: input.seed,
      ...options.popularityBias ? { outputBiasCounts: input.counts } : {},
      ...input.features ? { featureCount: input.features.count } : {}
    }),
    input.features
  );
  const optimizer = tf8.train.adam(options.learningRate);
  const variables = [...net.variables.values()];
  const items = input.net.vocabSize - FIRST_ITEM_ID;
  const head = options.loss === "sampled" && options.negatives < items ? sampledSoftmax(
    input.counts,
    { negatives: options.negatives, alpha: options.sampleAlpha, logQ: options.logQ },
    input.seed
  ) : fullSoftmax;
  let state = {
    epoch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestHr20: -1,
    gainEpoch: 0,
    fingerprint: input.fingerprint
  };
  let best;
  let resumedFromEpoch = 0;
  try {
    const saved = input.resume ? await input.checkpoints?.loadLatest() : void 0;
    if (saved) {
      if (saved.fingerprint !== input.fingerprint) {
        tf8.dispose(saved.optimizer.map((o) => o.tensor));
        throw new PipelineError(
          "cannot resume training: the checkpoint was made with other data or settings",
          1,
          "resume with the settings the run started with, or start a new run (without --resume / --run-id)"
        );
      }
      net.assign(saved.weights);
      await optimizer.setWeights(saved.optimizer);
      restoreAdamPowers(optimizer, saved.adamPowers);
      tf8.dispose(saved.optimizer.map((o) => o.tensor));
      best = saved.best;
      const { weights: _w, optimizer: _o, best: _b, ...rest } = saved;
      state = rest;
      resumedFromEpoch = saved.epoch;
      reporter.info(
        `resuming training after epoch ${saved.epoch} (best validation HR@20 ${saved.bestHr20.toFixed(4)} at epoch ${saved.bestEpoch})`
      );
    }
    const validation = validationPrefixes(input.validation, options.validationExamples);
    const plan2 = {
      mode: options.mode,
      maxLen: input.net.maxLen,
      batchSize: options.batchSize
    };
    const stopped = () => options.patience > 0 && state.epoch - state.gainEpoch >= options.patience && state.epoch > 0;
    while (state.epoch < options.epochs && !stopped()) {
      const epoch = state.epoch + 1;
      const started = performance.now();
      const bar = reporter.progress(
        `epoch ${epoch}/${options.epochs}`,
        input.trainTargets,
        "targets"
      );
      let lossSum = 0;
      let seen = 0;
      let step2 = state.step;
      for (const batch of epochBatches(input.train, plan2, { seed: input.seed, epoch })) {
        const at = step2;
        const cost = optimizer.minimize(
          () => {
            const states = net.states(
              { rows: batch.rows, steps: batch.steps, ids: batch.inputs },
              { rate: options.dropout, seed: input.seed, step: at }
            );
            const rows = tf8.gather(states, tf8.tensor1d(batch.positions, "int32"));
            return head(net, rows, batch.targets, at);
          },
          true,
          variables
        );
        step2++;
        const loss = cost?.dataSync()[0] ?? Number.NaN;
        cost?.dispose();
        if (!Number.isFinite(loss)) {
          bar.stop();
          throw new PipelineError(
            `training diverged at epoch ${epoch}, step ${step2}: the loss is ${loss}`,
            1,
            "lower --learning-rate, or check the data for degenerate sessions"
          );
        }
        lossSum += loss * batch.targets.length;
        seen += batch.targets.length;
        bar.update(seen, seen);
      }
      bar.stop();
      const seconds2 = (performance.now() - started) / 1e3;
      const { hr20, examples } = hitRateAt20(
        net,
        validation,
        input.net.maxLen,
        input.excludeLastItem
      );
      const record = {
        epoch,
        loss: seen === 0 ? 0 : lossSum / seen,
        validationHr20: hr20,
        validationExamples: examples,
        seconds: seconds2,
        sequencesPerSecond: seconds2 > 0 ? seen / seconds2 : 0
      };
      const improved = hr20 > state.bestHr20;
      const gained = hr20 > state.bestHr20 * (1 + options.minImprovement);
      if (improved) best = await net.weights();
      state = {
        ...state,
        epoch,
        step: step2,
        history: [...state.history, record],
        ...improved ? { bestEpoch: epoch, bestHr20: hr20 } : {},
        ...gained ? { gainEpoch: epoch } : {}
      };
      reporter.info(
        `epoch ${epoch}/${options.epochs}: loss ${record.loss.toFixed(4)}, validation HR@20 ${hr20.toFixed(4)} (${examples} examples)${improved ? " ★" : ""}, ${Math.round(record.sequencesPerSecond)} targets/s, ${seconds2.toFixed(1)} s`
      );
      if (input.checkpoints) {
        const powers = readAdamPowers(optimizer);
        await input.checkpoints.save({
          ...state,
          ...powers ? { adamPowers: powers } : {},
          weights: await net.weights(),
          optimizer: await optimizer.getWeights(),
          best: best ?? await net.weights()
        });
      }
    }
    const stoppedEarly = state.epoch < options.epochs;
    if (stoppedEarly) {
      reporter.info(
        `early stopping: validation HR@20 gained less than ${options.minImprovement * 100}% for ${options.patience} epoch(s); keeping epoch ${state.bestEpoch}`
      );
    }
    return {
      weights: net.exportWeights(best ?? await net.weights()),
      history: { epochs: state.history, bestEpoch: state.bestEpoch, stoppedEarly },
      resumedFromEpoch,
      steps: state.step
    };
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}

// pipeline/train/train.ts
function modelPrefix(runId2) {
  return stageKey(runId2, "train", "model");
}
function trainingOptions(config) {
  const { train: t, model: m } = config;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    mode: t.examples,
    loss: t.loss,
    negatives: t.negatives,
    sampleAlpha: t.sampleAlpha,
    logQ: t.logQ,
    learningRate: m.learningRate,
    dropout: m.dropout,
    popularityBias: t.popularityBias,
    patience: t.patience,
    minImprovement: t.minImprovement,
    validationExamples: t.validationExamples
  };
}
function idCounts(vocabulary) {
  const counts = new Float64Array(vocabulary.size);
  for (let id = FIRST_ITEM_ID; id < vocabulary.size; id++) {
    counts[id] = vocabulary.count(vocabulary.sku(id));
  }
  return counts;
}
async function trainLocally(input) {
  const { config, reporter, warehouse } = input;
  const started = performance.now();
  const backend = await selectBackend(config.train.backend);
  reporter.info(
    `backend: ${backend.name} (${backend.reason})${backend.skipped.map((s) => `; skipped ${s.name}: ${s.why}`).join("")}`
  );
  const vocabulary = await buildVocabulary(warehouse, { minCount: config.train.minCount });
  const [train2, validation, test] = await Promise.all(
    SPLITS.map((split) => loadSplit(warehouse, vocabulary, { split }))
  );
  const blocks = { train: train2, validation, test };
  const training = trainingOptions(config);
  const dataset = {
    mode: training.mode,
    maxLen: config.model.maxLen,
    vocabularySize: vocabulary.size,
    minCount: vocabulary.minCount,
    trainSkus: vocabulary.trainSkus,
    splits: {
      train: summarizeSplit(blocks.train, training.mode),
      validation: summarizeSplit(blocks.validation, training.mode),
      test: summarizeSplit(blocks.test, training.mode)
    }
  };
  reporter.info(
    `dataset: vocabulary ${vocabulary.size} ids, ${dataset.splits.train.kept} train and ${dataset.splits.validation.kept} validation examples (${training.mode}); preset ${config.model.preset}`
  );
  const net = {
    cell: config.model.cell,
    vocabSize: vocabulary.size,
    embeddingDim: config.model.embeddingDim,
    hiddenUnits: config.model.hiddenUnits,
    layers: config.model.layers,
    tied: config.model.tied,
    maxLen: config.model.maxLen
  };
  const counts = idCounts(vocabulary);
  const features = config.model.itemFeatures ? itemFeatures(vocabulary, await readCatalogFacts(warehouse)) : void 0;
  if (features) {
    const described = features.offsets.reduce(
      (n2, offset, id) => n2 + (id > 0 && offset > features.offsets[id - 1] ? 1 : 0),
      0
    );
    reporter.info(
      `item features: ${features.count} catalog facts (category levels, price buckets) on ${described} of ${vocabulary.size - FIRST_ITEM_ID} items`
    );
  }
  const excludeLast = config.transform.collapseRepeats;
  const { epochs: _epochs, patience: _patience, minImprovement: _gain, ...shape } = training;
  const print = fingerprint({
    net,
    features: features ? [features.count, features.ids.length] : null,
    shape,
    seed: config.train.seed,
    vocabulary: vocabulary.toJSON(),
    dataset
  });
  const checkpoints = new CheckpointStore(
    input.store,
    stageKey(input.runId, "train", "checkpoint")
  );
  const outcome = await trainModel({
    net,
    seed: config.train.seed,
    train: blocks.train,
    validation: blocks.validation,
    counts,
    ...features ? { features } : {},
    options: training,
    reporter,
    trainTargets: countTargets(blocks.train, {
      mode: training.mode,
      maxLen: net.maxLen,
      batchSize: training.batchSize
    }),
    checkpoints,
    fingerprint: print,
    resume: input.resume,
    excludeLastItem: excludeLast
  });
  const blendStarted = performance.now();
  const kinds = config.model.blend.split(",");
  const neighbours = { ...NEIGHBOUR_DEFAULTS };
  const trainSessions = splitSessions(blocks.train);
  const evidence = {
    vocabSize: vocabulary.size,
    net: new NetRuntime(net, outcome.weights),
    ...kinds.some((k) => k === "sknn" || k === "cooccurrence") ? { index: new SessionIndex(trainSessions, vocabulary.size, neighbours) } : {}
  };
  const cases = fitCases(kinds, evidence, splitSessions(blocks.validation), {
    excludeLast,
    limit: training.validationExamples
  });
  const fit = (of) => fitWeights(
    of,
    selectComponents(
      cases,
      kinds.length,
      of.map((kind) => kinds.indexOf(kind))
    )
  );
  const networkOnly = fit(["neural"]);
  const fitted = kinds.length > 1 ? fit(kinds) : networkOnly;
  const withoutNetwork = kinds.filter((k) => k !== "neural");
  const ablation = withoutNetwork.length > 0 ? fit(withoutNetwork) : null;
  const blend = {
    spec: fitted.spec,
    ablation: ablation?.spec ?? null,
    validation: {
      candidate: fitted.metrics,
      ablation: ablation?.metrics ?? null,
      network: networkOnly.metrics
    },
    seconds: (performance.now() - blendStarted) / 1e3
  };
  reporter.info(
    `blend fitted on ${fitted.metrics.cases} validation prefixes: ${describeBlend(fitted.spec)} — HR@20 ${fitted.metrics.hr.toFixed(4)}, MRR@20 ${fitted.metrics.mrr.toFixed(4)} (network alone ${networkOnly.metrics.hr.toFixed(4)} / ${networkOnly.metrics.mrr.toFixed(4)}${ablation ? `; without the network ${ablation.metrics.hr.toFixed(4)} / ${ablation.metrics.mrr.toFixed(4)}` : ""})`
  );
  const artifactConfig = {
    format: "mlops-session-recs/model@2",
    preset: config.model.preset,
    net,
    training: { ...training },
    runId: input.runId,
    backend: backend.name,
    excludeLastItem: excludeLast
  };
  const local = await mkdtemp2(join6(tmpdir2(), "mlops-model-"));
  const prefix = modelPrefix(input.runId);
  const files = [];
  try {
    await saveModelArtifact(local, {
      net,
      weights: outcome.weights,
      vocabulary,
      blend: fitted.spec,
      ablation: ablation?.spec ?? null,
      sessions: blocks.train,
      neighbours,
      config: artifactConfig,
      history: outcome.history
    });
    for (const file of Object.values(ARTIFACT_FILES)) {
      await input.store.putFile(`${prefix}/${file}`, join6(local, file));
      files.push(`${prefix}/${file}`);
    }
  } finally {
    await rm5(local, { recursive: true, force: true });
  }
  const best = outcome.history.epochs.find((e) => e.epoch === outcome.history.bestEpoch);
  return {
    backend: {
      name: backend.name,
      reason: backend.reason,
      skipped: backend.skipped,
      ...backend.threads === void 0 ? {} : { threads: backend.threads }
    },
    compute: "local",
    preset: config.model.preset,
    dataset,
    model: net,
    itemFeatures: features?.count ?? 0,
    training,
    history: outcome.history,
    blend,
    bestValidationHr20: best?.validationHr20 ?? 0,
    epochsRun: outcome.history.epochs.length,
    resumedFromEpoch: outcome.resumedFromEpoch,
    seconds: (performance.now() - started) / 1e3,
    artifact: { prefix, files }
  };
}

// pipeline/train/fetch-artifact.ts
async function fetchTrainArtifact(store, runId2, localDir) {
  const prefix = modelPrefix(runId2);
  const where = `${store.location}/${prefix}/`;
  const files = (await store.list(prefix)).map((key) => key.slice(prefix.length + 1));
  const checkHint = `Check that the training job succeeded (its log), and that it was given the same run store (MLOPS_STORE=${store.location}) and run id (--run-id ${runId2}).`;
  if (files.length === 0) {
    const stageFolder = stageKey(runId2, "train", "");
    const others = (await store.list(stageFolder)).map((key) => key.slice(stageFolder.length));
    throw new PipelineError(
      `no model artifact for run ${runId2} in ${where}: nothing is stored there` + (others.length > 0 ? ` (${stageFolder} holds only ${listed(others)})` : ""),
      1,
      checkHint
    );
  }
  const missing = REQUIRED_ARTIFACT_FILES.filter((name2) => !files.includes(name2));
  if (missing.length > 0) {
    throw new PipelineError(
      `the model artifact of run ${runId2} in ${where} is incomplete: ${listed(missing)} missing`,
      1,
      `The training job stopped while writing its outputs, or something removed them: train again with the same --run-id. ${checkHint}`
    );
  }
  let bytes = 0;
  for (const file of files) {
    const target = join7(localDir, ...file.split("/"));
    if (!await store.getFile(`${prefix}/${file}`, target)) {
      throw new PipelineError(
        `${where}${file} disappeared while the model artifact of run ${runId2} was being copied`,
        1,
        "Something deleted the run's outputs during the copy: train again with the same --run-id."
      );
    }
    bytes += (await stat4(target)).size;
  }
  return { modelDir: localDir, files, bytes };
}
function listed(names) {
  const shown = names.slice(0, 8).join(", ");
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}
async function runModelDir(store, runId2, scratch) {
  if (store instanceof LocalStore) {
    const local = join7(store.root, ...modelPrefix(runId2).split("/"));
    if (existsSync3(join7(local, ARTIFACT_FILES.model))) return local;
  }
  return (await fetchTrainArtifact(store, runId2, join7(scratch, runId2))).modelDir;
}
async function modelDirHashes(dir, runId2) {
  const prefix = modelPrefix(runId2);
  const files = (await readdir2(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => relative2(dir, join7(entry.parentPath, entry.name)).split(sep2).join("/")).sort();
  const hashes = [];
  for (const file of files) {
    const { sha256, bytes } = await sha256File(join7(dir, ...file.split("/")));
    hashes.push({ name: `${prefix}/${file}`, sha256, bytes });
  }
  return hashes;
}

// pipeline/upload/acquire.ts
import { existsSync as existsSync4 } from "node:fs";
import { readFile as readFile6, writeFile as writeFile5 } from "node:fs/promises";
import { join as join8 } from "node:path";
async function acquireData(config, reporter) {
  const { data } = config;
  switch (data.source) {
    case "synthetic": {
      const dir = syntheticDir(config);
      const generated = await generateOnce(dir, config, reporter);
      return { source: "synthetic", dir, files: presentFiles(dir), generated };
    }
    case "csv":
      return { source: "csv", dir: data.dir, files: requireFiles(data.dir) };
    case "download": {
      reporter.info(
        `downloading ${data.downloadUrl ? redactUrl(data.downloadUrl) : "(no URL set)"} into ${data.dir}`
      );
      const dir = await downloadDataset({
        url: data.downloadUrl,
        sha256: data.downloadSha256,
        dir: data.dir,
        allowHttp: data.allowHttp,
        maxBytes: data.downloadMaxBytes,
        maxUnpackedBytes: data.downloadMaxUnpackedBytes
      });
      return { source: "download", dir, files: requireFiles(dir) };
    }
  }
}
function syntheticDir(config) {
  const { dir, sessions, skus, seed: seed2 } = config.data;
  return join8(dir, `synthetic-n${sessions}-k${skus}-s${seed2}`);
}
async function generateOnce(dir, config, reporter) {
  const marker = join8(dir, "generate.json");
  if (existsSync4(marker)) {
    reporter.info(`reusing generated data in ${dir}`);
    return JSON.parse(await readFile6(marker, "utf8"));
  }
  const { sessions, skus, seed: seed2 } = config.data;
  reporter.info(
    `generating ${sessions} synthetic sessions (${skus} SKUs, seed ${seed2}) into ${dir}`
  );
  const bar = reporter.progress("  generate", sessions, "sessions");
  try {
    const result = await generate({
      outDir: dir,
      sessions,
      skus,
      seed: seed2,
      onProgress: (done) => bar.update(done, done)
    });
    await writeFile5(marker, `${JSON.stringify(result, null, 2)}
`);
    return result;
  } finally {
    bar.stop();
  }
}
function presentFiles(dir) {
  const files = {};
  for (const kind of DATA_KINDS) {
    const plain = join8(dir, DATA_FILES[kind].file);
    const gzipped = `${plain}.gz`;
    if (existsSync4(plain)) files[kind] = plain;
    else if (existsSync4(gzipped)) files[kind] = gzipped;
  }
  return files;
}
function requireFiles(dir) {
  const files = presentFiles(dir);
  if (!files.browsing) {
    const expected = DATA_KINDS.map((k) => DATA_FILES[k].file).join(", ");
    throw new InputError(
      `no ${DATA_FILES.browsing.file} (or ${DATA_FILES.browsing.file}.gz) in ${dir}`,
      { file: join8(dir, DATA_FILES.browsing.file) },
      `Point --data (MLOPS_DATA_DIR) at the folder holding ${expected}, plain or gzipped (.csv.gz); search and catalog files are optional.`
    );
  }
  return files;
}

// pipeline/evaluate/popularity.ts
function countItems2(sessions) {
  const counts = /* @__PURE__ */ new Map();
  for (const session2 of sessions) {
    for (const sku of session2.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return counts;
}
function rankByCount(counts) {
  const kept = [...counts].filter(([, n2]) => n2 > 0);
  kept.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
  return kept.map(([sku]) => sku);
}
function fillFrom(out, taken, ranked, k, skip2) {
  for (let i = 0; i < ranked.length && out.length < k; i++) {
    const sku = ranked[i];
    if (sku === skip2 || taken.has(sku)) continue;
    taken.add(sku);
    out.push(sku);
  }
}
var PopularityRecommender = class _PopularityRecommender {
  name;
  kind = "baseline";
  /** Most popular first. */
  ranked;
  excludeLast;
  constructor(counts, options = {}) {
    this.name = options.name ?? "popularity";
    this.excludeLast = options.excludeLast ?? true;
    this.ranked = rankByCount(counts);
  }
  static fromSessions(sessions, options) {
    return new _PopularityRecommender(countItems2(sessions), options);
  }
  async recommend(prefixes, k) {
    return prefixes.map((prefix) => {
      const out = [];
      const skip2 = this.excludeLast ? prefix[prefix.length - 1] : void 0;
      fillFrom(out, /* @__PURE__ */ new Set(), this.ranked, k, skip2);
      return out;
    });
  }
};

// pipeline/evaluate/cooccurrence.ts
function countTransitions(sessions) {
  const counts = /* @__PURE__ */ new Map();
  for (const { items } of sessions) {
    for (let t = 1; t < items.length; t++) {
      const from = items[t - 1];
      const to = items[t];
      let row = counts.get(from);
      if (!row) counts.set(from, row = /* @__PURE__ */ new Map());
      row.set(to, (row.get(to) ?? 0) + 1);
    }
  }
  const out = [];
  for (const [sku, row] of counts) {
    for (const [nextSku, transitions] of row) out.push({ sku, nextSku, transitions });
  }
  return out;
}
var CooccurrenceRecommender = class {
  /**
   * @param popular the fallback ranking, most popular first (PopularityRecommender.ranked).
   */
  constructor(transitions, popular, options = {}) {
    this.popular = popular;
    this.name = options.name ?? "cooccurrence";
    this.excludeLast = options.excludeLast ?? true;
    const grouped = /* @__PURE__ */ new Map();
    for (const { sku, nextSku, transitions: n2 } of transitions) {
      if (n2 <= 0) continue;
      let row = grouped.get(sku);
      if (!row) grouped.set(sku, row = []);
      row.push([nextSku, n2]);
    }
    for (const [sku, row] of grouped) {
      row.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
      this.next.set(
        sku,
        row.map(([next]) => next)
      );
    }
  }
  popular;
  name;
  kind = "baseline";
  next = /* @__PURE__ */ new Map();
  excludeLast;
  async recommend(prefixes, k) {
    return prefixes.map((prefix) => {
      const last = prefix[prefix.length - 1];
      const skip2 = this.excludeLast ? last : void 0;
      const out = [];
      const taken = /* @__PURE__ */ new Set();
      if (last !== void 0) fillFrom(out, taken, this.next.get(last) ?? [], k, skip2);
      fillFrom(out, taken, this.popular, k, skip2);
      return out;
    });
  }
};

// pipeline/evaluate/sknn.ts
var SknnRecommender = class {
  name;
  kind = "baseline";
  neighbours;
  sampleSize;
  excludeLast;
  /** Item id → SKU; ids follow train popularity (0 = most popular), so id order breaks ties. */
  skus;
  ids = /* @__PURE__ */ new Map();
  index;
  /** @param train train sessions, oldest first (by session start). */
  constructor(train2, options = {}) {
    this.name = options.name ?? "sknn";
    this.excludeLast = options.excludeLast ?? true;
    this.skus = rankByCount(countItems2(train2));
    this.skus.forEach((sku, id) => this.ids.set(sku, id));
    this.index = new SessionIndex(
      train2.map((session2) => this.encode(session2.items)),
      this.skus.length,
      options
    );
    this.neighbours = this.index.neighbours;
    this.sampleSize = this.index.sampleSize;
  }
  async recommend(prefixes, k) {
    return prefixes.map((prefix) => this.recommendOne(prefix, k));
  }
  /** The scores of the items the neighbours of `prefix` hold (for tests and explanations). */
  scores(prefix) {
    const { ids, scores, length } = this.index.sknn(this.encode(prefix));
    const out = /* @__PURE__ */ new Map();
    for (let i = 0; i < length; i++) {
      out.set(this.skus[ids[i]], scores[i]);
    }
    return out;
  }
  recommendOne(prefix, k) {
    const last = prefix[prefix.length - 1];
    const skip2 = this.excludeLast ? last : void 0;
    const best = this.index.top(this.index.sknn(this.encode(prefix)), k + 1);
    const out = [];
    const taken = /* @__PURE__ */ new Set();
    for (let i = 0; i < best.length && out.length < k; i++) {
      const sku = this.skus[best[i]];
      if (sku === skip2) continue;
      taken.add(sku);
      out.push(sku);
    }
    fillFrom(out, taken, this.skus, k, skip2);
    return out;
  }
  /** SKUs as ids; an SKU train never saw gets -1, which the index ignores (keeping L). */
  encode(skus) {
    return skus.map((sku) => this.ids.get(sku) ?? -1);
  }
};

// pipeline/evaluate/baselines.ts
function buildBaselines(inputs) {
  const popularity = new PopularityRecommender(inputs.popularity ?? countItems2(inputs.train));
  return [
    popularity,
    new CooccurrenceRecommender(
      inputs.transitions ?? countTransitions(inputs.train),
      popularity.ranked
    ),
    new SknnRecommender(inputs.train, inputs.sknn)
  ];
}

// pipeline/evaluate/knn-blend.ts
function buildKnnBlend(train2, validation, options) {
  const vocabulary = Vocabulary.fromCounts(countItems2(train2));
  const index2 = new SessionIndex(
    train2.map((s) => vocabulary.encode(s.items)),
    vocabulary.size,
    NEIGHBOUR_DEFAULTS
  );
  const evidence = { vocabSize: vocabulary.size, index: index2 };
  const kinds = ["sknn", "cooccurrence"];
  const fitted = fitWeights(
    kinds,
    fitCases(
      kinds,
      evidence,
      validation.map((s) => vocabulary.encode(s.items)),
      options
    )
  );
  const predictor = new Predictor(
    vocabulary,
    new BlendScorer(fitted.spec, evidence, { excludeLast: options.excludeLast })
  );
  return {
    recommender: {
      name: options.name ?? "knn-blend",
      kind: "baseline",
      recommend: async (prefixes, k) => predictor.predict(prefixes, k).map((p) => p.items.map((item) => item.sku))
    },
    spec: fitted.spec,
    validation: fitted.metrics
  };
}

// pipeline/evaluate/model-recommender.ts
var ModelRecommender = class {
  constructor(predictor, name2, kind = "model") {
    this.predictor = predictor;
    this.name = name2;
    this.kind = kind;
  }
  predictor;
  name;
  kind;
  async recommend(prefixes, k) {
    const predictions = await this.predictor.predict(prefixes, k);
    return predictions.map((prediction) => prediction.items.map((item) => item.sku));
  }
};

// pipeline/evaluate/oracle-recommender.ts
var OracleRecommender = class {
  constructor(oracle, name2 = "oracle") {
    this.oracle = oracle;
    this.name = name2;
    for (const leaf of oracle.model.leaves) {
      for (const item of leaf.items) this.index.set(oracle.skuOf(item), item);
    }
  }
  oracle;
  name;
  kind = "oracle";
  index = /* @__PURE__ */ new Map();
  async recommend(prefixes, k) {
    return prefixes.map((prefix) => this.recommendOne(prefix, k));
  }
  recommendOne(prefix, k) {
    const items = [];
    for (const sku of prefix) {
      const item = this.index.get(sku);
      if (item !== void 0 && item !== items[items.length - 1]) items.push(item);
    }
    let top;
    try {
      top = this.oracle.predict(items).topK(k);
    } catch (error) {
      if (!(error instanceof ZeroProbabilityPrefixError)) throw error;
      top = this.oracle.predict([]).topK(k);
    }
    return top.map(({ item }) => this.oracle.skuOf(item));
  }
};

// pipeline/evaluate/outcomes.ts
import { createHash as createHash6 } from "node:crypto";
var OUTCOMES_FORMAT = "mlops-session-recs/outcomes@1";
function outcomesKey(runId2) {
  return stageKey(runId2, "evaluate", "outcomes.json");
}
function trackOutcomes(names) {
  const ranks = /* @__PURE__ */ new Map();
  let cases = [];
  return {
    onRanks(name2, seen, prefixes) {
      if (!names.includes(name2)) return;
      ranks.set(name2, seen);
      cases = prefixes;
    },
    async write(store, runId2) {
      if (ranks.size === 0) return void 0;
      const sessions = [];
      for (const c of cases) {
        const last = sessions.at(-1);
        if (last?.key === c.session.key) last.prefixes++;
        else sessions.push({ key: c.session.key, prefixes: 1 });
      }
      const ids = cases.map((c) => `${c.session.key}	${c.length}	${c.session.items[c.length]}`);
      const outcomes = {
        format: OUTCOMES_FORMAT,
        split: createHash6("sha256").update(ids.join("\n")).digest("hex"),
        sessions,
        recommenders: Object.fromEntries(
          [...ranks].map(([name2, r]) => [
            name2,
            {
              hit20: r.map((rank) => rank > 0 ? 1 : 0),
              rr20: r.map((rank) => rank > 0 ? 1 / rank : 0)
            }
          ])
        )
      };
      const key = outcomesKey(runId2);
      await store.put(key, `${JSON.stringify(outcomes)}
`);
      return key;
    }
  };
}

// pipeline/evaluate/recommender.ts
var ABLATION = "ablation";

// pipeline/evaluate/smoke-sessions.ts
var SMOKE_SESSIONS = 20;
function smokeSessionsKey(runId2) {
  return stageKey(runId2, "evaluate", "smoke-sessions.json");
}
function smokePrefixes(sessions) {
  const prefixes = [];
  for (const { items } of sessions) {
    if (prefixes.length === SMOKE_SESSIONS) break;
    prefixes.push(items.slice(0, Math.max(1, items.length - 1)));
  }
  return prefixes;
}
async function writeSmokeSessions(store, runId2, test) {
  const key = smokeSessionsKey(runId2);
  await store.put(key, `${JSON.stringify(smokePrefixes(test))}
`);
  return key;
}
async function readSmokeSessions(store, runId2) {
  const bytes = await store.get(smokeSessionsKey(runId2));
  if (bytes === void 0) return void 0;
  const parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  const valid = Array.isArray(parsed) && parsed.every((s) => Array.isArray(s) && s.every((item) => typeof item === "string"));
  return valid && parsed.length > 0 ? parsed : void 0;
}

// pipeline/evaluate/stage.ts
var TEMPLATE_GATES_FILE = fileURLToPath(new URL("../../gates.yml", __moduleUrl));
function resolveGatesFile(path2) {
  return path2 === "gates.yml" && !existsSync5(path2) ? TEMPLATE_GATES_FILE : path2;
}
function candidateName(artifact) {
  return artifact.config.preset ?? artifact.config.net.cell;
}
async function readSplit(warehouse, split) {
  const rows = await warehouse.query(
    `select q.session_key, q.items
     from ${DEFAULT_RELATIONS.sequences} as q
     inner join ${DEFAULT_RELATIONS.splits} as s on s.session_key = q.session_key
     where s.split = $1
     order by q.session_start_ms, q.session_key`,
    [split]
  );
  return rows.map((r) => {
    const key = String(r.session_key);
    return { key, items: parseItems(r.items ?? null, key) };
  });
}
async function readCatalog(warehouse) {
  const rows = await warehouse.query(
    "select sku, category_path, price_bucket, train_popularity from item_catalog"
  );
  return new Catalog(
    rows.map((r) => ({
      sku: String(r.sku),
      categoryPath: r.category_path === null ? null : String(r.category_path),
      priceBucket: r.price_bucket === null ? null : Number(r.price_bucket),
      trainPopularity: Number(r.train_popularity)
    }))
  );
}
async function measureServedDrift(input, data) {
  const served = await readServedSessions(input.warehouse);
  if (served.length === 0) return void 0;
  const drift = await measureDrift({
    ...data,
    served,
    bootstrap: { iterations: input.config.evaluate.bootstrap, seed: input.config.evaluate.seed }
  });
  input.reporter.info(
    `drift: ${drift.servedSessions} served sessions; popularity PSI ${drift.popularity.psi.toFixed(3)}, JS ${drift.popularity.jensenShannon.toFixed(3)}; out of vocabulary ${(100 * drift.outOfVocabularyShare).toFixed(1)}%; replay HR@20 ${drift.replay.hr20.value?.toFixed(4) ?? "n/a"}`
  );
  return drift;
}
async function evaluateRun(input) {
  const { config, warehouse, reporter, store } = input;
  const started = performance.now();
  const gatesFile = resolveGatesFile(config.evaluate.gates);
  const gateConfig = await loadGates(gatesFile);
  const [train2, validation, test, catalog] = await Promise.all([
    readSplit(warehouse, "train"),
    readSplit(warehouse, "validation"),
    readSplit(warehouse, "test"),
    readCatalog(warehouse)
  ]);
  if (test.length === 0) {
    throw new PipelineError(
      "the test split is empty: nothing to evaluate",
      1,
      "run the transform stage on more sessions (or raise the test fraction)"
    );
  }
  const popularity = new Map(
    (await warehouse.query("select sku, train_popularity from baseline_popularity")).map((r) => [
      String(r.sku),
      Number(r.train_popularity)
    ])
  );
  const transitions = (await warehouse.query("select sku, next_sku, transitions from baseline_next_item")).map((r) => ({
    sku: String(r.sku),
    nextSku: String(r.next_sku),
    transitions: Number(r.transitions)
  }));
  const scratch = await mkdtemp3(join9(tmpdir3(), "mlops-evaluate-"));
  try {
    const candidateDir = await runModelDir(store, input.runId, scratch);
    const candidate = await loadModelArtifact(candidateDir);
    const modelFiles = await modelDirHashes(candidateDir, input.runId);
    const name2 = candidateName(candidate);
    const recommenders = [new ModelRecommender(candidate, name2)];
    if (candidate.ablation) {
      recommenders.push(
        new ModelRecommender(candidate.withBlend(candidate.ablation), ABLATION, "ablation")
      );
    }
    const production = await readProduction(store);
    const productionRunId = production && production.runId !== input.runId ? production.runId : null;
    if (productionRunId) {
      const champion = await loadModelArtifact(await runModelDir(store, productionRunId, scratch));
      recommenders.push(new ModelRecommender(champion, "production", "model"));
      reporter.info(`champion: the production model of run ${productionRunId}`);
    }
    recommenders.push(...buildBaselines({ train: train2, popularity, transitions }));
    const knnBlend = buildKnnBlend(train2, validation, {
      excludeLast: config.transform.collapseRepeats,
      limit: config.train.validationExamples
    });
    reporter.info(
      `knn-blend baseline fitted on ${knnBlend.validation.cases} validation prefixes: ${describeBlend(knnBlend.spec)}`
    );
    recommenders.push(knnBlend.recommender);
    const generative = join9(syntheticDir(config), MODEL_FILE);
    if (config.data.source === "synthetic" && existsSync5(generative)) {
      recommenders.push(new OracleRecommender(new Oracle(await loadGenerativeModel(generative))));
    }
    const bar = reporter.progress("evaluate", recommenders.length, "recommenders");
    let finished2 = 0;
    const outcomes = trackOutcomes([name2, "production"]);
    const report = await evaluateAll(recommenders, test, catalog, {
      seed: config.evaluate.seed,
      maxPrefixes: config.evaluate.maxPrefixes,
      bootstrapIterations: config.evaluate.bootstrap,
      onRanks: outcomes.onRanks,
      candidate: name2,
      ...productionRunId ? { production: "production" } : {},
      onProgress: (p) => {
        if (p.phase === "robustness" && p.done === p.total) bar.update(++finished2, finished2);
      }
    }).finally(() => bar.stop());
    const drift = await measureServedDrift(input, {
      train: train2,
      catalog,
      model: recommenders[0]
    });
    const gates = evaluateGates(gateConfig, report, {
      source: config.data.source,
      ...drift ? { drift } : {}
    });
    const artifacts = {
      report: stageKey(input.runId, "evaluate", "report.json"),
      gates: stageKey(input.runId, "evaluate", "gates.json")
    };
    await store.put(artifacts.report, JSON.stringify(report, null, 2));
    await store.put(artifacts.gates, JSON.stringify(gates, null, 2));
    const smokeSessions2 = await writeSmokeSessions(store, input.runId, test);
    const outcomesKey2 = await outcomes.write(store, input.runId);
    return {
      report,
      gates,
      productionRunId,
      ...drift ? { drift } : {},
      modelFiles,
      gatesFile,
      artifacts: { ...artifacts, smokeSessions: smokeSessions2, ...outcomesKey2 ? { outcomes: outcomesKey2 } : {} },
      seconds: (performance.now() - started) / 1e3
    };
  } finally {
    await rm6(scratch, { recursive: true, force: true });
  }
}

// pipeline/transform/transform.ts
import { existsSync as existsSync8 } from "node:fs";
import { mkdtemp as mkdtemp4, rm as rm7 } from "node:fs/promises";
import { tmpdir as tmpdir4 } from "node:os";
import { join as join13, resolve as resolve3 } from "node:path";
import { fileURLToPath as fileURLToPath2 } from "node:url";

// pipeline/transform/builtin/artifacts.ts
import { createHash as createHash7, randomUUID as randomUUID2 } from "node:crypto";
var MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json";
var RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json";
var DBT_VERSION = "1.10.0";
function newArtifactContext(vars, selectors) {
  return { invocationId: randomUUID2(), generatedAt: (/* @__PURE__ */ new Date()).toISOString(), vars, selectors };
}
function checksum(text) {
  return { name: "sha256", checksum: createHash7("sha256").update(text).digest("hex") };
}
function columns(docs) {
  return Object.fromEntries(
    docs.map((c) => [
      c.name,
      {
        name: c.name,
        description: c.description,
        meta: {},
        data_type: c.dataType ?? null,
        constraints: [],
        quote: null,
        tags: []
      }
    ])
  );
}
function modelNode(graph, model) {
  return {
    database: graph.target.database,
    schema: model.schema,
    name: model.name,
    resource_type: "model",
    package_name: graph.project.name,
    path: model.file.path.split("/").slice(1).join("/"),
    original_file_path: model.file.path,
    unique_id: model.uniqueId,
    fqn: model.fqn,
    alias: model.alias,
    checksum: checksum(model.file.text),
    config: {
      enabled: model.config.enabled,
      alias: model.config.alias ?? null,
      schema: model.config.schema ?? null,
      database: null,
      tags: model.config.tags,
      meta: {},
      materialized: model.config.materialized,
      incremental_strategy: model.config.incremental_strategy ?? null,
      unique_key: model.config.unique_key ?? null,
      on_schema_change: "ignore",
      persist_docs: {},
      "post-hook": [],
      "pre-hook": [],
      quoting: {},
      column_types: {},
      full_refresh: null,
      access: "protected"
    },
    tags: model.config.tags,
    description: model.description,
    columns: columns(model.columns),
    ...compiledNodeDefaults(),
    relation_name: model.relation,
    raw_code: model.file.text,
    refs: model.refs.map((name2) => ({ name: name2, package: null, version: null })),
    sources: model.sources,
    depends_on: {
      macros: model.macros.map((m) => `macro.${graph.project.name}.${m}`),
      nodes: model.dependsOn
    },
    compiled_path: `target/compiled/${graph.project.name}/${model.file.path}`,
    compiled_code: model.compiledSql,
    access: "protected",
    constraints: [],
    version: null,
    latest_version: null,
    deprecation_date: null
  };
}
function compiledNodeDefaults() {
  return {
    meta: {},
    docs: { show: true, node_color: null },
    patch_path: null,
    build_path: null,
    unrendered_config: {},
    created_at: Date.now() / 1e3,
    language: "sql",
    metrics: [],
    compiled: true,
    extra_ctes_injected: true,
    extra_ctes: [],
    contract: { enforced: false, alias_types: true, checksum: null }
  };
}
function testNode(graph, test) {
  return {
    database: graph.target.database,
    schema: `${graph.target.schema}_dbt_test__audit`,
    name: test.name,
    resource_type: "test",
    package_name: graph.project.name,
    path: test.kind === "singular" ? test.path.split("/").slice(1).join("/") : test.path,
    original_file_path: test.path,
    unique_id: test.uniqueId,
    fqn: test.fqn,
    alias: test.name,
    checksum: checksum(test.rawCode),
    config: {
      enabled: true,
      alias: null,
      schema: "dbt_test__audit",
      database: null,
      tags: test.tags,
      meta: {},
      materialized: "test",
      severity: test.severity === "warn" ? "WARN" : "ERROR",
      store_failures: null,
      where: null,
      limit: null,
      fail_calc: "count(*)",
      warn_if: "!= 0",
      error_if: "!= 0"
    },
    tags: test.tags,
    description: "",
    columns: {},
    ...compiledNodeDefaults(),
    relation_name: null,
    raw_code: test.rawCode,
    refs: test.refs.map((name2) => ({ name: name2, package: null, version: null })),
    sources: test.sources,
    depends_on: { macros: test.macros, nodes: test.dependsOn },
    compiled_path: `target/compiled/${graph.project.name}/${test.path}`,
    compiled_code: test.compiledSql,
    ...test.testMetadata ? {
      column_name: test.columnName ?? null,
      file_key_name: fileKeyName(graph, test.attachedNode),
      attached_node: test.attachedNode ?? null,
      test_metadata: {
        name: test.testMetadata.name,
        kwargs: test.testMetadata.kwargs,
        namespace: null
      }
    } : {}
  };
}
function fileKeyName(graph, attached) {
  const source = graph.sources.find((s) => s.uniqueId === attached);
  if (source) return `sources.${source.sourceName}`;
  return `models.${graph.models.find((m) => m.uniqueId === attached)?.name ?? ""}`;
}
function sourceNode(graph, source) {
  return {
    database: source.database,
    schema: source.schema,
    name: source.name,
    resource_type: "source",
    package_name: graph.project.name,
    path: source.path,
    original_file_path: source.path,
    unique_id: source.uniqueId,
    fqn: [graph.project.name, source.sourceName, source.name],
    source_name: source.sourceName,
    source_description: source.sourceDescription,
    loader: source.loader,
    identifier: source.identifier,
    quoting: { database: null, schema: null, identifier: null, column: null },
    loaded_at_field: null,
    freshness: {
      warn_after: { count: null, period: null },
      error_after: { count: null, period: null },
      filter: null
    },
    external: null,
    description: source.description,
    columns: columns(source.columns),
    meta: {},
    source_meta: {},
    tags: [],
    config: { enabled: true },
    patch_path: null,
    unrendered_config: {},
    relation_name: source.relation,
    created_at: Date.now() / 1e3
  };
}
function manifest(graph, context) {
  const nodes = {};
  for (const model of graph.models) nodes[model.uniqueId] = modelNode(graph, model);
  for (const test of graph.tests) nodes[test.uniqueId] = testNode(graph, test);
  const parentMap = {};
  const childMap = {};
  for (const source of graph.sources) childMap[source.uniqueId] = [];
  for (const node of [...graph.models, ...graph.tests]) {
    parentMap[node.uniqueId] = [...node.dependsOn].sort();
    childMap[node.uniqueId] ??= [];
    for (const parent of node.dependsOn) (childMap[parent] ??= []).push(node.uniqueId);
  }
  for (const list2 of Object.values(childMap)) list2.sort();
  const macros = {};
  for (const name2 of graph.renderer.macros) {
    const id = `macro.${graph.project.name}.${name2}`;
    const file = graph.project.macroFiles.find(
      (f) => new RegExp(`{%-?\\s*macro\\s+${name2}\\s*\\(`).test(f.text)
    );
    macros[id] = {
      name: name2,
      resource_type: "macro",
      package_name: graph.project.name,
      path: file?.path ?? "",
      original_file_path: file?.path ?? "",
      unique_id: id,
      macro_sql: file?.text ?? "",
      depends_on: { macros: [] },
      description: "",
      meta: {},
      docs: { show: true, node_color: null },
      patch_path: null,
      arguments: [],
      created_at: Date.now() / 1e3,
      supported_languages: null
    };
  }
  return {
    metadata: {
      dbt_schema_version: MANIFEST_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: context.generatedAt,
      invocation_id: context.invocationId,
      env: {},
      project_name: graph.project.name,
      project_id: createHash7("md5").update(graph.project.name).digest("hex"),
      user_id: null,
      send_anonymous_usage_stats: false,
      adapter_type: graph.target.type
    },
    nodes,
    sources: Object.fromEntries(graph.sources.map((s) => [s.uniqueId, sourceNode(graph, s)])),
    macros,
    docs: {},
    exposures: {},
    metrics: {},
    groups: {},
    selectors: {},
    disabled: {},
    parent_map: parentMap,
    child_map: childMap,
    group_map: {},
    saved_queries: {},
    semantic_models: {},
    unit_tests: {}
  };
}
function runResults(runs, context, elapsedSeconds) {
  return {
    metadata: {
      dbt_schema_version: RUN_RESULTS_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: (/* @__PURE__ */ new Date()).toISOString(),
      invocation_id: context.invocationId,
      env: {}
    },
    results: runs.map((run) => ({
      status: run.status,
      timing: run.timing,
      thread_id: "Thread-1",
      execution_time: run.executionTime,
      adapter_response: run.rows === null ? {} : { _message: run.message, rows_affected: run.rows },
      message: run.message,
      failures: run.failures,
      unique_id: run.uniqueId,
      compiled: true,
      compiled_code: run.compiledSql,
      relation_name: run.relation,
      batch_results: null
    })),
    elapsed_time: elapsedSeconds,
    args: {
      which: "build",
      vars: context.vars,
      select: context.selectors,
      invocation_command: `dbt build${context.selectors.length ? ` --select ${context.selectors.join(" ")}` : ""}`
    }
  };
}

// pipeline/transform/builtin/graph.ts
import { createHash as createHash9 } from "node:crypto";

// pipeline/transform/builtin/generic-tests.ts
import { createHash as createHash8 } from "node:crypto";
var GENERIC_TESTS = ["not_null", "unique", "accepted_values", "relationships"];
function genericTestSql(test, args) {
  const column = args.column_name;
  if (!column) throw new Error(`${test} needs a column`);
  switch (test) {
    case "not_null":
      return `select ${column}
from ${args.model}
where ${column} is null`;
    case "unique":
      return [
        `select ${column} as unique_field, count(*) as n_records`,
        `from ${args.model}`,
        `where ${column} is not null`,
        `group by ${column}`,
        `having count(*) > 1`
      ].join("\n");
    case "accepted_values": {
      const quote = args.quote ?? true;
      const values = (args.values ?? []).map(
        (value2) => quote ? `'${String(value2).replaceAll("'", "''")}'` : String(value2)
      );
      return [
        "with all_values as (",
        `    select ${column} as value_field, count(*) as n_records`,
        `    from ${args.model}`,
        `    group by ${column}`,
        ")",
        "select * from all_values",
        `where value_field not in (${values.join(", ")})`
      ].join("\n");
    }
    case "relationships":
      return [
        "with child as (",
        `    select ${column} as from_field from ${args.model} where ${column} is not null`,
        "),",
        "parent as (",
        `    select ${args.field} as to_field from ${args.to}`,
        ")",
        "select from_field",
        "from child",
        "left join parent on child.from_field = parent.to_field",
        "where parent.to_field is null"
      ].join("\n");
  }
}
function genericTestName(test, model, column, kwargs) {
  const parts = [test, model, column];
  const extra = [];
  if (test === "accepted_values") extra.push(...kwargs.values.map(String));
  if (test === "relationships") {
    extra.push(String(kwargs.field), String(kwargs.to).replace(/[^A-Za-z0-9_]+/g, "_"));
  }
  const name2 = [parts.join("_"), ...extra].join("__").replace(/[^A-Za-z0-9_]+/g, "_");
  if (name2.length <= 64) return name2;
  return `${name2.slice(0, 30)}_${createHash8("md5").update(name2).digest("hex")}`;
}

// pipeline/transform/builtin/jinja.ts
import nunjucks from "nunjucks";

// pipeline/transform/builtin/project.ts
import { existsSync as existsSync6, readdirSync, readFileSync as readFileSync2 } from "node:fs";
import { join as join10, relative as relative3, sep as sep3 } from "node:path";
import { LineCounter as LineCounter3, isMap as isMap3, isSeq as isSeq2, parseDocument as parseDocument3 } from "yaml";
var SUPPORTED_CONFIG_KEYS = /* @__PURE__ */ new Set([
  "materialized",
  "schema",
  "alias",
  "tags",
  "enabled",
  "unique_key",
  "incremental_strategy",
  "severity"
]);
var PROJECT_KEYS = /* @__PURE__ */ new Set([
  "name",
  "version",
  "config-version",
  "profile",
  "model-paths",
  "macro-paths",
  "test-paths",
  "target-path",
  "clean-targets",
  "vars",
  "models",
  "require-dbt-version"
]);
function loadProject(dir) {
  const projectPath = join10(dir, "dbt_project.yml");
  if (!existsSync6(projectPath)) {
    throw new InputError(
      `no dbt_project.yml in ${dir}`,
      { field: "transform.project" },
      "Point transform.project at the dbt project folder."
    );
  }
  const project = readYaml(dir, "dbt_project.yml");
  const data = asRecord(project.data, project, []);
  for (const key of Object.keys(data)) {
    if (!PROJECT_KEYS.has(key)) {
      throw unsupported(
        project,
        [key],
        `the dbt_project.yml key "${key}"`,
        `keys the built-in runner reads: ${[...PROJECT_KEYS].join(", ")}`
      );
    }
  }
  const name2 = stringField(data, "name", project);
  const paths = (key, fallback) => {
    const value2 = data[key] ?? [fallback];
    if (!Array.isArray(value2) || !value2.every((v) => typeof v === "string")) {
      throw new InputError(`${key} must be a list of folders`, {
        file: project.path,
        line: project.lineOf([key])
      });
    }
    return value2;
  };
  const modelsSection = data.models === void 0 ? {} : asRecord(data.models, project, ["models"]);
  const modelPaths = paths("model-paths", "models");
  const models = modelPaths.flatMap(
    (root) => sqlFiles(dir, root).map((file) => ({
      ...file,
      name: baseName(file.path),
      folders: file.path.split("/").slice(1, -1)
    }))
  );
  const singularTests = paths("test-paths", "tests").flatMap(
    (root) => sqlFiles(dir, root).map((file) => ({
      ...file,
      name: baseName(file.path),
      folders: file.path.split("/").slice(1, -1)
    }))
  );
  const propertyFiles = modelPaths.flatMap(
    (root) => listFiles(dir, root, /\.ya?ml$/).map((path2) => readYaml(dir, path2))
  );
  checkUnique(models, "model");
  checkUnique(singularTests, "singular test");
  return {
    name: name2,
    dir,
    profile: stringField(data, "profile", project),
    vars: data.vars === void 0 ? {} : asRecord(data.vars, project, ["vars"]),
    folderConfig: modelsSection[name2] === void 0 ? {} : asRecord(modelsSection[name2], project, ["models"]),
    models,
    singularTests,
    macroFiles: paths("macro-paths", "macros").flatMap((root) => sqlFiles(dir, root)),
    propertyFiles
  };
}
function profileSchema(dir, profile, target, env) {
  const file = readYaml(dir, "profiles.yml");
  const output = file.data[profile]?.outputs?.[target];
  if (!output) {
    throw new InputError(`profile "${profile}" has no target "${target}"`, { file: file.path });
  }
  const schema = String(output.schema ?? "main");
  return schema.replace(
    /\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*\}\}/g,
    (_m, name2, fallback) => env[name2] ?? fallback ?? ""
  );
}
function checkUnique(files, what) {
  const seen = /* @__PURE__ */ new Map();
  for (const file of files) {
    const other = seen.get(file.name);
    if (other) {
      throw new InputError(
        `two ${what}s are named "${file.name}": ${other} and ${file.path}`,
        { file: file.path },
        "dbt needs node names to be unique; rename one."
      );
    }
    seen.set(file.name, file.path);
  }
}
function baseName(path2) {
  return path2.split("/").pop().replace(/\.sql$/, "");
}
function sqlFiles(dir, root) {
  return listFiles(dir, root, /\.sql$/).map((path2) => ({
    path: path2,
    text: readFileSync2(join10(dir, path2), "utf8")
  }));
}
function listFiles(dir, root, pattern) {
  const base = join10(dir, root);
  if (!existsSync6(base)) return [];
  return readdirSync(base, { recursive: true }).filter((name2) => pattern.test(name2)).map((name2) => relative3(dir, join10(base, name2)).split(sep3).join("/")).sort();
}
function readYaml(dir, path2) {
  const text = readFileSync2(join10(dir, path2), "utf8");
  const counter = new LineCounter3();
  const doc = parseDocument3(text, { lineCounter: counter, prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    throw new InputError(`not valid YAML: ${error.message.split("\n")[0]}`, {
      file: path2,
      line: error.linePos?.[0].line
    });
  }
  return {
    path: path2,
    text,
    data: doc.toJS() ?? {},
    lineOf: (keys) => lineOfPath(doc, counter, keys)
  };
}
function lineOfPath(doc, counter, keys) {
  let node = doc.contents;
  let offset;
  for (const key of keys) {
    if (isMap3(node)) {
      const pair = node.items.find(
        (item) => item.key?.value === key
      );
      if (!pair) break;
      offset = pair.key?.range?.[0];
      node = pair.value;
    } else if (isSeq2(node) && typeof key === "number") {
      const item = node.items[key];
      offset = item?.range?.[0];
      node = item;
    } else break;
  }
  return offset === void 0 ? void 0 : counter.linePos(offset).line;
}
function asRecord(value2, file, path2) {
  if (value2 === null || typeof value2 !== "object" || Array.isArray(value2)) {
    throw new InputError(`expected a mapping at ${path2.join(".") || "the top level"}`, {
      file: file.path,
      line: file.lineOf(path2)
    });
  }
  return value2;
}
function stringField(data, key, file) {
  const value2 = data[key];
  if (typeof value2 !== "string" || value2 === "") {
    throw new InputError(`"${key}" must be a non-empty string`, {
      file: file.path,
      line: file.lineOf([key])
    });
  }
  return value2;
}
function unsupported(file, path2, construct, supported) {
  return new InputError(
    `${construct} is outside what the built-in dbt runner supports`,
    { file: file.path, line: file.lineOf?.(path2) },
    `Supported: ${supported}. Install dbt-core (pip install dbt-duckdb) to run the project as is; see dbt/README.md.`
  );
}

// pipeline/transform/builtin/jinja.ts
var SUPPORTED_JINJA = "ref, source, var, env_var (DBT_* and MLOPS_* variables), config (materialized, schema, alias, tags, enabled, unique_key, incremental_strategy, severity), is_incremental(), this, target, adapter.dispatch into the project's macros, project macros, and Jinja statements/filters that nunjucks shares with Jinja (if, for, set, macro, filter, raw, whitespace control)";
function relationName(target, schema, identifier) {
  if (target.type === "snowflake") {
    return [target.database, schema, identifier].filter((part2) => part2 !== "").join(".");
  }
  return `"${schema.replaceAll('"', '""')}"."${identifier.replaceAll('"', '""')}"`;
}
var FORBIDDEN_NAMES = /* @__PURE__ */ new Set([
  "constructor",
  "prototype",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__"
]);
function envVarProblem(name2) {
  if (name2.startsWith("DBT_ENV_SECRET_")) {
    throw new Error(
      `env_var('${name2}'): secret variables (DBT_ENV_SECRET_*) may be used in profiles.yml only, never in a model (its SQL is saved in manifest.json)`
    );
  }
  if (!name2.startsWith("DBT_") && !name2.startsWith("MLOPS_")) {
    throw new Error(
      `env_var('${name2}'): the built-in runner reads only DBT_* and MLOPS_* variables in models`
    );
  }
}
function safeMemberLookup(obj, key) {
  if (obj === void 0 || obj === null) return void 0;
  const name2 = String(key);
  if (FORBIDDEN_NAMES.has(name2)) {
    throw new Error(`unsupported construct: .${name2} (templates cannot reach JavaScript)`);
  }
  if (typeof obj === "function") {
    throw new Error(`unsupported construct: .${name2} of a function`);
  }
  const holder = typeof obj === "object" ? obj : Object(obj);
  if (!Object.hasOwn(holder, name2)) return void 0;
  const value2 = holder[name2];
  return typeof value2 === "function" ? (...args) => value2.apply(obj, args) : value2;
}
nunjucks.runtime.memberLookup = safeMemberLookup;
var JinjaRenderer = class {
  constructor(projectName, target, vars, macroFiles, environment = process.env) {
    this.projectName = projectName;
    this.target = target;
    this.vars = vars;
    this.environment = environment;
    this.env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
    this.installGlobals();
    for (const file of macroFiles) this.loadMacros(file);
  }
  projectName;
  target;
  vars;
  environment;
  env;
  macroNames = /* @__PURE__ */ new Set();
  scope;
  calls;
  /** Renders a model, test or property value; every call into the graph is recorded. */
  render(source, scope) {
    checkTokens(source, scope.file);
    const calls = { refs: [], sources: [], config: {}, macros: [] };
    this.scope = scope;
    this.calls = calls;
    try {
      const sql = new nunjucks.Template(source, this.env, scope.file, true).render({});
      return { sql, ...calls };
    } catch (error) {
      throw templateError(error, scope.file);
    } finally {
      this.scope = void 0;
      this.calls = void 0;
    }
  }
  current(what) {
    if (!this.scope || !this.calls) throw new Error(`${what} called outside a node`);
    return { scope: this.scope, calls: this.calls };
  }
  installGlobals() {
    const env = this.env;
    env.addGlobal("True", true);
    env.addGlobal("False", false);
    env.addGlobal("None", null);
    env.addGlobal("target", this.target);
    env.addGlobal("project_name", this.projectName);
    env.addGlobal("ref", (...args) => {
      const { scope, calls } = this.current("ref");
      const [name2, version] = positional(args, "ref");
      if (version !== void 0 || typeof name2 !== "string") {
        throw new Error("ref() takes one model name here (no package or version arguments)");
      }
      if (!calls.refs.includes(name2)) calls.refs.push(name2);
      return scope.ref(name2);
    });
    env.addGlobal("source", (...args) => {
      const { scope, calls } = this.current("source");
      const [sourceName, table3] = positional(args, "source");
      if (typeof sourceName !== "string" || typeof table3 !== "string") {
        throw new Error("source() takes a source name and a table name");
      }
      if (!calls.sources.some(([s, t]) => s === sourceName && t === table3)) {
        calls.sources.push([sourceName, table3]);
      }
      return scope.source(sourceName, table3);
    });
    env.addGlobal("var", (...args) => {
      const [name2, fallback] = positional(args, "var");
      if (typeof name2 !== "string") throw new Error("var() takes a variable name");
      if (Object.hasOwn(this.vars, name2)) return pythonic(this.vars[name2]);
      if (args.length >= 2) return pythonic(fallback);
      throw new Error(
        `Required var '${name2}' not found in config: set it under vars: in dbt_project.yml or pass it with --vars`
      );
    });
    env.addGlobal("env_var", (...args) => {
      const [name2, fallback] = positional(args, "env_var");
      if (typeof name2 !== "string") throw new Error("env_var() takes a variable name");
      envVarProblem(name2);
      const value2 = this.environment[name2];
      if (value2 !== void 0) return value2;
      if (args.length >= 2) return fallback;
      throw new Error(`Env var required but not provided: '${name2}'`);
    });
    env.addGlobal("config", (...args) => {
      const { calls } = this.current("config");
      const options = keywords(args);
      for (const [key, value2] of Object.entries(options)) {
        if (!SUPPORTED_CONFIG_KEYS.has(key)) {
          throw new Error(`unsupported construct: config(${key}=...)`);
        }
        calls.config[key] = value2;
      }
      return "";
    });
    env.addGlobal("is_incremental", () => this.current("is_incremental()").scope.isIncremental);
    Object.defineProperty(globalsOf(env), "this", { get: () => this.scope?.thisRelation });
    env.addGlobal("adapter", {
      dispatch: (...args) => {
        const [name2, namespace] = positional(args, "adapter.dispatch");
        if (typeof name2 !== "string") throw new Error("adapter.dispatch() takes a macro name");
        if (namespace !== void 0 && namespace !== null && namespace !== this.projectName) {
          throw new Error(
            `unsupported construct: adapter.dispatch into package "${String(namespace)}" (only this project's macros)`
          );
        }
        for (const candidate of [`${this.target.type}__${name2}`, `default__${name2}`]) {
          const macro = this.macro(candidate);
          if (macro) return macro;
        }
        throw new Error(
          `adapter.dispatch('${name2}') found neither ${this.target.type}__${name2} nor default__${name2} among the project's macros`
        );
      }
    });
  }
  macro(name2) {
    if (!this.macroNames.has(name2)) return void 0;
    const fn = globalsOf(this.env)[name2];
    return typeof fn === "function" ? fn : void 0;
  }
  /** Defines a macro file's macros as globals, so models and other macros call them by name. */
  loadMacros(file) {
    checkTokens(file.text, file.path);
    let exported = {};
    try {
      const template = new nunjucks.Template(file.text, this.env, file.path, true);
      template.getExported({}, (error, result) => {
        if (error) throw error;
        exported = result;
      });
    } catch (error) {
      throw templateError(error, file.path);
    }
    for (const [name2, fn] of Object.entries(exported)) {
      if (typeof fn !== "function") continue;
      if (this.macroNames.has(name2)) {
        throw new InputError(`macro "${name2}" is defined twice`, { file: file.path });
      }
      this.macroNames.add(name2);
      const wrapped = (...args) => {
        if (this.calls && !this.calls.macros.includes(name2)) this.calls.macros.push(name2);
        return fn(...args);
      };
      this.env.addGlobal(name2, wrapped);
    }
  }
  get macros() {
    return [...this.macroNames].sort();
  }
};
var PythonList = class extends Array {
  toString() {
    return `[${this.map(repr).join(", ")}]`;
  }
};
function repr(value2) {
  if (typeof value2 === "string")
    return `'${value2.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (value2 === null || value2 === void 0) return "None";
  if (typeof value2 === "boolean") return value2 ? "True" : "False";
  return String(value2);
}
function pythonic(value2) {
  if (!Array.isArray(value2)) return value2;
  const list2 = new PythonList();
  for (const item of value2) list2.push(pythonic(item));
  return list2;
}
function globalsOf(env) {
  return env.globals;
}
function positional(args, fn) {
  const last = args[args.length - 1];
  if (isKeywords(last)) {
    throw new Error(`unsupported construct: keyword arguments to ${fn}()`);
  }
  return args;
}
function keywords(args) {
  const out = {};
  for (const arg of args) {
    if (isKeywords(arg)) {
      for (const [key, value2] of Object.entries(arg)) if (key !== "__keywords") out[key] = value2;
    } else if (arg && typeof arg === "object" && !Array.isArray(arg)) {
      Object.assign(out, arg);
    } else {
      throw new Error("config() takes keyword arguments, e.g. config(materialized='table')");
    }
  }
  return out;
}
function isKeywords(value2) {
  return typeof value2 === "object" && value2 !== null && "__keywords" in value2;
}
var lexer = nunjucks.lexer;
function checkTokens(source, file) {
  const tokens2 = lexer.lex(source);
  let token;
  while (token = tokens2.nextToken()) {
    const line = token.lineno + 1;
    if (token.type === "operator" && token.value === "%") {
      throw new InputError(
        "unsupported construct: the % operator (Python string formatting in Jinja, modulo in nunjucks)",
        { file, line },
        "Concatenate with ~ instead."
      );
    }
    if ((token.type === "symbol" || token.type === "string") && FORBIDDEN_NAMES.has(token.value)) {
      throw new InputError(
        `unsupported construct: ${token.value} (templates cannot reach JavaScript)`,
        { file, line },
        hint()
      );
    }
    if (token.type === "symbol") {
      if (token.value === "return" || token.value === "run_query" || token.value === "statement") {
        throw new InputError(`unsupported construct: ${token.value}`, { file, line }, hint());
      }
      if (token.value === "dbt_utils" || token.value === "dbt") {
        throw new InputError(
          `unsupported construct: ${token.value}.* macros`,
          { file, line },
          hint()
        );
      }
    }
  }
}
function hint() {
  return `The built-in runner supports ${SUPPORTED_JINJA}. Install dbt-core to use more (see dbt/README.md).`;
}
function templateError(error, file) {
  if (error instanceof InputError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\((.*?)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?\s*(Error: )?([\s\S]*)$/.exec(
    message
  );
  const offset = match?.[4] ? 1 : 0;
  const line = match?.[2] === void 0 ? void 0 : Number(match[2]) + offset;
  const column = match?.[3] === void 0 ? void 0 : Number(match[3]);
  let detail = (match?.[5] ?? message).trim();
  const unknownCall = /Unable to call `([^`]+)`, which is undefined or falsey/.exec(detail);
  if (unknownCall) detail = `unsupported construct: ${unknownCall[1]}() is not defined`;
  const unknownTag = /unknown block tag: (\S+)/.exec(detail);
  if (unknownTag) detail = `unsupported construct: {% ${unknownTag[1]} %}`;
  if (/attempted to output null or undefined value/.test(detail)) {
    detail = "undefined value rendered (an unknown variable, or one dbt defines and this runner does not)";
  }
  return new InputError(detail, { file: match?.[1] || file, line, column }, hint());
}

// pipeline/transform/builtin/properties.ts
var TOP_KEYS = ["version", "models", "sources"];
var MODEL_KEYS = [
  "name",
  "description",
  "config",
  "columns",
  "data_tests",
  "tests",
  "meta",
  "docs"
];
var COLUMN_KEYS = ["name", "description", "data_type", "data_tests", "tests", "meta", "quote"];
var SOURCE_KEYS = ["name", "description", "schema", "database", "loader", "tables", "meta"];
var TABLE_KEYS = ["name", "description", "identifier", "columns", "data_tests", "tests", "meta"];
var TEST_ARG_KEYS = {
  not_null: [],
  unique: [],
  accepted_values: ["values", "quote"],
  relationships: ["to", "field"]
};
function readProperties(files) {
  const models = /* @__PURE__ */ new Map();
  const sources = [];
  for (const file of files) {
    const data = asRecord(file.data, file, []);
    onlyKeys(file, [], data, TOP_KEYS, "a top-level key");
    for (const [i, raw] of list(file, ["models"], data.models).entries()) {
      const at = ["models", i];
      const model = asRecord(raw, file, at);
      onlyKeys(file, at, model, MODEL_KEYS, "a model property");
      const name2 = String(model.name);
      if (models.has(name2)) {
        throw new InputError(`model "${name2}" is described twice`, {
          file: file.path,
          line: file.lineOf(at)
        });
      }
      const columns2 = columnsOf(file, at, model.columns);
      models.set(name2, {
        name: name2,
        description: String(model.description ?? ""),
        config: configOf(file, [...at, "config"], model.config),
        columns: columns2.docs,
        tests: [...testsOf(file, at, model, void 0), ...columns2.tests],
        file
      });
    }
    for (const [i, raw] of list(file, ["sources"], data.sources).entries()) {
      const at = ["sources", i];
      const source = asRecord(raw, file, at);
      onlyKeys(file, at, source, SOURCE_KEYS, "a source property");
      const sourceName = String(source.name);
      for (const [j, rawTable] of list(file, [...at, "tables"], source.tables).entries()) {
        const tableAt = [...at, "tables", j];
        const table3 = asRecord(rawTable, file, tableAt);
        onlyKeys(file, tableAt, table3, TABLE_KEYS, "a source table property");
        const columns2 = columnsOf(file, tableAt, table3.columns);
        sources.push({
          sourceName,
          name: String(table3.name),
          identifier: String(table3.identifier ?? table3.name),
          schema: String(source.schema ?? sourceName),
          ...source.database === void 0 ? {} : { database: String(source.database) },
          description: String(table3.description ?? ""),
          sourceDescription: String(source.description ?? ""),
          loader: String(source.loader ?? ""),
          columns: columns2.docs,
          tests: [...testsOf(file, tableAt, table3, void 0), ...columns2.tests],
          file
        });
      }
    }
  }
  return { models, sources };
}
function columnsOf(file, at, raw) {
  const docs = [];
  const tests = [];
  for (const [i, item] of list(file, [...at, "columns"], raw).entries()) {
    const colAt = [...at, "columns", i];
    const column = asRecord(item, file, colAt);
    onlyKeys(file, colAt, column, COLUMN_KEYS, "a column property");
    const name2 = String(column.name);
    docs.push({
      name: name2,
      description: String(column.description ?? ""),
      ...column.data_type === void 0 ? {} : { dataType: String(column.data_type) }
    });
    tests.push(...testsOf(file, colAt, column, name2));
  }
  return { docs, tests };
}
function testsOf(file, at, owner, column) {
  const key = owner.data_tests !== void 0 ? "data_tests" : "tests";
  return list(file, [...at, key], owner[key]).map((entry, i) => {
    const testAt = [...at, key, i];
    const line = file.lineOf(testAt);
    const [test, body3] = typeof entry === "string" ? [entry, {}] : Object.entries(asRecord(entry, file, testAt))[0] ?? ["", {}];
    if (!GENERIC_TESTS.includes(test)) {
      throw unsupported(
        file,
        testAt,
        `the generic test "${test}"`,
        `the generic tests ${GENERIC_TESTS.join(", ")}, and singular tests in tests/`
      );
    }
    const name2 = test;
    const spec = body3 === null ? {} : asRecord(body3, file, [...testAt, test]);
    const { arguments: nested, config, ...flat } = spec;
    const kwargs = nested === void 0 ? flat : asRecord(nested, file, [...testAt, test]);
    if (nested !== void 0 && Object.keys(flat).length > 0) {
      throw unsupported(
        file,
        testAt,
        `the test key "${Object.keys(flat)[0]}"`,
        "arguments: and config: under a test"
      );
    }
    for (const arg of Object.keys(kwargs)) {
      if (!TEST_ARG_KEYS[name2].includes(arg)) {
        throw unsupported(
          file,
          testAt,
          `the argument "${arg}" of ${name2}`,
          `${name2} arguments: ${TEST_ARG_KEYS[name2].join(", ") || "none"}`
        );
      }
    }
    if (name2 !== "not_null" && name2 !== "unique" && column === void 0) {
      throw new InputError(`${name2} is a column test: put it under a column`, {
        file: file.path,
        line
      });
    }
    return {
      test: name2,
      ...column === void 0 ? {} : { column },
      kwargs,
      config: configOf(file, [...testAt, test, "config"], config),
      file,
      ...line === void 0 ? {} : { line }
    };
  });
}
function configOf(file, at, raw) {
  if (raw === void 0 || raw === null) return {};
  const config = asRecord(raw, file, at);
  for (const key of Object.keys(config)) {
    if (!SUPPORTED_CONFIG_KEYS.has(key)) {
      throw unsupported(
        file,
        [...at, key],
        `the config "${key}"`,
        `configs ${[...SUPPORTED_CONFIG_KEYS].join(", ")}`
      );
    }
  }
  return config;
}
function list(file, at, raw) {
  if (raw === void 0 || raw === null) return [];
  if (!Array.isArray(raw)) {
    throw new InputError(`${at.join(".")} must be a list`, {
      file: file.path,
      line: file.lineOf(at)
    });
  }
  return raw;
}
function onlyKeys(file, at, data, keys, what) {
  for (const key of Object.keys(data)) {
    if (!keys.includes(key)) {
      throw unsupported(file, [...at, key], `${what} "${key}"`, keys.join(", "));
    }
  }
}

// pipeline/transform/builtin/graph.ts
var MATERIALIZATIONS = ["view", "table", "incremental"];
function buildGraph(project, renderer) {
  const { target } = renderer;
  const properties = readProperties(project.propertyFiles);
  for (const name2 of properties.models.keys()) {
    if (!project.models.some((m) => m.name === name2)) {
      const props = properties.models.get(name2);
      throw new InputError(`properties describe a model "${name2}" that has no .sql file`, {
        file: props?.file.path,
        line: props?.file.lineOf(["models"])
      });
    }
  }
  const sources = properties.sources.map((table3) => {
    const render = (text) => renderer.render(text, {
      file: table3.file.path,
      ref: () => {
        throw new Error("ref() is not allowed in a source's properties");
      },
      source: () => {
        throw new Error("source() is not allowed in a source's properties");
      },
      isIncremental: false
    }).sql;
    const schema = render(table3.schema);
    const database = table3.database === void 0 ? target.database : render(table3.database);
    return {
      resourceType: "source",
      uniqueId: `source.${project.name}.${table3.sourceName}.${table3.name}`,
      sourceName: table3.sourceName,
      name: table3.name,
      identifier: table3.identifier,
      schema,
      database,
      relation: relationName(target, schema, table3.identifier),
      description: table3.description,
      sourceDescription: table3.sourceDescription,
      loader: table3.loader,
      columns: table3.columns,
      path: table3.file.path
    };
  });
  const sourceOf = (sourceName, table3) => {
    const found = sources.find((s) => s.sourceName === sourceName && s.name === table3);
    if (!found) {
      throw new Error(`source('${sourceName}', '${table3}') is not declared in a sources: block`);
    }
    return found.relation;
  };
  const configs = /* @__PURE__ */ new Map();
  for (const file of project.models) {
    const first = renderer.render(file.text, {
      file: file.path,
      ref: (name2) => `__ref_${name2}__`,
      thisRelation: `__this_${file.name}__`,
      source: sourceOf,
      isIncremental: false
    });
    const config = mergeConfig(
      folderConfig(project, file),
      properties.models.get(file.name)?.config ?? {},
      first.config
    );
    if (!MATERIALIZATIONS.includes(config.materialized ?? "view")) {
      throw unsupported(
        { path: file.path, lineOf: () => lineOfText(file.text, "materialized") },
        [],
        `materialized='${config.materialized}'`,
        `the materializations ${MATERIALIZATIONS.join(", ")}`
      );
    }
    configs.set(file.name, {
      ...config,
      materialized: config.materialized ?? "view",
      tags: toList(config.tags),
      enabled: config.enabled ?? true
    });
  }
  const enabled = project.models.filter((file) => configs.get(file.name)?.enabled);
  const relations = /* @__PURE__ */ new Map();
  for (const file of enabled) {
    const config = configs.get(file.name);
    const schema = config.schema ? `${target.schema}_${config.schema}` : target.schema;
    const alias = config.alias ?? file.name;
    relations.set(file.name, { schema, alias, relation: relationName(target, schema, alias) });
  }
  const refOf = (name2) => {
    const found = relations.get(name2);
    if (!found) throw new Error(`ref('${name2}') names no enabled model of the project`);
    return found.relation;
  };
  const models = enabled.map((file) => {
    const rendered = renderer.render(file.text, {
      file: file.path,
      ref: refOf,
      source: sourceOf,
      thisRelation: refOf(file.name),
      isIncremental: false
    });
    const where = relations.get(file.name);
    const props = properties.models.get(file.name);
    return {
      resourceType: "model",
      uniqueId: `model.${project.name}.${file.name}`,
      name: file.name,
      file,
      fqn: [project.name, ...file.folders, file.name],
      config: configs.get(file.name),
      ...where,
      description: props?.description ?? "",
      columns: props?.columns ?? [],
      refs: rendered.refs,
      sources: rendered.sources,
      macros: rendered.macros,
      dependsOn: dependsOn(project.name, rendered),
      compiledSql: rendered.sql
    };
  });
  checkAcyclic(models);
  const tests = [];
  for (const props of properties.models.values()) {
    const model = models.find((m) => m.name === props.name);
    if (!model) continue;
    for (const spec of props.tests)
      tests.push(genericTest(project.name, renderer, spec, model, refOf, sourceOf));
  }
  for (const table3 of properties.sources) {
    const source = sources.find((s) => s.sourceName === table3.sourceName && s.name === table3.name);
    if (!source) continue;
    for (const spec of table3.tests)
      tests.push(genericTest(project.name, renderer, spec, source, refOf, sourceOf));
  }
  for (const file of project.singularTests) {
    const rendered = renderer.render(file.text, {
      file: file.path,
      ref: refOf,
      source: sourceOf,
      isIncremental: false
    });
    const config = mergeConfig({}, {}, rendered.config);
    tests.push({
      resourceType: "test",
      uniqueId: `test.${project.name}.${file.name}`,
      name: file.name,
      kind: "singular",
      path: file.path,
      fqn: [project.name, ...file.folders, file.name],
      rawCode: file.text,
      compiledSql: rendered.sql,
      severity: severityOf(config.severity, file.path),
      tags: toList(config.tags),
      dependsOn: dependsOn(project.name, rendered),
      macros: rendered.macros,
      refs: rendered.refs,
      sources: rendered.sources
    });
  }
  checkUniqueIds(tests);
  const compile = (model, isIncremental) => renderer.render(model.file.text, {
    file: model.file.path,
    ref: refOf,
    source: sourceOf,
    thisRelation: model.relation,
    isIncremental
  }).sql;
  return { project, target, renderer, models, sources, tests, compile };
}
function genericTest(projectName, renderer, spec, node, refOf, sourceOf) {
  const calls = { sql: "", refs: [], sources: [], config: {}, macros: [] };
  if (node.resourceType === "model") calls.refs.push(node.name);
  else calls.sources.push([node.sourceName, node.name]);
  let to;
  if (spec.test === "relationships") {
    const rendered = renderer.render(`{{ ${String(spec.kwargs.to)} }}`, {
      file: spec.file.path,
      ref: refOf,
      source: sourceOf,
      isIncremental: false
    });
    to = rendered.sql;
    calls.refs.push(...rendered.refs.filter((r) => !calls.refs.includes(r)));
    calls.sources.push(...rendered.sources);
  }
  const kwargs = {
    ...spec.kwargs,
    ...spec.column === void 0 ? {} : { column_name: spec.column },
    model: `{{ get_where_subquery(${node.resourceType === "model" ? `ref('${node.name}')` : `source('${node.sourceName}', '${node.name}')`}) }}`
  };
  const modelName = node.resourceType === "model" ? node.name : `source_${node.sourceName}_${node.name}`;
  const name2 = genericTestName(spec.test, modelName, spec.column ?? "", spec.kwargs);
  const sql = genericTestSql(spec.test, {
    model: node.relation,
    ...spec.column === void 0 ? {} : { column_name: spec.column },
    ...Array.isArray(spec.kwargs.values) ? { values: spec.kwargs.values } : {},
    ...typeof spec.kwargs.quote === "boolean" ? { quote: spec.kwargs.quote } : {},
    ...to === void 0 ? {} : { to },
    ...spec.kwargs.field === void 0 ? {} : { field: String(spec.kwargs.field) }
  });
  const hash2 = createHash9("sha256").update(`${name2}:${JSON.stringify(kwargs)}`).digest("hex");
  return {
    resourceType: "test",
    uniqueId: `test.${projectName}.${name2}.${hash2.slice(0, 10)}`,
    name: name2,
    kind: "generic",
    path: `${name2}.sql`,
    fqn: [projectName, ...spec.file.path.split("/").slice(1, -1), name2],
    rawCode: `{{ test_${spec.test}(**_dbt_generic_test_kwargs) }}`,
    compiledSql: sql,
    severity: severityOf(spec.config.severity, spec.file.path, spec.line),
    tags: toList(spec.config.tags),
    dependsOn: dependsOn(projectName, calls),
    macros: [`macro.dbt.test_${spec.test}`],
    refs: calls.refs,
    sources: calls.sources,
    testMetadata: { name: spec.test, kwargs },
    attachedNode: node.uniqueId,
    ...spec.column === void 0 ? {} : { columnName: spec.column }
  };
}
function severityOf(value2, file, line) {
  const severity = String(value2 ?? "error").toLowerCase();
  if (severity !== "error" && severity !== "warn") {
    throw new InputError(`severity must be error or warn, got "${String(value2)}"`, { file, line });
  }
  return severity;
}
function dependsOn(projectName, rendered) {
  return [
    ...rendered.refs.map((name2) => `model.${projectName}.${name2}`),
    ...rendered.sources.map(([s, t]) => `source.${projectName}.${s}.${t}`)
  ];
}
function folderConfig(project, file) {
  const out = {};
  let level = project.folderConfig;
  const apply = (section3) => {
    for (const [key, value2] of Object.entries(section3)) {
      const name2 = key.startsWith("+") ? key.slice(1) : key;
      const isConfig = key.startsWith("+") || SUPPORTED_CONFIG_KEYS.has(name2);
      if (!isConfig) continue;
      if (!SUPPORTED_CONFIG_KEYS.has(name2)) {
        throw new InputError(
          `the config "${key}" under models: is outside what the built-in dbt runner supports`,
          { file: "dbt_project.yml" },
          `Supported configs: ${[...SUPPORTED_CONFIG_KEYS].join(", ")}.`
        );
      }
      out[name2] = value2;
    }
  };
  if (level && typeof level === "object") apply(level);
  for (const folder of file.folders) {
    level = level?.[folder];
    if (!level || typeof level !== "object") break;
    apply(level);
  }
  return out;
}
function mergeConfig(...configs) {
  const merged = {};
  const tags = [];
  for (const config of configs) {
    Object.assign(merged, config);
    for (const tag of toList(config.tags)) if (!tags.includes(tag)) tags.push(tag);
  }
  merged.tags = tags;
  return merged;
}
function toList(value2) {
  if (value2 === void 0 || value2 === null) return [];
  return (Array.isArray(value2) ? value2 : [value2]).map(String);
}
function lineOfText(text, needle) {
  const index2 = text.indexOf(needle);
  return index2 < 0 ? void 0 : text.slice(0, index2).split("\n").length;
}
function checkAcyclic(models) {
  const byId = new Map(models.map((m) => [m.uniqueId, m]));
  const state = /* @__PURE__ */ new Map();
  const visit = (model, path2) => {
    if (state.get(model.uniqueId) === "done") return;
    if (state.get(model.uniqueId) === "visiting") {
      throw new InputError(`the models' refs form a cycle: ${[...path2, model.name].join(" → ")}`, {
        file: model.file.path
      });
    }
    state.set(model.uniqueId, "visiting");
    for (const parent of model.dependsOn) {
      const node = byId.get(parent);
      if (node) visit(node, [...path2, model.name]);
    }
    state.set(model.uniqueId, "done");
  };
  for (const model of models) visit(model, []);
}
function checkUniqueIds(tests) {
  const seen = /* @__PURE__ */ new Set();
  for (const test of tests) {
    if (seen.has(test.uniqueId)) {
      throw new InputError(`two tests would both be named ${test.name}`, { file: test.path });
    }
    seen.add(test.uniqueId);
  }
}
function buildOrder(models) {
  const byId = new Map(models.map((m) => [m.uniqueId, m]));
  const done = /* @__PURE__ */ new Set();
  const order = [];
  const remaining = [...models].sort((a, b) => a.name.localeCompare(b.name));
  while (remaining.length > 0) {
    const index2 = remaining.findIndex(
      (m) => m.dependsOn.every((id) => !byId.has(id) || done.has(id))
    );
    const next = remaining.splice(index2, 1)[0];
    done.add(next.uniqueId);
    order.push(next);
  }
  return order;
}

// pipeline/transform/builtin/selection.ts
function select(graph, selectors) {
  const terms = selectors.flatMap((s) => s.split(/\s+/)).filter((s) => s !== "");
  const nodes = /* @__PURE__ */ new Set();
  if (terms.length === 0) {
    for (const node of [...graph.models, ...graph.sources]) nodes.add(node.uniqueId);
  }
  for (const term of terms) {
    for (const id of selectTerm(graph, term)) nodes.add(id);
  }
  const models = new Set([...nodes].filter((id) => id.startsWith("model.")));
  const tests = /* @__PURE__ */ new Set();
  for (const test of graph.tests) {
    if (test.dependsOn.some((id) => nodes.has(id))) tests.add(test.uniqueId);
  }
  return { models, tests };
}
function selectTerm(graph, term) {
  const match = /^(\+?)([^+]+)(\+?)$/.exec(term);
  if (!match || term.includes(",") || /^\d/.test(term)) {
    throw new InputError(
      `unsupported selector "${term}"`,
      { field: "--select" },
      "The built-in runner supports model, model+, +model, +model+ and tag:x (space-separated for a union)."
    );
  }
  const [, up, body3 = "", down] = match;
  let roots;
  if (body3.startsWith("tag:")) {
    const tag = body3.slice(4);
    roots = graph.models.filter((m) => m.config.tags.includes(tag));
  } else if (body3.includes(":")) {
    throw new InputError(
      `unsupported selector method "${body3.split(":")[0]}:"`,
      { field: "--select" },
      "The built-in runner supports the tag: method and model names."
    );
  } else {
    roots = graph.models.filter((m) => m.name === body3);
  }
  if (roots.length === 0) {
    throw new InputError(
      `the selector "${term}" matches no model`,
      { field: "--select" },
      `Models: ${graph.models.map((m) => m.name).join(", ")}.`
    );
  }
  const out = new Set(roots.map((m) => m.uniqueId));
  if (up) for (const root of roots) walk(graph, root.uniqueId, "up", out);
  if (down) for (const root of roots) walk(graph, root.uniqueId, "down", out);
  return [...out];
}
function walk(graph, from, direction, out) {
  const next = direction === "up" ? graph.models.find((m) => m.uniqueId === from)?.dependsOn ?? [] : graph.models.filter((m) => m.dependsOn.includes(from)).map((m) => m.uniqueId);
  for (const id of next) {
    if (out.has(id)) continue;
    out.add(id);
    if (id.startsWith("model.")) walk(graph, id, direction, out);
  }
}
function descendants(graph, ids) {
  const out = /* @__PURE__ */ new Set();
  for (const id of ids) walk(graph, id, "down", out);
  return out;
}

// pipeline/transform/builtin/build.ts
async function buildProject(graph, warehouse, selection, options = {}) {
  const models = buildOrder(graph.models).filter((m) => selection.models.has(m.uniqueId));
  const tests = graph.tests.filter((t) => selection.tests.has(t.uniqueId));
  const total = models.length + tests.length;
  const runs = [];
  const finished2 = /* @__PURE__ */ new Map();
  const skipped = /* @__PURE__ */ new Set();
  const pending = [...tests];
  const record = (run) => {
    runs.push(run);
    finished2.set(run.uniqueId, run.status);
    options.onNode?.(run, runs.length, total);
  };
  const ready2 = (test) => test.dependsOn.every((id) => !selection.models.has(id) || finished2.has(id));
  const runReadyTests = async () => {
    for (const test of pending.filter(ready2)) {
      pending.splice(pending.indexOf(test), 1);
      const blocked = test.dependsOn.some(
        (id) => finished2.get(id) && finished2.get(id) !== "success"
      );
      const missing = blocked ? void 0 : await missingParent(graph, warehouse, selection, test);
      const run = blocked ? skip(test, "a node it tests did not build") : missing ? skip(test, `${missing} is not selected and does not exist yet`) : await runTest(warehouse, test);
      record(run);
      if (run.status === "fail" || run.status === "error") {
        for (const id of descendants(graph, test.dependsOn)) skipped.add(id);
      }
    }
  };
  await runReadyTests();
  for (const model of models) {
    if (skipped.has(model.uniqueId)) {
      record(skip(model, "an upstream node failed"));
    } else {
      const run = await runModel(graph, warehouse, model, options.fullRefresh ?? false);
      record(run);
      if (run.status === "error") {
        for (const id of descendants(graph, [model.uniqueId])) skipped.add(id);
      }
    }
    await runReadyTests();
  }
  for (const test of pending) record(skip(test, "a node it tests did not build"));
  return runs;
}
async function missingParent(graph, warehouse, selection, test) {
  for (const id of test.dependsOn) {
    if (selection.models.has(id)) continue;
    const model = graph.models.find((m) => m.uniqueId === id);
    if (model && !await relationKind(warehouse, model)) return model.name;
  }
  return void 0;
}
function skip(node, message) {
  return {
    uniqueId: node.uniqueId,
    resourceType: node.resourceType,
    status: "skipped",
    message: `SKIP: ${message}`,
    failures: null,
    rows: null,
    compiledSql: node.compiledSql,
    relation: node.resourceType === "model" ? node.relation : null,
    timing: [],
    executionTime: 0
  };
}
async function runModel(graph, warehouse, model, fullRefresh) {
  const compileStart = /* @__PURE__ */ new Date();
  let sql = model.compiledSql;
  let message = "";
  let executeStart = compileStart;
  try {
    await warehouse.query(`create schema if not exists "${model.schema.replaceAll('"', '""')}"`);
    const existing = await relationKind(warehouse, model);
    const incremental = model.config.materialized === "incremental" && existing === "table" && !fullRefresh;
    if (incremental) {
      sql = graph.compile(model, true);
    }
    executeStart = /* @__PURE__ */ new Date();
    message = incremental ? await mergeIncremental(warehouse, model, sql) : await replaceRelation(warehouse, model, sql, existing);
    const counted = await warehouse.query(`select count(*) as n from ${model.relation}`);
    const rows = Number(counted[0]?.n ?? 0);
    return finish(model, "success", message, null, rows, sql, compileStart, executeStart);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return finish(
      model,
      "error",
      `${model.file.path}: ${text}`,
      null,
      null,
      sql,
      compileStart,
      executeStart
    );
  }
}
async function relationKind(warehouse, model) {
  const rows = await warehouse.query(
    "select table_type from information_schema.tables where table_schema = $1 and table_name = $2",
    [model.schema, model.alias]
  );
  const type = rows[0]?.table_type;
  if (type === void 0) return void 0;
  return type === "VIEW" ? "view" : "table";
}
function body(sql) {
  return `(
${sql.trim().replace(/;\s*$/, "")}
)`;
}
async function replaceRelation(warehouse, model, sql, existing) {
  const kind = model.config.materialized === "view" ? "view" : "table";
  await warehouse.query("begin transaction");
  try {
    if (existing && existing !== kind) {
      await warehouse.query(`drop ${existing} if exists ${model.relation}`);
    }
    await warehouse.query(`create or replace ${kind} ${model.relation} as ${body(sql)}`);
    await warehouse.query("commit");
  } catch (error) {
    await warehouse.query("rollback").catch(() => void 0);
    throw error;
  }
  return kind === "view" ? "OK created view" : "OK created table";
}
async function mergeIncremental(warehouse, model, sql) {
  const strategy = model.config.incremental_strategy ?? (model.config.unique_key ? "delete+insert" : "append");
  if (strategy !== "append" && strategy !== "delete+insert") {
    throw new Error(
      `incremental_strategy '${strategy}' is outside what the built-in runner supports (append, delete+insert)`
    );
  }
  const keys = model.config.unique_key === void 0 ? [] : [model.config.unique_key].flat();
  if (strategy === "delete+insert" && keys.length === 0) {
    throw new Error("incremental_strategy 'delete+insert' needs a unique_key");
  }
  const staging = `"${model.alias.replaceAll('"', '""')}__dbt_tmp"`;
  await warehouse.query("begin transaction");
  try {
    await warehouse.query(`create or replace temporary table ${staging} as ${body(sql)}`);
    if (strategy === "delete+insert") {
      const tuple = keys.map((k) => `"${k}"`).join(", ");
      await warehouse.query(
        `delete from ${model.relation} where (${tuple}) in (select ${tuple} from ${staging})`
      );
    }
    const inserted = await warehouse.query(
      `insert into ${model.relation} by name select * from ${staging}`
    );
    await warehouse.query(`drop table ${staging}`);
    await warehouse.query("commit");
    return `OK inserted ${Number(inserted[0]?.Count ?? 0)}`;
  } catch (error) {
    await warehouse.query("rollback").catch(() => void 0);
    throw error;
  }
}
async function runTest(warehouse, test) {
  const start = /* @__PURE__ */ new Date();
  try {
    const counted = await warehouse.query(
      `select count(*) as failures from ${body(test.compiledSql)} as dbt_internal_test`
    );
    const failures = Number(counted[0]?.failures ?? 0);
    if (failures === 0)
      return finish(test, "pass", "PASS", 0, null, test.compiledSql, start, start);
    const status = test.severity === "warn" ? "warn" : "fail";
    return finish(
      test,
      status,
      `Got ${failures} result${failures === 1 ? "" : "s"}, configured to ${status === "warn" ? "warn" : "fail"} if != 0`,
      failures,
      null,
      test.compiledSql,
      start,
      start
    );
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return finish(
      test,
      "error",
      `${test.path}: ${text}`,
      null,
      null,
      test.compiledSql,
      start,
      start
    );
  }
}
function finish(node, status, message, failures, rows, sql, compileStart, executeStart) {
  const end = /* @__PURE__ */ new Date();
  return {
    uniqueId: node.uniqueId,
    resourceType: node.resourceType,
    status,
    message,
    failures,
    rows,
    compiledSql: sql,
    relation: node.resourceType === "model" ? node.relation : null,
    timing: [
      {
        name: "compile",
        started_at: compileStart.toISOString(),
        completed_at: executeStart.toISOString()
      },
      { name: "execute", started_at: executeStart.toISOString(), completed_at: end.toISOString() }
    ],
    executionTime: (end.getTime() - compileStart.getTime()) / 1e3
  };
}

// pipeline/transform/builtin/builtin.ts
function compileProject(projectDir, adapter, vars, env = process.env) {
  const project = loadProject(projectDir);
  const target = {
    name: adapter,
    type: adapter,
    schema: adapter === "duckdb" ? profileSchema(projectDir, project.profile, adapter, env) : env.SNOWFLAKE_SCHEMA ?? "PUBLIC",
    // dbt-duckdb names the database after the file; the connection already has it open.
    database: adapter === "duckdb" ? "main" : env.SNOWFLAKE_DATABASE ?? "",
    profile_name: project.profile,
    threads: 1
  };
  const renderer = new JinjaRenderer(
    project.name,
    target,
    { ...project.vars, ...vars },
    project.macroFiles,
    env
  );
  return buildGraph(project, renderer);
}
async function runBuiltin(warehouse, options) {
  if (warehouse.kind !== "duckdb") {
    throw new InputError(
      "the built-in dbt runner builds on DuckDB only; on Snowflake the transform stage needs dbt-core",
      { field: "transform.dbt" },
      "Install it with `pip install dbt-snowflake` (then `dbt` is on PATH and --dbt auto finds it), or set MLOPS_DBT to its path."
    );
  }
  const started = Date.now();
  const graph = compileProject(options.projectDir, options.target, options.vars, options.env);
  const context = newArtifactContext({ ...graph.project.vars, ...options.vars }, options.selectors);
  const selection = select(graph, options.selectors);
  const runs = await buildProject(graph, warehouse, selection, {
    ...options.fullRefresh === void 0 ? {} : { fullRefresh: options.fullRefresh },
    ...options.onNode ? { onNode: options.onNode } : {}
  });
  return {
    graph,
    runs,
    manifest: manifest(graph, context),
    runResults: runResults(runs, context, (Date.now() - started) / 1e3)
  };
}

// pipeline/transform/dag.ts
function dagFromArtifacts(manifest2, results, rowCounts) {
  const byId = new Map(results.results.map((r) => [r.unique_id, r]));
  const order = new Map(results.results.map((r, i) => [r.unique_id, i]));
  const nodes = [];
  const edges = [];
  for (const [id, source] of Object.entries(manifest2.sources)) {
    nodes.push({
      id,
      name: source.name,
      type: "source",
      ...source.relation_name ? { relation: source.relation_name } : {}
    });
  }
  for (const [id, node] of Object.entries(manifest2.nodes)) {
    if (node.resource_type !== "model" && node.resource_type !== "test") continue;
    const run = byId.get(id);
    const rows = run?.adapter_response?.rows_affected;
    const isTest = node.resource_type === "test";
    nodes.push({
      id,
      name: node.name,
      type: isTest ? "test" : "model",
      ...!isTest && node.config?.materialized ? { materialized: node.config.materialized } : {},
      ...!isTest && node.relation_name ? { relation: node.relation_name } : {},
      ...run ? {
        order: order.get(id),
        status: run.status,
        seconds: run.execution_time,
        ...run.message ? { message: run.message } : {}
      } : {},
      ...rowCounts && !isTest && typeof rows === "number" && run?.status === "success" ? { rows } : {},
      ...isTest && typeof run?.failures === "number" ? { failures: run.failures } : {},
      ...isTest ? { severity: node.config?.severity?.toLowerCase() === "warn" ? "warn" : "error" } : {},
      ...isTest && (node.attached_node ?? node.depends_on?.nodes?.[0]) ? { tested: node.attached_node ?? node.depends_on?.nodes?.[0] } : {},
      ...isTest && node.column_name ? { column: node.column_name } : {}
    });
    for (const parent of node.depends_on?.nodes ?? []) edges.push([parent, id]);
  }
  return { nodes, edges };
}
function summarize(dag) {
  const summary3 = {
    models: { success: 0, error: 0, skipped: 0 },
    tests: { pass: 0, warn: 0, fail: 0, error: 0, skipped: 0 }
  };
  for (const node of dag.nodes) {
    if (node.status === void 0) continue;
    if (node.type === "model" && node.status in summary3.models) {
      summary3.models[node.status]++;
    }
    if (node.type === "test" && node.status in summary3.tests) {
      summary3.tests[node.status]++;
    }
  }
  return summary3;
}

// pipeline/transform/dbt-core.ts
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync as existsSync7 } from "node:fs";
import { readFile as readFile7 } from "node:fs/promises";
import { delimiter, isAbsolute, join as join11, resolve as resolve2 } from "node:path";
function findDbt(setting, env = process.env) {
  if (setting === "builtin") return void 0;
  if (setting !== "auto") {
    const path2 = resolve2(setting);
    if (!isExecutable(path2)) {
      throw new InputError(
        `the dbt executable ${path2} does not exist or cannot be run`,
        { field: "transform.dbt" },
        "Set transform.dbt (MLOPS_DBT, --dbt) to auto, builtin or the path of dbt."
      );
    }
    return path2;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join11(dir, process.platform === "win32" ? "dbt.exe" : "dbt");
    if (isExecutable(candidate)) return candidate;
  }
  return void 0;
}
function isExecutable(path2) {
  try {
    accessSync(path2, constants.X_OK);
    return existsSync7(path2);
  } catch {
    return false;
  }
}
function dbtTargetFor(warehouse) {
  if (warehouse === "duckdb") return "duckdb";
  return warehouse.kind === "oidc" ? "snowflake_workload_identity" : "snowflake";
}
function dbtBuildArgs(options) {
  return [
    "build",
    "--project-dir",
    options.projectDir,
    "--profiles-dir",
    options.projectDir,
    "--target",
    options.target,
    "--target-path",
    options.targetPath,
    "--vars",
    JSON.stringify(options.vars),
    ...options.selectors.length ? ["--select", ...options.selectors] : []
  ];
}
async function runDbtCore(options) {
  const args = dbtBuildArgs(options);
  options.reporter.info(`running ${options.executable} ${args.join(" ")}`);
  const env = {
    ...options.env ?? process.env,
    ...options.duckdbPath ? {
      DBT_DUCKDB_PATH: isAbsolute(options.duckdbPath) ? options.duckdbPath : resolve2(options.duckdbPath)
    } : {}
  };
  const exitCode = await new Promise((done, fail2) => {
    const child = spawn(options.executable, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const relay = (chunk) => {
      for (const line of chunk.toString().split("\n"))
        if (line.trim()) options.reporter.info(`  dbt: ${line}`);
    };
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", fail2);
    child.on("close", (code2) => done(code2 ?? 1));
  });
  if (exitCode !== 0 && exitCode !== 1) {
    throw new PipelineError(
      `dbt build exited with ${exitCode} before building (see its log above)`,
      1,
      "Run the same dbt build command by hand to see the whole error."
    );
  }
  const read = async (name2) => {
    const path2 = join11(options.targetPath, name2);
    try {
      return JSON.parse(await readFile7(path2, "utf8"));
    } catch (error) {
      throw new PipelineError(`dbt build wrote no readable ${path2}: ${error.message}`);
    }
  };
  return {
    exitCode,
    manifest: await read("manifest.json"),
    runResults: await read("run_results.json")
  };
}

// pipeline/transform/inputs.ts
import { createHash as createHash10 } from "node:crypto";
import { readdirSync as readdirSync2, readFileSync as readFileSync3, statSync } from "node:fs";
import { join as join12, relative as relative4, sep as sep4 } from "node:path";
var GENERATED = /* @__PURE__ */ new Set(["target", "logs", "dbt_packages"]);
function projectInput(dir) {
  const hash2 = createHash10("sha256");
  let bytes = 0;
  const walk2 = (folder) => {
    for (const name2 of readdirSync2(folder).sort()) {
      const path2 = join12(folder, name2);
      if (statSync(path2).isDirectory()) {
        if (!GENERATED.has(name2)) walk2(path2);
        continue;
      }
      const content = readFileSync3(path2);
      bytes += content.length;
      hash2.update(relative4(dir, path2).split(sep4).join("/")).update("\0").update(content);
    }
  };
  walk2(dir);
  return { name: `dbt project ${dir}`, sha256: hash2.digest("hex"), bytes };
}
async function rawInputs(warehouse) {
  await warehouse.ensureRawSchema();
  const rows = await warehouse.query(
    `select target_table, source_hash from ${LOADS_TABLE} order by target_table, etl_timestamp, source_hash`
  );
  const byTable = /* @__PURE__ */ new Map();
  for (const row of rows) {
    const table3 = String(row.target_table);
    byTable.set(table3, [...byTable.get(table3) ?? [], String(row.source_hash)]);
  }
  return [...byTable].map(([table3, hashes]) => ({
    name: table3,
    sha256: createHash10("sha256").update(hashes.join("\n")).digest("hex")
  }));
}

// pipeline/transform/report.ts
function formatFailures(result) {
  const failing = result.failedTests.filter((t) => t.status === "fail" || t.status === "error");
  const models = result.dag.nodes.filter((n2) => n2.type === "model" && n2.status === "error");
  const parts = [];
  if (models.length) {
    parts.push(
      textTable(
        ["failed model", "message"],
        models.map((n2) => [n2.name, oneLine(n2.message ?? "")])
      )
    );
  }
  if (failing.length) parts.push(formatTests(failing));
  const warnings = result.failedTests.filter((t) => t.status === "warn");
  if (warnings.length) parts.push(`warnings (severity warn):
${formatTests(warnings)}`);
  return parts.join("\n");
}
function formatTests(tests) {
  const rows = tests.map((t) => [
    t.name,
    t.status,
    t.severity,
    t.failures ?? "",
    t.tested?.split(".").slice(2).join(".") ?? "",
    t.column ?? ""
  ]);
  const lines = [textTable(["test", "status", "severity", "failures", "model", "column"], rows)];
  for (const test of tests) {
    if (test.sample.length === 0) {
      if (test.status === "error" && test.message)
        lines.push(`${test.name}: ${oneLine(test.message)}`);
      continue;
    }
    const columns2 = Object.keys(test.sample[0] ?? {});
    lines.push(
      `${test.name}: first ${test.sample.length} failing row(s)`,
      textTable(
        columns2,
        test.sample.map((row) => columns2.map((c) => truncate(String(row[c] ?? "NULL"))))
      )
    );
  }
  return lines.join("\n");
}
function oneLine(text) {
  return text.replace(/\s+/g, " ").slice(0, 300);
}
function truncate(text) {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

// pipeline/transform/transform.ts
var DEFAULT_PROJECT_DIR = fileURLToPath2(new URL("../../dbt", __moduleUrl));
var SAMPLE_ROWS = 5;
function dbtVars(config) {
  const t = config.transform;
  if (t.trainFraction + t.validationFraction >= 1) {
    throw new InputError(
      `transform.trainFraction + transform.validationFraction must be below 1 (test gets the rest), got ${t.trainFraction} + ${t.validationFraction}`,
      { field: "transform.validationFraction" }
    );
  }
  return {
    session_gap_minutes: t.sessionGapMinutes,
    sequence_actions: t.sequenceActions.split(","),
    collapse_repeats: t.collapseRepeats,
    train_fraction: t.trainFraction,
    validation_fraction: t.validationFraction
  };
}
function transformPreflight(config) {
  const projectDir = config.transform.project ? resolve3(config.transform.project) : DEFAULT_PROJECT_DIR;
  if (!existsSync8(join13(projectDir, "dbt_project.yml"))) {
    throw new InputError(
      `no dbt project in ${projectDir} (no dbt_project.yml)`,
      { field: "transform.project" },
      "Point --dbt-project (MLOPS_DBT_PROJECT) at the folder holding dbt_project.yml."
    );
  }
  const target = config.warehouse === "snowflake" ? "snowflake" : "duckdb";
  const executable = findDbt(config.transform.dbt);
  if (!executable && target === "snowflake") {
    throw new InputError(
      "the transform stage on Snowflake needs dbt-core, and no dbt executable was found",
      { field: "transform.dbt" },
      "Install it with `pip install dbt-snowflake` (the CI workflows do), or set MLOPS_DBT to the dbt executable."
    );
  }
  return { projectDir, target, executable };
}
async function transform(input) {
  const started = Date.now();
  const { config, reporter } = input;
  const selectors = input.select ?? [];
  const { projectDir, target, executable } = transformPreflight(config);
  const vars = dbtVars(config);
  const raw = await rawInputs(await input.warehouse.open());
  if (raw.length === 0) {
    throw new InputError(
      `the warehouse ${(await input.warehouse.open()).description} holds no loaded raw data`,
      { field: "warehouse" },
      "Run `npx pipeline upload` first (or `npx pipeline run`, which uploads, then transforms)."
    );
  }
  const inputs = [projectInput(projectDir), ...raw];
  let manifest2;
  let results;
  if (executable) {
    if (target === "duckdb") await input.warehouse.release();
    const targetPath = await mkdtemp4(join13(tmpdir4(), "mlops-dbt-target-"));
    try {
      const outcome = await runDbtCore({
        executable,
        projectDir,
        // The same SNOWFLAKE_* variables the warehouse connection read decide the profile.
        target: dbtTargetFor(
          target === "duckdb" ? "duckdb" : snowflakeSettingsFromEnv(process.env).auth
        ),
        targetPath,
        vars,
        selectors,
        reporter,
        ...target === "duckdb" ? { duckdbPath: config.warehouse.slice("duckdb:".length) } : {}
      });
      manifest2 = outcome.manifest;
      results = outcome.runResults;
    } finally {
      await rm7(targetPath, { recursive: true, force: true });
    }
  } else {
    const outcome = await runBuiltin(await input.warehouse.open(), {
      projectDir,
      target: "duckdb",
      vars,
      selectors,
      onNode: (run, index2, total) => reporter.info(
        `  ${String(index2).padStart(String(total).length)}/${total} ${run.status.toUpperCase().padEnd(7)} ${run.uniqueId.split(".").slice(2).join(".")}${run.rows === null ? "" : ` (${run.rows} rows)`} in ${run.executionTime.toFixed(2)} s`
      )
    });
    manifest2 = outcome.manifest;
    results = outcome.runResults;
  }
  const artifacts = {
    manifest: stageKey(input.runId, "transform", "manifest.json"),
    runResults: stageKey(input.runId, "transform", "run_results.json")
  };
  await input.store.put(artifacts.manifest, JSON.stringify(manifest2, null, 2));
  await input.store.put(artifacts.runResults, JSON.stringify(results, null, 2));
  const warehouse = await input.warehouse.open();
  const dag = dagFromArtifacts(manifest2, results, !executable);
  await countRows(dag, warehouse);
  const failedTests = await failingTests(dag, results, warehouse);
  const splitsNode = dag.nodes.find(
    (n2) => n2.type === "model" && n2.name === "session_splits" && n2.status === "success"
  );
  const splits = splitsNode?.relation ? await splitSizes(warehouse, splitsNode.relation) : void 0;
  const result = {
    engine: executable ? "dbt-core" : "builtin",
    target,
    projectDir,
    selected: selectors,
    vars,
    dag,
    summary: summarize(dag),
    ...splits ? { splits } : {},
    failedTests,
    artifacts,
    inputs,
    seconds: (Date.now() - started) / 1e3
  };
  return result;
}
async function countRows(dag, warehouse) {
  for (const node of dag.nodes) {
    if (node.type !== "model" || node.status !== "success" || node.rows !== void 0) continue;
    if (!node.relation) continue;
    const rows = await warehouse.query(`select count(*) as n from ${node.relation}`);
    node.rows = Number(rows[0]?.n ?? 0);
  }
}
async function failingTests(dag, results, warehouse) {
  const compiled2 = new Map(
    results.results.map((r) => [
      r.unique_id,
      r.compiled_code ?? ""
    ])
  );
  const out = [];
  for (const node of dag.nodes) {
    if (node.type !== "test" || !["fail", "warn", "error"].includes(node.status ?? "")) continue;
    const sql = compiled2.get(node.id) ?? "";
    const sample = node.status === "error" || sql === "" ? [] : await warehouse.query(
      `select * from (
${sql.trim().replace(/;\s*$/, "")}
) as failing limit ${SAMPLE_ROWS}`
    ).catch(() => []);
    out.push({
      id: node.id,
      name: node.name,
      status: node.status ?? "",
      severity: node.severity ?? "error",
      failures: node.failures ?? null,
      ...node.tested ? { tested: node.tested } : {},
      ...node.column ? { column: node.column } : {},
      ...node.message ? { message: node.message } : {},
      sample
    });
  }
  return out;
}
async function splitSizes(warehouse, relation) {
  const rows = await warehouse.query(`select split, count(*) as n from ${relation} group by split`);
  const sizes = { train: 0, validation: 0, test: 0 };
  for (const row of rows) {
    const split = String(row.split);
    if (split === "train" || split === "validation" || split === "test")
      sizes[split] = Number(row.n);
  }
  return sizes;
}
function transformFailure(result) {
  const failedModels = result.dag.nodes.filter((n2) => n2.type === "model" && n2.status === "error");
  const failedTests = result.failedTests.filter((t) => t.status === "fail" || t.status === "error");
  if (failedModels.length === 0 && failedTests.length === 0) return void 0;
  const parts = [];
  if (failedModels.length) parts.push(`${failedModels.length} model(s) failed`);
  if (failedTests.length) parts.push(`${failedTests.length} dbt test(s) failed`);
  return new StageFailure(
    `dbt build: ${parts.join(", ")}
${formatFailures(result)}`,
    result,
    `The full results are in ${result.artifacts.runResults} in the run store.`
  );
}

// pipeline/config/shown-settings.ts
function shownValue(spec, value2) {
  if (value2 === void 0 || value2 === null) return void 0;
  if (spec.sensitive) return "(set)";
  return typeof value2 === "object" ? JSON.stringify(value2) : value2;
}
function shownSettings(config) {
  const shown = {};
  for (const spec of SETTINGS) {
    const value2 = shownValue(spec, getPath(config, spec.key));
    if (value2 !== void 0) shown[spec.key] = value2;
  }
  return shown;
}

// pipeline/run/results.ts
var STAGE_NAMES = ["upload", "transform", "train", "evaluate", "card", "promote"];
async function readStageResult(store, runId2, stage) {
  return await readStageRecord(store, runId2, stage);
}

// reports/from-run.ts
async function readRunRecords(store, runId2) {
  const [upload2, transform2, train2, evaluate, card, promote] = await Promise.all([
    readStageResult(store, runId2, "upload"),
    readStageResult(store, runId2, "transform"),
    readStageResult(store, runId2, "train"),
    readStageResult(store, runId2, "evaluate"),
    readStageResult(store, runId2, "card"),
    readStageResult(store, runId2, "promote")
  ]);
  return { upload: upload2, transform: transform2, train: train2, evaluate, card, promote };
}
function configChanges(config, sources = {}) {
  const changes = [];
  for (const spec of SETTINGS) {
    const value2 = getPath(config, spec.key);
    const fallback = spec.default;
    if (value2 === void 0 || value2 === fallback) continue;
    changes.push({
      key: spec.key,
      value: shownValue(spec, value2) ?? null,
      default: spec.sensitive ? fallback === void 0 ? "(not set)" : "(default)" : shownValue(spec, fallback) ?? null,
      origin: sources[spec.key] ?? "config"
    });
  }
  return changes;
}
function checkResult(check2) {
  return {
    name: check2.name,
    kind: check2.kind,
    metric: check2.metric,
    ...optional("threshold", check2.threshold ?? void 0),
    ...optional("value", check2.value ?? void 0),
    verdict: check2.verdict,
    blocking: check2.blocking,
    detail: check2.detail
  };
}
function estimate2(f) {
  if (!f || f.value === null) return void 0;
  return { value: f.value, n: f.n, ...f.ci ? { low: f.ci.low, high: f.ci.high } : {} };
}
function metricsRows(result) {
  return result.report.recommenders.map((r) => ({
    name: r.name,
    kind: r.name === result.report.roles.production ? "production" : r.kind,
    ...optional("hr10", estimate2(r.metrics["hr@10"])),
    ...optional("hr20", estimate2(r.metrics["hr@20"])),
    ...optional("mrr10", estimate2(r.metrics["mrr@10"])),
    ...optional("mrr20", estimate2(r.metrics["mrr@20"])),
    ...optional("coverage20", r.metrics["coverage@20"].value ?? void 0),
    ...optional("popularityBias", r.metrics.popularity_bias.value ?? void 0),
    ...optional("repeatShare", r.metrics.repeat_share.value ?? void 0)
  }));
}
function optional(key, value2) {
  return value2 === void 0 ? {} : { [key]: value2 };
}
function candidateSlices(result) {
  const candidate = result.report.recommenders.find(
    (r) => r.name === result.report.roles.candidate
  );
  return (candidate?.slices ?? []).filter((s) => s.hr20 !== null).map((s) => ({
    recommender: candidate?.name,
    dimension: s.family,
    bucket: s.slice,
    n: s.n,
    hr20: s.hr20
  }));
}
function robustness(result) {
  const candidate = result.report.recommenders.find(
    (r) => r.name === result.report.roles.candidate
  );
  if (!candidate) return [];
  const rows = [
    ["perturbation (one item → same category)", "perturbation_overlap", "top-20 overlap"],
    ["shuffled prefix order", "shuffle_overlap", "top-20 overlap"],
    ["sessions of unknown SKUs", "unknown_sku_validity", "valid lists"]
  ];
  return rows.flatMap(([name2, metric, label2]) => {
    const value2 = candidate.metrics[metric].value;
    return value2 === null ? [] : [{ name: name2, metric: label2, clean: 1, perturbed: value2 }];
  });
}
function candidateFacts(train2, evaluation) {
  const { model, blend } = train2;
  const figures = (m) => ({ hr20: m.hr, mrr20: m.mrr });
  const candidate = evaluation?.report.roles.candidate;
  const networkAdds = (evaluation?.report.comparisons ?? []).filter((c) => c.candidate === candidate && c.reference === ABLATION && c.difference !== null).map((c) => ({
    metric: c.metric,
    difference: c.difference,
    ...c.ci ? { low: c.ci.low, high: c.ci.high } : {}
  }));
  return {
    name: train2.preset,
    network: `${model.cell.toUpperCase()}(${model.hiddenUnits})${model.layers > 1 ? ` × ${model.layers} layers` : ""} with ${model.tied ? "tied embeddings" : "a separate output layer"}`,
    blend: blend.spec.components,
    validation: {
      prefixes: blend.validation.candidate.cases,
      candidate: figures(blend.validation.candidate),
      network: figures(blend.validation.network),
      ...blend.validation.ablation ? { withoutNetwork: figures(blend.validation.ablation) } : {}
    },
    ...networkAdds.length ? { networkAdds } : {}
  };
}
function driftFacts(d) {
  const hr = d.replay.hr20;
  return {
    servedSessions: d.servedSessions,
    servedEvents: d.servedEvents,
    unknownSkuRate: d.unknownSkuRate,
    outOfVocabularyShare: d.outOfVocabularyShare,
    popularityPsi: d.popularity.psi,
    popularityJs: d.popularity.jensenShannon,
    sessionLengthTraining: d.sessionLength.trainingMean,
    sessionLengthServed: d.sessionLength.servedMean,
    sessionLengthPsi: d.sessionLength.psi,
    ...hr.value !== null ? {
      replayHr20: {
        value: hr.value,
        n: hr.n,
        ...hr.ci ? { low: hr.ci.low, high: hr.ci.high } : {}
      }
    } : {},
    replayPrefixes: d.replay.prefixes
  };
}
var HISTORY_POINTS = 8;
async function productionHistory(store, runId2, evaluation) {
  const entries = (await promotionHistory(store)).filter((e) => e.runId !== runId2).slice(-HISTORY_POINTS);
  if (entries.length === 0) return void 0;
  const candidate = evaluation?.report.recommenders.find(
    (r) => r.name === evaluation.report.roles.candidate
  );
  const hr20 = estimate2(candidate?.metrics["hr@20"]);
  return [
    ...entries.map((e) => ({
      runId: e.runId,
      kind: "production",
      promotedAt: e.promotedAt,
      hr20: {
        value: e.metrics.hr20.value,
        low: e.metrics.hr20.lower,
        high: e.metrics.hr20.upper,
        n: e.metrics.examples
      }
    })),
    ...hr20 ? [{ runId: runId2, kind: "candidate", hr20 }] : []
  ];
}
async function cardDataFromRun(store, runId2, options = {}) {
  const byStage = await readRunRecords(store, runId2);
  const records = STAGE_NAMES.flatMap((stage) => byStage[stage] ?? []);
  const upload2 = byStage.upload?.result ?? void 0;
  const transform2 = byStage.transform?.result ?? void 0;
  const train2 = byStage.train?.result ?? void 0;
  const evaluation = byStage.evaluate?.result ?? void 0;
  const first = [...records].sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0];
  const failed = records.find((r) => r.status === "failed");
  const data = {
    run: {
      runId: runId2,
      ...optional("gitSha", first?.gitSha),
      ...optional("startedAt", first?.startedAt),
      ...optional("backend", train2?.backend.name),
      ...optional("compute", train2?.compute),
      store: store.location,
      stages: records.map((r) => ({
        name: r.stage,
        seconds: r.seconds,
        // A memoized stage that did not run says whose outputs it carries.
        status: r.reused ? `reused from run ${r.reused.runId}` : r.status
      })),
      ...optional("failedStage", failed?.stage),
      ...options.config ? { configDiff: configChanges(options.config, options.sources) } : {},
      artifacts: [
        ...train2 ? [{ name: "model", href: `${store.location}/${train2.artifact.prefix}/` }] : [],
        ...evaluation ? [
          {
            name: "evaluation report",
            href: `${store.location}/${evaluation.artifacts.report}`
          }
        ] : [],
        { name: "stage records", href: `${store.location}/${runFolder(runId2)}` }
      ]
    }
  };
  if (evaluation) {
    data.verdict = {
      passed: evaluation.gates.passed,
      checks: evaluation.gates.checks.map(checkResult)
    };
    data.metrics = metricsRows(evaluation);
    data.slices = candidateSlices(evaluation);
    data.robustness = robustness(evaluation);
    if (evaluation.drift) data.drift = driftFacts(evaluation.drift);
  }
  if (train2) data.candidate = candidateFacts(train2, evaluation);
  const history = await productionHistory(store, runId2, evaluation);
  if (history) data.history = history;
  if (train2) {
    data.training = {
      epochs: train2.history.epochs,
      bestEpoch: train2.history.bestEpoch,
      stoppedEarly: train2.history.stoppedEarly,
      backend: train2.backend.name,
      compute: train2.compute
    };
  }
  if (transform2) data.dag = transform2.dag;
  const notes = [
    ...options.config?.card.note ? [options.config.card.note] : [],
    ...options.ephemeralStore ? [
      `The run store (${store.location}) lives only as long as this workflow: no model in production outlives it, so champion/challenger cannot work and a merge cannot promote the candidate reviewed here. Set the MLOPS_S3_STORE repository variable to keep runs and the registry (README, level 2).`
    ] : []
  ];
  if (notes.length > 0) data.notes = notes;
  data.data = {
    ...upload2 ? {
      source: upload2.source,
      rowsRead: upload2.totals.read,
      rowsLoaded: upload2.totals.loaded,
      rowsRejected: upload2.totals.rejected,
      files: upload2.files.map((f) => ({
        name: f.file.split("/").at(-1) ?? f.file,
        read: f.read,
        loaded: f.loaded,
        rejected: f.rejected
      }))
    } : {},
    ...transform2?.splits ? { sessionsPerSplit: transform2.splits } : {},
    ...train2 ? {
      vocabularySize: train2.dataset.vocabularySize,
      unseenSkuShare: train2.dataset.splits.test.unknownTargetShare
    } : {}
  };
  return data;
}

// reports/write.ts
import { mkdtemp as mkdtemp5, rm as rm8, writeFile as writeFile6 } from "node:fs/promises";
import { tmpdir as tmpdir5 } from "node:os";
import { join as join15 } from "node:path";

// reports/dag-view.ts
function dagView(dag) {
  const boxes = /* @__PURE__ */ new Map();
  for (const node of dag.nodes) {
    if (node.type === "test") continue;
    boxes.set(node.id, {
      id: node.id,
      name: node.name,
      type: node.type,
      ...node.materialized ? { materialized: node.materialized } : {},
      ...node.rows !== void 0 ? { rows: node.rows } : {},
      ...node.status ? { status: node.status } : {},
      tests: { pass: 0, warn: 0, fail: 0, other: 0 },
      layer: 0
    });
  }
  const parentsOf = /* @__PURE__ */ new Map();
  for (const [parent, child] of dag.edges) {
    if (!parentsOf.has(child)) parentsOf.set(child, []);
    parentsOf.get(child)?.push(parent);
  }
  for (const node of dag.nodes) {
    if (node.type !== "test" || node.status === void 0) continue;
    const target = testedBox(node, parentsOf, boxes);
    if (!target) continue;
    const tally = target.tests;
    if (node.status === "pass") tally.pass++;
    else if (node.status === "warn") tally.warn++;
    else if (node.status === "fail") tally.fail++;
    else tally.other++;
  }
  const edges = dag.edges.filter(([p, c]) => boxes.has(p) && boxes.has(c));
  const layers = assignLayers(boxes, edges);
  return { boxes: [...boxes.values()], edges, layers };
}
function testedBox(test, parentsOf, boxes) {
  if (test.tested && boxes.has(test.tested)) return boxes.get(test.tested);
  for (const parent of parentsOf.get(test.id) ?? []) {
    const box = boxes.get(parent);
    if (box) return box;
  }
  return void 0;
}
function assignLayers(boxes, edges) {
  const limit = boxes.size;
  for (let pass = 0; pass < limit; pass++) {
    let changed = false;
    for (const [p, c] of edges) {
      const parent = boxes.get(p);
      const child = boxes.get(c);
      if (parent && child && child.layer < parent.layer + 1 && parent.layer + 1 < limit) {
        child.layer = parent.layer + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  let max2 = -1;
  for (const box of boxes.values()) max2 = Math.max(max2, box.layer);
  return max2 + 1;
}
function tallyText(tests) {
  const parts = [];
  if (tests.pass) parts.push(`${tests.pass} ✓`);
  if (tests.warn) parts.push(`${tests.warn} ⚠`);
  if (tests.fail) parts.push(`${tests.fail} ✗`);
  if (tests.other) parts.push(`${tests.other} not run`);
  return parts.length ? `tests ${parts.join(" · ")}` : "";
}
function boxState(box) {
  if (box.status === "error" || box.tests.fail > 0) return "fail";
  if (box.tests.warn > 0 || box.status === "skipped") return "warn";
  if (box.status === "success" || box.tests.pass > 0) return "pass";
  return "none";
}

// reports/format.ts
var RANKING_METRICS = [
  { key: "hr10", label: "HR@10" },
  { key: "hr20", label: "HR@20" },
  { key: "mrr10", label: "MRR@10" },
  { key: "mrr20", label: "MRR@20" }
];
var SHARE_METRICS = [
  { key: "coverage20", label: "Coverage@20" },
  { key: "popularityBias", label: "Popularity bias" },
  { key: "repeatShare", label: "Repeat share" }
];
var ROLE_ORDER = {
  model: 0,
  ablation: 1,
  production: 2,
  baseline: 3,
  oracle: 4
};
var ROLE_LABEL = {
  model: "candidate",
  ablation: "ablation",
  production: "production",
  baseline: "baseline",
  oracle: "oracle"
};
function sortedRows(rows) {
  return [...rows].sort((a, b) => ROLE_ORDER[a.kind] - ROLE_ORDER[b.kind]);
}
function num2(value2, digits = 3) {
  if (value2 === void 0 || !Number.isFinite(value2)) return "–";
  return value2.toFixed(digits);
}
function int(value2) {
  if (value2 === void 0 || !Number.isFinite(value2)) return "–";
  return Math.round(value2).toLocaleString("en-US");
}
function percent(value2, digits = 1) {
  if (value2 === void 0 || !Number.isFinite(value2)) return "–";
  return `${(value2 * 100).toFixed(digits)}%`;
}
function seconds(value2) {
  if (value2 === void 0 || !Number.isFinite(value2)) return "–";
  if (value2 < 60) return `${value2.toFixed(1)} s`;
  const minutes = Math.floor(value2 / 60);
  return `${minutes} min ${Math.round(value2 - minutes * 60)} s`;
}
function historyLabel(point) {
  return point.kind === "candidate" ? "candidate" : point.runId.slice(-6);
}
function historyCaption(points) {
  const production = points.filter((p) => p.kind === "production").length;
  const candidate = points.some((p) => p.kind === "candidate");
  return `Bars: HR@20 of the last ${production} production model${production === 1 ? "" : "s"} (oldest first, by the end of their run id)${candidate ? " and of this run's candidate" : ""}; each from its own run's evaluation, so on that run's test split.`;
}
function estimate3(value2) {
  if (!value2) return "–";
  if (value2.low === void 0 || value2.high === void 0) return num2(value2.value);
  return `${num2(value2.value)} [${num2(value2.low)}, ${num2(value2.high)}]`;
}
function candidateSummary(c) {
  const parts = c.blend.filter((p) => p.weight > 0);
  const named = (p) => p.kind === "neural" ? `a ${c.network}` : BLEND_PART[p.kind] ?? p.kind;
  const list2 = (items) => items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : items[0] ?? "";
  const unused = c.blend.filter((p) => p.weight === 0).map(named);
  const fitted = c.validation ? `; the weights were fitted on ${int(c.validation.prefixes)} validation prefixes` : "";
  const text = parts.length === 1 ? `**${c.name}** ranks with ${named(parts[0])} alone${unused.length ? ` (${list2(unused)} got weight 0 on validation)` : ""}.` : `**${c.name}** blends ${list2(parts.map((p) => `${named(p)} (weight ${p.weight})`))}${fitted}${unused.length ? `; ${list2(unused)} got weight 0` : ""}.`;
  const rows = c.validation ? [
    ["the blend", num2(c.validation.candidate.hr20), num2(c.validation.candidate.mrr20)],
    ["the network alone", num2(c.validation.network.hr20), num2(c.validation.network.mrr20)],
    ...c.validation.withoutNetwork ? [
      [
        "without the network",
        num2(c.validation.withoutNetwork.hr20),
        num2(c.validation.withoutNetwork.mrr20)
      ]
    ] : []
  ] : [];
  const adds = c.networkAdds?.length ? `On the test split the network adds ${c.networkAdds.map(
    (d) => `${d.metric.toUpperCase()} ${delta(d.difference, 0, 4)}${d.low !== void 0 && d.high !== void 0 ? ` (95% CI [${num2(d.low, 4)}, ${num2(d.high, 4)}])` : ""}`
  ).join(" and ")} over the same blend without it (the ablation).` : void 0;
  return { text, rows, adds };
}
var BLEND_PART = {
  sknn: "session-kNN",
  cooccurrence: "item co-occurrence",
  repeat: "in-session repeats"
};
function delta(a, b, digits = 3) {
  if (a === void 0 || b === void 0 || !Number.isFinite(a) || !Number.isFinite(b)) {
    return "–";
  }
  const d = a - b;
  const text = Math.abs(d).toFixed(digits);
  if (Number(text) === 0) return `±${text}`;
  return d > 0 ? `+${text}` : `−${text}`;
}
function value(v) {
  if (v === void 0) return "–";
  if (typeof v === "number")
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (v === null) return "null";
  return String(v);
}
var VERDICT_ICON = {
  pass: "✅",
  fail: "❌",
  warn: "⚠️",
  skipped: "⏭️"
};
function clip(text, max2 = 240) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max2 ? flat : `${flat.slice(0, max2 - 1)}…`;
}
function psiReading(value2) {
  return value2 < 0.1 ? "stable" : value2 <= 0.25 ? "moderate shift" : "significant shift";
}
function driftRows(d) {
  return [
    ["Served sessions (events)", `${int(d.servedSessions)} (${int(d.servedEvents)})`, ""],
    ["Unknown-SKU rate", percent(d.unknownSkuRate, 2), "served SKUs the catalog does not hold"],
    [
      "Outside the training vocabulary",
      percent(d.outOfVocabularyShare, 2),
      "served SKUs training never showed"
    ],
    ["Item-popularity PSI", num2(d.popularityPsi), psiReading(d.popularityPsi)],
    ["Item-popularity Jensen–Shannon", num2(d.popularityJs), "0 equal … 1 disjoint (bits)"],
    [
      "Session length: training → served",
      `${num2(d.sessionLengthTraining, 2)} → ${num2(d.sessionLengthServed, 2)}`,
      `PSI ${num2(d.sessionLengthPsi)} (${psiReading(d.sessionLengthPsi)})`
    ],
    [
      "Replay HR@20 (served sessions)",
      estimate3(d.replayHr20),
      `${int(d.replayPrefixes)} sessions, next item known`
    ]
  ];
}

// reports/svg.ts
function escapeXml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
var COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df"];
var FONT = `font-family="system-ui, sans-serif" font-size="12"`;
function niceTicks(min, max2, count2 = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max2)) return [0, 1];
  if (max2 <= min) max2 = min + (min === 0 ? 1 : Math.abs(min));
  const raw = (max2 - min) / count2;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step2 = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const start = Math.floor(min / step2) * step2;
  const ticks = [];
  for (let t = start; t <= max2 + step2 * 1e-9; t += step2) ticks.push(Number(t.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? min) < max2)
    ticks.push(Number((start + ticks.length * step2).toPrecision(12)));
  return ticks;
}
function label(v) {
  return String(Number(v.toPrecision(4)));
}
function lineChart(spec) {
  const width = 640;
  const height = 300;
  const pad = { left: 56, right: 56, top: 36, bottom: 48 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const xMin = Math.min(...spec.x);
  const xMax = Math.max(...spec.x);
  const xs = (x) => pad.left + (xMax === xMin ? plotW / 2 : (x - xMin) / (xMax - xMin) * plotW);
  const axes = /* @__PURE__ */ new Map();
  for (const side of ["left", "right"]) {
    const values = spec.series.filter((s) => s.axis === side).flatMap((s) => s.values).filter(Number.isFinite);
    if (values.length) axes.set(side, niceTicks(Math.min(0, ...values), Math.max(...values)));
  }
  const scale = (side) => {
    const ticks = axes.get(side) ?? [0, 1];
    const lo = ticks[0];
    const hi = ticks[ticks.length - 1];
    return (v) => pad.top + plotH - (v - lo) / (hi - lo || 1) * plotH;
  };
  const parts = [];
  for (const [side, ticks] of axes) {
    const ys = scale(side);
    const x = side === "left" ? pad.left - 6 : width - pad.right + 6;
    const anchor = side === "left" ? "end" : "start";
    for (const t of ticks) {
      if (side === "left") {
        parts.push(
          `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(t)}" y2="${ys(t)}" stroke="#d0d7de" stroke-width="1"/>`
        );
      }
      parts.push(
        `<text x="${x}" y="${ys(t) + 4}" text-anchor="${anchor}" fill="#57606a">${label(t)}</text>`
      );
    }
  }
  const xTicks = spec.x.length <= 12 ? spec.x : niceTicks(xMin, xMax, 8).filter((t) => t >= xMin && t <= xMax);
  for (const t of xTicks) {
    parts.push(
      `<text x="${xs(t)}" y="${height - pad.bottom + 16}" text-anchor="middle" fill="#57606a">${label(t)}</text>`
    );
  }
  parts.push(
    `<text x="${pad.left + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#57606a">${escapeXml(spec.xLabel)}</text>`
  );
  if (spec.marker && spec.marker.x >= xMin && spec.marker.x <= xMax) {
    const mx = xs(spec.marker.x);
    parts.push(
      `<line class="marker" x1="${mx}" x2="${mx}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="#57606a" stroke-dasharray="4 3"/>`
    );
    parts.push(
      `<text x="${mx + 4}" y="${pad.top + 12}" fill="#57606a">${escapeXml(spec.marker.label)}</text>`
    );
  }
  spec.series.forEach((s, i) => {
    const ys = scale(s.axis);
    const color = COLORS[i % COLORS.length];
    const points = s.values.map((v, j) => [spec.x[j], v]).filter((p) => p[0] !== void 0 && Number.isFinite(p[1]));
    const d = points.map(([x, v], j) => `${j ? "L" : "M"}${xs(x).toFixed(1)},${ys(v).toFixed(1)}`).join(" ");
    parts.push(
      `<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`
    );
    if (points.length <= 60) {
      for (const [x, v] of points) {
        parts.push(
          `<circle cx="${xs(x).toFixed(1)}" cy="${ys(v).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name} @ ${label(x)}: ${label(v)}`)}</title></circle>`
        );
      }
    }
    const lx = pad.left + i * 200;
    parts.push(`<rect x="${lx}" y="10" width="12" height="12" fill="${color}"/>`);
    parts.push(
      `<text x="${lx + 16}" y="20" fill="#1f2328">${escapeXml(`${s.name} (${s.axis} axis)`)}</text>`
    );
  });
  return svg(spec.title, width, height, parts);
}
function barChart(spec) {
  const groupW = Math.max(48, spec.series.length * 22 + 20);
  const pad = { left: 56, right: 20, top: 36, bottom: 72 };
  const width = Math.max(360, pad.left + pad.right + spec.groups.length * groupW);
  const height = 320;
  const plotH = height - pad.top - pad.bottom;
  const all = spec.groups.flatMap((g) => g.values.flatMap((v) => [v.value, v.high ?? v.value]));
  const ticks = niceTicks(0, Math.max(0, ...all.filter(Number.isFinite)));
  const hi = ticks[ticks.length - 1];
  const ys = (v) => pad.top + plotH - v / (hi || 1) * plotH;
  const parts = [];
  for (const t of ticks) {
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(t)}" y2="${ys(t)}" stroke="#d0d7de"/>`
    );
    parts.push(
      `<text x="${pad.left - 6}" y="${ys(t) + 4}" text-anchor="end" fill="#57606a">${label(t)}</text>`
    );
  }
  const barW = 18;
  spec.groups.forEach((group2, g) => {
    const x0 = pad.left + g * groupW + (groupW - spec.series.length * (barW + 4)) / 2;
    group2.values.forEach((v, s) => {
      if (!Number.isFinite(v.value)) return;
      const x = x0 + s * (barW + 4);
      const color = COLORS[s % COLORS.length];
      const y = ys(Math.max(0, v.value));
      const h = Math.max(1, ys(0) - y);
      const tip = `${group2.name} ${spec.series[s] ?? ""}: ${label(v.value)}${v.low !== void 0 && v.high !== void 0 ? ` [${label(v.low)}, ${label(v.high)}]` : ""}`;
      parts.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${color}" opacity="${spec.highlight && spec.highlight !== group2.name ? 0.6 : 1}"><title>${escapeXml(tip)}</title></rect>`
      );
      if (v.low !== void 0 && v.high !== void 0) {
        const cx2 = x + barW / 2;
        parts.push(
          `<path d="M${cx2},${ys(v.low).toFixed(1)} V${ys(v.high).toFixed(1)} M${cx2 - 4},${ys(v.low).toFixed(1)} h8 M${cx2 - 4},${ys(v.high).toFixed(1)} h8" stroke="#1f2328" fill="none"/>`
        );
      }
    });
    const cx = pad.left + g * groupW + groupW / 2;
    const weight = spec.highlight === group2.name ? ` font-weight="bold"` : "";
    parts.push(
      `<text x="${cx}" y="${height - pad.bottom + 14}" text-anchor="end" transform="rotate(-30 ${cx} ${height - pad.bottom + 14})" fill="#1f2328"${weight}>${escapeXml(group2.name)}</text>`
    );
  });
  spec.series.forEach((name2, s) => {
    const lx = pad.left + s * 120;
    parts.push(
      `<rect x="${lx}" y="10" width="12" height="12" fill="${COLORS[s % COLORS.length]}"/>`
    );
    parts.push(`<text x="${lx + 16}" y="20" fill="#1f2328">${escapeXml(name2)}</text>`);
  });
  return svg(spec.title, width, height, parts);
}
var STATE_STYLE = {
  pass: { fill: "#dafbe1", stroke: "#1a7f37" },
  warn: { fill: "#fff8c5", stroke: "#9a6700" },
  fail: { fill: "#ffebe9", stroke: "#d1242f" },
  none: { fill: "#f6f8fa", stroke: "#8c959f" }
};
function dagChart(view, title) {
  const boxW = 190;
  const boxH = 58;
  const gapX = 70;
  const gapY = 16;
  const columns2 = Array.from({ length: Math.max(view.layers, 1) }, () => []);
  for (const box of view.boxes) columns2[box.layer]?.push(box);
  const position = /* @__PURE__ */ new Map();
  columns2.forEach((column, layer) => {
    column.forEach((box, row) => {
      position.set(box.id, { x: 16 + layer * (boxW + gapX), y: 16 + row * (boxH + gapY) });
    });
  });
  const tallest = Math.max(1, ...columns2.map((c) => c.length));
  const width = 32 + columns2.length * boxW + (columns2.length - 1) * gapX;
  const height = 32 + tallest * boxH + (tallest - 1) * gapY;
  const parts = [];
  for (const [parent, child] of view.edges) {
    const p = position.get(parent);
    const c = position.get(child);
    if (!p || !c) continue;
    const x1 = p.x + boxW;
    const y1 = p.y + boxH / 2;
    const x2 = c.x;
    const y2 = c.y + boxH / 2;
    const mid = (x1 + x2) / 2;
    parts.push(
      `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 6},${y2}" fill="none" stroke="#8c959f" marker-end="url(#arrow)"/>`
    );
  }
  for (const box of view.boxes) {
    const at = position.get(box.id);
    if (!at) continue;
    const style = STATE_STYLE[boxState(box)];
    const facts = [
      box.type === "source" ? "source" : box.materialized ?? "model",
      box.rows !== void 0 ? `${int(box.rows)} rows` : ""
    ].filter(Boolean).join(" · ");
    const name2 = box.name.length > 26 ? `${box.name.slice(0, 25)}…` : box.name;
    parts.push(
      `<g class="node"><title>${escapeXml(`${box.id}${box.status ? ` (${box.status})` : ""}`)}</title><rect x="${at.x}" y="${at.y}" width="${boxW}" height="${boxH}" rx="${box.type === "source" ? 14 : 4}" fill="${style.fill}" stroke="${style.stroke}"/><text x="${at.x + 8}" y="${at.y + 17}" font-weight="bold" fill="#1f2328">${escapeXml(name2)}</text><text x="${at.x + 8}" y="${at.y + 33}" fill="#57606a">${escapeXml(facts)}</text><text x="${at.x + 8}" y="${at.y + 49}" fill="#57606a">${escapeXml(tallyText(box.tests))}</text></g>`
    );
  }
  const defs = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>`;
  return svg(title, width, height, [defs, ...parts]);
}
function svg(title, width, height, parts) {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT}><title>${escapeXml(title)}</title>${parts.join("")}</svg>`;
}

// reports/html.ts
var esc = escapeXml;
function table(caption, header, rows) {
  const head = header.map((h) => `<th scope="col" tabindex="0">${esc(h)}</th>`).join("");
  const body3 = rows.map(
    (row) => `<tr>${row.map((c) => {
      const cell2 = typeof c === "string" ? { text: c } : c;
      const sort = cell2.sort !== void 0 && (typeof cell2.sort === "string" || Number.isFinite(cell2.sort)) ? ` data-sort="${esc(String(cell2.sort))}"` : "";
      const numeric = typeof cell2.sort === "number" ? ` class="num"` : "";
      return `<td${sort}${numeric}>${cell2.html ? cell2.text : esc(cell2.text)}</td>`;
    }).join("")}</tr>`
  ).join("");
  return `<div class="scroll"><table class="sortable"><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body3}</tbody></table></div>`;
}
var n = (v, text) => ({
  text,
  ...v !== void 0 ? { sort: v } : {}
});
function section2(id, title, body3) {
  return body3 ? `<section id="${id}"><h2>${esc(title)}</h2>${body3}</section>` : "";
}
function checkRow(c) {
  return [
    { text: `${VERDICT_ICON[c.verdict]} ${c.verdict}`, sort: c.verdict },
    c.name,
    c.kind,
    c.metric ?? "–",
    n(typeof c.value === "number" ? c.value : void 0, value(c.value)),
    value(c.threshold),
    c.blocking ? "yes" : "no",
    c.detail ?? ""
  ];
}
function verdictHtml(data) {
  const v = data.verdict;
  const stopped = data.run.failedStage ? `<p>The run stopped at the <strong>${esc(data.run.failedStage)}</strong> stage.</p>` : "";
  if (!v) {
    return `<p class="verdict none">⏸️ No verdict: the evaluation stage has not run.</p>${stopped}`;
  }
  const failing = v.checks.filter((c) => c.verdict === "fail" && c.blocking);
  const head = v.passed ? `<p class="verdict pass">✅ Gates passed (${v.checks.length} checks)</p>` : `<p class="verdict fail">❌ Gates failed: ${failing.length} blocking checks failed</p>`;
  const header = ["Verdict", "Check", "Kind", "Metric", "Value", "Threshold", "Blocking", "Detail"];
  return head + stopped + (v.checks.length ? table("All checks", header, v.checks.map(checkRow)) : "");
}
function metricsHtml(data) {
  const rows = sortedRows(data.metrics ?? []);
  if (!rows.length) return "";
  const candidate = rows.find((r) => r.kind === "model");
  const production = rows.find((r) => r.kind === "production");
  const header = [
    "Recommender",
    "Role",
    ...RANKING_METRICS.map((m) => m.label),
    ...SHARE_METRICS.map((m) => m.label),
    "n"
  ];
  const line = (r) => [
    r.kind === "model" ? { text: `<strong>${esc(r.name)}</strong>`, sort: r.name, html: true } : r.name,
    ROLE_LABEL[r.kind],
    ...RANKING_METRICS.map((m) => n(r[m.key]?.value, estimate3(r[m.key]))),
    ...SHARE_METRICS.map((m) => n(r[m.key], percent(r[m.key]))),
    n(r.hr20?.n ?? r.hr10?.n, int(r.hr20?.n ?? r.hr10?.n))
  ];
  let html = table("Metrics with confidence intervals", header, rows.map(line));
  if (candidate && production) {
    const deltas = [
      ...RANKING_METRICS.map(
        (m) => `${m.label} ${delta(candidate[m.key]?.value, production[m.key]?.value)}`
      ),
      ...SHARE_METRICS.map((m) => `${m.label} ${delta(candidate[m.key], production[m.key])}`)
    ];
    html += `<p>Candidate − production: ${esc(deltas.join(" · "))}</p>`;
  }
  const charted = rows.filter((r) => r.hr20 || r.mrr20);
  if (charted.length) {
    html += `<figure>${barChart({
      title: "HR@20 and MRR@20 by recommender",
      series: ["HR@20", "MRR@20"],
      groups: charted.map((r) => ({
        name: r.name,
        values: [r.hr20 ?? { value: NaN }, r.mrr20 ?? { value: NaN }]
      })),
      ...candidate ? { highlight: candidate.name } : {}
    })}<figcaption>Bars: point estimates; whiskers: confidence intervals.</figcaption></figure>`;
  }
  return html;
}
function historyHtml(data) {
  const points = data.history ?? [];
  if (!points.length) return "";
  const chart = barChart({
    title: "HR@20: production models, then this candidate",
    series: ["HR@20"],
    groups: points.map((p) => ({ name: historyLabel(p), values: [p.hr20] })),
    highlight: "candidate"
  });
  const rows = points.map((p) => [
    p.kind === "candidate" ? `${p.runId} (candidate)` : p.runId,
    { text: p.promotedAt ?? "–", sort: p.promotedAt ?? "" },
    n(p.hr20.value, estimate3(p.hr20))
  ]);
  return `<figure>${chart}<figcaption>${esc(historyCaption(points))} Whiskers: confidence intervals.</figcaption></figure>` + table("HR@20 by run", ["Run", "In production since", "HR@20"], rows);
}
function candidateHtml(data) {
  if (!data.candidate) return "";
  const { text, rows, adds } = candidateSummary(data.candidate);
  const paragraph = esc(text).replace(/\*\*(.+?)\*\*/, "<strong>$1</strong>");
  const figures = rows.length ? table(
    "On the validation prefixes the blend was fitted on",
    ["Part", "HR@20", "MRR@20"],
    rows.map(([label2, hr, mrr]) => [
      label2,
      n(Number(hr), hr),
      n(Number(mrr), mrr)
    ])
  ) : "";
  return `<p>${paragraph}</p>${figures}${adds ? `<p>${esc(adds)}</p>` : ""}`;
}
function trainingHtml(data) {
  const t = data.training;
  if (!t || !t.epochs.length) return "";
  const facts = [
    t.bestEpoch !== void 0 ? `best epoch ${t.bestEpoch}` : "",
    t.stoppedEarly ? "stopped early" : "",
    t.backend ? `backend ${t.backend}` : "",
    t.compute ? `compute ${t.compute}` : ""
  ].filter(Boolean);
  const chart = lineChart({
    title: "Training loss and validation HR@20 per epoch",
    x: t.epochs.map((e) => e.epoch),
    xLabel: "epoch",
    series: [
      { name: "loss", values: t.epochs.map((e) => e.loss), axis: "left" },
      { name: "validation HR@20", values: t.epochs.map((e) => e.validationHr20), axis: "right" }
    ],
    ...t.bestEpoch !== void 0 ? { marker: { x: t.bestEpoch, label: "best" } } : {}
  });
  const rows = t.epochs.map((e) => [
    n(e.epoch, String(e.epoch)),
    n(e.loss, num2(e.loss, 4)),
    n(e.validationHr20, num2(e.validationHr20)),
    n(e.seconds, seconds(e.seconds)),
    n(e.sequencesPerSecond, int(e.sequencesPerSecond))
  ]);
  return `<p>${esc(facts.join(" · "))}</p><figure>${chart}</figure><details><summary>Epochs (${t.epochs.length})</summary>${table("Epochs", ["Epoch", "Loss", "Validation HR@20", "Duration", "Examples/s"], rows)}</details>`;
}
var MAX_DRAWN_BOXES = 300;
function dagHtml(data) {
  if (!data.dag || !data.dag.nodes.length) return "";
  const full = dagView(data.dag);
  const drawn = [...full.boxes].sort((a, b) => a.layer - b.layer).slice(0, MAX_DRAWN_BOXES);
  const ids = new Set(drawn.map((b) => b.id));
  const view = {
    ...full,
    boxes: drawn,
    edges: full.edges.filter(([p, c]) => ids.has(p) && ids.has(c))
  };
  const note = drawn.length < full.boxes.length ? `<p>The drawing shows ${drawn.length} of ${full.boxes.length} sources and models; the table lists every node.</p>` : "";
  const rows = data.dag.nodes.map((node) => [
    node.name,
    node.type,
    node.materialized ?? "",
    n(node.rows, int(node.rows)),
    node.status ?? "not run",
    n(node.seconds, seconds(node.seconds)),
    node.message ?? ""
  ]);
  return `<figure class="wide">${dagChart(view, "dbt DAG")}</figure>${note}<details><summary>Nodes (${data.dag.nodes.length})</summary>${table("dbt nodes", ["Node", "Type", "Materialization", "Rows", "Status", "Duration", "Message"], rows)}</details>`;
}
function driftHtml(data) {
  if (!data.drift) return "";
  return table(
    "Production traffic against the training data",
    ["Figure", "Value", "Reading"],
    driftRows(data.drift)
  );
}
function slicesHtml(data) {
  let html = "";
  if (data.slices?.length) {
    html += table(
      "Slices",
      ["Recommender", "Dimension", "Bucket", "n", "HR@20"],
      data.slices.map((s) => [
        s.recommender ?? "candidate",
        s.dimension,
        s.bucket,
        n(s.n, int(s.n)),
        n(s.hr20, num2(s.hr20))
      ])
    );
  }
  if (data.robustness?.length) {
    html += table(
      "Robustness",
      ["Verdict", "Perturbation", "Metric", "Clean", "Perturbed", "Δ", "Detail"],
      data.robustness.map((r) => [
        r.verdict ? { text: `${VERDICT_ICON[r.verdict]} ${r.verdict}`, sort: r.verdict } : "",
        r.name,
        r.metric,
        n(r.clean, num2(r.clean)),
        n(r.perturbed, num2(r.perturbed)),
        n(r.perturbed - r.clean, delta(r.perturbed, r.clean)),
        r.detail ?? ""
      ])
    );
  }
  return html;
}
function dataHtml(data) {
  const d = data.data;
  if (!d) return "";
  const facts = [];
  if (d.source) facts.push(["Source", d.source]);
  if (d.rowsRead !== void 0) facts.push(["Rows read", int(d.rowsRead)]);
  if (d.rowsLoaded !== void 0) facts.push(["Rows loaded", int(d.rowsLoaded)]);
  if (d.rowsRejected !== void 0) facts.push(["Rows rejected", int(d.rowsRejected)]);
  for (const [split, count2] of Object.entries(d.sessionsPerSplit ?? {}))
    facts.push([`Sessions (${split})`, int(count2)]);
  if (d.vocabularySize !== void 0) facts.push(["Vocabulary (SKUs)", int(d.vocabularySize)]);
  if (d.unseenSkuShare !== void 0)
    facts.push(["Unseen-SKU share (test)", percent(d.unseenSkuShare, 2)]);
  let html = factList(facts);
  if (d.files?.length) {
    html += table(
      "Per file",
      ["File", "Read", "Loaded", "Rejected"],
      d.files.map((f) => [
        f.name,
        n(f.read, int(f.read)),
        n(f.loaded, int(f.loaded)),
        n(f.rejected, int(f.rejected))
      ])
    );
  }
  return html;
}
function factList(facts) {
  if (!facts.length) return "";
  return `<dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
}
function runHtml(data) {
  const r = data.run;
  const facts = [["Run id", r.runId]];
  if (r.gitSha) facts.push(["Git sha", r.gitSha]);
  if (r.startedAt) facts.push(["Started", r.startedAt]);
  const backend = r.backend ?? data.training?.backend;
  const compute = r.compute ?? data.training?.compute;
  if (backend) facts.push(["Backend", backend]);
  if (compute) facts.push(["Compute", compute]);
  if (r.store) facts.push(["Run store", r.store]);
  if (r.failedStage) facts.push(["Stopped at", r.failedStage]);
  let html = factList(facts);
  if (r.stages?.length) {
    html += table(
      "Stages",
      ["Stage", "Status", "Duration"],
      r.stages.map((s) => [s.name, s.status ?? "–", n(s.seconds, seconds(s.seconds))])
    );
  }
  html += r.configDiff?.length ? table(
    "Settings that differ from the defaults",
    ["Setting", "Value", "Default", "Set by"],
    r.configDiff.map((c) => [c.key, value(c.value), value(c.default), c.origin])
  ) : "<p>Configuration: all defaults.</p>";
  if (r.artifacts?.length) {
    html += `<h3>Artifacts</h3><ul>${r.artifacts.map(
      (a) => /^https?:\/\//.test(a.href) ? `<li><a href="${esc(a.href)}">${esc(a.name)}</a></li>` : `<li>${esc(a.name)}: <code>${esc(a.href)}</code></li>`
    ).join("")}</ul>`;
  }
  return html;
}
var STYLE = `
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
.verdict{font-size:18px;font-weight:600;padding:8px 12px;border-radius:6px}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}.verdict.none{background:#f6f8fa}
table{border-collapse:collapse;margin:12px 0;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right;white-space:nowrap}
figure,.scroll{margin:12px 0;overflow-x:auto}figcaption{color:#57606a;font-size:12px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#57606a}dd{margin:0}
code{font-size:12px}
`;
var SCRIPT = `
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    function sort() {
      var body = table.tBodies[0];
      var descending = th.getAttribute("aria-sort") === "ascending";
      table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        if (!cell) return "";
        var sortKey = cell.getAttribute("data-sort");
        if (sortKey !== null && sortKey !== "" && !isNaN(Number(sortKey))) return Number(sortKey);
        return sortKey !== null ? sortKey : cell.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
});
`;
function renderHtmlReport(data) {
  const title = `Model card · run ${data.run.runId}`;
  const body3 = [
    section2("verdict", "Verdict", verdictHtml(data)),
    section2("metrics", "Metrics", metricsHtml(data)),
    section2("history", "Against earlier production models", historyHtml(data)),
    section2("candidate", "The candidate", candidateHtml(data)),
    section2("training", "Training", trainingHtml(data)),
    section2("dag", "dbt DAG", dagHtml(data)),
    section2("slices", "Slices and robustness", slicesHtml(data)),
    section2("drift", "Drift: production traffic", driftHtml(data)),
    section2("data", "Data", dataHtml(data)),
    section2("run", "Run", runHtml(data))
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body3}
<script>${SCRIPT}</script>
</body>
</html>
`;
}

// reports/markdown.ts
import { markdownTable } from "markdown-table";

// reports/mermaid.ts
function chartText(text) {
  return text.replace(/"/g, "'").replace(/[\r\n\t]+/g, " ").replace(/[[\]]/g, (c) => c === "[" ? "(" : ")");
}
function flowLabel(text) {
  return text.replace(/#/g, "#35;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;").replace(/`/g, "#96;").replace(/[\r\n\t]+/g, " ");
}
function nodeId(index2, name2) {
  const tail = name2.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 40);
  return `n${index2}${tail ? `_${tail}` : ""}`;
}
function axisNumber(value2) {
  if (!Number.isFinite(value2) || Math.abs(value2) < 1e-6) return "0";
  return String(Number(value2.toPrecision(4)));
}
var CHART_PALETTE = ["#2f81f7", "#db61a2", "#3fb950", "#d29922"];
function xyChart(chart) {
  const all = chart.series.flatMap((s) => s.values).filter(Number.isFinite);
  const [low, high] = chart.yRange ?? [Math.min(0, ...all), Math.max(...all, 0) * 1.1 || 1];
  const lines = [
    "```mermaid",
    // Mermaid's front matter: the configuration travels with the block.
    "---",
    "config:",
    "  themeVariables:",
    "    xyChart:",
    `      plotColorPalette: "${CHART_PALETTE.join(", ")}"`,
    "---",
    "xychart-beta",
    `  title "${chartText(chart.title)}"`,
    `  x-axis [${chart.categories.map((c) => `"${chartText(c)}"`).join(", ")}]`,
    `  y-axis "${chartText(chart.yLabel)}" ${axisNumber(low)} --> ${axisNumber(high)}`,
    ...chart.series.map(
      (s) => `  ${s.kind} [${s.values.map((v) => Number.isFinite(v) ? axisNumber(v) : "0").join(", ")}]`
    ),
    "```"
  ];
  return lines.join("\n");
}
function dagFlowchart(view) {
  const ids = new Map(view.boxes.map((box, i) => [box.id, nodeId(i, box.name)]));
  const lines = ["```mermaid", "flowchart LR"];
  for (const box of view.boxes) {
    const id = ids.get(box.id);
    const facts = [
      box.type === "source" ? "source" : box.materialized ?? "model",
      box.rows !== void 0 ? `${int(box.rows)} rows` : ""
    ].filter(Boolean);
    const parts = [box.name, facts.join(" · "), tallyText(box.tests)].filter(Boolean);
    const label2 = parts.map(flowLabel).join("<br/>");
    lines.push(box.type === "source" ? `  ${id}[("${label2}")]` : `  ${id}["${label2}"]`);
  }
  for (const [parent, child] of view.edges) {
    const p = ids.get(parent);
    const c = ids.get(child);
    if (p && c) lines.push(`  ${p} --> ${c}`);
  }
  const byState = /* @__PURE__ */ new Map();
  for (const box of view.boxes) {
    const state = boxState(box);
    if (state === "none") continue;
    if (!byState.has(state)) byState.set(state, []);
    byState.get(state)?.push(ids.get(box.id));
  }
  const styles = {
    pass: "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    warn: "fill:#fff8c5,stroke:#9a6700,color:#1f2328",
    fail: "fill:#ffebe9,stroke:#d1242f,color:#1f2328"
  };
  for (const [state, members] of byState) {
    lines.push(`  classDef ${state} ${styles[state]}`);
    lines.push(`  class ${members.join(",")} ${state}`);
  }
  lines.push("```");
  return lines.join("\n");
}

// reports/markdown.ts
var CARD_MARKER = "<!-- mlops-model-card -->";
var COMMENT_LIMIT = 65536;
var MAX_CHART_POINTS = 60;
function renderCard(data, options = {}) {
  const maxLength = options.maxLength ?? COMMENT_LIMIT;
  const where = options.fullReport ?? "the HTML report";
  const pieces = [
    CARD_MARKER,
    `## Model card · run \`${code(data.run.runId)}\``,
    ...(data.notes ?? []).map((note) => `> ${note.replace(/\s+/g, " ").trim()}`),
    ...verdictSection(data, where),
    ...metricsSection(data, where),
    ...candidateSection(data),
    ...chartsSection(data, where),
    ...historySection(data),
    ...slicesSection(data, where),
    ...driftSection(data),
    ...dataSection(data, where),
    ...runSection(data, where)
  ];
  const parts = pieces.filter((p) => typeof p !== "string");
  const render = () => pieces.map((p) => typeof p === "string" ? p : p.render(p.shown)).filter((s) => s.length > 0).join("\n\n") + "\n";
  let card = render();
  while (card.length > maxLength) {
    let longest;
    let longestLength = -1;
    for (const part2 of parts) {
      if (part2.shown === 0) continue;
      const length = part2.render(part2.shown).length;
      if (length > longestLength) {
        longest = part2;
        longestLength = length;
      }
    }
    if (!longest) break;
    longest.shown = Math.floor(longest.shown / 2);
    card = render();
  }
  return card.length <= maxLength ? card : hardCut(card, maxLength);
}
function hardCut(card, maxLength) {
  const note = "\n\n> ✂️ The card was cut here to fit GitHub's comment limit.\n";
  let cut = card.slice(0, Math.max(0, maxLength - note.length - 80));
  const lastLine = cut.lastIndexOf("\n");
  if (lastLine > 0) cut = cut.slice(0, lastLine);
  if ((cut.match(/^```/gm) ?? []).length % 2 === 1) cut += "\n```";
  const open2 = (cut.match(/<details/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  cut += "\n\n</details>".repeat(Math.max(0, open2));
  return cut + note;
}
function part(total, render) {
  const cache2 = /* @__PURE__ */ new Map();
  return {
    total,
    shown: total,
    render(shown) {
      let text = cache2.get(shown);
      if (text === void 0) {
        text = render(shown);
        cache2.set(shown, text);
      }
      return text;
    }
  };
}
function omitted(total, shown, what, where) {
  return shown < total ? `

_${int(total - shown)} more ${what} left out to fit GitHub's comment limit; ${where} has them all._` : "";
}
function cell(text) {
  return text.replace(/[\r\n]+/g, " ").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\|/g, "\\|");
}
function code(text) {
  return clip(text.replace(/`/g, "'"), 200);
}
function table2(header, rows, align) {
  return markdownTable([header, ...rows.map((r) => r.map(cell))], {
    alignDelimiters: false,
    ...align ? { align } : {}
  });
}
function details(summary3, body3, open2 = false) {
  return `<details${open2 ? " open" : ""}><summary>${summary3}</summary>

${body3}

</details>`;
}
function checkRow2(check2) {
  return [
    `${VERDICT_ICON[check2.verdict]} ${check2.verdict}`,
    check2.name,
    check2.kind,
    check2.metric ?? "–",
    value(check2.value),
    value(check2.threshold),
    check2.blocking ? "yes" : "no",
    check2.detail ? clip(check2.detail) : ""
  ];
}
var CHECK_HEADER = [
  "Verdict",
  "Check",
  "Kind",
  "Metric",
  "Value",
  "Threshold",
  "Blocking",
  "Detail"
];
function gateTable(checks) {
  return table2(CHECK_HEADER, checks.map(checkRow2));
}
function verdictSection(data, where) {
  const verdict = data.verdict;
  const stopped = data.run.failedStage ? `The run stopped at the **${cell(data.run.failedStage)}** stage.` : "";
  if (!verdict) {
    return [
      "### ⏸️ No verdict: the evaluation stage has not run",
      stopped || "The card shows what the stages that ran recorded."
    ];
  }
  const failing = verdict.checks.filter((c) => c.verdict === "fail" && c.blocking);
  const warnings = verdict.checks.filter(
    (c) => c.verdict === "warn" || c.verdict === "fail" && !c.blocking
  );
  const headline = verdict.passed ? `### ✅ Gates passed: ${verdict.checks.length} checks, ${warnings.length} warnings` : `### ❌ Gates failed: ${failing.length} of ${verdict.checks.filter((c) => c.blocking).length} blocking checks failed`;
  const flagged = [...failing, ...warnings];
  const pieces = [headline];
  if (stopped) pieces.push(stopped);
  if (flagged.length > 0) {
    pieces.push(
      part(
        flagged.length,
        (shown) => shown === 0 && flagged.length > 0 ? `_${flagged.length} failing or warning checks; ${where} lists them._` : gateTable(flagged.slice(0, shown)) + omitted(flagged.length, shown, "checks", where)
      )
    );
  }
  if (verdict.checks.length > 0) {
    const counts = ["pass", "fail", "warn", "skipped"].map((v) => [v, verdict.checks.filter((c) => c.verdict === v).length]).filter(([, n2]) => n2 > 0).map(([v, n2]) => `${n2} ${v}`).join(", ");
    pieces.push(
      part(
        verdict.checks.length,
        (shown) => details(
          `All ${verdict.checks.length} checks (${counts})`,
          shown === 0 ? `_Left out to fit GitHub's comment limit; ${where} lists them._` : gateTable(verdict.checks.slice(0, shown)) + omitted(verdict.checks.length, shown, "checks", where)
        )
      )
    );
  }
  return pieces;
}
function metricsSection(data, where) {
  const rows = sortedRows(data.metrics ?? []);
  if (rows.length === 0) return [];
  const candidate = rows.find((r) => r.kind === "model");
  const production = rows.find((r) => r.kind === "production");
  const oracle = rows.find((r) => r.kind === "oracle");
  const header = [
    "Recommender",
    "Role",
    ...RANKING_METRICS.map((m) => m.label),
    ...SHARE_METRICS.map((m) => m.label),
    "n"
  ];
  const align = ["l", "l", ...RANKING_METRICS.map(() => "r"), ...SHARE_METRICS.map(() => "r"), "r"];
  const line = (row) => [
    row.kind === "model" ? `**${row.name}**` : row.name,
    ROLE_LABEL[row.kind],
    ...RANKING_METRICS.map((m) => estimate3(row[m.key])),
    ...SHARE_METRICS.map((m) => percent(row[m.key])),
    int(row.hr20?.n ?? row.hr10?.n)
  ];
  const deltaRow = () => {
    const c = candidate;
    const p = production;
    return [
      "_Δ candidate − production_",
      "",
      ...RANKING_METRICS.map((m) => delta(c[m.key]?.value, p[m.key]?.value)),
      ...SHARE_METRICS.map((m) => delta(c[m.key], p[m.key])),
      ""
    ];
  };
  const notes = ["Point estimates with confidence intervals in brackets."];
  if (candidate && oracle && candidate.hr20 && oracle.hr20 && oracle.hr20.value > 0) {
    notes.push(
      `The candidate reaches **${percent(candidate.hr20.value / oracle.hr20.value)}** of the oracle's HR@20 (the best any recommender can do on this data).`
    );
  }
  if (!production) notes.push("No model in production yet: nothing to compare the candidate with.");
  return [
    "### Metrics",
    part(rows.length, (shown) => {
      const body3 = rows.slice(0, Math.max(shown, 0)).map(line);
      if (candidate && production && shown === rows.length) body3.push(deltaRow());
      return table2(header, body3, align) + omitted(rows.length, shown, "recommenders", where);
    }),
    notes.join(" ")
  ];
}
function candidateSection(data) {
  if (!data.candidate) return [];
  const { text, rows, adds } = candidateSummary(data.candidate);
  return [
    "### The candidate",
    [
      text,
      rows.length ? table2(["On validation", "HR@20", "MRR@20"], rows, ["l", "r", "r"]) : "",
      adds ?? ""
    ].filter(Boolean).join("\n\n")
  ];
}
function sampleEpochs(epochs) {
  if (epochs.length <= MAX_CHART_POINTS) return epochs;
  const step2 = Math.ceil(epochs.length / MAX_CHART_POINTS);
  const kept = epochs.filter((_, i) => i % step2 === 0);
  const last = epochs[epochs.length - 1];
  if (kept[kept.length - 1] !== last) kept.push(last);
  return kept;
}
function chartsSection(data, where) {
  const pieces = [];
  const epochs = data.training?.epochs ?? [];
  if (epochs.length > 0) {
    const shown = sampleEpochs(epochs);
    const categories = shown.map((e) => String(e.epoch));
    const training = data.training;
    const facts = [
      training?.bestEpoch !== void 0 ? `best epoch ${training.bestEpoch}` : "",
      training?.stoppedEarly ? "stopped early" : "",
      training?.backend ? `backend ${cell(training.backend)}` : "",
      training?.compute ? `compute ${cell(training.compute)}` : "",
      shown.length < epochs.length ? `${shown.length} of ${epochs.length} epochs drawn` : ""
    ].filter(Boolean);
    pieces.push(
      "### Training",
      facts.length ? facts.join(" · ") : "",
      xyChart({
        title: "Training loss per epoch",
        categories,
        yLabel: "loss",
        series: [{ kind: "line", values: shown.map((e) => e.loss) }]
      }),
      xyChart({
        title: "Validation HR@20 per epoch",
        categories,
        yLabel: "HR@20",
        yRange: [0, Math.min(1, Math.max(...shown.map((e) => e.validationHr20), 0.01) * 1.2)],
        series: [{ kind: "line", values: shown.map((e) => e.validationHr20) }]
      })
    );
  }
  const rows = sortedRows(data.metrics ?? []).filter((r) => r.hr20 || r.mrr20);
  if (rows.length > 0) {
    pieces.push(
      "### Comparison",
      part(rows.length, (shown) => {
        if (shown === 0) return `_Charts left out to fit GitHub's comment limit; see ${where}._`;
        const kept = rows.slice(0, shown);
        const categories = kept.map((r) => r.name);
        const charts = RANKING_METRICS.filter((m) => m.key === "hr20" || m.key === "mrr20").map(
          (m) => xyChart({
            title: `${m.label} by recommender`,
            categories,
            yLabel: m.label,
            series: [{ kind: "bar", values: kept.map((r) => r[m.key]?.value ?? 0) }]
          })
        );
        return charts.join("\n\n") + omitted(rows.length, shown, "recommenders", where);
      })
    );
  }
  if (data.dag && data.dag.nodes.length > 0) {
    const view = dagView(data.dag);
    view.boxes.sort((a, b) => a.layer - b.layer);
    const tests = data.dag.nodes.filter((n2) => n2.type === "test");
    const failed = tests.filter((t) => t.status === "fail" || t.status === "error").length;
    const summary3 = `dbt DAG: ${view.boxes.filter((b) => b.type === "model").length} models, ${view.boxes.filter((b) => b.type === "source").length} sources, ${tests.length} tests${failed ? ` (${failed} failed)` : ""}`;
    pieces.push(
      part(
        view.boxes.length,
        (shown) => details(
          summary3,
          shown === 0 ? `_Left out to fit GitHub's comment limit; ${where} draws it._` : dagFlowchart(firstBoxes(view, shown)) + omitted(view.boxes.length, shown, "DAG nodes", where),
          failed > 0
        )
      )
    );
  }
  return pieces;
}
function historySection(data) {
  const points = data.history ?? [];
  if (points.length === 0) return [];
  const top = Math.max(...points.map((p) => p.hr20.high ?? p.hr20.value), 0.01);
  return [
    "### Against earlier production models",
    xyChart({
      title: "HR@20: production models, then this candidate",
      categories: points.map(historyLabel),
      yLabel: "HR@20",
      yRange: [0, Math.min(1, top * 1.2)],
      // xychart-beta draws no whiskers: the interval's bounds are the two lines.
      series: [
        { kind: "bar", values: points.map((p) => p.hr20.value) },
        { kind: "line", values: points.map((p) => p.hr20.low ?? p.hr20.value) },
        { kind: "line", values: points.map((p) => p.hr20.high ?? p.hr20.value) }
      ]
    }),
    `${historyCaption(points)} Lines: the bounds of their confidence intervals.`
  ];
}
function firstBoxes(view, shown) {
  const boxes = view.boxes.slice(0, shown);
  const ids = new Set(boxes.map((b) => b.id));
  return {
    boxes,
    edges: view.edges.filter(([p, c]) => ids.has(p) && ids.has(c)),
    layers: view.layers
  };
}
function slicesSection(data, where) {
  const slices = data.slices ?? [];
  const robustness2 = data.robustness ?? [];
  if (slices.length === 0 && robustness2.length === 0) return [];
  const pieces = ["### Slices and robustness"];
  if (slices.length > 0) {
    const withRecommender = slices.some((s) => s.recommender !== void 0);
    const header = [
      ...withRecommender ? ["Recommender"] : [],
      "Dimension",
      "Bucket",
      "n",
      "HR@20"
    ];
    const line = (s) => [
      ...withRecommender ? [s.recommender ?? "candidate"] : [],
      s.dimension,
      s.bucket,
      int(s.n),
      num2(s.hr20)
    ];
    const weakest = [...slices].filter((s) => s.n > 0).sort((a, b) => a.hr20 - b.hr20)[0];
    pieces.push(
      part(
        slices.length,
        (shown) => details(
          `${slices.length} slices${weakest ? ` (weakest: ${cell(weakest.dimension)} = ${cell(weakest.bucket)}, HR@20 ${num2(weakest.hr20)})` : ""}`,
          shown === 0 ? `_Left out to fit GitHub's comment limit; ${where} lists them._` : table2(header, slices.slice(0, shown).map(line)) + omitted(slices.length, shown, "slices", where)
        )
      )
    );
  }
  if (robustness2.length > 0) {
    const line = (r) => [
      r.verdict ? `${VERDICT_ICON[r.verdict]} ${r.verdict}` : "",
      r.name,
      r.metric,
      num2(r.clean),
      num2(r.perturbed),
      delta(r.perturbed, r.clean),
      r.detail ? clip(r.detail) : ""
    ];
    pieces.push(
      part(
        robustness2.length,
        (shown) => table2(
          ["Verdict", "Perturbation", "Metric", "Clean", "Perturbed", "Δ", "Detail"],
          robustness2.slice(0, shown).map(line)
        ) + omitted(robustness2.length, shown, "robustness results", where)
      )
    );
  }
  return pieces;
}
function driftSection(data) {
  if (!data.drift) return [];
  return [
    "### Drift: production traffic against the training data",
    table2(["Figure", "Value", "Reading"], driftRows(data.drift), ["l", "r", "l"])
  ];
}
function dataSection(data, where) {
  const facts = data.data;
  if (!facts) return [];
  const rows = [];
  if (facts.source) rows.push(["Source", facts.source]);
  if (facts.rowsRead !== void 0) rows.push(["Rows read", int(facts.rowsRead)]);
  if (facts.rowsLoaded !== void 0) rows.push(["Rows loaded", int(facts.rowsLoaded)]);
  if (facts.rowsRejected !== void 0) {
    const share2 = facts.rowsRead && facts.rowsRead > 0 ? ` (${percent(facts.rowsRejected / facts.rowsRead, 2)})` : "";
    rows.push(["Rows rejected", `${int(facts.rowsRejected)}${share2}`]);
  }
  for (const [split, n2] of Object.entries(facts.sessionsPerSplit ?? {})) {
    rows.push([`Sessions (${split})`, int(n2)]);
  }
  if (facts.vocabularySize !== void 0)
    rows.push(["Vocabulary (SKUs)", int(facts.vocabularySize)]);
  if (facts.unseenSkuShare !== void 0) {
    rows.push(["Unseen-SKU share (test)", percent(facts.unseenSkuShare, 2)]);
  }
  const pieces = ["### Data"];
  if (rows.length > 0) pieces.push(table2(["Fact", "Value"], rows, ["l", "r"]));
  const files = facts.files ?? [];
  if (files.length > 0) {
    pieces.push(
      part(
        files.length,
        (shown) => details(
          `Per file (${files.length})`,
          shown === 0 ? `_Left out to fit GitHub's comment limit; ${where} lists them._` : table2(
            ["File", "Read", "Loaded", "Rejected"],
            files.slice(0, shown).map((f) => [f.name, int(f.read), int(f.loaded), int(f.rejected)]),
            ["l", "r", "r", "r"]
          ) + omitted(files.length, shown, "files", where)
        )
      )
    );
  }
  return pieces.length > 1 ? pieces : [];
}
function runSection(data, where) {
  const run = data.run;
  const facts = [["Run id", `\`${code(run.runId)}\``]];
  if (run.gitSha) facts.push(["Git sha", `\`${code(run.gitSha)}\``]);
  if (run.startedAt) facts.push(["Started", run.startedAt]);
  const backend = run.backend ?? data.training?.backend;
  const compute = run.compute ?? data.training?.compute;
  if (backend) facts.push(["Backend", backend]);
  if (compute) facts.push(["Compute", compute]);
  if (run.store) facts.push(["Run store", `\`${code(run.store)}\``]);
  if (run.failedStage) facts.push(["Stopped at", run.failedStage]);
  const pieces = ["### Run", table2(["Fact", "Value"], facts)];
  const stages = run.stages ?? [];
  if (stages.length > 0) {
    const total = stages.reduce((sum3, s) => sum3 + (s.seconds ?? 0), 0);
    pieces.push(
      part(
        stages.length,
        (shown) => table2(
          ["Stage", "Status", "Duration"],
          [
            ...stages.slice(0, shown).map((s) => [s.name, s.status ?? "–", seconds(s.seconds)]),
            ...shown === stages.length ? [["**total**", "", seconds(total)]] : []
          ],
          ["l", "l", "r"]
        ) + omitted(stages.length, shown, "stages", where)
      )
    );
  }
  const diff = run.configDiff ?? [];
  pieces.push(
    diff.length === 0 ? "Configuration: all defaults." : part(
      diff.length,
      (shown) => details(
        `Configuration: ${diff.length} settings differ from the defaults`,
        shown === 0 ? `_Left out to fit GitHub's comment limit; ${where} lists them._` : table2(
          ["Setting", "Value", "Default", "Set by"],
          diff.slice(0, shown).map((c) => [
            c.key,
            clip(value(c.value), 120),
            clip(value(c.default), 120),
            c.origin
          ])
        ) + omitted(diff.length, shown, "settings", where)
      )
    )
  );
  const artifacts = run.artifacts ?? [];
  if (artifacts.length > 0) {
    pieces.push(
      part(
        artifacts.length,
        (shown) => details(
          `Artifacts (${artifacts.length})`,
          artifacts.slice(0, shown).map((a) => `- ${link2(a.name, a.href)}`).join("\n") + omitted(artifacts.length, shown, "artifacts", where)
        )
      )
    );
  }
  return pieces;
}
function link2(name2, href) {
  const label2 = cell(name2).replace(/[[\]]/g, "");
  if (/^https?:\/\//.test(href))
    return `[${label2}](${href.replace(/[()\s]/g, encodeURIComponent)})`;
  return `${label2}: \`${code(href)}\``;
}

// reports/screenshot.ts
import { accessSync as accessSync2, constants as constants2, statSync as statSync2 } from "node:fs";
import { delimiter as delimiter2, join as join14 } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";
function findChromium(env = process.env) {
  if (env.CHROMIUM_PATH) return isExecutable2(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : void 0;
  for (const name2 of ["chromium", "google-chrome", "google-chrome-stable", "chromium-browser"]) {
    for (const dir of (env.PATH ?? "").split(delimiter2)) {
      const candidate = join14(dir, name2);
      if (dir && isExecutable2(candidate)) return candidate;
    }
  }
  return void 0;
}
function isExecutable2(path2) {
  try {
    accessSync2(path2, constants2.X_OK);
    return statSync2(path2).isFile();
  } catch {
    return false;
  }
}
async function checkReportInBrowser(htmlPath, screenshotPath, executablePath = findChromium()) {
  if (!executablePath) {
    throw new PipelineError(
      "no Chromium found to open the HTML report",
      1,
      "install it (Debian: apt-get install chromium; .ci/run does this) or set CHROMIUM_PATH"
    );
  }
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // Containers and CI runners often lack the user namespaces Chromium's sandbox needs.
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"]
  });
  try {
    const page = await browser.newPage();
    const consoleErrors = [];
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(String(error)));
    page.on("requestfailed", (request) => {
      consoleErrors.push(`request failed: ${request.url()}`);
    });
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: "load" });
    const charts = await page.evaluate(MEASURE_CHARTS);
    const sort = await sortFirstNumericColumn(page);
    const height = Math.min(MAX_SCREENSHOT_HEIGHT, await page.evaluate(PAGE_HEIGHT));
    await page.screenshot({
      path: screenshotPath,
      clip: { x: 0, y: 0, width: 1200, height },
      captureBeyondViewport: true
    });
    return { charts, consoleErrors, ...sort ? { sort } : {}, screenshot: screenshotPath };
  } finally {
    await browser.close();
  }
}
var MAX_SCREENSHOT_HEIGHT = 16e3;
var PAGE_HEIGHT = "document.documentElement.scrollHeight";
var MEASURE_CHARTS = `Array.from(document.querySelectorAll("svg.chart")).map(function (svg) {
  var shapes = Array.from(svg.querySelectorAll("path, rect, circle, line")).filter(function (el) {
    var box = el.getBoundingClientRect();
    return box.width > 0 || box.height > 0;
  }).length;
  var box = svg.getBoundingClientRect();
  var title = svg.querySelector("title");
  return { title: title ? title.textContent : "", shapes: shapes, width: box.width, height: box.height };
})`;
var FIND_NUMERIC_COLUMN = `(function () {
  var tables = document.querySelectorAll("table.sortable");
  for (var t = 0; t < tables.length; t++) {
    var rows = Array.from(tables[t].tBodies[0].rows);
    if (rows.length < 2) continue;
    var headers = tables[t].tHead.rows[0].cells;
    for (var c = 0; c < headers.length; c++) {
      var numeric = rows.every(function (row) {
        var key = row.cells[c] && row.cells[c].getAttribute("data-sort");
        return key !== null && key !== "" && !isNaN(Number(key));
      });
      if (numeric) return [t, c, tables[t].caption ? tables[t].caption.textContent : "", headers[c].textContent];
    }
  }
  return null;
})()`;
var columnAscending = (table3, column) => `(function () {
  var table = document.querySelectorAll("table.sortable")[${table3}];
  var keys = Array.from(table.tBodies[0].rows).map(function (row) {
    return Number(row.cells[${column}].getAttribute("data-sort"));
  });
  return keys.every(function (k, i) { return i === 0 || keys[i - 1] <= k; });
})()`;
async function sortFirstNumericColumn(page) {
  const found = await page.evaluate(FIND_NUMERIC_COLUMN);
  if (!found) return void 0;
  const [table3, column, caption, name2] = found;
  const tables = await page.$$("table.sortable");
  const headers = await tables[table3]?.$$("thead th") ?? [];
  const header = headers[column];
  if (!header) return void 0;
  await header.click();
  const sorted = await page.evaluate(columnAscending(table3, column));
  return { table: caption, column: name2, sorted };
}

// reports/write.ts
async function writeCardArtifacts(store, data, options = {}) {
  const runId2 = data.run.runId;
  const markdown = renderCard(data, { fullReport: "report.html in the run store" });
  const html = renderHtmlReport(data);
  const card = stageKey(runId2, "card", "card.md");
  const report = stageKey(runId2, "card", "report.html");
  await store.put(card, markdown);
  await store.put(report, html);
  const result = { card, report, cardChars: markdown.length, markdown };
  const mode = options.screenshot ?? "auto";
  if (mode === "off") return result;
  const chromium = options.chromiumPath ?? findChromium();
  if (!chromium && mode === "auto") {
    options.reporter?.info(
      "no Chromium found: skipped the report screenshot (install it with apt-get install chromium, or set CHROMIUM_PATH)"
    );
    return result;
  }
  const dir = await mkdtemp5(join15(tmpdir5(), "mlops-card-"));
  try {
    const htmlPath = join15(dir, "report.html");
    const pngPath = join15(dir, "report.png");
    await writeFile6(htmlPath, html);
    const browser = await checkReportInBrowser(htmlPath, pngPath, chromium);
    const screenshot = stageKey(runId2, "card", "report.png");
    await store.putFile(screenshot, pngPath);
    const empty = browser.charts.filter((c) => c.shapes === 0);
    if (browser.consoleErrors.length > 0) {
      options.reporter?.warn(
        `the HTML report logged errors in Chromium: ${browser.consoleErrors.join("; ")}`
      );
    }
    if (empty.length > 0) {
      options.reporter?.warn(
        `charts drew nothing in Chromium: ${empty.map((c) => c.title).join(", ")}`
      );
    }
    return { ...result, screenshot, browser };
  } catch (error) {
    if (mode === "on") throw error;
    options.reporter?.warn(`skipped the report screenshot: Chromium failed (${String(error)})`);
    return result;
  } finally {
    await rm8(dir, { recursive: true, force: true });
  }
}

// pipeline/compute/train-on-batch.ts
import { fileURLToPath as fileURLToPath4 } from "node:url";
import { BatchClient } from "@aws-sdk/client-batch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";

// pipeline/compute/batch.ts
import {
  DescribeJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand
} from "@aws-sdk/client-batch";

// pipeline/compute/aws-errors.ts
function awsErrorDetails(error) {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const meta = error.$metadata;
  return {
    name: error.name,
    message: redact3(error.message),
    statusCode: meta?.httpStatusCode,
    requestId: meta?.requestId
  };
}
function describeAwsError(error) {
  const d = awsErrorDetails(error);
  const status = d.statusCode === void 0 ? "" : ` (HTTP ${d.statusCode})`;
  const request = d.requestId === void 0 ? "" : ` [request id ${d.requestId}]`;
  return `${d.name}${status}: ${d.message}${request}`;
}
var THROTTLING = /* @__PURE__ */ new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailableException"
]);
var NETWORK = /* @__PURE__ */ new Set([
  "TimeoutError",
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN"
]);
function isRetryableAwsError(error) {
  const d = awsErrorDetails(error);
  const code2 = error?.code;
  if (THROTTLING.has(d.name) || NETWORK.has(d.name)) return true;
  if (typeof code2 === "string" && NETWORK.has(code2)) return true;
  if (d.name === "ServerException") return true;
  if (d.statusCode !== void 0 && (d.statusCode === 429 || d.statusCode >= 500)) return true;
  return /too many requests|rate exceeded|throttl/i.test(d.message);
}
function isAccessDenied(error) {
  const d = awsErrorDetails(error);
  return d.name === "AccessDeniedException" || d.statusCode === 403 || /not authorized to perform|access ?denied/i.test(d.message);
}
function redact3(message) {
  return message.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "$1…");
}

// pipeline/compute/batch-job-definition.ts
import {
  DescribeJobDefinitionsCommand,
  RegisterJobDefinitionCommand
} from "@aws-sdk/client-batch";

// pipeline/compute/train-command.ts
var TRAIN_IMAGE_COMMAND = ["train", "--compute", "local"];
var RESERVED_FLAGS = ["--compute", "--run-id", "--store", "--backend"];
function jobDefinitionCommand(backend) {
  return backend === void 0 ? [...TRAIN_IMAGE_COMMAND] : [...TRAIN_IMAGE_COMMAND, "--backend", backend];
}
function trainJobCommand(options) {
  validateRunId(options.runId);
  requireS3Store(options.storeUrl);
  for (const arg of options.args ?? []) {
    const flag = arg.split("=")[0] ?? arg;
    if (RESERVED_FLAGS.includes(flag)) {
      throw new InputError(
        `the train flag ${flag} cannot be passed through to the Batch job: the job sets it itself`,
        { field: "args" },
        "Drop it from the extra train arguments; --run-id and --store come from the run, --compute is local inside the job."
      );
    }
  }
  return [
    ...jobDefinitionCommand(options.backend),
    "--run-id",
    options.runId,
    "--store",
    options.storeUrl,
    ...options.args ?? []
  ];
}
function requireS3Store(storeUrl) {
  if (!storeUrl.startsWith("s3://")) {
    throw new InputError(
      `the run store "${storeUrl}" is a local folder, which a Batch job cannot write to`,
      { field: "store" },
      "Use --store s3://bucket/prefix (or MLOPS_STORE) with --compute batch, or train with --compute local."
    );
  }
  try {
    parseS3Url(storeUrl);
  } catch (error) {
    throw new InputError(error.message, { field: "store" });
  }
}

// pipeline/compute/batch-job-definition.ts
var RETRY_ON_EXIT = [
  { action: "EXIT", onReason: "CannotPullContainerError*" },
  { action: "RETRY", onStatusReason: "Host EC2*" },
  { action: "EXIT", onExitCode: "*" }
];
function trainJobDefinitionSpec(settings, extra = {}) {
  const spec = {
    name: settings.jobDefinition,
    image: settings.image,
    vcpus: settings.vcpus,
    memoryMiB: settings.memoryMiB,
    gpus: settings.gpus,
    command: jobDefinitionCommand(settings.gpus > 0 ? "node-gpu" : void 0),
    environment: {
      // The S3 store's client reads AWS_REGION; without it, it would assume us-east-1.
      AWS_REGION: settings.region,
      // Logs go to CloudWatch: no progress bars (they would be one line per redraw).
      MLOPS_PROGRESS: "off",
      ...extra.environment
    },
    retryAttempts: settings.retryAttempts,
    timeoutSeconds: settings.timeoutSeconds
  };
  if (settings.secrets !== void 0) {
    const secrets = parseBatchSecrets(settings.secrets);
    if (Object.keys(secrets).length > 0) spec.secrets = secrets;
  }
  if (settings.jobRoleArn !== void 0) spec.jobRoleArn = settings.jobRoleArn;
  if (settings.executionRoleArn !== void 0) spec.executionRoleArn = settings.executionRoleArn;
  if (settings.logGroup !== DEFAULT_LOG_GROUP) spec.logGroup = settings.logGroup;
  return spec;
}
function validateJobDefinitionSpec(spec) {
  const problems = [
    ["jobDefinition", jobDefinitionNameProblem(spec.name)],
    ["image", imageProblem(spec.image)],
    ["jobRoleArn", spec.jobRoleArn === void 0 ? void 0 : roleArnProblem(spec.jobRoleArn)],
    [
      "executionRoleArn",
      spec.executionRoleArn === void 0 ? void 0 : roleArnProblem(spec.executionRoleArn)
    ]
  ];
  for (const name2 of [...Object.keys(spec.environment), ...Object.keys(spec.secrets ?? {})]) {
    problems.push([`environment variable ${name2}`, environmentNameProblem(name2)]);
  }
  for (const [name2, arn] of Object.entries(spec.secrets ?? {})) {
    if (!/^arn:aws[a-z-]*:(secretsmanager|ssm):/.test(arn)) {
      problems.push([`secret ${name2}`, "must be a Secrets Manager secret or SSM parameter ARN"]);
    }
  }
  for (const [field2, value2, min] of [
    ["vcpus", spec.vcpus, 1],
    ["memoryMiB", spec.memoryMiB, 4],
    ["gpus", spec.gpus, 0],
    ["retryAttempts", spec.retryAttempts, 1],
    ["timeoutSeconds", spec.timeoutSeconds, 60]
  ]) {
    if (!Number.isInteger(value2) || value2 < min) {
      problems.push([field2, `must be an integer of at least ${min}, got ${value2}`]);
    }
  }
  if (spec.retryAttempts > 10) problems.push(["retryAttempts", "must be at most 10"]);
  if (spec.command.length === 0) problems.push(["command", "must not be empty"]);
  const found = problems.find(([, problem]) => problem !== void 0);
  if (found) {
    throw new InputError(
      `invalid job definition "${spec.name}": ${found[0]} ${found[1]}`,
      { field: `compute.batch.${found[0].split(" ")[0]}` },
      "Fix the compute.batch settings (MLOPS_BATCH_*); nothing was sent to AWS Batch."
    );
  }
}
function registerJobDefinitionInput(spec) {
  const resourceRequirements = [
    { type: "VCPU", value: String(spec.vcpus) },
    { type: "MEMORY", value: String(spec.memoryMiB) }
  ];
  if (spec.gpus > 0) resourceRequirements.push({ type: "GPU", value: String(spec.gpus) });
  const containerProperties = {
    image: spec.image,
    command: [...spec.command],
    environment: Object.entries(spec.environment).sort(([a], [b]) => a.localeCompare(b)).map(([name2, value2]) => ({ name: name2, value: value2 })),
    resourceRequirements
  };
  if (spec.secrets !== void 0 && Object.keys(spec.secrets).length > 0) {
    containerProperties.secrets = Object.entries(spec.secrets).sort(([a], [b]) => a.localeCompare(b)).map(([name2, valueFrom]) => ({ name: name2, valueFrom }));
  }
  if (spec.jobRoleArn !== void 0) containerProperties.jobRoleArn = spec.jobRoleArn;
  if (spec.executionRoleArn !== void 0) {
    containerProperties.executionRoleArn = spec.executionRoleArn;
  }
  if (spec.logGroup !== void 0) {
    containerProperties.logConfiguration = {
      logDriver: "awslogs",
      options: { "awslogs-group": spec.logGroup }
    };
  }
  return {
    jobDefinitionName: spec.name,
    type: "container",
    platformCapabilities: ["EC2"],
    containerProperties,
    retryStrategy: { attempts: spec.retryAttempts, evaluateOnExit: RETRY_ON_EXIT },
    timeout: { attemptDurationSeconds: spec.timeoutSeconds },
    // The ECS task inherits the job's tags (run id), for cost allocation.
    propagateTags: true
  };
}
async function ensureJobDefinition(client, spec) {
  validateJobDefinitionSpec(spec);
  const wanted = registerJobDefinitionInput(spec);
  const latest = await latestActiveRevision(client, spec.name);
  if (latest && sameDefinition(latest, wanted)) {
    return {
      arn: latest.jobDefinitionArn ?? `${spec.name}:${latest.revision}`,
      name: spec.name,
      revision: latest.revision ?? 0,
      action: "reused"
    };
  }
  let output;
  try {
    output = await client.send(new RegisterJobDefinitionCommand(wanted));
  } catch (error) {
    throw new PipelineError(
      `AWS Batch RegisterJobDefinition failed for "${spec.name}": ${describeAwsError(error)}`,
      1,
      isAccessDenied(error) ? "Allow batch:RegisterJobDefinition (and iam:PassRole on the job role) for the identity that runs the pipeline." : "Check the compute.batch settings (image, vcpus, memoryMiB, gpus) against the limits of AWS Batch."
    );
  }
  if (output.jobDefinitionArn === void 0 || output.revision === void 0) {
    throw new PipelineError(
      `AWS Batch RegisterJobDefinition for "${spec.name}" answered without an ARN or revision`
    );
  }
  return {
    arn: output.jobDefinitionArn,
    name: spec.name,
    revision: output.revision,
    action: latest ? "revised" : "created"
  };
}
async function latestActiveRevision(client, name2) {
  let latest;
  let nextToken;
  do {
    let page;
    try {
      page = await client.send(
        new DescribeJobDefinitionsCommand({ jobDefinitionName: name2, status: "ACTIVE", nextToken })
      );
    } catch (error) {
      throw new PipelineError(
        `AWS Batch DescribeJobDefinitions failed for "${name2}": ${describeAwsError(error)}`,
        1,
        isAccessDenied(error) ? "Allow batch:DescribeJobDefinitions for the identity that runs the pipeline." : "Check the AWS credentials and compute.batch.region (MLOPS_BATCH_REGION)."
      );
    }
    for (const definition of page.jobDefinitions ?? []) {
      if ((definition.revision ?? 0) > (latest?.revision ?? 0)) latest = definition;
    }
    nextToken = page.nextToken;
  } while (nextToken !== void 0);
  return latest;
}
function sameDefinition(existing, wanted) {
  return JSON.stringify(canonical(existing.type, existing)) === JSON.stringify(canonical(wanted.type, wanted));
}
var KNOWN_CONTAINER_FIELDS = /* @__PURE__ */ new Set([
  "image",
  "command",
  "environment",
  "resourceRequirements",
  "secrets",
  "jobRoleArn",
  "executionRoleArn",
  "logConfiguration"
]);
function canonical(type, definition) {
  const container = definition.containerProperties ?? {};
  const extras = Object.entries(container).filter(([key, value2]) => !KNOWN_CONTAINER_FIELDS.has(key) && !isEmpty(value2)).sort(([a], [b]) => a.localeCompare(b));
  return {
    type,
    platform: [...definition.platformCapabilities ?? ["EC2"]].sort(),
    image: container.image,
    command: container.command ?? [],
    environment: (container.environment ?? []).map((pair) => [pair.name, pair.value]).sort(([a], [b]) => String(a).localeCompare(String(b))),
    resources: (container.resourceRequirements ?? []).map((r) => [r.type, r.value]).sort(([a], [b]) => String(a).localeCompare(String(b))),
    secrets: (container.secrets ?? []).map((s) => [s.name, s.valueFrom]).sort(([a], [b]) => String(a).localeCompare(String(b))),
    jobRoleArn: container.jobRoleArn ?? null,
    executionRoleArn: container.executionRoleArn ?? null,
    // Batch fills in the default awslogs driver with no options when none was given.
    log: logGroupOf(container.logConfiguration),
    extras,
    parameters: isEmpty(definition.parameters) ? null : definition.parameters,
    retry: canonicalRetry(definition.retryStrategy),
    timeout: definition.timeout?.attemptDurationSeconds ?? null,
    propagateTags: definition.propagateTags ?? false
  };
}
function logGroupOf(log2) {
  if (log2 === void 0) return null;
  if (log2.logDriver !== "awslogs") return `${log2.logDriver}:${JSON.stringify(log2.options ?? {})}`;
  const group2 = log2.options?.["awslogs-group"];
  const others = Object.keys(log2.options ?? {}).filter((key) => key !== "awslogs-group");
  if (others.length > 0) return `awslogs:${JSON.stringify(log2.options)}`;
  return group2 === void 0 || group2 === DEFAULT_LOG_GROUP ? null : group2;
}
function canonicalRetry(retry) {
  return {
    attempts: retry?.attempts ?? 1,
    // Batch treats actions case-insensitively and may echo them in either case.
    onExit: (retry?.evaluateOnExit ?? []).map((rule) => [
      rule.action?.toUpperCase(),
      rule.onStatusReason ?? null,
      rule.onReason ?? null,
      rule.onExitCode ?? null
    ])
  };
}
function isEmpty(value2) {
  if (value2 === void 0 || value2 === null || value2 === false) return true;
  if (Array.isArray(value2)) return value2.length === 0;
  if (typeof value2 === "object") return Object.keys(value2).length === 0;
  return false;
}

// pipeline/compute/batch-logs.ts
import { GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
var MAX_PAGES_PER_DRAIN = 20;
var LINE_PREFIX = "  | ";
var BatchLogTail = class {
  constructor(options) {
    this.options = options;
  }
  options;
  streams = /* @__PURE__ */ new Map();
  recent = [];
  printed = 0;
  /** Set once streaming is impossible (no permission, no log group); the job is still followed. */
  disabled = false;
  /** Lines printed so far, over all streams. */
  get lines() {
    return this.printed;
  }
  /** The last `keep` lines, oldest first. */
  recentLines() {
    return [...this.recent];
  }
  /** Reads what the stream has beyond the token reached, printing each new line. */
  async drain(streamName) {
    if (this.disabled) return;
    const state = this.streams.get(streamName) ?? {};
    this.streams.set(streamName, state);
    for (let page = 0; page < MAX_PAGES_PER_DRAIN; page++) {
      const sent = state.token;
      let output;
      try {
        output = await this.options.client.send(
          new GetLogEventsCommand({
            logGroupName: this.options.logGroup,
            logStreamName: streamName,
            startFromHead: true,
            ...sent === void 0 ? {} : { nextToken: sent }
          })
        );
      } catch (error) {
        this.onError(streamName, error);
        return;
      }
      for (const event of output.events ?? []) this.emit(event.message ?? "");
      const next = output.nextForwardToken;
      if (next !== void 0) state.token = next;
      if (next === void 0 || next === sent) return;
    }
  }
  emit(message) {
    const line = message.replace(/\r?\n$/, "");
    this.printed++;
    this.recent.push(line);
    if (this.recent.length > this.options.keep) this.recent.shift();
    this.options.reporter.info(`${LINE_PREFIX}${line}`);
  }
  onError(streamName, error) {
    const { name: name2, message } = awsErrorDetails(error);
    if (name2 === "ResourceNotFoundException" && !/log group/i.test(message)) return;
    if (isRetryableAwsError(error)) return;
    this.disabled = true;
    const why = isAccessDenied(error) ? `allow logs:GetLogEvents on ${this.options.logGroup} for the identity that runs the pipeline` : name2 === "ResourceNotFoundException" ? `check that the log group ${this.options.logGroup} exists (compute.batch.logGroup, MLOPS_BATCH_LOG_GROUP)` : "see the job's logs in the CloudWatch console";
    this.options.reporter.warn(
      `cannot read the job's log stream ${streamName} in ${this.options.logGroup} (${describeAwsError(error)}): the job is still followed, without its logs; ${why}`
    );
  }
};

// pipeline/compute/code-package.ts
import { existsSync as existsSync9, mkdirSync, readdirSync as readdirSync3, readFileSync as readFileSync4, statSync as statSync3, writeFileSync } from "node:fs";
import { dirname as dirname4, join as join16, relative as relative5, sep as sep5 } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
var CODE_PACKAGE_FOLDERS = ["bin", "pipeline", "dbt", "reports"];
var CODE_PACKAGE_FILES = [
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "gates.yml",
  "pipeline.config.yml"
];
var SKIPPED_NAMES = /* @__PURE__ */ new Set(["node_modules", "target", "logs", "dbt_packages"]);
var CODE_PACKAGE_PREFIX = "code/";
function codePackageKey(sha256) {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new InputError(`"${sha256}" is not a code package address (64 hex digits)`, {
      field: "codePackage"
    });
  }
  return `${CODE_PACKAGE_PREFIX}${sha256}.tar.gz`;
}
function codePackageFiles(root) {
  const files = [];
  const walk2 = (dir) => {
    for (const entry of readdirSync3(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIPPED_NAMES.has(entry.name)) continue;
      if (entry.name.endsWith(".log")) continue;
      const path2 = join16(dir, entry.name);
      if (entry.isDirectory()) walk2(path2);
      else if (entry.isFile()) files.push(relative5(root, path2).split(sep5).join("/"));
    }
  };
  for (const folder of CODE_PACKAGE_FOLDERS) {
    if (existsSync9(join16(root, folder))) walk2(join16(root, folder));
  }
  if (!files.some((file) => file.startsWith("pipeline/"))) {
    throw new InputError(
      `${root} holds no pipeline/ folder: it is not a checkout of this template`,
      { file: root },
      "Build the code package from the repository's root."
    );
  }
  for (const file of CODE_PACKAGE_FILES) {
    if (existsSync9(join16(root, file)) && statSync3(join16(root, file)).isFile()) files.push(file);
  }
  return files.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
}
function buildCodePackage(root) {
  const files = codePackageFiles(root);
  const blocks = [];
  let contentBytes = 0;
  for (const file of files) {
    const body3 = readFileSync4(join16(root, file));
    contentBytes += body3.length;
    blocks.push(tarHeader(file, body3.length), body3, Buffer.alloc(padding(body3.length)));
  }
  blocks.push(Buffer.alloc(1024));
  const tar2 = Buffer.concat(blocks);
  return { sha256: sha256Hex(tar2), bytes: gzipPackage(tar2), files, contentBytes };
}
async function publishCodePackage(store, root) {
  const pkg = buildCodePackage(root);
  const key = codePackageKey(pkg.sha256);
  await store.put(key, pkg.bytes);
  return {
    sha256: pkg.sha256,
    key,
    url: `${store.location.replace(/\/+$/, "")}/${key}`,
    files: pkg.files.length,
    bytes: pkg.bytes.length
  };
}
function gzipPackage(tar2) {
  const gz = gzipSync(tar2, { level: 9 });
  gz[9] = 3;
  return gz;
}
function padding(size) {
  return (512 - size % 512) % 512;
}
function tarHeader(path2, size) {
  const header = Buffer.alloc(512);
  const name2 = Buffer.from(path2, "utf8");
  let prefix = Buffer.alloc(0);
  let base = name2;
  if (name2.length > 100) {
    const cut = path2.lastIndexOf("/", path2.length - 1);
    const head = Buffer.from(path2.slice(0, cut), "utf8");
    const tail = Buffer.from(path2.slice(cut + 1), "utf8");
    if (cut <= 0 || head.length > 155 || tail.length > 100) {
      throw new InputError(
        `${path2} is too long a path for the code package (ustar allows 155 + 100 bytes)`,
        { file: path2 },
        "Shorten the file's name or folder."
      );
    }
    prefix = head;
    base = tail;
  }
  base.copy(header, 0);
  octal(header, 100, 8, 420);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, size);
  octal(header, 136, 12, 0);
  header.write("0", 156, "ascii");
  header.write("ustar\x0000", 257, "ascii");
  prefix.copy(header, 345);
  header.fill(" ", 148, 156);
  let sum3 = 0;
  for (const byte of header) sum3 += byte;
  header.write(`${sum3.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return header;
}
function octal(header, offset, length, value2) {
  header.write(`${value2.toString(8).padStart(length - 1, "0")}\0`, offset, "ascii");
}

// pipeline/compute/code-bootstrap.ts
var CODE_PACKAGE_ENV = "MLOPS_CODE_PACKAGE";
function parseCodePackageUrl(url) {
  const match = /^(.*)\/(code\/([0-9a-f]{64})\.tar\.gz)$/.exec(url.trim());
  if (!match || match[1] === "") {
    throw new InputError(
      `${CODE_PACKAGE_ENV} "${url}" does not name a code package (<run store>/${CODE_PACKAGE_PREFIX}<sha256>.tar.gz)`,
      { field: CODE_PACKAGE_ENV },
      "The train stage sets it when it submits the job; run `pipeline train --compute batch` instead of starting the job by hand."
    );
  }
  return { store: match[1], key: match[2], sha256: match[3] };
}

// pipeline/config/setting-spec.ts
function sectionDefaults(specs, section3) {
  const defaults = {};
  for (const spec of specs) {
    if (spec.key.startsWith(section3) && spec.default !== void 0) {
      defaults[spec.key.slice(section3.length)] = spec.default;
    }
  }
  return defaults;
}

// pipeline/compute/batch-settings.ts
var FALLBACK_REGION = "us-east-1";
var DEFAULTS = sectionDefaults(BATCH_SETTING_SPECS, "compute.batch.");
var SPEC_BY_FIELD = new Map(
  BATCH_SETTING_SPECS.map((spec) => [spec.key.slice("compute.batch.".length), spec])
);
function settingError2(field2, message) {
  const spec = SPEC_BY_FIELD.get(field2);
  const key = spec?.key ?? `compute.batch.${field2}`;
  const where = spec ? `${key} in the config file, ${spec.env} or ${spec.flag}` : key;
  return new InputError(message, { field: key }, `Set ${where}.`);
}
function resolveBatchSettings(values, env = process.env) {
  const region = values.region ?? nonEmpty2(env.AWS_REGION) ?? nonEmpty2(env.AWS_DEFAULT_REGION) ?? FALLBACK_REGION;
  if (values.queue === void 0 || values.queue === "") {
    throw settingError2("queue", "no AWS Batch job queue is set: --compute batch needs one");
  }
  if (values.image === void 0 || values.image === "") {
    throw settingError2("image", "no train image is set: --compute batch needs one");
  }
  const settings = {
    ...DEFAULTS,
    ...withoutUndefined(values),
    queue: values.queue,
    image: values.image,
    region
  };
  validateBatchSettings(settings);
  return settings;
}
function validateBatchSettings(settings) {
  const nameChecks = [
    ["queue", settings.queue, queueProblem],
    ["jobDefinition", settings.jobDefinition, jobDefinitionNameProblem],
    ["image", settings.image, imageProblem],
    ["jobRoleArn", settings.jobRoleArn, roleArnProblem],
    ["executionRoleArn", settings.executionRoleArn, roleArnProblem],
    ["secrets", settings.secrets, secretsProblem]
  ];
  for (const [field2, value2, problem] of nameChecks) {
    if (value2 === void 0) continue;
    const why = problem(value2);
    if (why !== void 0) throw settingError2(field2, `invalid ${field2} "${value2}": ${why}`);
  }
  if (!REGION.test(settings.region)) {
    throw settingError2("region", `invalid region "${settings.region}": expected e.g. eu-west-1`);
  }
  if (!LOG_GROUP.test(settings.logGroup)) {
    throw settingError2(
      "logGroup",
      `invalid log group "${settings.logGroup}": 1-512 letters, digits and . _ - / #`
    );
  }
  const ranges = [
    ["vcpus", 1, 256],
    ["memoryMiB", 512, 4194304],
    ["gpus", 0, 16],
    ["timeoutSeconds", 60, 1209600],
    ["retryAttempts", 1, 10],
    ["runnableWarnSeconds", 1, 1209600],
    ["runnableTimeoutSeconds", 1, 1209600]
  ];
  for (const [field2, min, max2] of ranges) {
    const value2 = settings[field2];
    if (typeof value2 !== "number" || !Number.isInteger(value2) || value2 < min || value2 > max2) {
      throw settingError2(
        field2,
        `invalid ${field2} ${String(value2)}: expected an integer from ${min} to ${max2}`
      );
    }
  }
  const secrets = settings.secrets === void 0 ? {} : parseBatchSecrets(settings.secrets);
  if (Object.keys(secrets).length > 0 && settings.executionRoleArn === void 0) {
    throw settingError2(
      "executionRoleArn",
      `compute.batch.secrets names ${Object.keys(secrets).join(", ")}, but no execution role is set: ECS needs one to read them`
    );
  }
  if (settings.runnableWarnSeconds >= settings.runnableTimeoutSeconds) {
    throw settingError2(
      "runnableWarnSeconds",
      `runnableWarnSeconds (${settings.runnableWarnSeconds}) must be below runnableTimeoutSeconds (${settings.runnableTimeoutSeconds}): the warning would never show`
    );
  }
}
function withoutUndefined(values) {
  return Object.fromEntries(
    Object.entries(values).filter(([, value2]) => value2 !== void 0)
  );
}
function nonEmpty2(value2) {
  return value2 === void 0 || value2 === "" ? void 0 : value2;
}

// pipeline/compute/batch.ts
var systemClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise((resolve4) => {
    if (signal?.aborted) return resolve4();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve4();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  })
};
function interruptSignal(source = process, signals = ["SIGINT", "SIGTERM"]) {
  const controller = new AbortController();
  const listeners = signals.map((name2) => {
    const listener = () => {
      dispose2();
      controller.abort(name2);
    };
    source.once(name2, listener);
    return [name2, listener];
  });
  function dispose2() {
    for (const [name2, listener] of listeners) source.off(name2, listener);
  }
  return { signal: controller.signal, dispose: dispose2 };
}
var DEFAULT_POLL = {
  initialMs: 5e3,
  maxMs: 3e4,
  factor: 1.5,
  describeRetries: 6
};
var TERMINAL = /* @__PURE__ */ new Set(["SUCCEEDED", "FAILED"]);
function trainJobName(runId2) {
  const name2 = `mlops-train-${runId2.replace(/[^A-Za-z0-9_-]/g, "-")}`.slice(0, 128);
  const problem = jobNameProblem(name2);
  if (problem !== void 0)
    throw new InputError(`job name "${name2}" ${problem}`, { field: "runId" });
  return name2;
}
async function runBatchTraining(options) {
  const { settings, reporter, signal } = options;
  const clock = options.clock ?? systemClock;
  const poll = { ...DEFAULT_POLL, ...options.poll };
  validateBatchSettings(settings);
  requireS3Store(options.storeUrl);
  const jobName = trainJobName(options.runId);
  const command = trainJobCommand({
    runId: options.runId,
    storeUrl: options.storeUrl,
    backend: settings.gpus > 0 ? "node-gpu" : void 0,
    args: options.trainArgs
  });
  const spec = trainJobDefinitionSpec(settings, { environment: options.environment });
  parseCodePackageUrl(options.codePackageUrl);
  const runEnvironment = {
    MLOPS_RUN_ID: options.runId,
    MLOPS_STORE: options.storeUrl,
    [CODE_PACKAGE_ENV]: options.codePackageUrl,
    ...options.gitSha ? { MLOPS_GIT_SHA: options.gitSha } : {}
  };
  for (const name2 of Object.keys(spec.environment)) {
    if (name2 in runEnvironment || name2 === "MLOPS_GIT_SHA") {
      throw new InputError(`the job environment must not set ${name2}: each run sets it`, {
        field: "environment"
      });
    }
  }
  validateJobDefinitionSpec(spec);
  throwIfAborted(signal, "before the job was submitted");
  const definition = await ensureJobDefinition(options.batch, spec);
  reporter.info(
    `AWS Batch job definition ${definition.name}:${definition.revision} (${definition.action})`
  );
  throwIfAborted(signal, "before the job was submitted");
  const started = clock.now();
  const jobId = await submit(options, jobName, definition.arn, command, runEnvironment);
  reporter.info(
    `submitted AWS Batch job ${jobName} (${jobId}) to queue ${settings.queue} in ${settings.region}: ${settings.gpus} GPU, ${settings.vcpus} vCPU, ${settings.memoryMiB} MiB`
  );
  const logs = new BatchLogTail({
    client: options.logs,
    logGroup: settings.logGroup,
    reporter,
    keep: options.tailLines ?? 30
  });
  const follower = new JobFollower(options, clock, poll, logs, jobId, jobName);
  const job = await follower.follow();
  return {
    jobId,
    jobName,
    jobDefinitionArn: definition.arn,
    status: "SUCCEEDED",
    attempts: Math.max(1, job.attempts?.length ?? 0),
    durations: {
      totalSeconds: (clock.now() - started) / 1e3,
      ...secondsBetween("queuedSeconds", job.createdAt, job.startedAt),
      ...secondsBetween("runningSeconds", job.startedAt, job.stoppedAt),
      byStatus: follower.byStatus
    },
    logLines: logs.lines
  };
}
async function submit(options, jobName, jobDefinition, command, environment) {
  let output;
  try {
    output = await options.batch.send(
      new SubmitJobCommand({
        jobName,
        jobQueue: options.settings.queue,
        jobDefinition,
        containerOverrides: {
          command,
          environment: Object.entries(environment).map(([name2, value2]) => ({ name: name2, value: value2 }))
        },
        propagateTags: true,
        tags: { ...options.tags, "mlops:run-id": options.runId, "mlops:stage": "train" }
      })
    );
  } catch (error) {
    throw new PipelineError(
      `AWS Batch SubmitJob failed for ${jobName} on queue ${options.settings.queue}: ${describeAwsError(error)}`,
      1,
      isAccessDenied(error) ? "Allow batch:SubmitJob and batch:TagResource on the job queue and job definition for the identity that runs the pipeline." : `Check that the job queue ${options.settings.queue} exists in ${options.settings.region} and is ENABLED (aws batch describe-job-queues).`
    );
  }
  if (output.jobId === void 0) {
    throw new PipelineError(`AWS Batch SubmitJob for ${jobName} answered without a job id`);
  }
  return output.jobId;
}
var JobFollower = class {
  constructor(options, clock, poll, logs, jobId, jobName) {
    this.options = options;
    this.clock = clock;
    this.poll = poll;
    this.logs = logs;
    this.jobId = jobId;
    this.jobName = jobName;
  }
  options;
  clock;
  poll;
  logs;
  jobId;
  jobName;
  byStatus = {};
  status;
  statusSince = 0;
  runnableWarned = false;
  attemptsSeen = 0;
  /** Streams of earlier attempts that were read to their end. */
  finishedStreams = /* @__PURE__ */ new Set();
  get label() {
    return `AWS Batch job ${this.jobName} (${this.jobId})`;
  }
  async follow() {
    const { signal } = this.options;
    let wait = this.poll.initialMs;
    for (; ; ) {
      if (signal?.aborted) await this.cancel(abortReason(signal));
      const job = await this.describe();
      if (signal?.aborted) await this.cancel(abortReason(signal));
      const status = job.status;
      if (status !== this.status) {
        this.onStatusChange(job, status);
        wait = this.poll.initialMs;
      }
      this.onNewAttempts(job);
      await this.readLogs(job);
      if (status === "SUCCEEDED") return job;
      if (status === "FAILED") throw this.failure(job);
      if (status === "RUNNABLE") await this.checkRunnable();
      await this.clock.sleep(wait, signal);
      wait = Math.min(this.poll.maxMs, Math.round(wait * this.poll.factor));
    }
  }
  /** DescribeJobs, retried with backoff on throttling and other passing failures. */
  async describe() {
    for (let failures = 0; ; ) {
      let job;
      let problem;
      try {
        const output = await this.options.batch.send(
          new DescribeJobsCommand({ jobs: [this.jobId] })
        );
        job = output.jobs?.find((candidate) => candidate.jobId === this.jobId);
        problem = "the job is not listed yet";
      } catch (error) {
        if (!isRetryableAwsError(error)) {
          throw new PipelineError(
            `AWS Batch DescribeJobs failed for ${this.label}: ${describeAwsError(error)}`,
            1,
            isAccessDenied(error) ? `Allow batch:DescribeJobs for the identity that runs the pipeline. The job keeps running: cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled if needed.` : `The job keeps running: follow it in the AWS Batch console, or cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled.`
          );
        }
        problem = describeAwsError(error);
      }
      if (job?.status !== void 0) return job;
      failures++;
      if (failures > this.poll.describeRetries) {
        throw new PipelineError(
          `AWS Batch DescribeJobs kept failing for ${this.label} (${failures} tries, last: ${problem})`,
          1,
          `The job may still be running: check it in the AWS Batch console (region ${this.options.settings.region}), or cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled.`
        );
      }
      const delay = Math.min(this.poll.maxMs, this.poll.initialMs * 2 ** (failures - 1));
      this.options.reporter.info(
        `DescribeJobs for ${this.jobId}: ${problem}; trying again in ${formatSeconds(delay / 1e3)}`
      );
      await this.clock.sleep(delay, this.options.signal);
      if (this.options.signal?.aborted) await this.cancel(abortReason(this.options.signal));
    }
  }
  onStatusChange(job, status) {
    const now = this.clock.now();
    if (this.status !== void 0) {
      const seconds2 = (now - this.statusSince) / 1e3;
      this.byStatus[this.status] = (this.byStatus[this.status] ?? 0) + seconds2;
    }
    const from = this.status === void 0 ? "" : `${this.status} → `;
    const attempt = status === "RUNNING" ? ` (attempt ${(job.attempts?.length ?? 0) + 1})` : "";
    const reason = job.statusReason && !TERMINAL.has(status) ? `: ${job.statusReason}` : "";
    this.options.reporter.info(`${this.label}: ${from}${status}${attempt}${reason}`);
    if (status === "RUNNABLE") this.runnableWarned = false;
    this.status = status;
    this.statusSince = now;
  }
  /** An attempt ended and Batch retried the job (the instance went away). */
  onNewAttempts(job) {
    const attempts = job.attempts ?? [];
    if (TERMINAL.has(job.status)) {
      this.attemptsSeen = attempts.length;
      return;
    }
    for (let i = this.attemptsSeen; i < attempts.length; i++) {
      const attempt = attempts[i];
      const exit = attempt?.container?.exitCode;
      this.options.reporter.warn(
        `${this.label}: attempt ${i + 1} ended (${attempt?.statusReason ?? "no reason given"}${exit === void 0 ? "" : `, exit code ${exit}`}); Batch retries it`
      );
    }
    this.attemptsSeen = attempts.length;
  }
  /**
   * Prints new lines of every attempt's stream, earlier attempts first. `attempts` lists only
   * attempts that ended: their streams are read to the end once. The running attempt's stream
   * (job.container) is read on every poll.
   */
  async readLogs(job) {
    for (const attempt of job.attempts ?? []) {
      const stream = attempt.container?.logStreamName;
      if (stream === void 0 || this.finishedStreams.has(stream)) continue;
      await this.logs.drain(stream);
      this.finishedStreams.add(stream);
    }
    const current = job.container?.logStreamName;
    const started = job.status === "RUNNING" || TERMINAL.has(job.status);
    if (current !== void 0 && started && !this.finishedStreams.has(current)) {
      await this.logs.drain(current);
    }
  }
  async checkRunnable() {
    const { settings, reporter } = this.options;
    const seconds2 = (this.clock.now() - this.statusSince) / 1e3;
    if (seconds2 >= settings.runnableTimeoutSeconds) {
      const reason = `RUNNABLE for ${formatSeconds(seconds2)}, over compute.batch.runnableTimeoutSeconds (${settings.runnableTimeoutSeconds} s)`;
      await this.terminate(`no capacity: ${reason}`);
      throw new PipelineError(
        `${this.label} was terminated: it stayed ${reason} without an instance to run on`,
        1,
        capacityHint(settings)
      );
    }
    if (!this.runnableWarned && seconds2 >= settings.runnableWarnSeconds) {
      this.runnableWarned = true;
      reporter.warn(
        `${this.label} has been RUNNABLE for ${formatSeconds(seconds2)}: no instance has taken it yet. ${capacityHint(settings)}`
      );
    }
  }
  async cancel(reason) {
    await this.terminate(`cancelled: ${reason}`);
    throw new PipelineError(
      `${this.label} was cancelled (${reason}) and terminated`,
      1,
      `Run the train stage again (same --run-id to keep the run) to submit a new job.`
    );
  }
  /** TerminateJob also cancels a job that has not started yet. Tried a few times: it matters. */
  async terminate(reason) {
    const { reporter } = this.options;
    for (let tries = 1; ; tries++) {
      try {
        await this.options.batch.send(
          new TerminateJobCommand({ jobId: this.jobId, reason: reason.slice(0, 1024) })
        );
        reporter.warn(`terminated ${this.label}: ${reason}`);
        return;
      } catch (error) {
        if (tries < 3 && isRetryableAwsError(error)) {
          await this.clock.sleep(this.poll.initialMs * tries);
          continue;
        }
        reporter.warn(
          `could not terminate ${this.label} (${describeAwsError(error)}): terminate it by hand with aws batch terminate-job --job-id ${this.jobId} --reason cancelled`
        );
        return;
      }
    }
  }
  failure(job) {
    const attempts = job.attempts ?? [];
    const last = attempts[attempts.length - 1];
    const exitCode = job.container?.exitCode ?? last?.container?.exitCode;
    const containerReason = job.container?.reason ?? last?.container?.reason;
    const statusReason = job.statusReason ?? last?.statusReason ?? "no reason given";
    const parts = [
      `${this.label} FAILED after ${Math.max(1, attempts.length)} attempt(s): ${statusReason}`
    ];
    if (exitCode !== void 0 || containerReason !== void 0) {
      parts.push(
        `container ${exitCode === void 0 ? "did not exit" : `exit code ${exitCode}`}${containerReason ? ` (${containerReason})` : ""}`
      );
    }
    const lines = this.logs.recentLines();
    let message = parts.join("; ");
    message += lines.length ? `
last ${lines.length} log line(s):
${lines.map((line) => `  | ${line}`).join("\n")}` : "\n(no log lines were read from the job)";
    return new PipelineError(
      message,
      1,
      failureHint(this.options, statusReason, exitCode, containerReason)
    );
  }
};
function failureHint(options, statusReason, exitCode, containerReason) {
  const { settings } = options;
  const reason = `${statusReason} ${containerReason ?? ""}`;
  if (exitCode === 137 || /OutOfMemory|out of memory/i.test(reason)) {
    return `The container ran out of memory: raise compute.batch.memoryMiB (MLOPS_BATCH_MEMORY_MIB, now ${settings.memoryMiB}) or lower the training batch size.`;
  }
  if (/CannotPullContainer/i.test(reason)) {
    return `The image ${settings.image} could not be pulled: check that it exists and that the instance role can pull it (ecr:GetAuthorizationToken, ecr:BatchGetImage). The images workflow pushes the tag of each lockfile from main (\`pipeline images\` prints it); a branch that changes dependencies or containers/ has no image until that runs: train it with --compute local meanwhile.`;
  }
  if (/timeout/i.test(statusReason)) {
    return `The attempt ran past compute.batch.timeoutSeconds (MLOPS_BATCH_TIMEOUT_SECONDS, now ${settings.timeoutSeconds}): raise it or train fewer epochs.`;
  }
  if (/^Host EC2/i.test(statusReason)) {
    return `The instance went away in every attempt (Spot reclaims?): raise compute.batch.retryAttempts (now ${settings.retryAttempts}) or use an on-demand compute environment.`;
  }
  if (exitCode !== void 0) {
    return `The training CLI failed inside the container: see the log lines above (the full stream is in CloudWatch group ${settings.logGroup}). The same command runs locally: pipeline train --compute local --run-id ${options.runId} --store ${options.storeUrl}.`;
  }
  return `See the job in the AWS Batch console (region ${settings.region}) and its logs in CloudWatch group ${settings.logGroup}.`;
}
function capacityHint(settings) {
  const gpu = settings.gpus > 0 ? ` that its instance types include GPU instances (g4dn, g5, p3) with ${settings.gpus} GPU(s),` : "";
  return `Check the compute environments of job queue ${settings.queue}: that they are ENABLED and VALID (aws batch describe-compute-environments),${gpu} that one instance type offers ${settings.vcpus} vCPUs and ${settings.memoryMiB} MiB (minus what the ECS agent keeps), that maxvCpus leaves room, and that the account's EC2 vCPU quota allows them (Service Quotas: "Running On-Demand G and VT instances" or "All G and VT Spot Instance Requests").`;
}
function throwIfAborted(signal, when) {
  if (signal?.aborted) {
    throw new PipelineError(`AWS Batch training was cancelled ${when} (${abortReason(signal)})`);
  }
}
function abortReason(signal) {
  const reason = signal.reason;
  if (typeof reason === "string") return reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason.message;
  return "aborted";
}
function secondsBetween(key, from, to) {
  return from !== void 0 && to !== void 0 && to >= from ? { [key]: (to - from) / 1e3 } : {};
}
function formatSeconds(seconds2) {
  if (seconds2 < 600) return `${Math.round(seconds2)} s`;
  return `${Math.round(seconds2 / 60)} min`;
}

// pipeline/compute/images.ts
import { createHash as createHash11 } from "node:crypto";
import { existsSync as existsSync10, readFileSync as readFileSync5 } from "node:fs";
import { join as join17 } from "node:path";
import { fileURLToPath as fileURLToPath3 } from "node:url";
var IMAGES = {
  train: {
    dockerfile: "containers/train.Dockerfile",
    // package.json is copied too, but npm ci refuses one whose dependencies differ from the
    // lockfile's, so the lockfile alone decides what gets installed.
    inputs: [
      "containers/train.Dockerfile",
      "containers/train.Dockerfile.dockerignore",
      "package-lock.json",
      "containers/dist/train-bootstrap.mjs"
    ],
    setting: "compute.batch.image",
    env: "MLOPS_BATCH_IMAGE"
  },
  serve: {
    dockerfile: "containers/serve.Dockerfile",
    inputs: [
      "containers/serve.Dockerfile",
      "containers/serve.Dockerfile.dockerignore",
      "containers/dist/serve.js"
    ],
    setting: "promote.sagemaker.image",
    env: "MLOPS_SAGEMAKER_IMAGE"
  }
};
var CHECKOUT_ROOT = fileURLToPath3(new URL("../..", __moduleUrl));
function imageTag(kind, root = CHECKOUT_ROOT) {
  const hash2 = createHash11("sha256");
  for (const input of IMAGES[kind].inputs) {
    const path2 = join17(root, input);
    if (!existsSync10(path2)) {
      throw new InputError(
        `${input} is missing, so the ${kind} image's tag cannot be computed`,
        { file: input },
        input.startsWith("containers/dist/") ? "Run `npm run bundle` to write it." : void 0
      );
    }
    hash2.update(`${input}\0`);
    hash2.update(createHash11("sha256").update(readFileSync5(path2)).digest("hex"));
    hash2.update("\n");
  }
  return `sha256-${hash2.digest("hex").slice(0, 24)}`;
}
function hasTagOrDigest(reference) {
  const last = reference.slice(reference.lastIndexOf("/") + 1);
  return last.includes(":") || reference.includes("@");
}
function resolveImage(reference, kind, root) {
  return hasTagOrDigest(reference) ? reference : withTag(reference, imageTag(kind, root));
}
function withTag(reference, tag) {
  return hasTagOrDigest(reference) ? reference : `${reference}:${tag}`;
}

// pipeline/run/versions.ts
import { execFileSync } from "node:child_process";
import { existsSync as existsSync11, readFileSync as readFileSync6 } from "node:fs";
import { createRequire as createRequire2 } from "node:module";
var require2 = createRequire2(__moduleUrl);
function packageVersion(name2) {
  try {
    const path2 = require2.resolve(`${name2}/package.json`);
    return JSON.parse(readFileSync6(path2, "utf8")).version;
  } catch {
    return "not installed";
  }
}
function versions() {
  const own = JSON.parse(readFileSync6(new URL("../../package.json", __moduleUrl), "utf8"));
  return {
    [own.name]: own.version,
    node: process.versions.node,
    "@duckdb/node-api": packageVersion("@duckdb/node-api")
  };
}
function gitSha() {
  if (process.env.MLOPS_GIT_SHA) return process.env.MLOPS_GIT_SHA;
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      stdio: ["ignore", "pipe", "ignore"],
      cwd: new URL("../..", __moduleUrl)
    }).toString().trim();
  } catch {
    return void 0;
  }
}
function pullRequest(env = process.env) {
  if (env.GITHUB_EVENT_NAME !== "pull_request" || !env.GITHUB_EVENT_PATH) return void 0;
  if (!existsSync11(env.GITHUB_EVENT_PATH)) return void 0;
  try {
    const event = JSON.parse(readFileSync6(env.GITHUB_EVENT_PATH, "utf8"));
    const number = event.pull_request?.number;
    const headSha = event.pull_request?.head?.sha;
    if (typeof number !== "number" || typeof headSha !== "string") return void 0;
    if (!/^[0-9a-f]{40}$/.test(headSha)) return void 0;
    return { number, headSha };
  } catch {
    return void 0;
  }
}

// pipeline/compute/train-on-batch.ts
var CHECKOUT_ROOT2 = fileURLToPath4(new URL("../..", __moduleUrl));
var SECRET_SNOWFLAKE_ENV = /* @__PURE__ */ new Set([
  SNOWFLAKE_ENV.password,
  SNOWFLAKE_ENV.privateKey,
  SNOWFLAKE_ENV.passphrase,
  SNOWFLAKE_ENV.token,
  SNOWFLAKE_ENV.privateKeyPath
]);
function trainArgs(config) {
  const args = [];
  for (const spec of SETTINGS) {
    if (!spec.flag || !/^(train|model)\./.test(spec.key)) continue;
    if (spec.key === "train.compute" || spec.key === "train.backend") continue;
    const value2 = getPath(config, spec.key);
    if (value2 !== void 0) args.push(spec.flag, String(value2));
  }
  return args;
}
function snowflakeConnection(env) {
  const names = Object.values(SNOWFLAKE_ENV).filter((name2) => !SECRET_SNOWFLAKE_ENV.has(name2));
  const connection = Object.fromEntries(
    names.flatMap((name2) => env[name2] ? [[name2, env[name2]]] : [])
  );
  if (needsOidcToken({ ...env, [SNOWFLAKE_ENV.token]: void 0 })) {
    connection[SNOWFLAKE_ENV.provider] = "AWS";
  }
  return connection;
}
async function trainOnBatch(input) {
  const { config, runId: runId2, reporter } = input;
  if (!config.store.startsWith("s3://")) {
    throw new InputError(
      `--compute batch needs an S3 run store the job can write to, not "${config.store}"`,
      { field: "store" },
      "pass --store s3://bucket/prefix (or set MLOPS_STORE)"
    );
  }
  if (config.warehouse !== "snowflake") {
    throw new InputError(
      `--compute batch needs a warehouse the job can reach; "${config.warehouse}" is a file on this machine`,
      { field: "warehouse" },
      "use --warehouse snowflake with --compute batch, or train here with --compute local"
    );
  }
  const { image } = config.compute.batch;
  const settings = resolveBatchSettings({
    ...config.compute.batch,
    ...image ? { image: resolveImage(image, "train", input.checkoutRoot) } : {}
  });
  const code2 = await publishCodePackage(input.store, input.checkoutRoot ?? CHECKOUT_ROOT2);
  reporter.info(
    `code package ${code2.sha256.slice(0, 12)}: ${code2.files} files, ${Math.ceil(code2.bytes / 1024)} KiB, at ${code2.url}`
  );
  const commit = gitSha();
  const interrupt = interruptSignal();
  let job;
  try {
    job = await runBatchTraining({
      batch: new BatchClient({ region: settings.region }),
      logs: new CloudWatchLogsClient({ region: settings.region }),
      settings,
      runId: runId2,
      storeUrl: config.store,
      trainArgs: trainArgs(config),
      codePackageUrl: code2.url,
      ...commit ? { gitSha: commit } : {},
      environment: {
        MLOPS_WAREHOUSE: config.warehouse,
        MLOPS_TENANT: config.tenant,
        ...snowflakeConnection(process.env)
      },
      reporter,
      signal: interrupt.signal
    });
  } finally {
    interrupt.dispose();
  }
  const record = await readStageResult(input.store, runId2, "train");
  if (record?.status !== "succeeded" || record.result === null) {
    throw new PipelineError(
      `AWS Batch job ${job.jobId} succeeded but wrote no successful train record to ${config.store}/${stageKey(runId2, "train", "")}`,
      1,
      "check the job's log above and that its role may write to the store"
    );
  }
  const { status: _status, ...batchJob } = job;
  const { url: _url, ...codePackage } = code2;
  return { ...record.result, compute: "batch", batchJob, codePackage };
}

// pipeline/promote/promote.ts
import { mkdtemp as mkdtemp8, rm as rm11 } from "node:fs/promises";
import { tmpdir as tmpdir8 } from "node:os";
import { join as join20 } from "node:path";

// pipeline/promote/decision.ts
var METRICS = [
  ["hr20", "HR@20"],
  ["mrr20", "MRR@20"]
];
function decidePromotion(input) {
  const { gates, challenger, champion, force, tolerance } = input;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`promotion tolerance must be a number >= 0, got ${tolerance}`);
  }
  if (!gates.passed) {
    const failed = gates.failedBlocking.length ? gates.failedBlocking.join(", ") : "unnamed";
    if (input.overrideGates) {
      return {
        promote: true,
        forced: true,
        verdict: "gates-failed",
        reason: `blocking gates failed (${failed}) but --override-gates was given`
      };
    }
    return {
      promote: false,
      forced: false,
      verdict: "gates-failed",
      reason: `blocking gates failed (${failed}); --force does not override failed gates (use --override-gates to ship it anyway)`
    };
  }
  if (!champion) {
    return {
      promote: true,
      forced: false,
      verdict: "no-champion",
      reason: `no model in production; challenger HR@20 ${fmt2(challenger.hr20)}`
    };
  }
  const worse2 = METRICS.filter(([key]) => {
    const paired = input.difference?.[key];
    return paired ? paired.upper < -tolerance : challenger[key].upper < champion[key].lower - tolerance;
  }).map(([, label2]) => label2);
  const hrDelta = challenger.hr20.value - champion.hr20.value;
  const comparison = `HR@20 ${fmt2(challenger.hr20)} vs production ${fmt2(champion.hr20)}, MRR@20 ${fmt2(challenger.mrr20)} vs ${fmt2(champion.mrr20)}`;
  let verdict;
  let why;
  if (worse2.length > 0) {
    verdict = "significantly-worse";
    why = `significantly worse than production on ${worse2.join(" and ")} (${comparison})`;
  } else if (hrDelta < -tolerance) {
    verdict = "worse";
    why = `HR@20 below production by ${(-hrDelta).toFixed(4)}, more than the tolerance ${tolerance} (${comparison})`;
  } else {
    const pairedHr = input.difference?.hr20;
    const better = pairedHr ? pairedHr.lower > 0 : challenger.hr20.lower > champion.hr20.upper;
    verdict = better ? "better" : "non-inferior";
    return {
      promote: true,
      forced: false,
      verdict,
      reason: better ? `significantly better than production (${comparison})` : `at least as good as production within tolerance ${tolerance} (${comparison})`
    };
  }
  return force ? { promote: true, forced: true, verdict, reason: `${why}; promoted because of --force` } : { promote: false, forced: false, verdict, reason: `${why}; use --force to promote anyway` };
}
function fmt2(metric) {
  return `${metric.value.toFixed(4)} [${metric.lower.toFixed(4)}, ${metric.upper.toFixed(4)}]`;
}

// pipeline/reporter.ts
import cliProgress from "cli-progress";
function silentReporter() {
  const warnings = [];
  return {
    warnings,
    info() {
    },
    warn(message) {
      warnings.push(message);
    },
    progress() {
      return { update() {
      }, stop() {
      } };
    }
  };
}

// pipeline/monitor/served-events.ts
import { createHash as createHash12 } from "node:crypto";
function servedSessionId(requestId, index2) {
  return createHash12("sha256").update(`${requestId}:${index2}`).digest("hex");
}
function servedSessionEvents(requestId, index2, skus, receivedAt, modelRunId2) {
  const sessionId = servedSessionId(requestId, index2);
  return skus.map((sku, j) => ({
    sessionId,
    sku,
    timestampMs: receivedAt - (skus.length - 1 - j),
    modelRunId: modelRunId2
  }));
}
var SERVED_HEADER = DATA_FILES.served.columns.join(",");
function servedEventLine(event) {
  return `${event.sessionId},${event.sku},${event.timestampMs},${event.modelRunId}
`;
}

// pipeline/serve/server.ts
import { randomUUID as randomUUID3 } from "node:crypto";
import {
  STATUS_CODES,
  createServer
} from "node:http";

// pipeline/serve/serve-settings.ts
var SERVE_LIMIT_DEFAULTS = sectionDefaults(SERVE_LIMIT_SPECS, "serve.");

// pipeline/serve/batcher.ts
var DEFAULT_BATCH_OPTIONS = {
  maxBatch: SERVE_LIMIT_DEFAULTS.maxBatch,
  maxWaitMs: SERVE_LIMIT_DEFAULTS.batchWaitMs
};
var PredictionBatcher = class {
  constructor(predictor, options = DEFAULT_BATCH_OPTIONS) {
    this.predictor = predictor;
    this.options = options;
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new RangeError(`batch.maxBatch must be a positive integer, got ${options.maxBatch}`);
    }
    if (!(options.maxWaitMs >= 0)) {
      throw new RangeError(`batch.maxWaitMs must be 0 or more, got ${options.maxWaitMs}`);
    }
  }
  predictor;
  options;
  queue = [];
  queued = 0;
  running;
  timer;
  stats = { calls: 0, sessions: 0, largestBatch: 0 };
  /** Sessions queued and not yet in a model call. */
  get waiting() {
    return this.queued;
  }
  /** The predictions for `sessions`, in order, each with at most `k` items. */
  predict(sessions, k) {
    if (sessions.length === 0) return Promise.resolve([]);
    return new Promise((resolve4, reject2) => {
      const job = {
        sessions,
        k,
        results: new Array(sessions.length),
        pending: sessions.length,
        failed: false,
        resolve: resolve4,
        reject: reject2
      };
      this.queue.push({ job, start: 0, end: sessions.length });
      this.queued += sessions.length;
      this.schedule();
    });
  }
  schedule() {
    if (this.running) return;
    if (this.queued >= this.options.maxBatch) {
      this.clearTimer();
      this.start();
    } else if (this.timer === void 0) {
      const fire = () => {
        this.timer = void 0;
        if (!this.running) this.start();
      };
      this.timer = this.options.maxWaitMs === 0 ? { immediate: setImmediate(fire) } : { timeout: setTimeout(fire, this.options.maxWaitMs) };
    }
  }
  clearTimer() {
    if (this.timer?.immediate) clearImmediate(this.timer.immediate);
    if (this.timer?.timeout) clearTimeout(this.timer.timeout);
    this.timer = void 0;
  }
  /** Takes up to maxBatch sessions off the queue (splitting a piece that does not fit). */
  take() {
    const batch = [];
    let room = this.options.maxBatch;
    while (room > 0 && this.queue.length > 0) {
      const head = this.queue[0];
      const size = head.end - head.start;
      if (size <= room) {
        batch.push(head);
        this.queue.shift();
        room -= size;
      } else {
        batch.push({ job: head.job, start: head.start, end: head.start + room });
        head.start += room;
        room = 0;
      }
    }
    const taken = this.options.maxBatch - room;
    this.queued -= taken;
    return batch;
  }
  start() {
    this.clearTimer();
    const batch = this.take();
    if (batch.length === 0) return;
    this.running = this.run(batch).finally(() => {
      this.running = void 0;
      if (this.queue.length > 0) this.start();
    });
  }
  async run(batch) {
    const live = batch.filter((piece) => !piece.job.failed);
    if (live.length === 0) return;
    try {
      await this.call(live);
    } catch (error) {
      if (new Set(live.map((piece) => piece.job)).size === 1) {
        fail(live, error);
        return;
      }
      for (const piece of live) {
        try {
          await this.call([piece]);
        } catch (own) {
          fail([piece], own);
        }
      }
    }
  }
  async call(pieces) {
    const sessions = pieces.flatMap((p) => p.job.sessions.slice(p.start, p.end));
    const k = Math.max(...pieces.map((p) => p.job.k));
    this.stats.calls++;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, sessions.length);
    const predictions = await this.predictor.predict(sessions, k);
    if (!Array.isArray(predictions) || predictions.length !== sessions.length) {
      throw new Error(
        `the model returned ${Array.isArray(predictions) ? predictions.length : typeof predictions} predictions for ${sessions.length} sessions`
      );
    }
    this.stats.sessions += sessions.length;
    let at = 0;
    for (const piece of pieces) {
      const { job } = piece;
      for (let i = piece.start; i < piece.end; i++) {
        const prediction = predictions[at++];
        job.results[i] = prediction.items.length > job.k ? { ...prediction, items: prediction.items.slice(0, job.k) } : prediction;
      }
      job.pending -= piece.end - piece.start;
      if (job.pending === 0 && !job.failed) job.resolve(job.results);
    }
  }
};
function fail(pieces, error) {
  for (const { job } of pieces) {
    if (job.failed) continue;
    job.failed = true;
    job.reject(error);
  }
}

// pipeline/serve/protocol.ts
var HttpError = class extends Error {
  constructor(status, code2, message, headers = {}) {
    super(message);
    this.status = status;
    this.code = code2;
    this.headers = headers;
    this.name = "HttpError";
  }
  status;
  code;
  headers;
};
function errorBody(error, requestId) {
  return JSON.stringify({
    error: {
      code: error.code,
      message: error.message,
      ...requestId ? { request_id: requestId } : {}
    }
  });
}
function predictionsBody(predictions, model) {
  return JSON.stringify({
    predictions: predictions.map((p) => ({
      items: p.items,
      unknown_skus: p.unknownSkus,
      fallback: p.fallback
    })),
    model
  });
}
function isJsonContentType(header) {
  if (!header) return false;
  const [type, ...params] = header.split(";");
  if (type?.trim().toLowerCase() !== "application/json") return false;
  return params.every((param) => {
    const [name2, value2] = param.split("=").map((part2) => part2.trim().toLowerCase());
    return name2 !== "charset" || value2 === "utf-8" || value2 === "utf8" || value2 === '"utf-8"';
  });
}
function lineColumn(text, offset) {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
var NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
var ESCAPES = /* @__PURE__ */ new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
var HEX4 = /[0-9a-fA-F]{4}/y;
function jsonErrorOffset(text) {
  let i = 0;
  const open2 = [];
  const skipSpace = () => {
    while (i < text.length && " 	\n\r".includes(text[i])) i++;
  };
  const string2 = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return true;
      }
      if (c < 32) return false;
      if (c === 92) {
        const next = text[i + 1];
        if (next === "u") {
          HEX4.lastIndex = i + 2;
          i += 2;
          if (!HEX4.test(text)) return false;
          i += 4;
        } else if (next !== void 0 && ESCAPES.has(next)) i += 2;
        else {
          i += 1;
          return false;
        }
      } else i++;
    }
    return false;
  };
  const scalar2 = () => {
    const c = text[i];
    if (c === '"') return string2();
    const literal = ["true", "false", "null"].find((word) => text.startsWith(word, i));
    if (literal) {
      i += literal.length;
      return true;
    }
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) return false;
    i = NUMBER.lastIndex;
    return true;
  };
  let state = "value";
  for (; ; ) {
    skipSpace();
    if (state === "value") {
      const c = text[i];
      if (c === "{" || c === "[") {
        i++;
        skipSpace();
        if (text[i] === (c === "{" ? "}" : "]")) {
          i++;
          state = "after";
        } else {
          open2.push(c);
          state = c === "{" ? "key" : "value";
        }
      } else if (i < text.length && scalar2()) state = "after";
      else return i;
    } else if (state === "key") {
      if (text[i] !== '"' || !string2()) return i;
      skipSpace();
      if (text[i] !== ":") return i;
      i++;
      state = "value";
    } else {
      const top = open2[open2.length - 1];
      if (top === void 0) return i < text.length ? i : -1;
      const c = text[i];
      if (c === ",") {
        i++;
        state = top === "{" ? "key" : "value";
      } else if (top === "{" && c === "}" || top === "[" && c === "]") {
        open2.pop();
        i++;
      } else return i;
    }
  }
}
function parseJson2(body3) {
  try {
    return JSON.parse(body3);
  } catch {
    const offset = Math.max(0, jsonErrorOffset(body3));
    const { line, column } = lineColumn(body3, offset);
    const found = offset >= body3.length ? "unexpected end of the body" : `unexpected ${JSON.stringify(body3[offset])}`;
    throw new HttpError(
      400,
      "invalid_json",
      `the body is not valid JSON: ${found} at line ${line}, column ${column} (offset ${offset})`
    );
  }
}
function describe2(value2) {
  if (value2 === null) return "null";
  if (Array.isArray(value2)) return "an array";
  if (typeof value2 === "string") {
    return `the string ${JSON.stringify(value2.length > 40 ? `${value2.slice(0, 40)}…` : value2)}`;
  }
  if (typeof value2 === "object") return "an object";
  return `${typeof value2} ${String(value2)}`;
}
function invalid(field2, message) {
  return new HttpError(400, "invalid_request", `${field2}: ${message}`);
}
function session(value2, path2) {
  if (!Array.isArray(value2)) {
    throw invalid(path2, `expected an array of SKU strings, got ${describe2(value2)}`);
  }
  const items = value2;
  items.forEach((sku, j) => {
    if (typeof sku !== "string") {
      throw new HttpError(
        400,
        "invalid_sku",
        `${path2}[${j}]: a SKU must be a string, got ${describe2(sku)}`
      );
    }
  });
  return items;
}
function instance(value2, path2) {
  if (typeof value2 === "object" && value2 !== null && !Array.isArray(value2)) {
    if (!("session" in value2)) {
      throw invalid(path2, 'an instance object needs a "session" array of SKU strings');
    }
    return session(value2.session, `${path2}.session`);
  }
  return session(value2, path2);
}
function readK(value2, limits) {
  if (value2 === void 0) return limits.defaultK;
  if (typeof value2 !== "number" || !Number.isInteger(value2) || value2 < 1 || value2 > limits.maxK) {
    throw new HttpError(
      400,
      "invalid_k",
      `k: expected an integer from 1 to ${limits.maxK}, got ${describe2(value2)}`
    );
  }
  return value2;
}
function parseInvocation(body3, limits) {
  if (body3.trim() === "") {
    throw new HttpError(
      400,
      "empty_body",
      'the request body is empty: send {"sessions": [["sku", ...]], "k": 10}'
    );
  }
  const json = parseJson2(body3);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw invalid(
      "body",
      `expected an object with "sessions" or "instances", got ${describe2(json)}`
    );
  }
  const request = json;
  const hasSessions = "sessions" in request;
  const hasInstances = "instances" in request;
  if (hasSessions === hasInstances) {
    throw invalid(
      "body",
      hasSessions ? 'give either "sessions" or "instances", not both' : 'expected a "sessions" (or "instances") array of sessions, each an array of SKU strings'
    );
  }
  const field2 = hasSessions ? "sessions" : "instances";
  const list2 = request[field2];
  if (!Array.isArray(list2)) throw invalid(field2, `expected an array, got ${describe2(list2)}`);
  if (list2.length === 0) throw invalid(field2, "the array is empty: send at least one session");
  if (list2.length > limits.maxSessions) {
    throw new HttpError(
      400,
      "too_many_sessions",
      `${field2}: ${list2.length} sessions in one request, over the limit of ${limits.maxSessions}; split the request`
    );
  }
  const k = readK(request.k, limits);
  const items = list2;
  const sessions = items.map(
    (value2, i) => hasSessions ? session(value2, `${field2}[${i}]`) : instance(value2, `${field2}[${i}]`)
  );
  return { sessions, k };
}

// pipeline/serve/server.ts
var SERVER_DEFAULTS = {
  port: 8080,
  host: "0.0.0.0",
  maxBodyBytes: 1024 * 1024,
  maxSessions: 1e3,
  maxK: 100,
  defaultK: 10,
  shutdownTimeoutMs: 3e4,
  maxQueue: SERVE_LIMIT_DEFAULTS.maxQueue,
  maxConnections: SERVE_LIMIT_DEFAULTS.maxConnections,
  requestTimeoutMs: SERVE_LIMIT_DEFAULTS.requestTimeoutMs,
  headersTimeoutMs: SERVE_LIMIT_DEFAULTS.headersTimeoutMs,
  keepAliveTimeoutMs: SERVE_LIMIT_DEFAULTS.keepAliveTimeoutMs
};
var RETRY_AFTER_SECONDS = 1;
var JSON_TYPE = "application/json";
var MODEL_LOAD_FAILED = {
  code: "model_load_failed",
  message: "the model could not be loaded; the server's log says why"
};
function positiveInteger3(name2, value2) {
  if (!Number.isInteger(value2) || value2 < 1) {
    throw new PipelineError(
      `server setting ${name2} must be a positive integer, got ${value2}`,
      2,
      `set ${name2} to a whole number of at least 1`
    );
  }
  return value2;
}
async function startServer(options) {
  const reporter = options.reporter ?? silentReporter();
  const limits = {
    maxBodyBytes: positiveInteger3(
      "maxBodyBytes",
      options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes
    ),
    maxSessions: positiveInteger3("maxSessions", options.maxSessions ?? SERVER_DEFAULTS.maxSessions),
    maxK: positiveInteger3("maxK", options.maxK ?? SERVER_DEFAULTS.maxK),
    defaultK: positiveInteger3("defaultK", options.defaultK ?? SERVER_DEFAULTS.defaultK),
    maxQueue: positiveInteger3("maxQueue", options.maxQueue ?? SERVER_DEFAULTS.maxQueue)
  };
  const timeouts = {
    requestTimeout: positiveInteger3(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs
    ),
    headersTimeout: positiveInteger3(
      "headersTimeoutMs",
      options.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs
    ),
    keepAliveTimeout: positiveInteger3(
      "keepAliveTimeoutMs",
      options.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs
    )
  };
  if (timeouts.headersTimeout > timeouts.requestTimeout) {
    throw new PipelineError(
      `server setting headersTimeoutMs (${timeouts.headersTimeout}) is above requestTimeoutMs (${timeouts.requestTimeout})`,
      2,
      "the headers are part of the request: lower headersTimeoutMs or raise requestTimeoutMs"
    );
  }
  const maxConnections = positiveInteger3(
    "maxConnections",
    options.maxConnections ?? SERVER_DEFAULTS.maxConnections
  );
  if (limits.defaultK > limits.maxK) {
    throw new PipelineError(
      `server setting defaultK (${limits.defaultK}) is above maxK (${limits.maxK})`,
      2,
      "lower defaultK or raise maxK"
    );
  }
  const batchOptions = { ...DEFAULT_BATCH_OPTIONS, ...options.batch };
  positiveInteger3("batch.maxBatch", batchOptions.maxBatch);
  if (!(batchOptions.maxWaitMs >= 0 && Number.isFinite(batchOptions.maxWaitMs))) {
    throw new PipelineError(
      `server setting batch.maxWaitMs must be 0 or more milliseconds, got ${batchOptions.maxWaitMs}`,
      2,
      "set batch.maxWaitMs to a small number such as 2"
    );
  }
  let model = { state: "loading" };
  const ready2 = Promise.resolve(options.model).then(
    (loaded) => {
      model = {
        state: "ready",
        batcher: new PredictionBatcher(loaded, batchOptions),
        info: {
          run_id: loaded.config?.runId ?? "unknown",
          format: loaded.config?.format ?? "unknown",
          ...options.modelVersion ? { version: options.modelVersion } : {}
        }
      };
    },
    (error) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      model = { state: "failed", error: failure };
      reporter.warn(`the model could not be loaded: ${failure.message}`);
      throw failure;
    }
  );
  ready2.catch(() => {
  });
  const responses = {};
  let shed = 0;
  let inFlight = 0;
  let closing = false;
  let idle;
  const send = (res, status, body3, headers = {}) => {
    responses[status] = (responses[status] ?? 0) + 1;
    if (res.destroyed) return;
    res.writeHead(status, {
      "content-type": JSON_TYPE,
      "content-length": String(Buffer.byteLength(body3)),
      // While closing, and after an error that left the body unread, do not reuse the connection.
      ...closing || bodyLeftUnread(res.req) ? { connection: "close" } : {},
      ...headers
    });
    res.end(body3);
  };
  const ping = (res, head) => {
    const status = model.state === "ready" && !closing ? 200 : 503;
    const body3 = model.state === "ready" ? JSON.stringify({ status: closing ? "shutting_down" : "ready", model: model.info }) : model.state === "loading" ? JSON.stringify({ status: "loading" }) : JSON.stringify({ status: "failed", error: MODEL_LOAD_FAILED });
    if (head) {
      responses[status] = (responses[status] ?? 0) + 1;
      res.writeHead(status, { "content-type": JSON_TYPE }).end();
    } else send(res, status, body3);
  };
  const invoke = async (req, res, requestId) => {
    const receivedAt = Date.now();
    if (closing) throw new HttpError(503, "shutting_down", "the server is shutting down");
    if (model.state === "loading") {
      throw new HttpError(
        503,
        "model_not_ready",
        "the model is still loading; retry when GET /ping answers 200",
        { "retry-after": String(RETRY_AFTER_SECONDS) }
      );
    }
    if (model.state === "failed") {
      throw new HttpError(503, MODEL_LOAD_FAILED.code, MODEL_LOAD_FAILED.message);
    }
    const { batcher, info: info3 } = model;
    if (!isJsonContentType(req.headers["content-type"])) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        `Content-Type must be application/json (UTF-8), got ${req.headers["content-type"] ? JSON.stringify(req.headers["content-type"]) : "none"}`
      );
    }
    const body3 = await readBody(req, limits.maxBodyBytes);
    const { sessions, k } = parseInvocation(body3, limits);
    if (batcher.waiting + sessions.length > limits.maxQueue) {
      shed++;
      throw new HttpError(
        503,
        "overloaded",
        `the server is at capacity (${batcher.waiting} sessions waiting for the model, at most ${limits.maxQueue}); retry after ${RETRY_AFTER_SECONDS} s`,
        { "retry-after": String(RETRY_AFTER_SECONDS) }
      );
    }
    let predictions;
    try {
      predictions = await batcher.predict(sessions, k);
    } catch (error) {
      reporter.warn(
        `request ${requestId}: the model failed on ${sessions.length} session(s): ${error.message ?? String(error)}`
      );
      throw new HttpError(
        500,
        "prediction_failed",
        `the model failed on this request; quote request id ${requestId} when reporting it`
      );
    }
    options.requestLog?.record(requestId, sessions, receivedAt, info3.run_id);
    send(res, 200, predictionsBody(predictions, info3), { "x-request-id": requestId });
  };
  const handle = async (req, res) => {
    const requestId = randomUUID3();
    inFlight++;
    try {
      const path2 = (req.url ?? "/").split("?")[0];
      if (path2 === "/ping") {
        if (req.method === "GET" || req.method === "HEAD") ping(res, req.method === "HEAD");
        else throw methodNotAllowed(req.method, path2, "GET");
      } else if (path2 === "/invocations") {
        if (req.method !== "POST") throw methodNotAllowed(req.method, path2, "POST");
        await invoke(req, res, requestId);
      } else {
        throw new HttpError(
          404,
          "not_found",
          `no route ${JSON.stringify(path2)}: this server answers GET /ping and POST /invocations`
        );
      }
    } catch (error) {
      const http = error instanceof HttpError ? error : new HttpError(500, "internal_error", `unexpected error; request id ${requestId}`);
      if (!(error instanceof HttpError)) {
        reporter.warn(`request ${requestId}: ${error.stack ?? String(error)}`);
      }
      send(res, http.status, errorBody(http, requestId), {
        "x-request-id": requestId,
        ...http.headers
      });
    } finally {
      inFlight--;
      if (inFlight === 0) idle?.();
    }
  };
  const server = createServer(
    {
      ...timeouts,
      // Node checks the request and headers timeouts on this interval (30 s by default, which
      // would let a slow client hold a connection that much longer than the limit).
      connectionsCheckingInterval: Math.min(1e3, Math.ceil(timeouts.headersTimeout / 4))
    },
    (req, res) => {
      void handle(req, res);
    }
  );
  server.maxConnections = maxConnections;
  server.on("clientError", (error, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const http = error.code === "HPE_HEADER_OVERFLOW" ? new HttpError(431, "headers_too_large", "the request headers are too large") : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? new HttpError(408, "request_timeout", "the request was not received in time") : new HttpError(
      400,
      "bad_request",
      `malformed HTTP request (${error.code ?? "parse error"})`
    );
    const body3 = errorBody(http);
    socket.end(
      `HTTP/1.1 ${http.status} ${STATUS_CODES[http.status] ?? ""}\r
content-type: ${JSON_TYPE}\r
content-length: ${Buffer.byteLength(body3)}\r
connection: close\r
\r
${body3}`
    );
  });
  const host = options.host ?? SERVER_DEFAULTS.host;
  await new Promise((resolve4, reject2) => {
    server.once(
      "error",
      (error) => reject2(
        new PipelineError(
          `the server cannot listen on ${host}:${options.port ?? SERVER_DEFAULTS.port}: ${error.code ?? error.message}`,
          1,
          error.code === "EADDRINUSE" ? "another process uses that port: stop it or pass another --port" : void 0
        )
      )
    );
    server.listen(options.port ?? SERVER_DEFAULTS.port, host, () => resolve4());
  });
  const port = server.address().port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  let closed;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? SERVER_DEFAULTS.shutdownTimeoutMs;
  const close = async () => {
    closing = true;
    const listenerClosed = new Promise((resolve4) => server.close(() => resolve4()));
    server.closeIdleConnections();
    if (inFlight > 0) {
      const finished2 = new Promise((resolve4) => idle = resolve4);
      let timer;
      const timedOut = new Promise((resolve4) => {
        timer = setTimeout(() => resolve4(true), shutdownTimeoutMs);
      });
      const late = await Promise.race([finished2.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        reporter.warn(
          `${inFlight} request(s) still running after ${shutdownTimeoutMs} ms; closing their connections`
        );
        server.closeAllConnections();
      }
    }
    server.closeIdleConnections();
    await listenerClosed;
    await options.requestLog?.close();
  };
  return {
    url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`,
    port,
    ready: ready2,
    stats: () => ({
      responses: { ...responses },
      shed,
      batching: model.state === "ready" ? { ...model.batcher.stats } : { calls: 0, sessions: 0, largestBatch: 0 }
    }),
    close() {
      closed ??= close();
      return closed;
    }
  };
}
function methodNotAllowed(method, path2, allowed) {
  return new HttpError(
    405,
    "method_not_allowed",
    `${method ?? "?"} ${path2} is not supported: use ${allowed}`,
    { allow: allowed === "GET" ? "GET, HEAD" : allowed }
  );
}
function bodyLeftUnread(req) {
  if (req.complete) return false;
  return req.headers["transfer-encoding"] !== void 0 || Number(req.headers["content-length"]) > 0;
}
var utf8 = new TextDecoder("utf-8", { fatal: true });
function readBody(req, limit) {
  const tooLarge = (size) => new HttpError(
    413,
    "payload_too_large",
    `the body is ${size}, over the limit of ${limit} bytes; send fewer sessions per request`
  );
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise((resolve4, reject2) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject2(tooLarge(`more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      try {
        resolve4(utf8.decode(Buffer.concat(chunks, size)));
      } catch {
        reject2(new HttpError(400, "invalid_encoding", "the body is not valid UTF-8"));
      }
    });
    req.once(
      "error",
      (error) => reject2(new HttpError(400, "aborted", `the request body was cut off: ${error.message}`))
    );
  });
}

// pipeline/serve/serve.ts
async function startModelServer(options) {
  const reporter = options.reporter ?? silentReporter();
  const { modelDir, ...rest } = options;
  const model = (async () => {
    const artifact = await loadModelArtifact(modelDir);
    reporter.info(
      `model of run ${artifact.config.runId} loaded from ${modelDir} (${artifact.vocabulary.size - 2} items; ${describeBlend(artifact.blend)})`
    );
    return artifact;
  })();
  return startServer({ ...rest, reporter, model });
}

// pipeline/promote/local-endpoint.ts
async function smokeTest(url, sessions, k) {
  const response = await fetch(`${url}/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sessions, k })
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`/invocations answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const body3 = JSON.parse(text);
  const predictions = body3.predictions ?? [];
  if (predictions.length !== sessions.length) {
    throw new Error(`expected ${sessions.length} predictions, got ${predictions.length}`);
  }
  predictions.forEach((p, i) => {
    const items = p.items ?? [];
    const skus = new Set(items.map((item) => item.sku));
    const valid = items.every(
      (item) => typeof item.sku === "string" && typeof item.score === "number" && Number.isFinite(item.score)
    );
    if (items.length !== k || skus.size !== k || !valid) {
      throw new Error(`session ${i}: expected ${k} distinct SKUs with finite scores`);
    }
  });
}
async function verifyLocalEndpoint(options) {
  const k = options.k ?? 10;
  const started = performance.now();
  const server = await startModelServer({
    modelDir: options.modelDir,
    port: 0,
    host: "127.0.0.1",
    reporter: options.reporter
  });
  try {
    await server.ready;
    const ping = await fetch(`${server.url}/ping`);
    if (ping.status !== 200) throw new Error(`/ping answered ${ping.status}`);
    const readyMs = performance.now() - started;
    await smokeTest(server.url, options.sessions, k);
    return { url: server.url, sessions: options.sessions.length, k, readyMs };
  } catch (error) {
    throw new PipelineError(
      `the local endpoint for ${options.modelDir} failed its smoke test: ${error.message}`,
      1
    );
  } finally {
    await server.close();
  }
}

// pipeline/promote/sagemaker.ts
import { mkdtemp as mkdtemp7, readFile as readFile8, rm as rm10 } from "node:fs/promises";
import { tmpdir as tmpdir7 } from "node:os";
import { join as join19 } from "node:path";
import { HeadObjectCommand, PutObjectCommand as PutObjectCommand2, S3Client as S3Client2 } from "@aws-sdk/client-s3";
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  UpdateEndpointCommand,
  waitUntilEndpointInService
} from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";

// pipeline/promote/model-package.ts
import { createHash as createHash13 } from "node:crypto";
import { createReadStream as createReadStream3 } from "node:fs";
import { chmod, copyFile as copyFile3, mkdir as mkdir7, mkdtemp as mkdtemp6, rm as rm9, stat as stat5 } from "node:fs/promises";
import { tmpdir as tmpdir6 } from "node:os";
import { dirname as dirname5, join as join18 } from "node:path";
import * as tar from "tar";
var PACKAGE_FILES = Object.values(ARTIFACT_FILES).sort();
var FIXED_MTIME = new Date(Date.UTC(2e3, 0, 1));
async function buildModelPackage(artifactDir, outFile) {
  const missing = [];
  const files = [];
  for (const file of PACKAGE_FILES) {
    const info3 = await stat5(join18(artifactDir, file)).catch(() => void 0);
    if (info3?.isFile()) files.push(file);
    else if (REQUIRED_ARTIFACT_FILES.includes(file)) missing.push(file);
  }
  if (missing.length > 0) {
    throw new PipelineError(
      `cannot package the model: ${artifactDir} lacks ${missing.join(", ")}`,
      2,
      "package a folder written by `pipeline train` (runs/<id>/train/model/ in the run store)"
    );
  }
  const staging = await mkdtemp6(join18(tmpdir6(), "model-package-"));
  try {
    for (const file of files) {
      await copyFile3(join18(artifactDir, file), join18(staging, file));
      await chmod(join18(staging, file), 420);
    }
    await mkdir7(dirname5(outFile), { recursive: true });
    await tar.create(
      {
        file: outFile,
        cwd: staging,
        gzip: true,
        portable: true,
        mtime: FIXED_MTIME,
        noDirRecurse: true
      },
      files
    );
  } finally {
    await rm9(staging, { recursive: true, force: true });
  }
  const { size } = await stat5(outFile);
  return { path: outFile, bytes: size, sha256: await sha256File2(outFile) };
}
async function sha256File2(path2) {
  const hash2 = createHash13("sha256");
  for await (const chunk of createReadStream3(path2)) hash2.update(chunk);
  return hash2.digest("hex");
}

// pipeline/promote/sagemaker-settings.ts
import { ProductionVariantInstanceType } from "@aws-sdk/client-sagemaker";
var SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
var ROLE_ARN2 = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
var IMAGE2 = /^[a-z0-9][a-z0-9.-]*(:\d+)?\/[a-z0-9._/-]+(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})?$/;
var REGION2 = /^[a-z]{2}(-[a-z]+)+-\d$/;
var ALARM_NAME = /^(?!\s)[^\n]{1,255}$/;
function parseTrafficRouting(text, waitSeconds) {
  const match = /^(all-at-once|canary|linear)(?::(\d+))?$/i.exec(text.trim());
  const kind = match?.[1]?.toLowerCase();
  const percent2 = match?.[2] === void 0 ? void 0 : Number(match[2]);
  if (kind === "all-at-once" && percent2 === void 0) return { type: "ALL_AT_ONCE", waitSeconds };
  if (kind === "canary" && percent2 !== void 0) return { type: "CANARY", percent: percent2, waitSeconds };
  if (kind === "linear" && percent2 !== void 0) return { type: "LINEAR", percent: percent2, waitSeconds };
  throw new InputError(
    `invalid traffic routing "${text}"`,
    { field: "promote.sagemaker.traffic" },
    "use all-at-once, canary:<percent of capacity> (1-50) or linear:<percent per step> (10-50)"
  );
}
function validateSageMakerSettings(settings) {
  const problems = [];
  const check2 = (ok, field2, message) => {
    if (!ok) problems.push([field2, message]);
  };
  const s = settings;
  const int2 = (value2, min, max2) => Number.isInteger(value2) && value2 >= min && value2 <= max2;
  check2(REGION2.test(s.region), "region", `"${s.region}" is not an AWS region (e.g. eu-west-1)`);
  check2(
    SAGEMAKER_NAME.test(s.endpointName),
    "endpoint",
    `"${s.endpointName}" is not a SageMaker name: 1-63 letters, digits and '-', starting and ending with a letter or digit`
  );
  check2(
    IMAGE2.test(s.image) && s.image.length <= 255,
    "image",
    `"${s.image}" is not a container image reference (e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/recs-serve:1.0)`
  );
  check2(
    ROLE_ARN2.test(s.executionRoleArn),
    "role",
    `"${s.executionRoleArn}" is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`
  );
  check2(
    isInstanceType(s.instanceType),
    "instanceType",
    `"${s.instanceType}" is not a SageMaker real-time inference instance type (e.g. ml.m5.large)`
  );
  check2(
    int2(s.instanceCount, 1, 100),
    "instanceCount",
    `${s.instanceCount} is not an integer 1-100`
  );
  try {
    parseS3Url(s.modelData);
  } catch (error) {
    problems.push(["modelData", error.message]);
  }
  const routing = s.trafficRouting;
  check2(
    int2(routing.waitSeconds, 0, 3600),
    "trafficWait",
    `${routing.waitSeconds} is not an integer 0-3600 (seconds between traffic steps)`
  );
  if (routing.type === "CANARY") {
    check2(int2(routing.percent, 1, 50), "traffic", `canary size ${routing.percent}% is not 1-50`);
  } else if (routing.type === "LINEAR") {
    check2(int2(routing.percent, 10, 50), "traffic", `linear step ${routing.percent}% is not 10-50`);
  }
  check2(
    int2(s.terminationWaitSeconds, 0, 3600),
    "terminationWait",
    `${s.terminationWaitSeconds} is not an integer 0-3600`
  );
  check2(
    int2(s.maxExecutionTimeoutSeconds, 600, 28800),
    "maxExecutionTimeout",
    `${s.maxExecutionTimeoutSeconds} is not an integer 600-28800`
  );
  const steps = routing.type === "LINEAR" ? Math.ceil(100 / Math.max(routing.percent, 1)) : 1;
  const waits = steps * routing.waitSeconds + s.terminationWaitSeconds;
  check2(
    s.maxExecutionTimeoutSeconds > waits,
    "maxExecutionTimeout",
    `${s.maxExecutionTimeoutSeconds} s must exceed the deployment's own waits (${waits} s: traffic steps plus termination wait)`
  );
  check2(
    s.alarms.length <= 10,
    "alarms",
    `${s.alarms.length} alarms given; SageMaker takes at most 10`
  );
  for (const alarm of s.alarms) {
    check2(ALARM_NAME.test(alarm), "alarms", `"${alarm}" is not a CloudWatch alarm name`);
  }
  check2(int2(s.keep, 0, 100), "keep", `${s.keep} is not an integer 0-100`);
  check2(
    Number.isFinite(s.waitSeconds) && s.waitSeconds > 0,
    "waitSeconds",
    `${s.waitSeconds} is not a positive number of seconds`
  );
  if (problems.length > 0 || !isInstanceType(s.instanceType)) {
    const list2 = problems.map(([field2, message]) => `promote.sagemaker.${field2}: ${message}`);
    throw new InputError(
      `invalid SageMaker settings: ${list2.join("; ")}`,
      {},
      "fix them in the config file, the MLOPS_SAGEMAKER_* environment variables or the flags"
    );
  }
  return { ...settings, instanceType: s.instanceType };
}
var INSTANCE_TYPES = new Set(Object.values(ProductionVariantInstanceType));
function isInstanceType(value2) {
  return INSTANCE_TYPES.has(value2);
}

// pipeline/promote/sagemaker.ts
var ENDPOINT_TAG = "mlops-session-recs:endpoint";
var RUN_TAG = "mlops-session-recs:run-id";
var VARIANT = "AllTraffic";
var STUCK = /* @__PURE__ */ new Set(["UpdateRollbackFailed", "Deleting"]);
async function deployToSageMaker(settingsInput, request, deps = {}) {
  const settings = validateSageMakerSettings(settingsInput);
  validateRunId(request.runId);
  const k = request.smokeK ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > 100) {
    throw new InputError(`smoke test k must be an integer 1-100, got ${k}`, { field: "smokeK" });
  }
  if (request.smokeSessions.length === 0 || request.smokeSessions.some((s) => s.length === 0)) {
    throw new InputError(
      "the smoke test needs at least one session, and no empty session",
      { field: "smokeSessions" },
      "pass sessions from the run's test split"
    );
  }
  const reporter = deps.reporter ?? silentReporter();
  const sagemaker = deps.sagemaker ?? new SageMakerClient({ region: settings.region });
  const runtime = deps.runtime ?? new SageMakerRuntimeClient({ region: settings.region });
  const s3 = deps.s3 ?? new S3Client2({ region: settings.region });
  const endpointName = settings.endpointName;
  const call = awsCaller(endpointName);
  const existing = await describeEndpoint(sagemaker, endpointName);
  if (existing && existing.EndpointStatus !== "InService") {
    const status = existing.EndpointStatus ?? "in an unknown state";
    throw new PipelineError(
      `SageMaker endpoint ${endpointName} is ${status}${existing.FailureReason ? ` (FailureReason: ${existing.FailureReason})` : ""}; refusing to deploy run ${request.runId} over it`,
      1,
      status === "Failed" ? `delete it (aws sagemaker delete-endpoint --endpoint-name ${endpointName}) and promote again` : status === "UpdateRollbackFailed" ? `restore it by hand (aws sagemaker update-endpoint --endpoint-name ${endpointName} --endpoint-config-name <a working config>), then promote again` : "wait until the operation in progress ends (aws sagemaker describe-endpoint), then promote again"
    );
  }
  if (request.serving) await checkServingModelData(s3, request.serving, call);
  const previousConfig = existing?.EndpointConfigName ?? null;
  const name2 = deploymentName(endpointName, request.runId, (deps.now ?? (() => /* @__PURE__ */ new Date()))());
  const tags = [
    { Key: ENDPOINT_TAG, Value: endpointName },
    { Key: RUN_TAG, Value: request.runId }
  ];
  const { bucket, prefix } = parseS3Url(settings.modelData);
  const key = [prefix, request.runId, "model.tar.gz"].filter((part2) => part2 !== "").join("/");
  const modelDataUrl = `s3://${bucket}/${key}`;
  const work = await mkdtemp7(join19(tmpdir7(), "sagemaker-package-"));
  let sha256;
  try {
    const pkg = await buildModelPackage(request.artifactDir, join19(work, "model.tar.gz"));
    sha256 = pkg.sha256;
    reporter.info(`uploading model.tar.gz (${pkg.bytes} bytes) to ${modelDataUrl}`);
    const body3 = await readFile8(pkg.path);
    await call(
      `uploading ${modelDataUrl}`,
      () => s3.send(
        new PutObjectCommand2({
          Bucket: bucket,
          Key: key,
          Body: body3,
          ContentType: "application/gzip",
          // S3 checks the bytes it stored against this; a corrupt upload fails here.
          ChecksumSHA256: Buffer.from(pkg.sha256, "hex").toString("base64")
        })
      )
    );
  } finally {
    await rm10(work, { recursive: true, force: true });
  }
  reporter.info(`creating model and endpoint config ${name2}`);
  await call(
    `CreateModel ${name2}`,
    () => sagemaker.send(
      new CreateModelCommand({
        ModelName: name2,
        ExecutionRoleArn: settings.executionRoleArn,
        PrimaryContainer: {
          Image: settings.image,
          ModelDataUrl: modelDataUrl,
          Environment: { MLOPS_RUN_ID: request.runId }
        },
        Tags: tags
      })
    )
  );
  await call(
    `CreateEndpointConfig ${name2}`,
    () => sagemaker.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: name2,
        ProductionVariants: [
          {
            VariantName: VARIANT,
            ModelName: name2,
            InstanceType: settings.instanceType,
            InitialInstanceCount: settings.instanceCount,
            InitialVariantWeight: 1
          }
        ],
        ...settings.dataCapture ? { DataCaptureConfig: dataCaptureConfig(settings.dataCapture) } : {},
        Tags: tags
      })
    )
  );
  if (existing) {
    reporter.info(
      `updating endpoint ${endpointName}: ${previousConfig} → ${name2} (${settings.trafficRouting.type})`
    );
    await call(
      `UpdateEndpoint ${endpointName}`,
      () => sagemaker.send(
        new UpdateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: name2,
          DeploymentConfig: blueGreenConfig(settings)
        })
      )
    );
  } else {
    reporter.info(`creating endpoint ${endpointName} with ${name2}`);
    await call(
      `CreateEndpoint ${endpointName}`,
      () => sagemaker.send(
        new CreateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: name2,
          Tags: [{ Key: ENDPOINT_TAG, Value: endpointName }]
        })
      )
    );
  }
  const delays = deps.waiterDelays ?? { minDelay: 15, maxDelay: 60 };
  const outcome = await waitInService(sagemaker, endpointName, settings.waitSeconds, delays);
  const after = await describeEndpoint(sagemaker, endpointName);
  if (outcome !== "in-service" || after?.EndpointStatus !== "InService" || after.EndpointConfigName !== name2) {
    throw deploymentFailure(
      endpointName,
      name2,
      previousConfig,
      outcome,
      after,
      settings.waitSeconds
    );
  }
  const smokeProblem = await smokeTest2(runtime, endpointName, request.smokeSessions, k);
  if (smokeProblem !== void 0) {
    if (previousConfig === null) {
      throw new PipelineError(
        `SageMaker smoke test of endpoint ${endpointName} (config ${name2}) failed: ${smokeProblem}. It was a first deploy, so there is no previous config to go back to; the endpoint is left as is`,
        1,
        `inspect the model (CloudWatch logs /aws/sagemaker/Endpoints/${endpointName}); delete the endpoint (aws sagemaker delete-endpoint --endpoint-name ${endpointName}) or promote a working run`
      );
    }
    reporter.warn(
      `smoke test failed (${smokeProblem}); switching ${endpointName} back to ${previousConfig}`
    );
    await revert(sagemaker, endpointName, previousConfig, settings, delays, call);
    throw new PipelineError(
      `SageMaker smoke test of endpoint ${endpointName} (config ${name2}) failed: ${smokeProblem}. The endpoint was switched back and the previous config ${previousConfig} serves again`,
      1,
      `the model of run ${request.runId} answers wrongly; check it with \`pipeline serve --model\` locally`
    );
  }
  const deleted = await cleanup(sagemaker, settings, [name2, previousConfig], call, reporter);
  return {
    endpointName,
    action: existing ? "update" : "create",
    endpointConfigName: name2,
    modelName: name2,
    modelDataUrl,
    packageSha256: sha256,
    previousEndpointConfigName: previousConfig,
    smoke: { sessions: request.smokeSessions.length, k },
    deleted
  };
}
function sageMakerDeploymentRecord(result) {
  return {
    target: "sagemaker",
    endpoint: result.endpointName,
    endpointConfigName: result.endpointConfigName,
    modelName: result.modelName,
    modelDataUrl: result.modelDataUrl,
    modelDataSha256: result.packageSha256
  };
}
async function checkServingModelData(s3, serving, call) {
  const { bucket, prefix: key } = parseS3Url(serving.modelDataUrl);
  const head = await call(
    `checking ${serving.modelDataUrl}`,
    () => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }))
  );
  const stored = head.ChecksumSHA256 ? Buffer.from(head.ChecksumSHA256, "base64").toString("hex") : void 0;
  if (stored !== serving.sha256) {
    throw new PipelineError(
      `the model data of run ${serving.runId}, in production, is not what was deployed: ${serving.modelDataUrl} has sha256 ${stored ?? "(none recorded by S3)"}, the registry recorded ${serving.sha256}`,
      1,
      "Somebody replaced it. Do not deploy over it: find out who (CloudTrail), restore the recorded version (S3 keeps versions of the run store's bucket), then promote again."
    );
  }
}
function deploymentName(endpointName, runId2, now) {
  const stamp = now.toISOString().replace(/\D/g, "").slice(0, 17);
  const run = runId2.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 24);
  const tail = `${run.replace(/-+$/, "")}-${stamp}`;
  const head = endpointName.slice(0, 63 - tail.length - 1).replace(/-+$/, "");
  return `${head}-${tail}`;
}
function blueGreenConfig(settings) {
  const routing = settings.trafficRouting;
  const traffic = {
    Type: routing.type,
    WaitIntervalInSeconds: routing.waitSeconds
  };
  if (routing.type === "CANARY") {
    traffic.CanarySize = { Type: "CAPACITY_PERCENT", Value: routing.percent };
  } else if (routing.type === "LINEAR") {
    traffic.LinearStepSize = { Type: "CAPACITY_PERCENT", Value: routing.percent };
  }
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: traffic,
      TerminationWaitInSeconds: settings.terminationWaitSeconds,
      MaximumExecutionTimeoutInSeconds: settings.maxExecutionTimeoutSeconds
    },
    ...settings.alarms.length > 0 ? {
      AutoRollbackConfiguration: {
        Alarms: settings.alarms.map((AlarmName) => ({ AlarmName }))
      }
    } : {}
  };
}
async function describeEndpoint(client, endpointName) {
  try {
    return await client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
  } catch (error) {
    const e = error;
    if (e.name === "ValidationException" && /could not find endpoint/i.test(e.message)) {
      return void 0;
    }
    throw awsFailure(endpointName, `DescribeEndpoint ${endpointName}`, error);
  }
}
async function waitInService(client, endpointName, waitSeconds, delays) {
  const stuck = new AbortController();
  const watching = new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return async (command) => {
        const output = await target.send(command);
        if (output.EndpointStatus && STUCK.has(output.EndpointStatus)) stuck.abort();
        return output;
      };
    }
  });
  const minDelay = Math.min(delays.minDelay, waitSeconds / 2);
  const maxDelay = Math.max(minDelay, Math.min(delays.maxDelay, waitSeconds));
  try {
    await waitUntilEndpointInService(
      { client: watching, maxWaitTime: waitSeconds, minDelay, maxDelay, abortSignal: stuck.signal },
      { EndpointName: endpointName }
    );
    return "in-service";
  } catch (error) {
    const name2 = error.name;
    if (name2 === "TimeoutError") return "timeout";
    if (name2 === "AbortError") return "stuck";
    return "failed";
  }
}
function deploymentFailure(endpointName, newConfig, previousConfig, outcome, endpoint, waitSeconds) {
  const status = endpoint?.EndpointStatus ?? "gone";
  const reason = endpoint?.FailureReason ? `; FailureReason: ${endpoint.FailureReason}` : "";
  const serving = endpoint?.EndpointConfigName;
  let what;
  let hint2;
  if (status === "UpdateRollbackFailed") {
    what = `the update to ${newConfig} failed and SageMaker could not roll it back (status UpdateRollbackFailed${reason})`;
    hint2 = `the endpoint may serve a mix of both configs; restore it by hand: aws sagemaker update-endpoint --endpoint-name ${endpointName} --endpoint-config-name ${previousConfig ?? "<a working config>"}`;
  } else if (outcome === "timeout") {
    what = `the endpoint did not reach InService with ${newConfig} within ${waitSeconds} s (status ${status}${reason})`;
    hint2 = `SageMaker goes on with the deployment; check it with aws sagemaker describe-endpoint --endpoint-name ${endpointName}, or raise promote.sagemaker.waitSeconds`;
  } else if (status === "InService" && serving !== newConfig) {
    what = `SageMaker rolled the update back: the endpoint serves ${serving ?? "no config"}, not ${newConfig}${reason}`;
    hint2 = `see the FailureReason and the CloudWatch alarms; the model's logs are in /aws/sagemaker/Endpoints/${endpointName}`;
  } else {
    what = `the endpoint is ${status} after deploying ${newConfig}${reason}`;
    hint2 = `the model's logs are in CloudWatch under /aws/sagemaker/Endpoints/${endpointName}`;
  }
  const left = previousConfig === null ? "there was no previous config (first deploy)" : status === "UpdateRollbackFailed" ? `the previous config ${previousConfig} was not deleted` : `the previous config ${previousConfig} is left serving and was not deleted`;
  return new PipelineError(
    `SageMaker deployment to endpoint ${endpointName} failed: ${what}. ${left}`,
    1,
    hint2
  );
}
async function smokeTest2(runtime, endpointName, sessions, k) {
  let text;
  try {
    const output = await runtime.send(
      new InvokeEndpointCommand({
        EndpointName: endpointName,
        ContentType: "application/json",
        Accept: "application/json",
        Body: new TextEncoder().encode(JSON.stringify({ sessions, k }))
      })
    );
    text = new TextDecoder().decode(output.Body);
  } catch (error) {
    return `InvokeEndpoint failed: ${error.name}: ${error.message}`;
  }
  let body3;
  try {
    body3 = JSON.parse(text);
  } catch {
    return `the response is not JSON: ${text.slice(0, 200)}`;
  }
  const predictions = body3?.predictions;
  if (!Array.isArray(predictions))
    return `the response has no "predictions" array: ${text.slice(0, 200)}`;
  if (predictions.length !== sessions.length) {
    return `${predictions.length} predictions for ${sessions.length} sessions`;
  }
  for (const [i, prediction] of predictions.entries()) {
    const items = prediction?.items;
    if (!Array.isArray(items) || items.length !== k) {
      return `session ${i}: expected ${k} items, got ${Array.isArray(items) ? items.length : "none"}`;
    }
    const seen = /* @__PURE__ */ new Set();
    let last = Infinity;
    for (const item of items) {
      if (typeof item?.sku !== "string" || item.sku === "")
        return `session ${i}: an item has no sku`;
      if (typeof item.score !== "number" || !Number.isFinite(item.score)) {
        return `session ${i}: item ${item.sku} has no finite score`;
      }
      if (seen.has(item.sku)) return `session ${i}: sku ${item.sku} recommended twice`;
      if (item.score > last) return `session ${i}: items are not ordered best first`;
      seen.add(item.sku);
      last = item.score;
    }
  }
  return void 0;
}
async function revert(client, endpointName, previousConfig, settings, delays, call) {
  await call(
    `UpdateEndpoint ${endpointName} back to ${previousConfig}`,
    () => client.send(
      new UpdateEndpointCommand({
        EndpointName: endpointName,
        EndpointConfigName: previousConfig,
        DeploymentConfig: blueGreenConfig({
          ...settings,
          trafficRouting: { type: "ALL_AT_ONCE", waitSeconds: 0 },
          alarms: []
        })
      })
    )
  );
  const outcome = await waitInService(client, endpointName, settings.waitSeconds, delays);
  const after = await describeEndpoint(client, endpointName);
  if (outcome !== "in-service" || after?.EndpointConfigName !== previousConfig) {
    throw new PipelineError(
      `SageMaker smoke test of endpoint ${endpointName} failed, and switching back to ${previousConfig} did not complete (status ${after?.EndpointStatus ?? "gone"}, serving ${after?.EndpointConfigName ?? "nothing"}${after?.FailureReason ? `, FailureReason: ${after.FailureReason}` : ""})`,
      1,
      `restore it by hand: aws sagemaker update-endpoint --endpoint-name ${endpointName} --endpoint-config-name ${previousConfig}`
    );
  }
}
async function cleanup(client, settings, protect, call, reporter) {
  const endpointName = settings.endpointName;
  const protectedConfigs = protect.filter((name2) => name2 !== null);
  const configs = await tagged(client, "config", endpointName, call);
  const keptConfigs = /* @__PURE__ */ new Set([
    ...protectedConfigs,
    ...configs.slice(0, settings.keep).map((c) => c.name)
  ]);
  const keptModels = new Set(keptConfigs);
  for (const config of protectedConfigs) {
    const described = await call(
      `DescribeEndpointConfig ${config}`,
      () => client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: config }))
    );
    for (const variant of described.ProductionVariants ?? []) {
      if (variant.ModelName) keptModels.add(variant.ModelName);
    }
  }
  const models = await tagged(client, "model", endpointName, call);
  for (const model of models.slice(0, settings.keep)) keptModels.add(model.name);
  const deleted = { endpointConfigs: [], models: [] };
  for (const config of configs.filter((c) => !keptConfigs.has(c.name))) {
    await call(
      `DeleteEndpointConfig ${config.name}`,
      () => client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: config.name }))
    );
    deleted.endpointConfigs.push(config.name);
  }
  for (const model of models.filter((m) => !keptModels.has(m.name))) {
    await call(
      `DeleteModel ${model.name}`,
      () => client.send(new DeleteModelCommand({ ModelName: model.name }))
    );
    deleted.models.push(model.name);
  }
  if (deleted.endpointConfigs.length + deleted.models.length > 0) {
    reporter.info(
      `deleted ${deleted.endpointConfigs.length} old endpoint configs and ${deleted.models.length} old models of ${endpointName}`
    );
  }
  return deleted;
}
async function tagged(client, kind, endpointName, call) {
  const found = [];
  let token;
  do {
    const page = await call(kind === "config" ? "ListEndpointConfigs" : "ListModels", async () => {
      const query = {
        NameContains: endpointName,
        SortBy: "CreationTime",
        SortOrder: "Descending",
        NextToken: token
      };
      if (kind === "config") {
        const out2 = await client.send(new ListEndpointConfigsCommand(query));
        return {
          next: out2.NextToken,
          items: (out2.EndpointConfigs ?? []).map((c) => ({
            name: c.EndpointConfigName ?? "",
            arn: c.EndpointConfigArn ?? "",
            created: c.CreationTime?.getTime() ?? 0
          }))
        };
      }
      const out = await client.send(new ListModelsCommand(query));
      return {
        next: out.NextToken,
        items: (out.Models ?? []).map((m) => ({
          name: m.ModelName ?? "",
          arn: m.ModelArn ?? "",
          created: m.CreationTime?.getTime() ?? 0
        }))
      };
    });
    found.push(...page.items.filter((item) => item.name.startsWith(`${endpointName}-`)));
    token = page.next;
  } while (token);
  const ours = [];
  for (const resource of found) {
    const tags = await call(
      `ListTags ${resource.arn}`,
      () => client.send(new ListTagsCommand({ ResourceArn: resource.arn }))
    );
    if ((tags.Tags ?? []).some((t) => t.Key === ENDPOINT_TAG && t.Value === endpointName)) {
      ours.push(resource);
    }
  }
  return ours.sort((a, b) => b.created - a.created);
}
function awsCaller(endpointName) {
  return async (what, send) => {
    try {
      return await send();
    } catch (error) {
      throw awsFailure(endpointName, what, error);
    }
  };
}
function awsFailure(endpointName, what, error) {
  const e = error;
  const denied = /AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(`${e.name} ${e.message}`);
  return new PipelineError(
    `SageMaker deployment to ${endpointName}: ${what} failed: ${e.name}: ${e.message}`,
    1,
    denied ? "the AWS credentials need sagemaker:* on the endpoint's resources, s3:PutObject on the model data prefix and iam:PassRole on the execution role" : "a failed deployment never deletes the endpoint's previous config; fix the cause above and promote again"
  );
}
function dataCaptureConfig(capture) {
  return {
    EnableCapture: true,
    InitialSamplingPercentage: capture.percent,
    DestinationS3Uri: capture.destination,
    CaptureOptions: [{ CaptureMode: "Input" }, { CaptureMode: "Output" }],
    CaptureContentTypeHeader: { JsonContentTypes: ["application/json"] }
  };
}

// pipeline/promote/promote.ts
function estimate4(figure2, what) {
  if (!figure2 || figure2.value === null) {
    throw new InputError(`the evaluation has no ${what} for the candidate`, {}, "re-run evaluate");
  }
  return {
    value: figure2.value,
    lower: figure2.ci?.low ?? figure2.value,
    upper: figure2.ci?.high ?? figure2.value
  };
}
function summary(result, name2) {
  const report = result.report.recommenders.find((r) => r.name === name2);
  if (!report) return void 0;
  return {
    hr20: estimate4(report.metrics["hr@20"], "HR@20"),
    mrr20: estimate4(report.metrics["mrr@20"], "MRR@20"),
    examples: report.metrics["hr@20"].n
  };
}
async function smokeSessions(input, runId2) {
  const stored = await readSmokeSessions(input.store, runId2);
  if (stored) return stored;
  const sessions = [];
  for await (const session2 of readSessions(await input.warehouse(), {
    split: "test",
    pageSize: SMOKE_SESSIONS
  })) {
    sessions.push(session2);
    if (sessions.length === SMOKE_SESSIONS) break;
  }
  return smokePrefixes(sessions);
}
function sageMakerSettings(config, env = process.env) {
  const s = config.promote.sagemaker;
  const modelData = s.modelData ?? (config.store.startsWith("s3://") ? `${config.store}/sagemaker-models` : "");
  return {
    region: s.region ?? (env.AWS_REGION || void 0) ?? "us-east-1",
    endpointName: s.endpoint,
    // A repository without a tag runs the serve image of this checkout (the images workflow's).
    image: s.image ? resolveImage(s.image, "serve") : "",
    executionRoleArn: s.roleArn ?? "",
    instanceType: s.instanceType,
    instanceCount: s.instanceCount,
    modelData,
    trafficRouting: parseTrafficRouting(s.traffic, 60),
    terminationWaitSeconds: 0,
    maxExecutionTimeoutSeconds: 3600,
    alarms: s.alarms ? s.alarms.split(",").filter(Boolean) : [],
    keep: 3,
    waitSeconds: 4200,
    ...s.capture ? { dataCapture: { destination: s.capture, percent: s.capturePercent } } : {}
  };
}
async function deploy(input, runId2, scratch, current = null) {
  const { config, store, reporter } = input;
  const dir = await runModelDir(store, runId2, scratch);
  const sessions = await smokeSessions(input, runId2);
  if (config.promote.target === "sagemaker") {
    const serving = current?.deployment;
    const result = await deployToSageMaker(
      sageMakerSettings(config),
      {
        runId: runId2,
        artifactDir: dir,
        smokeSessions: sessions,
        ...current && serving?.target === "sagemaker" && serving.modelDataUrl && serving.modelDataSha256 ? {
          serving: {
            runId: current.runId,
            modelDataUrl: serving.modelDataUrl,
            sha256: serving.modelDataSha256
          }
        } : {}
      },
      { reporter }
    );
    return { deployment: sageMakerDeploymentRecord(result), smoke: result.smoke };
  }
  const smoke = await verifyLocalEndpoint({
    modelDir: dir,
    sessions,
    reporter
  });
  return {
    deployment: { target: "local", endpoint: "npx pipeline serve", modelDataUrl: dir },
    smoke
  };
}
async function sameModel(store, productionRunId, files) {
  const production = (await readStageResult(store, productionRunId, "evaluate"))?.result;
  const recorded = production?.modelFiles ?? [];
  if (recorded.length === 0 || files.length === 0) return false;
  const byPlace = (list2) => list2.map((f) => `${f.name.split("/model/").pop() ?? f.name} ${f.sha256 ?? ""}`).sort().join("\n");
  return byPlace(recorded) === byPlace(files);
}
async function promoteRun(input) {
  const { config, store, runId: runId2, reporter } = input;
  const target = config.promote.target;
  const evaluation = (await readStageResult(store, runId2, "evaluate"))?.result;
  if (!evaluation) {
    throw new InputError(
      `run ${runId2} has no evaluation in ${store.location}: promotion needs its gates and metrics`,
      {},
      `run: npx pipeline evaluate --run-id ${runId2}`
    );
  }
  const challenger = summary(evaluation, evaluation.report.roles.candidate);
  if (!challenger) throw new InputError(`run ${runId2}'s evaluation has no candidate model`);
  const champion = summary(evaluation, evaluation.report.roles.production);
  const paired = (metric) => evaluation.report.comparisons.find(
    (c) => c.reference === evaluation.report.roles.production && c.metric === metric
  );
  const [dHr, dMrr] = [paired("hr@20"), paired("mrr@20")];
  const gates = {
    passed: evaluation.gates.passed,
    failedBlocking: failedChecks(evaluation.gates).map((c) => c.name)
  };
  const decision = decidePromotion({
    gates,
    challenger,
    ...champion ? { champion } : {},
    ...dHr?.ci && dMrr?.ci && dHr.difference !== null && dMrr.difference !== null ? {
      difference: {
        hr20: { value: dHr.difference, lower: dHr.ci.low, upper: dHr.ci.high },
        mrr20: { value: dMrr.difference, lower: dMrr.ci.low, upper: dMrr.ci.high }
      }
    } : {},
    force: input.force ?? false,
    overrideGates: input.overrideGates ?? false,
    tolerance: config.promote.tolerance
  });
  const current = await readProduction(store) ?? null;
  reporter.info(`promotion decision: ${decision.reason}`);
  if (decision.verdict === "gates-failed" && !decision.promote) {
    throw new StageFailure(
      `promotion refused: ${decision.reason}`,
      { target, decision, promoted: false, production: current },
      "fix the model or the data until the gates pass (--override-gates ships it anyway, recorded)"
    );
  }
  if (!decision.promote) return { target, decision, promoted: false, production: current };
  if (current && !input.force && await sameModel(store, current.runId, evaluation.modelFiles)) {
    const reason = `run ${current.runId} in production serves the same model files (equal sha256): nothing to deploy`;
    reporter.info(`promotion skipped: ${reason}`);
    return {
      target,
      decision: { ...decision, promote: false, reason },
      promoted: false,
      production: current
    };
  }
  const scratch = await mkdtemp8(join20(tmpdir8(), "mlops-promote-"));
  try {
    let deployed;
    try {
      deployed = await deploy(input, runId2, scratch, current);
    } catch (error) {
      if (!current || target !== "local") throw error;
      reporter.warn(`${error.message}; rolling back to run ${current.runId}`);
      await deploy(input, current.runId, scratch);
      throw new StageFailure(
        `promotion of run ${runId2} rolled back: its endpoint failed the smoke test; run ${current.runId} stays in production`,
        {
          target,
          decision,
          promoted: false,
          production: current,
          rolledBackTo: current.runId
        },
        "see the smoke test error above; `npx pipeline serve` still serves the production model"
      );
    }
    const { deployment, smoke } = deployed;
    const production = await recordPromotion(store, {
      runId: runId2,
      deployment,
      metrics: challenger,
      gates,
      decision
    });
    return { target, decision, promoted: true, production, smoke };
  } finally {
    await rm11(scratch, { recursive: true, force: true });
  }
}

// pipeline/upload/load-file.ts
import { createWriteStream as createWriteStream4 } from "node:fs";
import { mkdtemp as mkdtemp9, rm as rm12, stat as stat6 } from "node:fs/promises";
import { tmpdir as tmpdir9 } from "node:os";
import { basename as basename3, join as join21 } from "node:path";
import { once as once2 } from "node:events";

// pipeline/data/reader.ts
import { closeSync, createReadStream as createReadStream4, openSync, readSync } from "node:fs";
import { createGunzip } from "node:zlib";
import Papa from "papaparse";
var CsvRecord = class {
  constructor(line, raw, tooLong) {
    this.line = line;
    this.raw = raw;
    this.tooLong = tooLong;
  }
  line;
  raw;
  tooLong;
  parsed;
  get fields() {
    return this.parse().fields;
  }
  /** True when the line was longer than the limit: `raw` then holds its first 200 characters. */
  get truncated() {
    return this.tooLong !== void 0;
  }
  /** Set when the line cannot be split into fields at all. */
  get problem() {
    return this.parse().problem;
  }
  parse() {
    this.parsed ??= this.tooLong === void 0 ? splitFields(this.raw) : tooLongProblem(this.tooLong);
    return this.parsed;
  }
};
function isGzipFile(path2) {
  const fd = openSync(path2, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 31 && head[1] === 139;
  } finally {
    closeSync(fd);
  }
}
function openText(path2, chunkSize) {
  const file = createReadStream4(path2, { highWaterMark: chunkSize });
  if (!isGzipFile(path2)) {
    file.setEncoding("utf8");
    return { text: file, file };
  }
  const gunzip = createGunzip({ chunkSize });
  file.on("error", (error) => gunzip.destroy(error));
  gunzip.setEncoding("utf8");
  return { text: file.pipe(gunzip), file };
}
var DEFAULT_MAX_LINE_LENGTH = 1 << 20;
async function* readCsvLines(path2, options) {
  const { text: stream, file } = openText(path2, options.chunkSize ?? 1 << 20);
  let carry = "";
  let line = 0;
  let oversized = false;
  for await (const chunk of gzipErrors(stream, path2, () => line)) {
    options.onRead?.(file.bytesRead);
    let text = carry + chunk;
    if (line === 0 && text.charCodeAt(0) === 65279) text = text.slice(1);
    const batch = [];
    let start = 0;
    let end;
    while ((end = text.indexOf("\n", start)) !== -1) {
      line++;
      if (oversized) {
        batch.push(
          new CsvRecord(line, text.slice(start, Math.min(end, start + 200)), options.maxLineLength)
        );
        oversized = false;
      } else {
        batch.push(lineRecord(line, stripCr(text.slice(start, end)), options.maxLineLength));
      }
      start = end + 1;
    }
    carry = text.slice(start);
    if (carry.length > options.maxLineLength) {
      oversized = true;
      carry = carry.slice(0, 200);
    }
    if (batch.length > 0) yield batch;
  }
  if (carry.length > 0 || oversized) {
    line++;
    yield [
      oversized ? new CsvRecord(line, carry, options.maxLineLength) : lineRecord(line, stripCr(carry), options.maxLineLength)
    ];
  }
}
async function* gzipErrors(chunks, path2, lines) {
  try {
    yield* chunks;
  } catch (error) {
    const code2 = error.code ?? "";
    if (!code2.startsWith("Z_")) throw error;
    throw new InputError(
      `the gzip stream is damaged after line ${lines()}: ${error.message}`,
      { file: path2 },
      "Download or compress the file again (gzip -t FILE tests it)."
    );
  }
}
function stripCr(text) {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}
function tooLongProblem(limit) {
  return {
    fields: [],
    problem: `line is longer than ${limit} characters (an absurdly long field, or a missing line break)`
  };
}
function lineRecord(line, raw, maxLineLength) {
  return raw.length > maxLineLength ? new CsvRecord(line, raw.slice(0, 200), maxLineLength) : new CsvRecord(line, raw);
}
function splitFields(raw) {
  if (!raw.includes('"')) return { fields: raw.split(",") };
  const parsed = Papa.parse(raw, { delimiter: ",", newline: "\n", quoteChar: '"' });
  const error = parsed.errors[0];
  if (error) return { fields: [], problem: `broken quoting: ${error.message.toLowerCase()}` };
  return { fields: parsed.data[0] ?? [""] };
}

// pipeline/data/validate.ts
var MIN_EPOCH_MS = 9466848e5;
var MAX_EPOCH_MS = 41024448e5;
var MAX_FIELD_LENGTH = 65536;
var HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;
function isHexHash(value2) {
  if (value2.length !== HASH_LENGTH) return false;
  for (let i = 0; i < HASH_LENGTH; i++) {
    const code2 = value2.charCodeAt(i);
    if (code2 >= 128 || HEX_DIGIT[code2] === 0) return false;
  }
  return true;
}
var INTEGER = /^\d{1,16}$/;
var NUMBER2 = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
var EVENT_TYPE_SET = new Set(EVENT_TYPES);
var PRODUCT_ACTION_SET = new Set(PRODUCT_ACTIONS);
var RowError = class extends Error {
  constructor(columnIndex, reason) {
    super(reason);
    this.columnIndex = columnIndex;
  }
  columnIndex;
};
function hash(value2, index2) {
  if (!isHexHash(value2)) {
    throw new RowError(index2, `expected a ${HASH_LENGTH}-character hex hash, got ${show(value2)}`);
  }
  return value2;
}
function optionalHash(value2, index2) {
  return value2 === "" ? null : hash(value2, index2);
}
function epochMs(value2, index2) {
  const ms = INTEGER.test(value2) ? Number(value2) : Number.NaN;
  if (!(ms >= MIN_EPOCH_MS && ms < MAX_EPOCH_MS)) {
    throw new RowError(
      index2,
      `expected epoch milliseconds between 2000 and 2100 (13 digits), got ${show(value2)}`
    );
  }
  return value2;
}
function hashList(value2, index2) {
  const items = listItems(value2, index2);
  if (items === null) return null;
  const hashes = items.map((item) => {
    const unquoted = /^'(.*)'$|^"(.*)"$/.exec(item);
    const text = unquoted ? unquoted[1] ?? unquoted[2] ?? "" : item;
    if (!isHexHash(text)) {
      throw new RowError(
        index2,
        `list item ${show(item)} is not a ${HASH_LENGTH}-character hex hash`
      );
    }
    return text;
  });
  return JSON.stringify(hashes);
}
function numberList(value2, index2) {
  const items = listItems(value2, index2);
  if (items === null) return null;
  for (const item of items) {
    if (!NUMBER2.test(item)) throw new RowError(index2, `list item ${show(item)} is not a number`);
  }
  return `[${items.map((item) => String(Number(item))).join(",")}]`;
}
function listItems(value2, index2) {
  const text = value2.trim();
  if (text === "" || text === "[]") return text === "" ? null : [];
  if (!text.startsWith("[") || !text.endsWith("]")) {
    throw new RowError(index2, `expected a bracketed list like [a, b], got ${show(value2)}`);
  }
  return text.slice(1, -1).split(",").map((item) => item.trim());
}
function categoryPath(value2, index2) {
  if (value2 === "") return null;
  const parts = value2.split("/");
  for (const part2 of parts) {
    if (!isHexHash(part2)) {
      throw new RowError(
        index2,
        `expected a '/'-separated path of ${HASH_LENGTH}-character hex hashes, got ${show(value2)}`
      );
    }
  }
  return value2;
}
function priceBucket(value2, index2) {
  if (value2 === "") return null;
  const bucket = NUMBER2.test(value2) ? Number(value2) : Number.NaN;
  if (!(Number.isInteger(bucket) && bucket >= 1 && bucket <= 10)) {
    throw new RowError(
      index2,
      `expected a price bucket from 1 to 10 (like "7.0"), got ${show(value2)}`
    );
  }
  return String(bucket);
}
function eventType(value2, index2) {
  if (!EVENT_TYPE_SET.has(value2)) {
    throw new RowError(index2, `expected one of ${EVENT_TYPES.join(", ")}, got ${show(value2)}`);
  }
  return value2;
}
function productAction(value2, index2, row) {
  if (!PRODUCT_ACTION_SET.has(value2)) {
    const allowed = PRODUCT_ACTIONS.filter(Boolean).join(", ");
    throw new RowError(index2, `expected one of ${allowed} or empty, got ${show(value2)}`);
  }
  const type = row[1];
  if (type === "pageview" && value2 !== "") {
    throw new RowError(index2, `a pageview has no product_action, got ${show(value2)}`);
  }
  if (type !== "pageview" && value2 === "") {
    throw new RowError(index2, `a ${type} event needs a product_action`);
  }
  return value2 === "" ? null : value2;
}
function productSku(value2, index2, row) {
  if (value2 === "" && row[1] !== "pageview") {
    throw new RowError(index2, `a ${row[1]} event needs a product_sku_hash`);
  }
  return optionalHash(value2, index2);
}
function modelRunId(value2, index2) {
  if (!RUN_ID2.test(value2)) {
    throw new RowError(
      index2,
      `expected a run id (letters, digits, '.', '_', '-'; up to 64), got ${show(value2)}`
    );
  }
  return value2;
}
var RUN_ID2 = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
var RULES = {
  browsing: [hash, eventType, productAction, productSku, epochMs, optionalHash],
  search: [hash, epochMs, numberList, hashList, hashList],
  catalog: [hash, numberList, categoryPath, numberList, priceBucket],
  served: [hash, hash, epochMs, modelRunId]
};
var STAGES_RAW_LINE = {
  browsing: true,
  search: false,
  catalog: false,
  served: true
};
function validateRecord(kind, fields) {
  const columns2 = DATA_FILES[kind].columns;
  if (fields.length !== columns2.length) {
    const blank = fields.length === 1 && fields[0] === "";
    return reject(
      0,
      "",
      blank ? "blank line" : `expected ${columns2.length} columns, found ${fields.length}`
    );
  }
  const rules = RULES[kind];
  const values = new Array(fields.length);
  try {
    for (let i = 0; i < fields.length; i++) {
      const value2 = fields[i];
      if (value2.length > MAX_FIELD_LENGTH) {
        throw new RowError(
          i,
          `field is ${value2.length} characters, over the limit of ${MAX_FIELD_LENGTH}`
        );
      }
      if (value2.includes("�")) {
        throw new RowError(i, "not valid UTF-8 (the file must be UTF-8 encoded)");
      }
      values[i] = rules[i](value2, i, fields);
    }
  } catch (error) {
    if (error instanceof RowError) {
      return reject(error.columnIndex + 1, columns2[error.columnIndex] ?? "", error.message);
    }
    throw error;
  }
  return { ok: true, values };
}
function reject(columnIndex, columnName, reason) {
  return { ok: false, rejection: { columnIndex, columnName, reason } };
}
function show(value2) {
  return value2.length > 40 ? `"${value2.slice(0, 40)}…" (${value2.length} chars)` : `"${value2}"`;
}
function checkHeader(kind, fields) {
  const expected = DATA_FILES[kind].columns;
  const names = fields.map((field2) => field2.trim().toLowerCase());
  const known = names.filter((name2) => expected.includes(name2));
  if (known.length === 0) {
    if (validateRecord(kind, fields).ok) {
      const positions2 = expected.map((_, i) => i);
      return {
        kind: "layout",
        layout: { header: false, positions: positions2, width: expected.length, extra: [], standard: true }
      };
    }
    return { kind: "wrong-header" };
  }
  const duplicates = [...new Set(known.filter((name2, i) => known.indexOf(name2) !== i))];
  if (duplicates.length > 0) return { kind: "duplicate-columns", duplicates };
  const missing = expected.filter((name2) => !names.includes(name2));
  if (missing.length > 0) return { kind: "missing-columns", missing, found: names };
  const positions = expected.map((name2) => names.indexOf(name2));
  return {
    kind: "layout",
    layout: {
      header: true,
      positions,
      width: names.length,
      extra: names.filter((name2) => !expected.includes(name2)),
      standard: names.length === expected.length && positions.every((p, i) => p === i)
    }
  };
}
function schemaOrder(layout, fields) {
  return layout.positions.map((position) => fields[position]);
}
function isValidBrowsingLine(raw) {
  return browsingLineTimestamp(raw) >= 0;
}
function browsingLineTimestamp(raw) {
  let p = hexAt(raw, 0);
  if (p < 0 || raw.charCodeAt(p) !== COMMA) return -1;
  p++;
  let pageview;
  if (raw.startsWith("pageview,", p)) {
    pageview = true;
    p += 9;
  } else if (raw.startsWith("event_product,", p)) {
    pageview = false;
    p += 14;
  } else if (raw.startsWith("event,", p)) {
    pageview = false;
    p += 6;
  } else return -1;
  const actionEnd = raw.indexOf(",", p);
  if (actionEnd < 0) return -1;
  const action = actionEnd - p;
  if (pageview ? action !== 0 : !FAST_ACTIONS.has(raw.slice(p, actionEnd))) return -1;
  p = actionEnd + 1;
  if (raw.charCodeAt(p) === COMMA) {
    if (!pageview) return -1;
  } else {
    p = hexAt(raw, p);
    if (p < 0 || raw.charCodeAt(p) !== COMMA) return -1;
  }
  p++;
  let ms = 0;
  const digitsStart = p;
  for (let code2 = raw.charCodeAt(p); code2 >= 48 && code2 <= 57; code2 = raw.charCodeAt(++p)) {
    ms = ms * 10 + (code2 - 48);
  }
  const digits = p - digitsStart;
  if (digits === 0 || digits > 16 || ms < MIN_EPOCH_MS || ms >= MAX_EPOCH_MS) return -1;
  if (raw.charCodeAt(p) !== COMMA) return -1;
  p++;
  return p === raw.length || hexAt(raw, p) === raw.length ? ms : -1;
}
var COMMA = 44;
var FAST_ACTIONS = new Set(PRODUCT_ACTIONS.filter((a) => a !== ""));
function hexAt(raw, start) {
  const end = start + HASH_LENGTH;
  if (end > raw.length) return -1;
  for (let i = start; i < end; i++) {
    const code2 = raw.charCodeAt(i);
    if (code2 >= 128 || HEX_DIGIT[code2] === 0) return -1;
  }
  return end;
}

// pipeline/upload/bulk-load.ts
import { createHash as createHash14 } from "node:crypto";
import { createReadStream as createReadStream5 } from "node:fs";
import { basename as basename2 } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { createGunzip as createGunzip2 } from "node:zlib";
var LINE_TIMESTAMP = {
  browsing: browsingLineTimestamp
};
var MAX_LINES = 2 ** 31 - 1;
function bulkLineCheck(kind) {
  return LINE_TIMESTAMP[kind];
}
async function bulkLoad(options) {
  const { kind, path: path2, loader } = options;
  const check2 = bulkLineCheck(kind);
  if (!check2) return { status: "unclean", reason: `no bulk path for ${kind}` };
  const load = await loader.begin(kind, options.meta, { path: path2, gzip: options.gzip });
  options.reporter.info(
    `  inserting ${basename2(path2)} with the warehouse's own reader while checking every line`
  );
  const bar = options.reporter.progress(`  ${basename2(path2)}`, options.bytes);
  let verdict;
  try {
    verdict = await verifyFile(
      path2,
      kind,
      options.gzip,
      check2,
      (bytes, lines) => bar.update(Math.min(bytes, options.bytes), lines)
    );
  } catch (error) {
    await load.rollback();
    return { status: "unclean", reason: error instanceof Error ? error.message : String(error) };
  } finally {
    bar.stop();
  }
  if (!verdict.clean) {
    await load.rollback();
    return { status: "unclean", reason: verdict.reason };
  }
  let committed;
  try {
    committed = await load.commit(
      verdict.sha256,
      { rowsRead: verdict.rows, rowsLoaded: verdict.rows, rowsRejected: 0 },
      verdict.checksum
    );
  } catch (error) {
    return { status: "unclean", reason: error instanceof Error ? error.message : String(error) };
  }
  if ("mismatch" in committed) return { status: "unclean", reason: committed.mismatch };
  if ("existing" in committed) return { status: "existing", record: committed.existing };
  return { status: "loaded", record: committed.record, sha256: verdict.sha256, rows: verdict.rows };
}
async function verifyFile(path2, kind, gzip, check2, progress) {
  const hash2 = createHash14("sha256");
  const file = createReadStream5(path2, { highWaterMark: 1 << 20 });
  const decoder = new StringDecoder("utf8");
  const header = DATA_FILES[kind].columns.join(",");
  let carry = "";
  let line = 0;
  let rows = 0;
  let checksum2 = 0;
  let blankSince = 0;
  let problem;
  const takeLine = (text2) => {
    line++;
    const raw = text2.endsWith("\r") ? text2.slice(0, -1) : text2;
    if (line === 1) {
      if ((raw.charCodeAt(0) === 65279 ? raw.slice(1) : raw) === header) return true;
      problem = "the header is not the standard one, in the standard order";
      return false;
    }
    if (raw === "") {
      blankSince ||= line;
      return true;
    }
    if (blankSince) {
      problem = `line ${blankSince} is blank`;
      return false;
    }
    const timestamp = check2(raw);
    if (timestamp < 0 || line > MAX_LINES) {
      problem = `line ${line} needs the exact validator`;
      return false;
    }
    rows++;
    checksum2 = addToPositionChecksum(checksum2, line, timestamp);
    return true;
  };
  const take = (text2) => {
    text2 = carry + text2;
    let start = 0;
    let end;
    while ((end = text2.indexOf("\n", start)) !== -1) {
      if (!takeLine(text2.slice(start, end))) return false;
      start = end + 1;
    }
    carry = text2.slice(start);
    return true;
  };
  const text = gzip ? file.pipe(createGunzip2()) : file;
  if (gzip) {
    file.on("error", (error) => text.destroy(error));
    file.on("data", (chunk) => hash2.update(chunk));
  }
  let going = true;
  try {
    for await (const chunk of text) {
      if (!gzip) hash2.update(chunk);
      going = take(decoder.write(chunk));
      if (!going) break;
      progress(file.bytesRead, line);
    }
  } finally {
    file.destroy();
    text.destroy();
  }
  if (going) going = take(decoder.end());
  if (going && carry !== "") going = takeLine(carry);
  if (!going) return { clean: false, reason: problem ?? "" };
  if (rows === 0) return { clean: false, reason: "the file has no rows" };
  return { clean: true, sha256: hash2.digest("hex"), rows, checksum: checksum2 };
}

// pipeline/upload/load-file.ts
async function loadFile(options) {
  const started = performance.now();
  const { kind, path: path2, warehouse } = options;
  const lineage = {
    etlId: options.etlId,
    etlTimestamp: (options.now?.() ?? /* @__PURE__ */ new Date()).toISOString(),
    tenant: options.tenant,
    sourceFile: basename3(path2)
  };
  const bulk = warehouse.bulk && bulkLineCheck(kind) ? warehouse.bulk : void 0;
  let known;
  if (!bulk || await bulk.loadedUnderName(kind, lineage.sourceFile)) {
    known = await sha256File(path2);
    const existing = await warehouse.findLoad(kind, known.sha256);
    if (existing) return skippedResult(options, existing, known.bytes, started);
  }
  if (bulk) {
    const bytes2 = known?.bytes ?? (await stat6(path2)).size;
    const outcome = await bulkLoad({
      kind,
      path: path2,
      gzip: isGzipFile(path2),
      bytes: bytes2,
      meta: lineage,
      loader: bulk,
      reporter: options.reporter
    });
    if (outcome.status === "existing") {
      return skippedResult(options, outcome.record, bytes2, started);
    }
    if (outcome.status === "loaded") {
      const staged = {
        read: outcome.rows,
        loaded: outcome.rows,
        rejected: 0,
        reasons: {},
        warnings: []
      };
      return loadedResult(options, outcome.sha256, bytes2, staged, started);
    }
  }
  const { sha256, bytes } = known ?? await sha256File(path2);
  const meta = { ...lineage, sourceHash: sha256 };
  const transaction = await warehouse.beginLoad(kind, meta);
  if ("existing" in transaction)
    return skippedResult(options, transaction.existing, bytes, started);
  const work = await mkdtemp9(join21(tmpdir9(), "mlops-upload-"));
  try {
    const staged = await stageFile(options, work, bytes, transaction);
    await transaction.commit({
      rowsRead: staged.read,
      rowsLoaded: staged.loaded,
      rowsRejected: staged.rejected
    });
    return loadedResult(options, sha256, bytes, staged, started);
  } catch (error) {
    await transaction.rollback();
    throw error;
  } finally {
    await rm12(work, { recursive: true, force: true });
  }
}
function loadedResult(options, sha256, bytes, staged, started) {
  return {
    kind: options.kind,
    file: options.path,
    sha256,
    bytes,
    status: "loaded",
    read: staged.read,
    loaded: staged.loaded,
    rejected: staged.rejected,
    skipped: 0,
    rejectReasons: staged.reasons,
    warnings: staged.warnings,
    etlId: options.etlId,
    seconds: (performance.now() - started) / 1e3
  };
}
function skippedResult(options, existing, bytes, started) {
  return {
    kind: options.kind,
    file: options.path,
    sha256: existing.sourceHash,
    bytes,
    status: "skipped",
    read: existing.rowsRead,
    loaded: 0,
    rejected: 0,
    skipped: existing.rowsRead,
    rejectReasons: {},
    warnings: [],
    etlId: existing.etlId,
    seconds: (performance.now() - started) / 1e3
  };
}
var CHUNK_ROWS = 2e5;
var MAX_PENDING_CHUNKS = 2;
async function stageFile(options, work, bytes, transaction) {
  const { kind, path: path2, reporter } = options;
  const rows = new ChunkedRows(
    work,
    kind,
    transaction,
    () => reporter.info(
      `  inserting rows of ${basename3(path2)} into ${DATA_FILES[kind].table} as they are validated`
    )
  );
  const rejectsPath = join21(work, `${kind}.rejects.csv`);
  const rejects = new BufferedWriter(rejectsPath);
  const reasons = /* @__PURE__ */ new Map();
  const warnings = [];
  const bar = reporter.progress(`  ${basename3(path2)}`, bytes);
  let read = 0;
  let loaded = 0;
  let rejected = 0;
  let consumed = 0;
  const passthrough = STAGES_RAW_LINE[kind];
  const certainlyValid = kind === "browsing" ? isValidBrowsingLine : void 0;
  const stage = async (text, line) => {
    loaded++;
    rows.write(`${text},${line}
`);
    if (rows.full) await rows.handOver();
  };
  const reject2 = async (record, rejection) => {
    rejected++;
    const key = rejection.reason.split(":")[0];
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    const { columnIndex, columnName, reason } = rejection;
    rejects.write(
      `${record.line},${columnIndex},${csvField(columnName)},${csvField(reason)},${csvField(record.raw)}
`
    );
    if (rejects.full) await rejects.flush();
  };
  let layout;
  const blanks = [];
  const validate = async (record, columns2) => {
    const fields = record.fields;
    if (!columns2.standard && fields.length !== columns2.width) {
      await reject2(record, {
        columnIndex: 0,
        columnName: "",
        reason: `expected ${columns2.width} columns (as the header has), found ${fields.length}`
      });
      return;
    }
    const result = validateRecord(kind, columns2.standard ? fields : schemaOrder(columns2, fields));
    if (!result.ok) {
      const { columnIndex } = result.rejection;
      const position = columnIndex > 0 ? (columns2.positions[columnIndex - 1] ?? 0) + 1 : 0;
      await reject2(record, { ...result.rejection, columnIndex: position });
    } else if (passthrough && columns2.standard) await stage(record.raw, record.line);
    else await stage(result.values.map(csvValue).join(","), record.line);
  };
  try {
    const reading = {
      maxLineLength: DEFAULT_MAX_LINE_LENGTH,
      onRead: (fileBytes) => {
        consumed = fileBytes;
      }
    };
    for await (const batch of readCsvLines(path2, reading)) {
      for (const record of batch) {
        if (layout === void 0) {
          layout = columnLayout(kind, path2, record);
          if (layout.extra.length > 0) {
            warnings.push(
              `${path2}: column(s) ${layout.extra.join(", ")} not used by ${DATA_FILES[kind].table} (ignored)`
            );
          }
          if (layout.header) continue;
          warnings.push(
            `${path2}: no header line (line 1 is data); columns taken in the standard order ${DATA_FILES[kind].columns.join(",")}`
          );
        }
        if (record.raw === "") {
          blanks.push(record);
          continue;
        }
        for (const blank of blanks.splice(0)) {
          read++;
          await reject2(blank, { columnIndex: 0, columnName: "", reason: "blank line" });
        }
        read++;
        if (layout.standard && certainlyValid?.(record.raw)) {
          await stage(record.raw, record.line);
        } else if (record.problem) {
          await reject2(record, { columnIndex: 0, columnName: "", reason: record.problem });
        } else {
          await validate(record, layout);
        }
        if ((read & 65535) === 0) bar.update(Math.min(consumed, bytes), read);
      }
    }
    await rows.finish();
    await rejects.close();
    await transaction.addRejects(rejectsPath);
  } finally {
    bar.update(bytes, read);
    bar.stop();
    await Promise.all([rows.abandon(), rejects.close()]);
  }
  if (layout === void 0) warnings.push(`${path2}: the file is empty (no header, no rows)`);
  else if (read === 0) warnings.push(`${path2}: the file has a header but no rows`);
  const sorted = [...reasons.entries()].sort((a, b) => b[1] - a[1]);
  return { read, loaded, rejected, reasons: Object.fromEntries(sorted), warnings };
}
function columnLayout(kind, path2, record) {
  const expected = DATA_FILES[kind].columns;
  const check2 = record.problem ? { kind: "wrong-header" } : checkHeader(kind, record.fields);
  const where = { file: path2, line: 1 };
  const hint2 = `Columns are matched by name, in any order; ${DATA_FILES[kind].file} needs ${expected.join(", ")}.`;
  switch (check2.kind) {
    case "layout":
      return check2.layout;
    case "missing-columns":
      throw new InputError(
        `the header has no column ${check2.missing.map((c) => `"${c}"`).join(", ")} (found ${check2.found.join(",")})`,
        where,
        hint2
      );
    case "duplicate-columns":
      throw new InputError(
        `the header names ${check2.duplicates.map((c) => `"${c}"`).join(", ")} more than once`,
        where,
        hint2
      );
    case "wrong-header":
      throw new InputError(
        `this is not ${DATA_FILES[kind].file}: the first line should be a header naming ${expected.join(",")} (in any order), found "${record.raw.slice(0, 200)}"`,
        where,
        "Check that the file is the data-challenge file of that name, with its header line."
      );
  }
}
var ChunkedRows = class {
  constructor(work, kind, transaction, onFirstChunk) {
    this.work = work;
    this.kind = kind;
    this.transaction = transaction;
    this.onFirstChunk = onFirstChunk;
  }
  work;
  kind;
  transaction;
  onFirstChunk;
  writer;
  rowsInChunk = 0;
  chunkIndex = 0;
  pending = [];
  write(line) {
    this.writer ??= new BufferedWriter(join21(this.work, `${this.kind}.rows.${this.chunkIndex}.csv`));
    this.writer.write(line);
    this.rowsInChunk++;
  }
  get full() {
    return this.rowsInChunk >= CHUNK_ROWS || (this.writer?.full ?? false);
  }
  /** Flushes the buffer, and hands the chunk over once it holds CHUNK_ROWS rows. */
  async handOver() {
    const writer = this.writer;
    if (!writer) return;
    if (this.rowsInChunk < CHUNK_ROWS) {
      await writer.flush();
      return;
    }
    await this.closeChunk(writer);
  }
  async closeChunk(writer) {
    this.writer = void 0;
    this.rowsInChunk = 0;
    if (this.chunkIndex++ === 0) this.onFirstChunk();
    await writer.close();
    const inserted = this.transaction.addRows(writer.path).then(() => rm12(writer.path, { force: true }));
    inserted.catch(() => void 0);
    this.pending.push(inserted);
    while (this.pending.length > MAX_PENDING_CHUNKS) await this.pending.shift();
  }
  async finish() {
    if (this.writer) await this.closeChunk(this.writer);
    while (this.pending.length > 0) await this.pending.shift();
  }
  /** After a failure: let queued inserts settle before the caller rolls back. */
  async abandon() {
    await Promise.allSettled(this.pending);
    await this.writer?.close();
  }
};
function csvValue(value2) {
  if (value2 === null) return "";
  return /[",\n\r]/.test(value2) ? csvField(value2) : value2;
}
function csvField(value2) {
  return `"${value2.replaceAll('"', '""')}"`;
}
var BufferedWriter = class {
  constructor(path2) {
    this.path = path2;
    this.stream = createWriteStream4(path2);
  }
  path;
  buffer = "";
  stream;
  closed = false;
  write(text) {
    this.buffer += text;
  }
  get full() {
    return this.buffer.length >= 1 << 20;
  }
  async flush() {
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream.write(chunk)) await once2(this.stream, "drain");
  }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    this.stream.end();
    await once2(this.stream, "finish");
  }
};

// pipeline/upload/traffic.ts
import { mkdtemp as mkdtemp10, readFile as readFile9, rm as rm13, writeFile as writeFile7 } from "node:fs/promises";
import { tmpdir as tmpdir10 } from "node:os";
import { join as join22 } from "node:path";
import { existsSync as existsSync12 } from "node:fs";

// pipeline/monitor/data-capture.ts
var NO_LIMITS = {
  maxSessions: Number.MAX_SAFE_INTEGER,
  maxK: Number.MAX_SAFE_INTEGER,
  defaultK: 1
};
var SKU = new RegExp(`^[0-9a-fA-F]{${HASH_LENGTH}}$`);
var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
var ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
var UTF8 = new TextDecoder("utf-8", { fatal: true });
var UNKNOWN_RUN = "unknown";
var RecordError = class extends Error {
};
function object(value2, field2) {
  if (typeof value2 !== "object" || value2 === null || Array.isArray(value2)) {
    throw new RecordError(`${field2}: ${value2 === void 0 ? "missing" : "expected an object"}`);
  }
  return value2;
}
function string(record, key, field2) {
  const value2 = record[key];
  if (typeof value2 !== "string") {
    throw new RecordError(
      `${field2}.${key}: ${value2 === void 0 ? "missing" : "expected a string"}`
    );
  }
  return value2;
}
function body2(capture, field2) {
  const data = string(capture, "data", field2);
  const encoding = string(capture, "encoding", field2);
  if (encoding === "JSON") return data;
  if (encoding === "BASE64") {
    if (!BASE64.test(data)) throw new RecordError(`${field2}.data: not valid base64`);
    try {
      return UTF8.decode(Buffer.from(data, "base64"));
    } catch {
      throw new RecordError(`${field2}.data: the decoded body is not UTF-8 text`);
    }
  }
  throw new RecordError(
    `${field2}.encoding: ${JSON.stringify(encoding)} is not a JSON request (expected BASE64 or JSON)`
  );
}
function answeringRun(output) {
  if (typeof output !== "object" || output === null) return UNKNOWN_RUN;
  try {
    const text = body2(output, "captureData.endpointOutput");
    const model = JSON.parse(text)?.model;
    const runId2 = model?.run_id;
    return typeof runId2 === "string" ? validateRunId(runId2) : UNKNOWN_RUN;
  } catch {
    return UNKNOWN_RUN;
  }
}
function recordEvents(line, counts) {
  let json;
  try {
    json = JSON.parse(line);
  } catch {
    const offset = Math.max(0, jsonErrorOffset(line));
    const found = offset >= line.length ? "end of line" : JSON.stringify(line[offset]);
    throw new RecordError(`not a JSON record: unexpected ${found} at column ${offset + 1}`);
  }
  const record = object(json, "record");
  const captureData = object(record.captureData, "captureData");
  const input = object(captureData.endpointInput, "captureData.endpointInput");
  const mode = string(input, "mode", "captureData.endpointInput");
  if (mode !== "INPUT") {
    throw new RecordError(
      `captureData.endpointInput.mode: expected "INPUT", got ${JSON.stringify(mode)}`
    );
  }
  const metadata = object(record.eventMetadata, "eventMetadata");
  const eventId = string(metadata, "eventId", "eventMetadata");
  if (eventId === "") throw new RecordError("eventMetadata.eventId: empty");
  const inferenceTime = string(metadata, "inferenceTime", "eventMetadata");
  const at = ISO_8601.test(inferenceTime) ? Date.parse(inferenceTime) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new RecordError(
      `eventMetadata.inferenceTime: ${JSON.stringify(inferenceTime)} is not an ISO 8601 time`
    );
  }
  let sessions;
  try {
    sessions = parseInvocation(body2(input, "captureData.endpointInput"), NO_LIMITS).sessions;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    throw new RecordError(`captureData.endpointInput.data: ${error.message}`);
  }
  const modelRunId2 = answeringRun(captureData.endpointOutput);
  return sessions.flatMap((session2, index2) => {
    const skus = session2.filter((sku) => SKU.test(sku));
    counts.skippedSkus += session2.length - skus.length;
    return servedSessionEvents(eventId, index2, skus, at, modelRunId2);
  });
}
function parseDataCapture(text, file) {
  if (text.includes("\0")) {
    throw new InputError(
      "not a data capture file: it is binary (compressed?), not JSON Lines",
      { file },
      "point the loader at the .jsonl files SageMaker Data Capture writes, uncompressed"
    );
  }
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  const result = {
    events: [],
    rejects: [],
    records: lines.length,
    skippedSkus: 0
  };
  lines.forEach((line, i) => {
    try {
      for (const event of recordEvents(line, result)) result.events.push(event);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      result.rejects.push({ line: i + 1, reason: error.message });
    }
  });
  return result;
}

// pipeline/upload/traffic.ts
function trafficLocation(config) {
  return config.monitor?.traffic ?? config.promote.sagemaker.capture ?? join22(config.store.startsWith("s3://") ? ".mlops" : config.store, "requests");
}
var REQUEST_LOG = /(^|\/)served_events\.csv(\.gz)?$/;
var CAPTURE = /\.jsonl$/;
async function loadTraffic(options) {
  const location = trafficLocation(options.config);
  const source = openTraffic(location);
  if (!source) return [];
  const keys = (await source.list("")).filter((key) => REQUEST_LOG.test(key) || CAPTURE.test(key));
  if (keys.length === 0) return [];
  options.reporter.info(`production traffic: ${keys.length} file(s) in ${location}`);
  const work = await mkdtemp10(join22(tmpdir10(), "mlops-traffic-"));
  const results = [];
  try {
    for (const [index2, key] of keys.entries()) {
      const local = join22(work, key.replaceAll("/", "_"));
      if (!await source.getFile(key, local)) continue;
      const warnings = [];
      const path2 = CAPTURE.test(key) ? await captureAsRows(local, key, warnings) : local;
      const result = await loadFile({
        kind: "served",
        path: path2,
        warehouse: options.warehouse,
        // One load per file: a run may bring many logs, and an etl_id names one load.
        etlId: `${options.runId}:served:${index2 + 1}`,
        tenant: options.config.tenant,
        reporter: options.reporter
      });
      results.push({
        ...result,
        file: `${location}/${key}`,
        warnings: [...warnings, ...result.warnings]
      });
    }
  } finally {
    await rm13(work, { recursive: true, force: true });
  }
  return results;
}
function openTraffic(location) {
  if (location.startsWith("s3://")) return new S3Store(parseS3Url(location));
  return existsSync12(location) ? new LocalStore(location) : void 0;
}
async function captureAsRows(path2, key, warnings) {
  const parsed = parseDataCapture(await readFile9(path2, "utf8"), key);
  for (const reject2 of parsed.rejects.slice(0, 5)) {
    warnings.push(`${key}:${reject2.line}: ${reject2.reason} (record not loaded)`);
  }
  if (parsed.rejects.length > 5) {
    warnings.push(`${key}: ${parsed.rejects.length - 5} more record(s) not loaded`);
  }
  const out = `${path2}.served_events.csv`;
  await writeFile7(out, [SERVED_HEADER, "\n", ...parsed.events.map(servedEventLine)].join(""));
  return out;
}

// pipeline/upload/upload.ts
async function upload(options) {
  const { config, warehouse, reporter } = options;
  const data = await acquireData(config, reporter);
  await warehouse.ensureRawSchema();
  const files = [];
  for (const kind of DATA_KINDS) {
    const path2 = data.files[kind];
    if (!path2) {
      reporter.warn(`no ${kind} file in ${data.dir}: its raw table gets no rows from this upload`);
      continue;
    }
    const result = await loadFile({
      kind,
      path: path2,
      warehouse,
      etlId: `${options.runId}:${kind}`,
      tenant: config.tenant,
      reporter
    });
    for (const warning3 of result.warnings) reporter.warn(warning3);
    reporter.info(describe3(result));
    files.push(result);
  }
  for (const result of await loadTraffic({ config, warehouse, runId: options.runId, reporter })) {
    for (const warning3 of result.warnings) reporter.warn(warning3);
    reporter.info(describe3(result));
    files.push(result);
  }
  const totals = files.reduce(
    (sum3, f) => ({
      read: sum3.read + f.read,
      loaded: sum3.loaded + f.loaded,
      rejected: sum3.rejected + f.rejected,
      skipped: sum3.skipped + f.skipped
    }),
    { read: 0, loaded: 0, rejected: 0, skipped: 0 }
  );
  const tables = {};
  for (const kind of RAW_KINDS)
    tables[rawTableName(kind)] = await warehouse.count(rawTableName(kind));
  return {
    source: data.source,
    dataDir: data.dir,
    warehouse: warehouse.description,
    files,
    totals,
    reconciled: files.every((f) => f.read === f.loaded + f.rejected + f.skipped),
    tables,
    ...data.generated ? { generated: data.generated } : {}
  };
}
function describe3(r) {
  const name2 = r.file.split("/").at(-1);
  if (r.status === "skipped") {
    return `  ${name2}: already loaded by ${r.etlId} (sha256 ${r.sha256.slice(0, 12)}…): ${r.skipped} rows skipped`;
  }
  const reasons = Object.entries(r.rejectReasons).slice(0, 3).map(([reason, n2]) => `${n2} ${reason}`).join("; ");
  return `  ${name2}: read ${r.read} = loaded ${r.loaded} + rejected ${r.rejected}${reasons ? ` (${reasons})` : ""} in ${r.seconds.toFixed(1)} s`;
}

// pipeline/run/memo.ts
function canonicalJson(value2) {
  return JSON.stringify(
    value2,
    (_key, v) => v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(
      Object.entries(v).sort(([a], [b]) => a < b ? -1 : 1)
    ) : v
  );
}
function stageCache(stage, parts) {
  const settings = sha256Hex(canonicalJson(parts.settings));
  const inputs = Object.fromEntries(
    Object.entries(parts.inputs).sort(([a], [b]) => a < b ? -1 : 1)
  );
  const key = sha256Hex(canonicalJson({ stage, code: parts.code, settings, inputs }));
  return { key, code: parts.code, settings, inputs };
}
function indexKey(stage, key) {
  return `cache/${stage}/${key}.json`;
}
async function rememberKey(store, stage, key, runId2) {
  await store.put(indexKey(stage, key), `${JSON.stringify({ runId: runId2 })}
`);
}
async function findReusable(store, stage, key, runId2) {
  const bytes = await store.get(indexKey(stage, key));
  if (!bytes) return void 0;
  const pointer = JSON.parse(Buffer.from(bytes).toString("utf8"));
  if (typeof pointer.runId !== "string" || pointer.runId === runId2) return void 0;
  const record = await readStageRecord(store, pointer.runId, stage);
  if (record?.status !== "succeeded" || record.cache?.key !== key) return void 0;
  return record;
}
var NOT_COPIED = ["checkpoint/"];
async function copyStageOutputs(store, from, runId2) {
  const source = stageKey(from.runId, from.stage, "");
  const target = stageKey(runId2, from.stage, "");
  const keys = (await store.list(source)).filter(
    (key) => key !== `${source}stage.json` && !NOT_COPIED.some((folder) => key.startsWith(`${source}${folder}`))
  );
  for (const key of keys) {
    const bytes = await store.get(key);
    if (!bytes) throw new Error(`${key} vanished while being copied from run ${from.runId}`);
    await store.put(`${target}${key.slice(source.length)}`, bytes);
  }
  const rewrite = (value2) => JSON.parse(JSON.stringify(value2).replaceAll(`runs/${from.runId}/`, `runs/${runId2}/`));
  return { files: keys.length, rewrite };
}

// pipeline/run/stage-runner.ts
async function recordStage(ctx, stage, body3, memo) {
  const startedAt = /* @__PURE__ */ new Date();
  const sha = gitSha();
  const pr = pullRequest();
  const base = {
    runId: ctx.runId,
    stage,
    startedAt: startedAt.toISOString(),
    versions: versions(),
    settings: shownSettings(ctx.config),
    ...sha ? { gitSha: sha } : {},
    ...pr ? { pullRequest: pr } : {}
  };
  const finish2 = () => {
    const finishedAt = /* @__PURE__ */ new Date();
    return {
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1e3
    };
  };
  const cache2 = memo ? stageCache(stage, await memo.parts()) : void 0;
  if (memo && cache2 && ctx.cache !== false) {
    await ctx.stageCache?.restore(stage, cache2.key);
    const earlier = await findReusable(ctx.store, stage, cache2.key, ctx.runId);
    if (earlier && (!memo.stillValid || await memo.stillValid(earlier))) {
      const copied = await copyStageOutputs(ctx.store, earlier, ctx.runId);
      const result = copied.rewrite(earlier.result);
      await writeStageRecord(ctx.store, {
        ...base,
        ...finish2(),
        status: "succeeded",
        inputs: earlier.inputs,
        outputs: copied.rewrite(earlier.outputs),
        counts: earlier.counts,
        result,
        cache: cache2,
        reused: { runId: earlier.runId, mode: "copied", files: copied.files }
      });
      ctx.reporter.info(
        `  reused from run ${earlier.runId}: same data, code and settings (key ${cache2.key.slice(0, 12)}; --no-cache runs it again)`
      );
      return result;
    }
  }
  let outcome;
  try {
    await memo?.beforeRun?.();
    outcome = await body3();
  } catch (error) {
    const failed = {
      ...base,
      ...finish2(),
      status: "failed",
      inputs: [],
      outputs: [],
      counts: {},
      result: error instanceof StageFailure ? error.result : null,
      error: error instanceof Error ? error.message : String(error)
    };
    await writeStageRecord(ctx.store, failed).catch(() => void 0);
    throw error;
  }
  await writeStageRecord(ctx.store, {
    ...base,
    ...finish2(),
    status: "succeeded",
    inputs: outcome.inputs,
    outputs: outcome.outputs,
    counts: outcome.counts,
    result: outcome.result,
    ...cache2 ? { cache: cache2 } : {}
  });
  if (memo && cache2) {
    await rememberKey(ctx.store, stage, cache2.key, ctx.runId);
    await ctx.stageCache?.save(stage, cache2.key);
    await memo.afterRun?.(cache2.key);
  }
  return outcome.result;
}

// pipeline/run/stage-keys.ts
import { readFile as readFile10 } from "node:fs/promises";
import { existsSync as existsSync14 } from "node:fs";

// pipeline/run/code-hash.ts
import { createHash as createHash15 } from "node:crypto";
import { existsSync as existsSync13, readFileSync as readFileSync7 } from "node:fs";
import { dirname as dirname6, join as join23, relative as relative6, sep as sep6 } from "node:path";
import { fileURLToPath as fileURLToPath5 } from "node:url";
var SOURCE_ROOT = fileURLToPath5(new URL("../..", __moduleUrl));
var IMPORT = /^\s*(?:import|export)[^;]*?from\s+["'](\.{1,2}\/[^"']+)["']/gm;
var SIDE_EFFECT_IMPORT = /^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm;
var DYNAMIC_IMPORT = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
function reachableSources(root, entries) {
  const seen = /* @__PURE__ */ new Set();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    const path2 = join23(root, file);
    if (!existsSync13(path2)) continue;
    seen.add(file);
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    const text = readFileSync7(path2, "utf8");
    for (const pattern of [IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
      for (const match of text.matchAll(pattern)) {
        queue.push(
          relative6(root, join23(dirname6(path2), match[1])).split(sep6).join("/")
        );
      }
    }
  }
  return [...seen].sort();
}
function hashFiles(root, files) {
  const hash2 = createHash15("sha256");
  for (const file of files) {
    const bytes = readFileSync7(join23(root, file));
    hash2.update(`${file}\0${bytes.length}\0`).update(bytes);
  }
  return hash2.digest("hex");
}
function codeHash(entries, root = SOURCE_ROOT) {
  const sources = reachableSources(root, entries);
  const files = sources.length > 0 ? sources : [relative6(root, fileURLToPath5(__moduleUrl))];
  const lockfile = existsSync13(join23(root, "package-lock.json")) ? ["package-lock.json"] : [];
  return hashFiles(root, [...files, ...lockfile]);
}

// pipeline/run/stage-keys.ts
function transformMemo(ctx, options) {
  const built = async () => {
    const warehouse = await ctx.warehouse();
    await warehouse.query(
      `CREATE TABLE IF NOT EXISTS ${BUILT_TABLE} (cache_key VARCHAR, run_id VARCHAR, built_at VARCHAR)`
    );
    return warehouse;
  };
  return {
    parts: () => transformKeyParts(ctx, options),
    stillValid: async (earlier) => {
      const rows = await (await built()).query(`SELECT cache_key FROM ${BUILT_TABLE}`);
      return rows.length === 1 && rows[0]?.cache_key === earlier.cache?.key;
    },
    beforeRun: async () => {
      await (await built()).query(`DELETE FROM ${BUILT_TABLE}`);
    },
    afterRun: async (key) => {
      await (await built()).query(`INSERT INTO ${BUILT_TABLE} VALUES ($1, $2, $3)`, [
        key,
        ctx.runId,
        (/* @__PURE__ */ new Date()).toISOString()
      ]);
    }
  };
}
var BUILT_TABLE = "mlops_transform_build";
function trainMemo(ctx) {
  return { parts: () => trainKeyParts(ctx) };
}
function evaluateMemo(ctx) {
  return { parts: () => evaluateKeyParts(ctx) };
}
async function transformKeyParts(ctx, options) {
  const { config } = ctx;
  const { projectDir: project } = transformPreflight(config);
  const raw = await rawInputs(await ctx.warehouse());
  return {
    code: codeHash(["pipeline/transform/transform.ts"]),
    // Not the warehouse: equal inputs build equal tables anywhere; whether this warehouse holds
    // them is transformMemo's check.
    settings: { transform: config.transform, options },
    inputs: {
      project: projectInput(project).sha256 ?? "",
      ...Object.fromEntries(raw.map((table3) => [table3.name, table3.sha256 ?? ""]))
    }
  };
}
async function trainKeyParts(ctx) {
  const { config } = ctx;
  return {
    code: codeHash(["pipeline/train/train.ts", "pipeline/compute/train-on-batch.ts"]),
    // Where it trains (here or on Batch) is not what it computes: a model trained on Batch is
    // reused by a local run and the other way round.
    settings: { train: { ...config.train, compute: void 0 }, model: config.model },
    inputs: { data: await trainingDataKey(ctx) }
  };
}
async function evaluateKeyParts(ctx) {
  const { config } = ctx;
  const gatesFile = resolveGatesFile(config.evaluate.gates);
  const production = await ctx.store.get(PRODUCTION_KEY);
  return {
    code: codeHash(["pipeline/evaluate/stage.ts"]),
    settings: {
      evaluate: { ...config.evaluate, gates: void 0 },
      tolerance: config.promote.tolerance,
      source: config.data.source
    },
    inputs: {
      train: await upstreamKey(ctx, "train"),
      transform: await upstreamKey(ctx, "transform"),
      gates: existsSync14(gatesFile) ? sha256Hex(await readFile10(gatesFile)) : "missing",
      production: production ? sha256Hex(production) : "none"
    }
  };
}
async function trainingDataKey(ctx) {
  const record = await readStageRecord(ctx.store, ctx.runId, "transform");
  if (record?.status !== "succeeded" || !record.cache) return `run ${ctx.runId}`;
  const { [DATA_FILES.served.table]: _traffic, ...inputs } = record.cache.inputs;
  return sha256Hex(
    canonicalJson({ code: record.cache.code, settings: record.cache.settings, inputs })
  );
}
async function upstreamKey(ctx, stage) {
  const record = await readStageRecord(ctx.store, ctx.runId, stage);
  return record?.status === "succeeded" && record.cache ? record.cache.key : `run ${ctx.runId}`;
}

// pipeline/run/stages.ts
async function uploadStage(ctx) {
  return recordStage(ctx, "upload", async () => {
    const result = await upload({
      config: ctx.config,
      warehouse: await ctx.warehouse(),
      runId: ctx.runId,
      reporter: ctx.reporter
    });
    return {
      result,
      inputs: result.files.map((f) => ({ name: f.file, sha256: f.sha256, bytes: f.bytes })),
      outputs: result.files.filter((f) => f.status === "loaded").map((f) => rawTableName(f.kind)),
      counts: { ...result.totals, ...result.tables }
    };
  });
}
async function transformStage(ctx, options = {}) {
  return recordStage(
    ctx,
    "transform",
    async () => {
      const result = await transform({
        config: ctx.config,
        runId: ctx.runId,
        store: ctx.store,
        reporter: ctx.reporter,
        warehouse: { open: () => ctx.warehouse(), release: () => ctx.releaseWarehouse() },
        ...options
      });
      const failure = transformFailure(result);
      if (failure) throw failure;
      const models = result.dag.nodes.filter((n2) => n2.type === "model" && n2.status === "success");
      return {
        result,
        inputs: result.inputs,
        outputs: [
          ...models.map((n2) => n2.relation ?? n2.name),
          result.artifacts.manifest,
          result.artifacts.runResults
        ],
        counts: {
          models_built: result.summary.models.success,
          tests_passed: result.summary.tests.pass,
          tests_warned: result.summary.tests.warn,
          ...Object.fromEntries(models.map((n2) => [n2.name, n2.rows ?? 0])),
          ...result.splits ? {
            train_sessions: result.splits.train,
            validation_sessions: result.splits.validation,
            test_sessions: result.splits.test
          } : {}
        }
      };
    },
    transformMemo(ctx, options)
  );
}
async function trainStage(ctx) {
  return recordStage(
    ctx,
    "train",
    async () => {
      const result = ctx.config.train.compute === "batch" ? await trainOnBatch(ctx) : await trainLocally({
        config: ctx.config,
        runId: ctx.runId,
        store: ctx.store,
        warehouse: await ctx.warehouse(),
        reporter: ctx.reporter,
        resume: true
      });
      const best = result.history.epochs.find((e) => e.epoch === result.history.bestEpoch);
      return {
        result,
        inputs: [],
        outputs: result.artifact.files,
        counts: {
          epochs: result.epochsRun,
          best_epoch: result.history.bestEpoch,
          vocabulary_size: result.dataset.vocabularySize,
          train_examples: result.dataset.splits.train.kept,
          validation_examples: best?.validationExamples ?? 0
        }
      };
    },
    trainMemo(ctx)
  );
}
async function evaluateStage(ctx) {
  return recordStage(
    ctx,
    "evaluate",
    async () => {
      const result = await evaluateRun({
        config: ctx.config,
        runId: ctx.runId,
        store: ctx.store,
        warehouse: await ctx.warehouse(),
        reporter: ctx.reporter
      });
      const failed = failedChecks(result.gates);
      if (!result.gates.passed) {
        throw new StageFailure(
          `${failed.length} blocking gate(s) failed: ${failed.map((c) => c.name).join(", ")}
${formatMetricTable(result.report)}
${formatGateTable(result.gates)}`,
          result,
          `the thresholds are in ${result.gatesFile}; the full report is ${ctx.store.location}/${result.artifacts.report}`
        );
      }
      const hr20 = (name2) => result.report.recommenders.find((r) => r.name === name2)?.metrics["hr@20"].value ?? 0;
      return {
        result,
        // The model files it judged, by hash: what a promotion of this run must still find.
        inputs: result.modelFiles,
        outputs: [
          result.artifacts.report,
          result.artifacts.gates,
          ...result.artifacts.smokeSessions ? [result.artifacts.smokeSessions] : [],
          ...result.artifacts.outcomes ? [result.artifacts.outcomes] : []
        ],
        counts: {
          test_sessions: result.report.counts.evaluatedSessions,
          prefixes: result.report.counts.prefixes,
          recommenders: result.report.recommenders.length,
          checks_failed: failedChecks(result.gates).length,
          checks_warned: result.gates.checks.filter((c) => c.verdict === "warn").length,
          candidate_hr20_permille: Math.round(1e3 * hr20(result.report.roles.candidate ?? ""))
        }
      };
    },
    evaluateMemo(ctx)
  );
}
async function cardStage(ctx) {
  return recordStage(ctx, "card", async () => {
    const data = await cardDataFromRun(ctx.store, ctx.runId, {
      config: ctx.config,
      // A folder store on a CI runner travels between jobs as an artifact and then is gone.
      ephemeralStore: process.env.GITHUB_ACTIONS === "true" && !ctx.store.location.startsWith("s3://"),
      ...ctx.configSources ? { sources: ctx.configSources } : {}
    });
    const written = await writeCardArtifacts(ctx.store, data, {
      reporter: ctx.reporter,
      screenshot: ctx.config.card.screenshot
    });
    const at = (key) => `${ctx.store.location}/${key}`;
    const result = {
      card: written.card,
      report: written.report,
      ...written.screenshot ? { screenshot: written.screenshot } : {},
      cardChars: written.cardChars,
      paths: {
        card: at(written.card),
        report: at(written.report),
        ...written.screenshot ? { screenshot: at(written.screenshot) } : {}
      },
      verdict: data.verdict ? data.verdict.passed ? "passed" : "failed" : "not evaluated"
    };
    return {
      result,
      inputs: [],
      outputs: [written.card, written.report, ...written.screenshot ? [written.screenshot] : []],
      counts: { card_chars: written.cardChars }
    };
  });
}
async function promoteStage(ctx, options = {}) {
  return recordStage(ctx, "promote", async () => {
    const result = await promoteRun({
      config: ctx.config,
      runId: ctx.runId,
      store: ctx.store,
      warehouse: () => ctx.warehouse(),
      reporter: ctx.reporter,
      ...options
    });
    return {
      result,
      inputs: [],
      outputs: result.promoted ? ["registry/production.json"] : [],
      counts: { promoted: result.promoted ? 1 : 0 }
    };
  });
}
var STAGES = {
  upload: uploadStage,
  transform: (ctx) => transformStage(ctx),
  train: trainStage,
  evaluate: evaluateStage,
  card: cardStage,
  promote: (ctx) => promoteStage(ctx)
};

// actions/common/action-reporter.ts
import * as core from "@actions/core";
function actionReporter() {
  return {
    info(message) {
      core.info(message);
    },
    warn(message) {
      core.warning(message);
    },
    progress(label2, _total, items = "rows") {
      let rows = 0;
      return {
        update(_done, processed) {
          rows = processed;
        },
        stop() {
          core.info(`${label2}: ${rows} ${items}`);
        }
      };
    }
  };
}

// actions/common/result-fields.ts
var ResultFields = class {
  /** `value` is what the stage returned, or a failed stage's partial result: typed as T only by hope. */
  constructor(value2) {
    this.value = value2;
  }
  value;
  get(path2) {
    let current = this.value;
    for (const part2 of path2.split(".")) {
      if (current === null || typeof current !== "object") return void 0;
      current = current[part2];
    }
    return current;
  }
  string(path2) {
    const value2 = this.get(path2);
    return typeof value2 === "string" ? value2 : void 0;
  }
  number(path2) {
    const value2 = this.get(path2);
    return typeof value2 === "number" && Number.isFinite(value2) ? value2 : void 0;
  }
  boolean(path2) {
    const value2 = this.get(path2);
    return typeof value2 === "boolean" ? value2 : void 0;
  }
};

// actions/common/secrets.ts
import * as core2 from "@actions/core";
var SECRET_NAME = /(TOKEN|PASSWORD|PASSPHRASE|PRIVATE_KEY|SECRET|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN|CREDENTIALS)/i;
var MIN_MASKED = 8;
function isSecretName(name2) {
  return SECRET_NAME.test(name2.replaceAll("-", "_"));
}
function secretValues(env) {
  const values = [];
  for (const [name2, value2] of Object.entries(env)) {
    if (!value2) continue;
    if (!isSecretName(name2.replace(/^INPUT_/, ""))) continue;
    if (!/\r?\n/.test(value2.trim())) {
      values.push(value2);
      continue;
    }
    for (const line of value2.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MIN_MASKED && !/^-----(BEGIN|END) /.test(trimmed)) values.push(trimmed);
    }
  }
  return values;
}
function maskSecrets(env = process.env) {
  const values = secretValues(env);
  for (const value2 of values) core2.setSecret(value2);
  return values.length;
}

// actions/common/stage-cache.ts
import { mkdir as mkdir8, readFile as readFile11, rm as rm14, writeFile as writeFile8 } from "node:fs/promises";
import { dirname as dirname7, join as join24 } from "node:path";
function stageCacheKey(stage, key) {
  return `mlops-stage-${stage}-${key}`;
}
var NOT_KEPT = "/checkpoint/";
function actionsStageCache(options) {
  const { api, store, log: log2 } = options;
  const folder = (stage, key) => join24(options.scratch, "mlops-stage", stage, key);
  const warn = (what, error) => log2(`warning: ${what}: ${error instanceof Error ? error.message : String(error)}`);
  return {
    async restore(stage, key) {
      if (!api.isFeatureAvailable()) return;
      const dir = folder(stage, key);
      try {
        if (!await api.restoreCache([dir], stageCacheKey(stage, key))) return;
        const { runId: runId2, files } = JSON.parse(await readFile11(join24(dir, "kept.json"), "utf8"));
        const target = stageKey(runId2, stage, "");
        for (const file of files) {
          await store.put(`${target}${file}`, await readFile11(join24(dir, "files", file)));
        }
        await rememberKey(store, stage, key, runId2);
        log2(`restored ${stage} of run ${runId2} from the Actions cache (${files.length} files)`);
      } catch (error) {
        warn(`could not restore ${stage} from the Actions cache`, error);
      } finally {
        await rm14(dir, { recursive: true, force: true });
      }
    },
    async save(stage, key) {
      if (!api.isFeatureAvailable()) return;
      const dir = folder(stage, key);
      const source = stageKey(options.runId, stage, "");
      try {
        await mkdir8(dir, { recursive: true });
        const files = (await store.list(source)).map((name2) => name2.slice(source.length)).filter((name2) => !`/${name2}`.includes(NOT_KEPT));
        for (const file of files) {
          const bytes = await store.get(`${source}${file}`);
          if (!bytes) continue;
          const path2 = join24(dir, "files", file);
          await mkdir8(dirname7(path2), { recursive: true });
          await writeFile8(path2, bytes);
        }
        await writeFile8(join24(dir, "kept.json"), JSON.stringify({ runId: options.runId, files }));
        await api.saveCache([dir], stageCacheKey(stage, key));
        log2(`saved ${stage} to the Actions cache under its key ${key.slice(0, 12)}`);
      } catch (error) {
        warn(`could not save ${stage} to the Actions cache`, error);
      } finally {
        await rm14(dir, { recursive: true, force: true });
      }
    }
  };
}

// actions/common/snowflake-token.ts
async function provideSnowflakeToken(env, mint, mask) {
  if (!needsOidcToken(env) || !env.ACTIONS_ID_TOKEN_REQUEST_URL) return false;
  const audience = env.SNOWFLAKE_OIDC_AUDIENCE?.trim() || SNOWFLAKE_OIDC_AUDIENCE;
  const token = await mint(audience);
  mask(token);
  env[SNOWFLAKE_ENV.token] = token;
  return true;
}

// actions/common/run-stage.ts
function settingInputs() {
  const inputs = /* @__PURE__ */ new Map();
  for (const spec of SETTINGS) if (spec.flag) inputs.set(spec.flag.replace(/^--/, ""), spec.key);
  return inputs;
}
function inputFlags() {
  const flags = {};
  for (const [input, key] of settingInputs()) {
    const value2 = core3.getInput(input);
    if (value2 !== "") flags[key] = value2;
  }
  return flags;
}
function resolveRunId() {
  const given = core3.getInput("run-id");
  if (given === "") return newRunId();
  try {
    return validateRunId(given);
  } catch (error) {
    throw new InputError(error.message, { field: "run-id" });
  }
}
function setOutputs(values) {
  const set = {};
  for (const [name2, value2] of Object.entries(values)) {
    if (value2 === void 0) continue;
    set[name2] = String(value2);
    core3.setOutput(name2, set[name2]);
  }
  return set;
}
async function writeSummary(stage, status, outputs, extra, error) {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  const rows = Object.entries(outputs).map(([name2, value2]) => [
    `<code>${escapeHtml(name2)}</code>`,
    escapeHtml(value2)
  ]);
  core3.summary.addHeading(`${stage}: ${status === "succeeded" ? "✅ succeeded" : "❌ failed"}`, 3);
  if (rows.length > 0) {
    core3.summary.addTable([
      [
        { data: "output", header: true },
        { data: "value", header: true }
      ],
      ...rows
    ]);
  }
  if (error) {
    core3.summary.addRaw(
      error.includes("\n") ? `
**Error**

\`\`\`text
${error}
\`\`\`
` : `
**Error:** ${escapeHtml(error)}
`,
      true
    );
  }
  if (extra) core3.summary.addRaw(`
${extra}
`, true);
  await core3.summary.write();
}
function withStageCache(ctx) {
  if (ctx.config.store.startsWith("s3://") || process.env.GITHUB_ACTIONS !== "true") return ctx;
  return {
    ...ctx,
    stageCache: actionsStageCache({
      api: cache,
      store: ctx.store,
      runId: ctx.runId,
      scratch: process.env.RUNNER_TEMP ?? tmpdir11(),
      log: (line) => line.startsWith("warning: ") ? core3.warning(line.slice(9)) : core3.info(line)
    })
  };
}
function escapeHtml(text) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
function describeError(error) {
  const message = error instanceof Error ? error.message : String(error);
  const hint2 = error instanceof PipelineError ? error.hint : void 0;
  return hint2 ? `${message}
hint: ${hint2}` : message;
}
async function runStageAction(stage, options) {
  const run = options.run ?? STAGES[stage];
  await runAction(stage, { ...options, run });
}
async function runAction(stage, options) {
  maskSecrets();
  let ctx;
  let outputs = {};
  let fields;
  try {
    await provideSnowflakeToken(
      process.env,
      (audience) => core3.getIDToken(audience),
      core3.setSecret
    );
    const configFile = core3.getInput("config");
    const { config } = loadConfig({
      ...configFile ? { file: configFile } : {},
      flags: inputFlags()
    });
    ctx = withStageCache(createContext(config, resolveRunId(), actionReporter()));
    outputs = setOutputs({ "run-id": ctx.runId, store: ctx.store.location });
    const context = ctx;
    const result = await core3.group(`${stage} (run ${context.runId})`, () => options.run(context));
    fields = new ResultFields(result);
    outputs = { ...outputs, ...setOutputs(options.outputs(fields)) };
    if (options.after) outputs = { ...outputs, ...setOutputs(await options.after(fields, ctx)) };
    const failure = options.failure?.(fields);
    if (failure) throw new PipelineError(failure);
    await writeSummary(stage, "succeeded", outputs, options.summary?.(fields));
  } catch (error) {
    if (!fields && error instanceof StageFailure) {
      fields = new ResultFields(error.result);
      outputs = { ...outputs, ...setOutputs(options.outputs(fields)) };
    }
    const message = describeError(error);
    await writeSummary(
      stage,
      "failed",
      outputs,
      fields ? options.summary?.(fields) : void 0,
      message
    ).catch(
      (summaryError) => core3.warning(`could not write the job summary: ${String(summaryError)}`)
    );
    core3.setFailed(message);
  } finally {
    await ctx?.close().catch((error) => core3.warning(String(error)));
  }
}

// actions/upload/main.ts
await runStageAction("upload", {
  outputs: (r) => ({
    source: r.string("source"),
    "rows-read": r.number("totals.read"),
    "rows-loaded": r.number("totals.loaded"),
    "rows-rejected": r.number("totals.rejected"),
    "rows-skipped": r.number("totals.skipped"),
    reconciled: r.boolean("reconciled")
  }),
  failure: (r) => r.boolean("reconciled") === false ? "row counts do not reconcile: read ≠ loaded + rejected + skipped for at least one file (see the upload log group)" : void 0
});
