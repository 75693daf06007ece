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
import { downloadDataset } from "../../pipeline/data/download.ts";
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
const requests: string[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/data.zip") res.end(archive);
    else if (req.url === "/empty.zip") res.end(storedZip({ "other.txt": "x" }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("downloadDataset", () => {
  it("downloads, verifies and unpacks the three files gzipped, then reuses them", async () => {
    const dir = tempDir();
    await downloadDataset({ url: `${base}/data.zip`, sha256, dir });
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
    await downloadDataset({ url: `${base}/data.zip`, sha256, dir });
    expect(requests.length).toBe(before);
  });

  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.unreachable(),
      (e: unknown) => e as InputError,
    );

  it("refuses an archive whose sha256 differs", async () => {
    const error = await failure(
      downloadDataset({ url: `${base}/data.zip`, sha256: "0".repeat(64), dir: tempDir() }),
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(`has sha256 ${sha256}, expected ${"0".repeat(64)}`);
  });

  it("names the HTTP status of a failed download and how to place the files by hand", async () => {
    const error = await failure(downloadDataset({ url: `${base}/missing.zip`, dir: tempDir() }));
    expect(error.message).toContain("HTTP 404");
    expect(error.hint).toContain("--source csv --data DIR");
  });

  it("refuses an archive without browsing_train.csv", async () => {
    const error = await failure(downloadDataset({ url: `${base}/empty.zip`, dir: tempDir() }));
    expect(error.message).toContain("the archive holds no browsing_train.csv");
  });

  it("needs a URL", async () => {
    const error = await failure(downloadDataset({ dir: tempDir() }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain("set data.downloadUrl (MLOPS_DOWNLOAD_URL or --download-url)");
  });
});
