import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { S3Store, S3StoreError, parseS3Url } from "../../pipeline/store/s3-store.ts";
import type { ArtifactStore } from "../../pipeline/store/store.ts";
import { startS3rver, type S3rverProcess } from "../helpers/s3rver.ts";

// More than one ListObjectsV2 page (1,000 keys), so S3Store.list must follow continuation tokens.
const MANY_KEYS = 1_100;
// Above lib-storage's 5 MiB part size, so S3Store.putFile goes multipart against S3.
const BIG_FILE_BYTES = 6.5 * 1024 * 1024;

/** A fresh, empty store per call, so every case starts from nothing. */
type MakeStore = () => Promise<ArtifactStore> | ArtifactStore;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "store-contract-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function scratchDir(label: string): Promise<string> {
  return mkdtemp(join(scratch, `${label}-`));
}

/** Runs `task` over `items` with at most `limit` in flight: fast, without flooding s3rver. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** Buffer view for comparisons: the local store answers Buffers, the S3 store Uint8Arrays. */
function bytesOf(data: Uint8Array | undefined): Buffer | undefined {
  return data === undefined
    ? undefined
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The behaviour every ArtifactStore backend must share. */
function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`${name} (ArtifactStore contract)`, () => {
    it("round-trips bytes and strings, and overwrites", async () => {
      const store = await makeStore();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put("runs/r1/model.bin", bytes);
      await store.put("runs/r1/stage.json", '{"name":"héllo ✓"}');
      await store.put("runs/r1/empty", new Uint8Array());

      expect(bytesOf(await store.get("runs/r1/model.bin"))).toEqual(Buffer.from(bytes));
      const text = new TextDecoder().decode(await store.get("runs/r1/stage.json"));
      expect(JSON.parse(text)).toEqual({ name: "héllo ✓" });
      const empty = await store.get("runs/r1/empty");
      expect(empty).toBeDefined();
      expect(empty?.byteLength).toBe(0);

      await store.put("runs/r1/stage.json", "second");
      expect(new TextDecoder().decode(await store.get("runs/r1/stage.json"))).toBe("second");
    });

    it("answers undefined for a missing key", async () => {
      const store = await makeStore();
      expect(await store.get("runs/none/stage.json")).toBeUndefined();
    });

    it("round-trips a multi-MB file through putFile/getFile", async () => {
      const store = await makeStore();
      const dir = await scratchDir("big");
      const source = join(dir, "model.bin");
      const content = randomBytes(BIG_FILE_BYTES);
      await writeFile(source, content);

      await store.putFile("runs/r1/train/model.bin", source);
      const target = join(dir, "out", "nested", "model.bin");
      // An existing file is replaced whole.
      await mkdir(join(dir, "out", "nested"), { recursive: true });
      await writeFile(target, "stale");
      expect(await store.getFile("runs/r1/train/model.bin", target)).toBe(true);

      expect(sha256(await readFile(target))).toBe(sha256(content));
      // No temp file is left beside the target.
      expect(await readdir(join(dir, "out", "nested"))).toEqual(["model.bin"]);
      expect(await store.list("runs/r1")).toEqual(["runs/r1/train/model.bin"]);
    });

    it("answers false from getFile for a missing key and writes nothing", async () => {
      const store = await makeStore();
      const target = join(await scratchDir("missing"), "absent.bin");
      expect(await store.getFile("runs/none/model.bin", target)).toBe(false);
      expect(existsSync(target)).toBe(false);
    });

    it("lists nested keys under a folder-like prefix, sorted and relative to the root", async () => {
      const store = await makeStore();
      for (const key of ["runs/a/x.json", "runs/ab/z.json", "runs/a/sub/y.bin", "other/w"]) {
        await store.put(key, key);
      }
      expect(await store.list("")).toEqual([
        "other/w",
        "runs/a/sub/y.bin",
        "runs/a/x.json",
        "runs/ab/z.json",
      ]);
      // "runs/a" is a folder: runs/ab is not under it.
      expect(await store.list("runs/a")).toEqual(["runs/a/sub/y.bin", "runs/a/x.json"]);
      expect(await store.list("runs/a/")).toEqual(["runs/a/sub/y.bin", "runs/a/x.json"]);
      expect(await store.list("runs")).toEqual([
        "runs/a/sub/y.bin",
        "runs/a/x.json",
        "runs/ab/z.json",
      ]);
      expect(await store.list("nothing/here")).toEqual([]);
    });

    it(`lists ${MANY_KEYS} keys (more than one S3 page)`, async () => {
      const store = await makeStore();
      const keys = Array.from({ length: MANY_KEYS }, (_, i) => `many/${i % 7}/k${i}`);
      await forEachLimited(keys, 32, (key) => store.put(key, "x"));
      await store.put("outside/k", "x");

      const listed = await store.list("many");
      expect(listed).toHaveLength(MANY_KEYS);
      expect(listed).toEqual([...keys].sort());
    });

    it("deletes, and deleting a missing key is not an error", async () => {
      const store = await makeStore();
      await store.put("runs/r1/a", "a");
      await store.put("runs/r1/b", "b");
      await store.delete("runs/r1/a");
      expect(await store.get("runs/r1/a")).toBeUndefined();
      expect(await store.list("runs")).toEqual(["runs/r1/b"]);
      await expect(store.delete("runs/r1/a")).resolves.toBeUndefined();
    });

    it("rejects keys with '..' or empty segments", async () => {
      const store = await makeStore();
      for (const key of ["../escape", "runs//x", "/abs", ""]) {
        await expect(store.put(key, "x"), key).rejects.toThrow(/invalid store key/);
      }
    });
  });
}

describeStoreContract("LocalStore", async () => new LocalStore(await scratchDir("local")));

describe("S3Store against s3rver", () => {
  const bucket = "mlops-contract";
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  let server: S3rverProcess | undefined;
  let endpoint: string;
  let client: S3Client;
  let storeCount = 0;
  // Commands the shared client sent, to check which S3 calls a store method made.
  const commands: string[] = [];

  beforeAll(async () => {
    server = await startS3rver(await scratchDir("s3rver"), bucket);
    endpoint = server.endpoint;
    client = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials,
      // The SDK's default checksums stay on, as against AWS: s3rver ignores the x-amz-checksum-*
      // headers. (S3Store turns them off for MLOPS_S3_ENDPOINT; the env case below covers that.)
    });
    client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(context.commandName ?? "?");
        return next(args);
      },
      { step: "initialize", name: "recordCommandNames" },
    );
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  // Each case gets its own prefix in the one bucket, which also exercises prefix handling.
  describeStoreContract(
    "S3Store",
    () => new S3Store({ bucket, prefix: `contract/case-${++storeCount}`, client }),
  );

  it("isolates two stores in one bucket by prefix", async () => {
    // "team-a" is a string prefix of "team-a2": the stores must still not see each other.
    const a = new S3Store({ bucket, prefix: "iso/team-a", client });
    const a2 = new S3Store({ bucket, prefix: "/iso/team-a2/", client });
    expect(a.location).toBe(`s3://${bucket}/iso/team-a`);
    expect(a2.location).toBe(`s3://${bucket}/iso/team-a2`);

    await a.put("runs/r1/stage.json", "from a");
    await a2.put("runs/r1/stage.json", "from a2");
    await a2.put("runs/r2/stage.json", "only a2");

    expect(new TextDecoder().decode(await a.get("runs/r1/stage.json"))).toBe("from a");
    expect(await a.get("runs/r2/stage.json")).toBeUndefined();
    expect(await a.list("")).toEqual(["runs/r1/stage.json"]);
    expect(await a2.list("")).toEqual(["runs/r1/stage.json", "runs/r2/stage.json"]);

    await a.delete("runs/r1/stage.json");
    expect(new TextDecoder().decode(await a2.get("runs/r1/stage.json"))).toBe("from a2");

    // A store on the whole bucket sees both, under their full keys.
    const whole = new S3Store({ bucket, prefix: "", client });
    expect(await whole.list("iso")).toEqual([
      "iso/team-a2/runs/r1/stage.json",
      "iso/team-a2/runs/r2/stage.json",
    ]);
  });

  it("uploads big files as multipart, small ones with one PUT", async () => {
    const store = new S3Store({ bucket, prefix: "multipart", client });
    const dir = await scratchDir("multipart");
    await writeFile(join(dir, "big.bin"), randomBytes(BIG_FILE_BYTES));
    await writeFile(join(dir, "small.bin"), "small");

    commands.length = 0;
    await store.putFile("big.bin", join(dir, "big.bin"));
    // 6.5 MiB in 5 MiB parts: two parts.
    expect(commands).toEqual([
      "CreateMultipartUploadCommand",
      "UploadPartCommand",
      "UploadPartCommand",
      "CompleteMultipartUploadCommand",
    ]);

    commands.length = 0;
    await store.putFile("small.bin", join(dir, "small.bin"));
    expect(commands).toEqual(["PutObjectCommand"]);
    expect(await store.list("")).toEqual(["big.bin", "small.bin"]);
  });

  it("builds its own client from MLOPS_S3_ENDPOINT (path-style) and env credentials", async () => {
    vi.stubEnv("MLOPS_S3_ENDPOINT", endpoint);
    vi.stubEnv("AWS_REGION", "eu-west-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
    vi.stubEnv("AWS_SESSION_TOKEN", undefined);
    vi.stubEnv("AWS_PROFILE", undefined);
    try {
      const store = new S3Store({ bucket, prefix: "from-env" });
      const source = join(await scratchDir("env"), "f.bin");
      const content = randomBytes(1024);
      await writeFile(source, content);
      await store.putFile("f.bin", source);
      expect(bytesOf(await store.get("f.bin"))).toEqual(content);
      expect(await store.list("")).toEqual(["f.bin"]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("names the operation, bucket and key in errors, with a hint and no credential", async () => {
    const unknownKey = { accessKeyId: "AKIAUNKNOWNKEY123456", secretAccessKey: "do-not-print-me" };
    const badClient = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: unknownKey,
    });
    try {
      const store = new S3Store({ bucket, prefix: "p", client: badClient });
      const error = await store.put("k.json", "{}").then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(S3StoreError);
      const { message } = error as S3StoreError;
      expect(message).toContain(`S3 put failed for s3://${bucket}/p/k.json: InvalidAccessKeyId`);
      expect(message).toContain("Check the AWS credentials");
      expect((error as S3StoreError).code).toBe("InvalidAccessKeyId");
      for (const printed of [message, String(error), JSON.stringify(error)]) {
        expect(printed).not.toContain(unknownKey.accessKeyId);
        expect(printed).not.toContain(unknownKey.secretAccessKey);
      }
    } finally {
      badClient.destroy();
    }

    const noBucket = new S3Store({ bucket: "no-such-bucket", prefix: "p", client });
    await expect(noBucket.list("runs")).rejects.toThrow(
      /S3 list failed for s3:\/\/no-such-bucket\/p\/runs\/: NoSuchBucket.*Check the bucket name/,
    );
    // A missing bucket is an error, not a missing key.
    await expect(noBucket.get("k")).rejects.toThrow(/S3 get failed .*NoSuchBucket/);
    await expect(noBucket.getFile("k", join(scratch, "never"))).rejects.toThrow(
      /S3 getFile failed .*NoSuchBucket/,
    );
  });
});

describe("parseS3Url", () => {
  it.each([
    ["s3://my-bucket/runs/team-a", { bucket: "my-bucket", prefix: "runs/team-a" }],
    ["s3://my-bucket/runs/", { bucket: "my-bucket", prefix: "runs" }],
    ["s3://my-bucket", { bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/", { bucket: "my-bucket", prefix: "" }],
    ["s3://a.b-c.123/x", { bucket: "a.b-c.123", prefix: "x" }],
  ])("parses %s", (url, expected) => {
    expect(parseS3Url(url)).toEqual(expected);
  });

  it.each([
    ["my-bucket/runs", /invalid S3 URL "my-bucket\/runs": expected s3:\/\/<bucket>\/<prefix>/],
    ["https://my-bucket.s3.amazonaws.com/x", /expected s3:\/\/<bucket>\/<prefix>/],
    ["s3://", /the bucket is empty; expected s3:\/\/<bucket>\/<prefix>/],
    ["s3:///runs", /the bucket is empty/],
    ["s3://ab", /bucket "ab" must be 3 to 63 characters long/],
    [`s3://${"a".repeat(64)}`, /must be 3 to 63 characters long/],
    ["s3://My_Bucket/x", /bucket "My_Bucket" may only hold lowercase letters/],
    ["s3://-bucket/x", /must start and end with a letter or digit/],
    ["s3://my..bucket", /two adjacent periods/],
    ["s3://192.168.1.1", /IP address/],
    ["s3://xn--bucket", /reserved "xn--"/],
    ["s3://bucket-s3alias", /reserved "-s3alias"/],
    ["s3://my-bucket/a//b", /prefix "a\/\/b" has an empty or '\.\.' segment/],
    ["s3://my-bucket/../b", /empty or '\.\.' segment/],
  ])("rejects %s", (url, message) => {
    expect(() => parseS3Url(url)).toThrow(message);
  });
});
