/**
 * Where the upload stage's files come from: the seeded generator (default), a folder of CSV
 * files, or a download.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { InputError } from "../errors.ts";
import { downloadDataset, redactUrl } from "../data/download.ts";
import { generate, type GenerateResult } from "../data/generator/index.ts";
import { DATA_FILES, DATA_KINDS, type DataKind } from "../data/schema.ts";
import type { Reporter } from "../reporter.ts";

export interface AcquiredData {
  source: Config["data"]["source"];
  dir: string;
  files: Partial<Record<DataKind, string>>;
  /** For synthetic data: the generator's record (counts, model and oracle files). */
  generated?: GenerateResult;
}

export async function acquireData(config: Config, reporter: Reporter): Promise<AcquiredData> {
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
        `downloading ${data.downloadUrl ? redactUrl(data.downloadUrl) : "(no URL set)"} into ${data.dir}`,
      );
      const dir = await downloadDataset({
        url: data.downloadUrl,
        sha256: data.downloadSha256,
        dir: data.dir,
        allowHttp: data.allowHttp,
        maxBytes: data.downloadMaxBytes,
        maxUnpackedBytes: data.downloadMaxUnpackedBytes,
      });
      return { source: "download", dir, files: requireFiles(dir) };
    }
  }
}

/** One folder per generator setting, so changing --sessions never reuses other files. */
export function syntheticDir(config: Config): string {
  const { dir, sessions, skus, seed } = config.data;
  return join(dir, `synthetic-n${sessions}-k${skus}-s${seed}`);
}

async function generateOnce(
  dir: string,
  config: Config,
  reporter: Reporter,
): Promise<GenerateResult> {
  // The marker is written last: a generation killed half-way is redone, never reused.
  const marker = join(dir, "generate.json");
  if (existsSync(marker)) {
    reporter.info(`reusing generated data in ${dir}`);
    return JSON.parse(await readFile(marker, "utf8")) as GenerateResult;
  }
  const { sessions, skus, seed } = config.data;
  reporter.info(
    `generating ${sessions} synthetic sessions (${skus} SKUs, seed ${seed}) into ${dir}`,
  );
  const bar = reporter.progress("  generate", sessions, "sessions");
  try {
    const result = await generate({
      outDir: dir,
      sessions,
      skus,
      seed,
      onProgress: (done) => bar.update(done, done),
    });
    await writeFile(marker, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    bar.stop();
  }
}

/** Each kind's file in the folder: `browsing_train.csv`, else `browsing_train.csv.gz`. */
function presentFiles(dir: string): Partial<Record<DataKind, string>> {
  const files: Partial<Record<DataKind, string>> = {};
  for (const kind of DATA_KINDS) {
    const plain = join(dir, DATA_FILES[kind].file);
    const gzipped = `${plain}.gz`;
    if (existsSync(plain)) files[kind] = plain;
    else if (existsSync(gzipped)) files[kind] = gzipped;
  }
  return files;
}

function requireFiles(dir: string): Partial<Record<DataKind, string>> {
  const files = presentFiles(dir);
  if (!files.browsing) {
    const expected = DATA_KINDS.map((k) => DATA_FILES[k].file).join(", ");
    throw new InputError(
      `no ${DATA_FILES.browsing.file} (or ${DATA_FILES.browsing.file}.gz) in ${dir}`,
      { file: join(dir, DATA_FILES.browsing.file) },
      `Point --data (MLOPS_DATA_DIR) at the folder holding ${expected}, plain or gzipped (.csv.gz); search and catalog files are optional.`,
    );
  }
  return files;
}
