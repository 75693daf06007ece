/**
 * `--source download`: fetches the data-challenge archive (a .zip holding the three CSV files)
 * from a configured URL, checks its sha256 and unpacks the files. There is no default URL: the
 * dataset is distributed under terms the user accepts, and the original project's link is dead.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import yauzl from "yauzl";
import { InputError } from "../errors.ts";
import { DATA_FILES, DATA_KINDS } from "./schema.ts";

export interface DownloadOptions {
  url?: string;
  sha256?: string;
  dir: string;
  /** Milliseconds without a response before giving up (offline machines fail fast). */
  timeoutMs?: number;
  /** Plain http is refused unless this is set: a download without TLS can be swapped on the way. */
  allowHttp?: boolean;
  /** In CI the archive must be pinned to its sha256 (default: when CI or GITHUB_ACTIONS is set). */
  requireSha256?: boolean;
  /** The most bytes the archive may have (a larger download is stopped and deleted). */
  maxBytes?: number;
  /** The most bytes the data files may unpack to, all together (a zip bomb stops here). */
  maxUnpackedBytes?: number;
}

/** The defaults of data.downloadMaxBytes and data.downloadMaxUnpackedBytes. */
export const DOWNLOAD_LIMITS = {
  maxBytes: 8 * 2 ** 30,
  maxUnpackedBytes: 64 * 2 ** 30,
};

/** A URL as it may be printed: no credentials, no query (a presigned URL's signature lives there). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? "?…" : ""}`;
  } catch {
    return "(an unparseable URL)";
  }
}

const MANUAL_HINT =
  "Download the archive by hand and unpack it, then run `pipeline upload --source csv --data DIR` with DIR holding browsing_train.csv, search_train.csv and sku_to_content.csv.";

export async function downloadDataset(options: DownloadOptions): Promise<string> {
  if (!options.url) {
    throw new InputError(
      "--source download needs the archive's URL: set data.downloadUrl (MLOPS_DOWNLOAD_URL or --download-url)",
      { field: "data.downloadUrl" },
      MANUAL_HINT,
    );
  }
  const shown = redactUrl(options.url);
  if (new URL(options.url).protocol !== "https:" && !options.allowHttp) {
    throw new InputError(
      `refusing to download ${shown} over plain http: anyone on the way could swap the archive`,
      { field: "data.downloadUrl" },
      "Use an https URL, or set data.allowHttp (MLOPS_DOWNLOAD_ALLOW_HTTP=true) for a server you trust on your own network.",
    );
  }
  const requireSha256 =
    options.requireSha256 ?? (process.env.CI === "true" || process.env.GITHUB_ACTIONS === "true");
  if (requireSha256 && !options.sha256) {
    throw new InputError(
      `the download of ${shown} is not pinned to a sha256: in CI every downloaded archive must be`,
      { field: "data.downloadSha256" },
      "Set data.downloadSha256 (MLOPS_DOWNLOAD_SHA256) to the archive's sha256 (sha256sum FILE).",
    );
  }
  const limits = {
    maxBytes: options.maxBytes ?? DOWNLOAD_LIMITS.maxBytes,
    maxUnpackedBytes: options.maxUnpackedBytes ?? DOWNLOAD_LIMITS.maxUnpackedBytes,
  };
  const marker = join(options.dir, "download.json");
  if (existsSync(marker)) {
    const previous = JSON.parse(await readFile(marker, "utf8")) as { url: string; sha256: string };
    const sameArchive =
      previous.url === options.url && (!options.sha256 || previous.sha256 === options.sha256);
    if (sameArchive && existsSync(join(options.dir, `${DATA_FILES.browsing.file}.gz`))) {
      return options.dir;
    }
  }
  await mkdir(options.dir, { recursive: true });
  const archive = join(options.dir, "archive.zip");
  const sha256 = await fetchTo(
    options.url,
    `${archive}.part`,
    options.timeoutMs ?? 30_000,
    limits.maxBytes,
  );
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(`${archive}.part`, { force: true });
    throw new InputError(
      `the archive downloaded from ${shown} has sha256 ${sha256}, expected ${options.sha256}`,
      { field: "data.downloadSha256" },
      "The file changed or the download was corrupted: check the URL, or update data.downloadSha256 if the new archive is trusted.",
    );
  }
  await rename(`${archive}.part`, archive);
  await extractDataFiles(archive, options.dir, limits.maxUnpackedBytes);
  // The files are kept gzipped (the upload reads them so): the archive is not needed any more.
  await rm(archive, { force: true });
  await writeFile(marker, `${JSON.stringify({ url: options.url, sha256 }, null, 2)}\n`);
  return options.dir;
}

async function fetchTo(
  url: string,
  path: string,
  timeoutMs: number,
  maxBytes: number,
): Promise<string> {
  const shown = redactUrl(url);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new InputError(
      `cannot download ${shown}: ${reason} (no network, or the host is unreachable)`,
      {},
      MANUAL_HINT,
    );
  }
  if (!response.ok || !response.body) {
    throw new InputError(
      `cannot download ${shown}: HTTP ${response.status} ${response.statusText}`,
      {},
      MANUAL_HINT,
    );
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    throw new InputError(
      `${shown} is ${declared} bytes, over the limit of ${maxBytes}`,
      { field: "data.downloadUrl" },
      "Check the URL; a larger archive needs data.downloadMaxBytes (MLOPS_DOWNLOAD_MAX_BYTES) raised.",
    );
  }
  const hash = createHash("sha256");
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  try {
    await pipeline(
      body,
      capped(maxBytes, `${shown} sent more than ${maxBytes} bytes`, hash),
      createWriteStream(path),
    );
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
  return hash.digest("hex");
}

/**
 * Unpacks the three CSV files wherever they sit in the archive's folder tree, each straight into
 * `<file>.gz`: the upload streams gzip, so no unpacked copy of the (multi-GB) data lands on disk.
 */
async function extractDataFiles(
  archive: string,
  dir: string,
  maxUnpackedBytes: number,
): Promise<void> {
  const wanted = new Set<string>(DATA_KINDS.map((k) => DATA_FILES[k].file));
  const found = new Map<string, string>();
  let unpacked = 0;
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(archive, { lazyEntries: true }, (error, file) =>
      error ? reject(error) : resolve(file),
    ),
  ).catch((error: Error) => {
    throw new InputError(
      `the downloaded archive is not a readable zip file: ${error.message}`,
      { file: archive },
      MANUAL_HINT,
    );
  });
  await new Promise<void>((resolve, reject) => {
    zip.on("error", (error: Error) =>
      reject(
        /invalid relative path|absolute path/.test(error.message)
          ? new InputError(
              `the archive has an entry whose name leaves its folder (${error.message})`,
              { file: archive },
              "Do not unpack it: an archive from the data's publisher has no such names.",
            )
          : error,
      ),
    );
    zip.on("end", resolve);
    zip.on("entry", (entry: yauzl.Entry) => {
      // Only the base name counts, so a `../` in an entry's path cannot place a file elsewhere.
      const name = basename(entry.fileName);
      if (!wanted.has(name) || entry.fileName.endsWith("/")) {
        zip.readEntry();
        return;
      }
      const earlier = found.get(name);
      if (earlier !== undefined) {
        reject(
          new InputError(
            `the archive holds ${name} twice (${earlier} and ${entry.fileName}): which one is the data?`,
            { file: archive },
            MANUAL_HINT,
          ),
        );
        return;
      }
      const over = () =>
        new InputError(
          `the archive's data files unpack to more than ${maxUnpackedBytes} bytes (at ${entry.fileName})`,
          { file: archive },
          "A zip bomb, or a much larger dataset: raise data.downloadMaxUnpackedBytes (MLOPS_DOWNLOAD_MAX_UNPACKED_BYTES) if it is the data.",
        );
      // The header's size first (cheap), then the bytes really inflated (a header can lie).
      if (unpacked + entry.uncompressedSize > maxUnpackedBytes) return reject(over());
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const target = join(dir, `${name}.gz`);
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            unpacked += chunk.length;
            done(unpacked > maxUnpackedBytes ? over() : null, chunk);
          },
        });
        // Level 1: most of the size saving for a fraction of the time of the default level.
        pipeline(stream, counter, createGzip({ level: 1 }), createWriteStream(`${target}.part`))
          .then(() => rename(`${target}.part`, target))
          .then(
            () => {
              found.set(name, entry.fileName);
              zip.readEntry();
            },
            async (failure: unknown) => {
              await rm(`${target}.part`, { force: true });
              reject(failure);
            },
          );
      });
    });
    zip.readEntry();
  });
  const missing = [...wanted].filter((name) => !found.has(name));
  if (missing.includes(DATA_FILES.browsing.file)) {
    throw new InputError(
      `the archive holds no ${missing.join(", ")}`,
      { file: archive },
      MANUAL_HINT,
    );
  }
}

/** A pass-through that hashes what it passes and fails once more than `max` bytes went by. */
function capped(max: number, message: string, hash: ReturnType<typeof createHash>): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(bytes > max ? new InputError(message, { field: "data.downloadUrl" }) : null, chunk);
    },
  });
}
