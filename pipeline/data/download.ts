/**
 * `--source download`: fetches the data-challenge archive (a .zip holding the three CSV files)
 * from a configured URL, checks its sha256 and unpacks the files. There is no default URL: the
 * dataset is distributed under terms the user accepts, and the original project's link is dead.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
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
  const sha256 = await fetchTo(options.url, `${archive}.part`, options.timeoutMs ?? 30_000);
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(`${archive}.part`, { force: true });
    throw new InputError(
      `the archive downloaded from ${options.url} has sha256 ${sha256}, expected ${options.sha256}`,
      { field: "data.downloadSha256" },
      "The file changed or the download was corrupted: check the URL, or update data.downloadSha256 if the new archive is trusted.",
    );
  }
  await rename(`${archive}.part`, archive);
  await extractDataFiles(archive, options.dir);
  // The files are kept gzipped (the upload reads them so): the archive is not needed any more.
  await rm(archive, { force: true });
  await writeFile(marker, `${JSON.stringify({ url: options.url, sha256 }, null, 2)}\n`);
  return options.dir;
}

async function fetchTo(url: string, path: string, timeoutMs: number): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new InputError(
      `cannot download ${url}: ${reason} (no network, or the host is unreachable)`,
      {},
      MANUAL_HINT,
    );
  }
  if (!response.ok || !response.body) {
    throw new InputError(
      `cannot download ${url}: HTTP ${response.status} ${response.statusText}`,
      {},
      MANUAL_HINT,
    );
  }
  const hash = createHash("sha256");
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => hash.update(chunk));
  await pipeline(body, createWriteStream(path));
  return hash.digest("hex");
}

/**
 * Unpacks the three CSV files wherever they sit in the archive's folder tree, each straight into
 * `<file>.gz`: the upload streams gzip, so no unpacked copy of the (multi-GB) data lands on disk.
 */
async function extractDataFiles(archive: string, dir: string): Promise<void> {
  const wanted = new Set<string>(DATA_KINDS.map((k) => DATA_FILES[k].file));
  const found = new Set<string>();
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
    zip.on("error", reject);
    zip.on("end", resolve);
    zip.on("entry", (entry: yauzl.Entry) => {
      const name = basename(entry.fileName);
      if (!wanted.has(name) || entry.fileName.endsWith("/")) {
        zip.readEntry();
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const target = join(dir, `${name}.gz`);
        // Level 1: most of the size saving for a fraction of the time of the default level.
        pipeline(stream, createGzip({ level: 1 }), createWriteStream(`${target}.part`))
          .then(() => rename(`${target}.part`, target))
          .then(() => {
            found.add(name);
            zip.readEntry();
          }, reject);
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
