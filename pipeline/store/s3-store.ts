import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { ArtifactStore } from "./store.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Folder inside the bucket that plays the store's root; '' for the whole bucket. */
  prefix: string;
  /** A ready client (tests, or callers that share one); the settings below are then ignored. */
  client?: S3Client;
  /** Default: `AWS_REGION`, else us-east-1. */
  region?: string;
  /** Default: `MLOPS_S3_ENDPOINT` (an S3-compatible server); unset means AWS itself. */
  endpoint?: string;
  /** Default: true when an endpoint is set (most S3-compatible servers have no per-bucket DNS). */
  forcePathStyle?: boolean;
}

const EXPECTED_URL_FORM = "s3://<bucket>/<prefix> (for example s3://my-mlops-artifacts/team-a)";

// S3 refuses parts under 5 MiB (except the last) and more than 10,000 parts per upload.
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
// Parts uploaded in parallel: enough to fill a CI runner's link, small enough for its memory
// (each in-flight part is buffered).
const UPLOAD_QUEUE_SIZE = 4;

/**
 * Splits `s3://bucket/prefix` into its parts. The bucket must follow S3's naming rules
 * (checked here so a typo fails at start-up with a clear message, not deep inside a run).
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) {
    throw new Error(`invalid S3 URL "${url}": expected ${EXPECTED_URL_FORM}`);
  }
  const bucket = match[1] ?? "";
  if (bucket === "") {
    throw new Error(`invalid S3 URL "${url}": the bucket is empty; expected ${EXPECTED_URL_FORM}`);
  }
  const problem = bucketNameProblem(bucket);
  if (problem !== undefined) {
    throw new Error(
      `invalid S3 URL "${url}": bucket "${bucket}" ${problem}; expected ${EXPECTED_URL_FORM}`,
    );
  }
  const prefix = trimSlashes(match[2] ?? "");
  if (prefix !== "" && prefix.split("/").some((part) => part === "" || part === "..")) {
    throw new Error(
      `invalid S3 URL "${url}": prefix "${prefix}" has an empty or '..' segment; ` +
        `expected ${EXPECTED_URL_FORM}`,
    );
  }
  return { bucket, prefix };
}

/** Why `name` is not a valid (general purpose) bucket name, or undefined when it is. */
function bucketNameProblem(name: string): string | undefined {
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
  return undefined;
}

/** The run store on S3 (or an S3-compatible server): object `<prefix>/<key>` holds `key`. */
export class S3Store implements ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  /** For error hints only: where requests go, as configured here. */
  private readonly regionHint: string | undefined;
  private readonly endpointHint: string | undefined;

  constructor(options: S3StoreOptions) {
    if (options.bucket === "") throw new Error("S3Store: the bucket name is empty");
    this.bucket = options.bucket;
    this.prefix = trimSlashes(options.prefix);
    if (this.prefix.split("/").some((part) => part === "..") || this.prefix.includes("//")) {
      throw new Error(`S3Store: invalid prefix "${options.prefix}": use '/'-separated names`);
    }
    const endpoint = options.endpoint ?? nonEmpty(process.env.MLOPS_S3_ENDPOINT);
    const region = options.region ?? nonEmpty(process.env.AWS_REGION) ?? "us-east-1";
    // With a caller's client the settings above were not used: do not claim them in hints.
    this.regionHint = options.client ? options.region : region;
    this.endpointHint = options.client ? options.endpoint : (endpoint ?? "AWS's S3 endpoint");
    this.client = options.client ?? new S3Client(clientConfig(region, endpoint, options));
  }

  get location(): string {
    return this.prefix === "" ? `s3://${this.bucket}` : `s3://${this.bucket}/${this.prefix}`;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body }));
    } catch (error) {
      throw this.failure("put", Key, error);
    }
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const Key = this.objectKey(key);
    // Local problems (missing file) surface here with Node's own message naming the path.
    const { size } = await stat(localPath);
    try {
      // Upload streams the file from disk: one PUT when it fits in a part, otherwise a multipart
      // upload (aborted on failure, so no orphan parts are billed).
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: createReadStream(localPath) },
        partSize: Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS)),
        queueSize: UPLOAD_QUEUE_SIZE,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      throw this.failure("putFile", Key, error);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure("get", Key, error);
    }
  }

  async getVersioned(key: string): Promise<{ bytes: Uint8Array; version: string } | undefined> {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const bytes = output.Body ? await output.Body.transformToByteArray() : new Uint8Array();
      return { bytes, version: output.ETag ?? "" };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.failure("get", Key, error);
    }
  }

  async putIfUnchanged(
    key: string,
    body: Uint8Array | string,
    expected: string | null,
  ): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      // S3's conditional writes: If-Match an ETag, or If-None-Match * for "must not exist".
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ...(expected === null ? { IfNoneMatch: "*" } : { IfMatch: expected }),
        }),
      );
      return true;
    } catch (error) {
      // 412: the object changed (or appeared); 409: another conditional write raced this one.
      if (isPreconditionFailure(error)) return false;
      throw this.failure("put", Key, error);
    }
  }

  async getFile(key: string, localPath: string): Promise<boolean> {
    const Key = this.objectKey(key);
    let body: Readable;
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!output.Body) {
        body = Readable.from([]);
      } else if (output.Body instanceof Readable) {
        body = output.Body;
      } else {
        // Only when a non-Node HTTP handler is plugged in: adapt its web stream.
        body = Readable.fromWeb(output.Body.transformToWebStream());
      }
    } catch (error) {
      if (isNotFound(error)) return false;
      throw this.failure("getFile", Key, error);
    }
    await mkdir(dirname(localPath), { recursive: true });
    // Stream into a temp file beside the target and rename at the end: a crash or a dropped
    // connection never leaves a truncated file under the real name.
    const temp = `${localPath}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await pipeline(body, createWriteStream(temp));
      await rename(temp, localPath);
    } catch (error) {
      await rm(temp, { force: true });
      if (isLocalFileError(error)) throw error;
      throw this.failure("getFile", Key, error);
    }
    return true;
  }

  async list(prefix: string): Promise<string[]> {
    // Like a folder: "runs/a" lists runs/a/**, never runs/ab/**.
    const folder = prefix.replace(/\/+$/, "");
    const root = this.prefix === "" ? "" : `${this.prefix}/`;
    const Prefix = folder === "" ? root : `${this.objectKey(folder)}/`;
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    try {
      // ListObjectsV2 answers at most 1,000 keys a page.
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken }),
        );
        for (const object of page.Contents ?? []) {
          // Keys ending in '/' are "folder" markers made by consoles, not artifacts.
          if (object.Key !== undefined && !object.Key.endsWith("/")) {
            keys.push(object.Key.slice(root.length));
          }
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken !== undefined);
    } catch (error) {
      throw this.failure("list", Prefix, error);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      // S3 answers 204 for a missing key too, matching the local store's rm --force.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (error) {
      throw this.failure("delete", Key, error);
    }
  }

  /** Same key rules as the local store, so a key valid in one is valid in the other. */
  private objectKey(key: string): string {
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
  private failure(operation: Operation, objectKey: string, error: unknown): S3StoreError {
    const details = errorDetails(error);
    const where = `s3://${this.bucket}/${objectKey}`;
    const status = details.statusCode === undefined ? "" : ` (HTTP ${details.statusCode})`;
    const request = details.requestId === undefined ? "" : ` [request id ${details.requestId}]`;
    const hint = this.hint(operation, objectKey, details);
    return new S3StoreError(
      `S3 ${operation} failed for ${where}: ${details.name}${status}: ${redact(details.message)}` +
        `${request}. ${hint}`,
      { operation, bucket: this.bucket, key: objectKey, ...details },
    );
  }

  private hint(operation: Operation, objectKey: string, details: ErrorDetails): string {
    const { name, statusCode } = details;
    if (CREDENTIAL_ERRORS.has(name)) {
      return (
        "Check the AWS credentials: the default provider chain found none, or they are wrong or " +
        "expired (on GitHub Actions: the role assumed through OIDC by " +
        "aws-actions/configure-aws-credentials, and the workflow's id-token: write permission)."
      );
    }
    if (name === "AccessDenied" || statusCode === 403) {
      const action = ACTIONS[operation];
      const resource =
        operation === "list"
          ? `arn:aws:s3:::${this.bucket} (prefix ${objectKey})`
          : `arn:aws:s3:::${this.bucket}/${objectKey}`;
      return (
        `Check that the role's IAM policy and the bucket policy allow ${action} on ${resource}` +
        " (and kms:Decrypt/kms:GenerateDataKey if the bucket uses SSE-KMS)." +
        (operation === "get" || operation === "getFile"
          ? " Without s3:ListBucket, S3 answers 403 instead of 404 for a missing key."
          : "")
      );
    }
    if (name === "NoSuchBucket") {
      return `Check the bucket name "${this.bucket}" and that the bucket exists${this.regionHint ? ` in region ${this.regionHint}` : ""}.`;
    }
    if (REGION_ERRORS.has(name) || statusCode === 301) {
      return `Check AWS_REGION${this.nowRegion()}: the bucket seems to live in another region.`;
    }
    if (
      NETWORK_ERRORS.has(name) ||
      (details.code !== undefined && NETWORK_ERRORS.has(details.code))
    ) {
      return `Check the network and the endpoint${this.endpointHint ? ` (${this.endpointHint})` : ""}, set with MLOPS_S3_ENDPOINT.`;
    }
    return `Check the AWS credentials, AWS_REGION${this.nowRegion()} and the bucket policy.`;
  }

  private nowRegion(): string {
    return this.regionHint ? ` (now ${this.regionHint})` : "";
  }
}

type Operation = "put" | "putFile" | "get" | "getFile" | "list" | "delete";

const ACTIONS: Record<Operation, string> = {
  put: "s3:PutObject",
  putFile: "s3:PutObject",
  get: "s3:GetObject",
  getFile: "s3:GetObject",
  list: "s3:ListBucket",
  delete: "s3:DeleteObject",
};

const CREDENTIAL_ERRORS = new Set([
  "CredentialsProviderError",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "TokenRefreshRequired",
]);
const REGION_ERRORS = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
]);
const NETWORK_ERRORS = new Set([
  "TimeoutError",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
]);

interface ErrorDetails {
  name: string;
  message: string;
  code?: string;
  statusCode?: number;
  requestId?: string;
}

/** Thrown for every failed S3 call; the fields let callers branch without parsing the text. */
export class S3StoreError extends Error {
  readonly operation: string;
  readonly bucket: string;
  readonly key: string;
  readonly code: string;
  readonly statusCode: number | undefined;

  constructor(
    message: string,
    details: ErrorDetails & { operation: string; bucket: string; key: string },
  ) {
    super(message);
    this.name = "S3StoreError";
    this.operation = details.operation;
    this.bucket = details.bucket;
    this.key = details.key;
    this.code = details.code ?? details.name;
    this.statusCode = details.statusCode;
  }
}

function errorDetails(error: unknown): ErrorDetails {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const fields = error as Error & {
    code?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  return {
    name: error.name,
    message: error.message,
    code: typeof fields.code === "string" ? fields.code : undefined,
    statusCode: fields.$metadata?.httpStatusCode,
    requestId: fields.$metadata?.requestId,
  };
}

/** A missing key; a missing bucket (also 404) is a configuration error and must not read as one. */
function isPreconditionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    error.name === "PreconditionFailed" ||
    error.name === "ConditionalRequestConflict" ||
    status === 412 ||
    status === 409
  );
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === "NoSuchBucket") return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return error.name === "NoSuchKey" || error.name === "NotFound" || status === 404;
}

/** Errors from the local disk (full disk, no permission) already name their path. */
function isLocalFileError(error: unknown): boolean {
  const fields = error as { path?: unknown; syscall?: unknown } | undefined;
  return typeof fields?.path === "string" && typeof fields.syscall === "string";
}

/** Belt and braces: AWS messages do not quote access key ids today, but never echo one. */
function redact(message: string): string {
  return message.replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, "$1…");
}

function clientConfig(
  region: string,
  endpoint: string | undefined,
  options: S3StoreOptions,
): S3ClientConfig {
  if (endpoint === undefined) {
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
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, "");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
