/**
 * `--source download` against a real HTTP server on loopback serving a zip archive: checksum
 * verified, files unpacked from a nested folder, reused on the second call, refused on a
 * checksum mismatch or a missing file.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadDataset, redactUrl } from "../../pipeline/data/download.ts";
import { InputError } from "../../pipeline/errors.ts";
import {
  BROWSING_HEADER,
  CATALOG_HEADER,
  SEARCH_HEADER,
  browsingRow,
  tempDir,
} from "../helpers/rows.ts";
import { storedZip } from "../helpers/zip.ts";

const browsing = `${BROWSING_HEADER}\n${browsingRow(1, 1, 1_550_000_000_000)}\n`;
const archive = storedZip({
  "SIGIR-ecom-data-challenge/README.md": "data",
  "SIGIR-ecom-data-challenge/train/browsing_train.csv": browsing,
  "SIGIR-ecom-data-challenge/train/search_train.csv": `${SEARCH_HEADER}\n`,
  "SIGIR-ecom-data-challenge/train/sku_to_content.csv": `${CATALOG_HEADER}\n`,
});
const sha256 = createHash("sha256").update(archive).digest("hex");
/** The same file at two places: which one is the data? */
const twice = storedZip({
  "a/browsing_train.csv": browsing,
  "b/browsing_train.csv": `${BROWSING_HEADER}\n`,
});
/** Entry names that try to climb out of the folder they are unpacked in. */
const escape = storedZip({
  "../../browsing_train.csv": browsing,
  "/etc/search_train.csv": `${SEARCH_HEADER}\n`,
});
/** The loopback server is plain http, which a download must allow explicitly. */
const download = (options: Parameters<typeof downloadDataset>[0]) =>
  downloadDataset({ allowHttp: true, requireSha256: false, ...options });
const requests: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/data.zip") res.end(archive);
    else if (req.url === "/empty.zip") res.end(storedZip({ "other.txt": "x" }));
    else if (req.url === "/twice.zip") res.end(twice);
    else if (req.url === "/escape.zip") res.end(escape);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("downloadDataset", () => {
  it("downloads, verifies and unpacks the three files gzipped, then reuses them", async () => {
    const dir = tempDir();
    await download({ url: `${base}/data.zip`, sha256, dir });
    // Straight from the zip into gzip: no unpacked copy, and no archive left behind.
    const unzip = (name: string) => gunzipSync(readFileSync(join(dir, name))).toString("utf8");
    expect(unzip("browsing_train.csv.gz")).toBe(browsing);
    expect(unzip("sku_to_content.csv.gz")).toBe(`${CATALOG_HEADER}\n`);
    expect(readdirSync(dir).sort()).toEqual([
      "browsing_train.csv.gz",
      "download.json",
      "search_train.csv.gz",
      "sku_to_content.csv.gz",
    ]);
    const before = requests.length;
    await download({ url: `${base}/data.zip`, sha256, dir });
    expect(requests.length).toBe(before);
  });

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.unreachable(),
      (e: unknown) => e as InputError,
    );

  it("refuses an archive whose sha256 differs", async () => {
    const error = await failure(
      download({ url: `${base}/data.zip`, sha256: "0".repeat(64), dir: tempDir() }),
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(`has sha256 ${sha256}, expected ${"0".repeat(64)}`);
  });

  it("names the HTTP status of a failed download and how to place the files by hand", async () => {
    const error = await failure(download({ url: `${base}/missing.zip`, dir: tempDir() }));
    expect(error.message).toContain("HTTP 404");
    expect(error.hint).toContain("--source csv --data DIR");
  });

  it("refuses an archive without browsing_train.csv", async () => {
    const error = await failure(download({ url: `${base}/empty.zip`, dir: tempDir() }));
    expect(error.message).toContain("the archive holds no browsing_train.csv");
  });

  it("refuses plain http unless allowed, and an unpinned archive in CI", async () => {
    const http = await failure(
      downloadDataset({ url: `${base}/data.zip`, sha256, dir: tempDir() }),
    );
    expect(http.message).toContain(`refusing to download ${base}/data.zip over plain http`);
    expect(http.hint).toContain("MLOPS_DOWNLOAD_ALLOW_HTTP=true");
    const unpinned = await failure(
      downloadDataset({
        url: `${base}/data.zip`,
        allowHttp: true,
        requireSha256: true,
        dir: tempDir(),
      }),
    );
    expect(unpinned.message).toContain(
      "is not pinned to a sha256: in CI every downloaded archive must be",
    );
  });

  it("stops a download over its size limit and deletes what arrived", async () => {
    const dir = tempDir();
    const error = await failure(download({ url: `${base}/data.zip`, dir, maxBytes: 100 }));
    expect(error.message).toMatch(/over the limit of 100|sent more than 100 bytes/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("stops unpacking past its limit: a zip bomb cannot fill the disk", async () => {
    const dir = tempDir();
    const error = await failure(download({ url: `${base}/data.zip`, dir, maxUnpackedBytes: 50 }));
    expect(error.message).toContain("unpack to more than 50 bytes");
    expect(readdirSync(dir).filter((f) => f.endsWith(".gz"))).toEqual([]);
  });

  it("refuses an archive holding a data file twice", async () => {
    const error = await failure(download({ url: `${base}/twice.zip`, dir: tempDir() }));
    expect(error.message).toContain(
      "the archive holds browsing_train.csv twice (a/browsing_train.csv and b/browsing_train.csv)",
    );
  });

  it("refuses an archive with entries named to leave its folder, writing nothing", async () => {
    const dir = tempDir();
    const error = await failure(download({ url: `${base}/escape.zip`, dir }));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain("has an entry whose name leaves its folder");
    expect(readdirSync(dir).filter((f) => f.includes("csv"))).toEqual([]);
  });

  it("prints a presigned URL without its signature", () => {
    expect(
      redactUrl("https://user:pass@bucket.s3.amazonaws.com/data.zip?X-Amz-Signature=abc"),
    ).toBe("https://bucket.s3.amazonaws.com/data.zip?…");
  });

  it("needs a URL", async () => {
    const error = await failure(downloadDataset({ dir: tempDir() }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain("set data.downloadUrl (MLOPS_DOWNLOAD_URL or --download-url)");
  });
});
