// Bundled from pipeline/compute/train-image-bin.ts by scripts/bundle.ts; do not edit: run `npm run bundle`.

// pipeline/compute/train-image-bin.ts
import { tmpdir } from "node:os";
import { dirname as dirname4, resolve } from "node:path";

// pipeline/errors.ts
var PipelineError = class extends Error {
  constructor(message, exitCode = 1, hint) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
    this.name = new.target.name;
  }
  exitCode;
  hint;
};
var InputError = class extends PipelineError {
  constructor(message, where = {}, hint) {
    super(`${formatLocation(where)}${message}`, 2, hint);
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
function errorReport(error) {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof PipelineError)) return { message, exitCode: 1 };
  return error.hint === void 0 ? { message, exitCode: error.exitCode } : { message, hint: error.hint, exitCode: error.exitCode };
}
function errorLines({ message, hint }) {
  return `error: ${message}
${hint ? `hint: ${hint}
` : ""}`;
}

// pipeline/store/local-store.ts
import { createHash } from "node:crypto";
import { copyFile, mkdir, open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
var LocalStore = class {
  constructor(root) {
    this.root = root;
  }
  root;
  get location() {
    return this.root;
  }
  path(key) {
    if (key.split("/").some((part) => part === ".." || part === "")) {
      throw new Error(`invalid store key "${key}": use '/'-separated names without '..'`);
    }
    return join(this.root, ...key.split("/"));
  }
  async put(key, body) {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, body);
    await rename(temp, target);
  }
  async putFile(key, localPath) {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    await copyFile(localPath, temp);
    await rename(temp, target);
  }
  async get(key) {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if (isNotFound(error)) return void 0;
      throw error;
    }
  }
  async getVersioned(key) {
    const bytes = await this.get(key);
    return bytes === void 0 ? void 0 : { bytes, version: contentVersion(bytes) };
  }
  async putIfUnchanged(key, body, expected) {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const lock = `${target}.lock`;
    let handle;
    for (let attempt = 0; ; attempt++) {
      try {
        handle = await open(lock, "wx");
        break;
      } catch (error) {
        if (error.code !== "EEXIST" || attempt >= 100) throw error;
        await new Promise((resolve2) => setTimeout(resolve2, 20));
      }
    }
    try {
      const current = await this.get(key);
      const version = current === void 0 ? null : contentVersion(current);
      if (version !== expected) return false;
      await this.put(key, body);
      return true;
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }
  async getFile(key, localPath) {
    try {
      await mkdir(dirname(localPath), { recursive: true });
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
    const keys = entries.filter((entry) => entry.isFile() && !entry.name.endsWith(".tmp")).map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join("/"));
    return keys.sort();
  }
  async delete(key) {
    await rm(this.path(key), { force: true });
  }
};
function isNotFound(error) {
  return error?.code === "ENOENT";
}
function contentVersion(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

// pipeline/store/s3-store.ts
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir as mkdir2, rename as rename2, rm as rm2, stat } from "node:fs/promises";
import { dirname as dirname2 } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
  if (prefix !== "" && prefix.split("/").some((part) => part === "" || part === "..")) {
    throw new Error(
      `invalid S3 URL "${url}": prefix "${prefix}" has an empty or '..' segment; expected ${EXPECTED_URL_FORM}`
    );
  }
  return { bucket, prefix };
}
function bucketNameProblem(name) {
  if (name.length < 3 || name.length > 63) return "must be 3 to 63 characters long";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return "may only hold lowercase letters, digits, '.' and '-', and must start and end with a letter or digit";
  }
  if (name.includes("..")) return "must not contain two adjacent periods";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "must not look like an IP address";
  for (const reserved of ["xn--", "sthree-", "amzn-s3-demo-"]) {
    if (name.startsWith(reserved)) return `must not start with the reserved "${reserved}"`;
  }
  for (const reserved of ["-s3alias", "--ol-s3", ".mrap", "--x-s3"]) {
    if (name.endsWith(reserved)) return `must not end with the reserved "${reserved}"`;
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
    if (this.prefix.split("/").some((part) => part === "..") || this.prefix.includes("//")) {
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
  async put(key, body) {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body }));
    } catch (error) {
      throw this.failure("put", Key, error);
    }
  }
  async putFile(key, localPath) {
    const Key = this.objectKey(key);
    const { size } = await stat(localPath);
    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: createReadStream(localPath) },
        partSize: Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS)),
        queueSize: UPLOAD_QUEUE_SIZE,
        leavePartsOnError: false
      });
      await upload.done();
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
  async putIfUnchanged(key, body, expected) {
    const Key = this.objectKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
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
    let body;
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!output.Body) {
        body = Readable.from([]);
      } else if (output.Body instanceof Readable) {
        body = output.Body;
      } else {
        body = Readable.fromWeb(output.Body.transformToWebStream());
      }
    } catch (error) {
      if (isNotFound2(error)) return false;
      throw this.failure("getFile", Key, error);
    }
    await mkdir2(dirname2(localPath), { recursive: true });
    const temp = `${localPath}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await pipeline(body, createWriteStream(temp));
      await rename2(temp, localPath);
    } catch (error) {
      await rm2(temp, { force: true });
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
        for (const object of page.Contents ?? []) {
          if (object.Key !== void 0 && !object.Key.endsWith("/")) {
            keys.push(object.Key.slice(root.length));
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
    if (key.split("/").some((part) => part === ".." || part === "")) {
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
    const details = errorDetails(error);
    const where = `s3://${this.bucket}/${objectKey}`;
    const status = details.statusCode === void 0 ? "" : ` (HTTP ${details.statusCode})`;
    const request = details.requestId === void 0 ? "" : ` [request id ${details.requestId}]`;
    const hint = this.hint(operation, objectKey, details);
    return new S3StoreError(
      `S3 ${operation} failed for ${where}: ${details.name}${status}: ${redact(details.message)}${request}. ${hint}`,
      { operation, bucket: this.bucket, key: objectKey, ...details }
    );
  }
  hint(operation, objectKey, details) {
    const { name, statusCode } = details;
    if (CREDENTIAL_ERRORS.has(name)) {
      return "Check the AWS credentials: the default provider chain found none, or they are wrong or expired (on GitHub Actions: the role assumed through OIDC by aws-actions/configure-aws-credentials, and the workflow's id-token: write permission).";
    }
    if (name === "AccessDenied" || statusCode === 403) {
      const action = ACTIONS[operation];
      const resource = operation === "list" ? `arn:aws:s3:::${this.bucket} (prefix ${objectKey})` : `arn:aws:s3:::${this.bucket}/${objectKey}`;
      return `Check that the role's IAM policy and the bucket policy allow ${action} on ${resource} (and kms:Decrypt/kms:GenerateDataKey if the bucket uses SSE-KMS).` + (operation === "get" || operation === "getFile" ? " Without s3:ListBucket, S3 answers 403 instead of 404 for a missing key." : "");
    }
    if (name === "NoSuchBucket") {
      return `Check the bucket name "${this.bucket}" and that the bucket exists${this.regionHint ? ` in region ${this.regionHint}` : ""}.`;
    }
    if (REGION_ERRORS.has(name) || statusCode === 301) {
      return `Check AWS_REGION${this.nowRegion()}: the bucket seems to live in another region.`;
    }
    if (NETWORK_ERRORS.has(name) || details.code !== void 0 && NETWORK_ERRORS.has(details.code)) {
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
  constructor(message, details) {
    super(message);
    this.name = "S3StoreError";
    this.operation = details.operation;
    this.bucket = details.bucket;
    this.key = details.key;
    this.code = details.code ?? details.name;
    this.statusCode = details.statusCode;
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
function trimSlashes(path) {
  return path.replace(/^\/+|\/+$/g, "");
}
function nonEmpty(value) {
  return value === void 0 || value === "" ? void 0 : value;
}

// pipeline/compute/code-bootstrap.ts
import { spawn } from "node:child_process";
import { existsSync as existsSync2, readFileSync as readFileSync2, rmSync, symlinkSync } from "node:fs";
import { join as join3 } from "node:path";

// pipeline/data/file-hash.ts
import { createHash as createHash2 } from "node:crypto";
function sha256Hex(data) {
  return createHash2("sha256").update(data).digest("hex");
}

// pipeline/compute/code-package.ts
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname as dirname3, join as join2, relative as relative2, sep as sep2 } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
var CODE_PACKAGE_PREFIX = "code/";
function codePackageKey(sha256) {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new InputError(`"${sha256}" is not a code package address (64 hex digits)`, {
      field: "codePackage"
    });
  }
  return `${CODE_PACKAGE_PREFIX}${sha256}.tar.gz`;
}
function verifyCodePackage(bytes, expectedSha256) {
  let tar;
  try {
    tar = gunzipSync(bytes);
  } catch (error) {
    throw new InputError(
      `the code package ${expectedSha256} is not a gzip stream: ${error.message}`,
      { file: codePackageKey(expectedSha256) },
      "Upload it again: run the train stage from the checkout (it uploads the package before submitting the job)."
    );
  }
  const actual = sha256Hex(tar);
  if (actual !== expectedSha256) {
    throw new InputError(
      `the code package ${codePackageKey(expectedSha256)} holds different code (sha256 ${actual})`,
      { file: codePackageKey(expectedSha256) },
      "The object was changed after upload; delete it and run the train stage again."
    );
  }
  return tar;
}
function unpackCodePackage(tar, dir) {
  const files = [];
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start, length) => header.toString("utf8", start, start + length).replace(/\0.*$/s, "");
    const prefix = field(345, 155);
    const path = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim(), 8);
    const type = field(156, 1) || "0";
    const segments = path.split("/");
    if (type !== "0" || !Number.isFinite(size) || path.startsWith("/") || segments.some((part) => part === "" || part === "." || part === ".." || part.includes("\\"))) {
      throw new InputError(
        `the code package holds an entry it may not ("${path}", type ${type}) at byte ${offset}`,
        { file: path },
        "Code packages hold regular files with relative paths only; build it with buildCodePackage."
      );
    }
    const target = join2(dir, ...segments);
    mkdirSync(dirname3(target), { recursive: true });
    writeFileSync(target, tar.subarray(offset + 512, offset + 512 + size));
    files.push(path);
    offset += 512 + size + padding(size);
  }
  return files;
}
function padding(size) {
  return (512 - size % 512) % 512;
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
async function prepareCodePackage(options) {
  if (options.packageUrl === void 0 || options.packageUrl.trim() === "") {
    throw new InputError(
      `${CODE_PACKAGE_ENV} is not set: this image holds the dependencies only, not the pipeline's code`,
      { field: CODE_PACKAGE_ENV },
      "Start training with `pipeline train --compute batch`, which uploads the checkout's code package and names it in the job."
    );
  }
  const location = parseCodePackageUrl(options.packageUrl);
  const store = options.openStore(location.store);
  const bytes = await store.get(location.key);
  if (bytes === void 0) {
    throw new PipelineError(
      `the code package ${location.key} is not in the run store ${location.store}`,
      2,
      "The train stage uploads it before submitting the job; check that the job's role may read code/* in the store."
    );
  }
  const tar = verifyCodePackage(bytes, location.sha256);
  const dir = join3(options.workDir, `mlops-code-${location.sha256.slice(0, 16)}`);
  rmSync(dir, { recursive: true, force: true });
  const files = unpackCodePackage(tar, dir);
  checkLockfile(dir, options.imageRoot);
  symlinkSync(join3(options.imageRoot, "node_modules"), join3(dir, "node_modules"), "dir");
  options.log(
    `code package ${location.sha256.slice(0, 12)}: ${files.length} files from ${location.store}`
  );
  return dir;
}
function checkLockfile(codeDir, imageRoot) {
  const packaged = join3(codeDir, "package-lock.json");
  const installed = join3(imageRoot, "package-lock.json");
  if (!existsSync2(packaged) || !existsSync2(installed)) return;
  const a = sha256Hex(readFileSync2(packaged));
  const b = sha256Hex(readFileSync2(installed));
  if (a !== b) {
    throw new PipelineError(
      `the code package's package-lock.json (sha256 ${a.slice(0, 12)}) is not the one this image was built from (${b.slice(0, 12)})`,
      2,
      "Dependencies changed: build and push the train image for this lockfile (the images workflow, or `pipeline images` for its tag), then run again."
    );
  }
}
async function runCodePackage(options) {
  const dir = await prepareCodePackage(options);
  const child = spawn(process.execPath, [join3(dir, "bin", "pipeline.js"), ...options.args], {
    cwd: dir,
    stdio: "inherit"
  });
  const forward = (signal) => () => child.kill(signal);
  const onTerm = forward("SIGTERM");
  const onInt = forward("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  try {
    return await new Promise((resolve2, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve2(code ?? (signal === "SIGKILL" ? 137 : 143)));
    });
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
  }
}

// pipeline/compute/train-image-bin.ts
try {
  process.exitCode = await runCodePackage({
    packageUrl: process.env[CODE_PACKAGE_ENV],
    imageRoot: dirname4(resolve(process.argv[1] ?? ".")),
    workDir: process.env.MLOPS_CODE_DIR ?? tmpdir(),
    args: process.argv.slice(2),
    openStore: (location) => location.startsWith("s3://") ? new S3Store(parseS3Url(location)) : new LocalStore(location),
    log: (line) => process.stderr.write(`${line}
`)
  });
} catch (error) {
  const report = errorReport(error);
  process.stderr.write(errorLines(report));
  process.exitCode = report.exitCode;
}
