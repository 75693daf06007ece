/**
 * The code package that travels with a run (pipeline/compute/code-package.ts) and the train
 * image's bootstrap that runs it (containers/dist/train-bootstrap.mjs, the committed bundle).
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildCodePackage,
  codePackageFiles,
  codePackageKey,
  unpackCodePackage,
  verifyCodePackage,
} from "../../pipeline/compute/code-package.ts";
import { sha256Hex } from "../../pipeline/data/file-hash.ts";
import { parseCodePackageUrl } from "../../pipeline/compute/code-bootstrap.ts";
import { TRAIN_IMAGE_BUNDLE } from "../../scripts/bundle.ts";

const ROOT = join(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "code-package-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function folder(name: string): string {
  const dir = join(scratch, `${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A checkout with other code: its CLI prints a marker and its arguments. */
function otherCheckout(marker: string): string {
  const dir = folder("checkout");
  mkdirSync(join(dir, "bin"));
  mkdirSync(join(dir, "pipeline"));
  writeFileSync(
    join(dir, "bin", "pipeline.js"),
    `import { marker } from "../pipeline/marker.js";\nconsole.log(marker, process.argv.slice(2).join(" "));\n`,
  );
  writeFileSync(
    join(dir, "pipeline", "marker.js"),
    `export const marker = ${JSON.stringify(marker)};\n`,
  );
  writeFileSync(join(dir, "package.json"), `{"type":"module"}\n`);
  copyFileSync(join(ROOT, "package-lock.json"), join(dir, "package-lock.json"));
  return dir;
}

/** The train image's /app: the bootstrap bundle, the lockfile and node_modules. */
function imageRoot(lockfile = join(ROOT, "package-lock.json")): string {
  const dir = folder("image");
  copyFileSync(join(ROOT, TRAIN_IMAGE_BUNDLE), join(dir, "train-bootstrap.mjs"));
  copyFileSync(lockfile, join(dir, "package-lock.json"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** Uploads a package into a folder run store, as the train stage does into S3. */
function publish(checkout: string): { store: string; url: string; sha: string } {
  const pkg = buildCodePackage(checkout);
  const store = folder("store");
  mkdirSync(join(store, "code"));
  writeFileSync(join(store, codePackageKey(pkg.sha256)), pkg.bytes);
  return { store, url: `${store}/${codePackageKey(pkg.sha256)}`, sha: pkg.sha256 };
}

function runImage(image: string, args: string[], env: Record<string, string | undefined>) {
  const result = spawnSync(process.execPath, [join(image, "train-bootstrap.mjs"), ...args], {
    env: { PATH: process.env.PATH, MLOPS_CODE_DIR: folder("job-tmp"), ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the code package", () => {
  it("holds the CLI, the pipeline, the dbt project, the card, the settings and the lockfile, nothing else", () => {
    const files = codePackageFiles(ROOT);
    for (const file of [
      "bin/pipeline.js",
      "pipeline/cli/main.ts",
      "pipeline/train/train.ts",
      "dbt/dbt_project.yml",
      "reports/markdown.ts",
      "gates.yml",
      "package.json",
      "package-lock.json",
    ]) {
      expect(files).toContain(file);
    }
    expect(
      files.filter((f) => /^(test|bench|actions|node_modules|\.git|\.mlops)\//.test(f)),
    ).toEqual([]);
    expect(files.filter((f) => f.split("/").some((part) => part.startsWith(".")))).toEqual([]);
    expect([...files].sort()).toEqual(files);
  });

  it("is byte-reproducible: same files give the same bytes, whatever their times and modes", () => {
    const first = buildCodePackage(ROOT);
    const again = buildCodePackage(ROOT);
    expect(again.bytes.equals(first.bytes)).toBe(true);

    const copy = folder("copy");
    for (const file of first.files) cpSync(join(ROOT, file), join(copy, file));
    const touched = join(copy, "pipeline", "train", "train.ts");
    utimesSync(touched, new Date("2030-01-01"), new Date("2030-01-01"));
    chmodSync(touched, 0o600);
    chmodSync(join(copy, "bin", "pipeline.js"), 0o755);
    // Files that are not code, or are build output, change nothing.
    mkdirSync(join(copy, "test"));
    writeFileSync(join(copy, "test", "x.test.ts"), "x");
    mkdirSync(join(copy, "dbt", "target"), { recursive: true });
    writeFileSync(join(copy, "dbt", "target", "manifest.json"), "{}");
    writeFileSync(join(copy, "pipeline", "debug.log"), "x");
    const copied = buildCodePackage(copy);
    expect(copied.sha256).toBe(first.sha256);
    expect(copied.bytes.equals(first.bytes)).toBe(true);
    expect(first.sha256).toBe(sha256Hex(gunzipSync(first.bytes)));
  });

  it("changes its address when one byte of code changes", () => {
    const checkout = otherCheckout("a");
    const before = buildCodePackage(checkout).sha256;
    writeFileSync(join(checkout, "pipeline", "marker.js"), `export const marker = "b";\n`);
    expect(buildCodePackage(checkout).sha256).not.toBe(before);
  });

  it("unpacks to the same files, and refuses bytes that hash to something else", () => {
    const pkg = buildCodePackage(ROOT);
    const tar = verifyCodePackage(pkg.bytes, pkg.sha256);
    const out = folder("unpacked");
    expect(unpackCodePackage(tar, out)).toEqual(pkg.files);
    for (const file of ["pipeline/train/train.ts", "package-lock.json"]) {
      expect(readFileSync(join(out, file)).equals(readFileSync(join(ROOT, file)))).toBe(true);
    }
    const tampered = gzipSync(
      Buffer.concat([tar.subarray(0, 600), Buffer.from("x"), tar.subarray(601)]),
    );
    expect(() => verifyCodePackage(tampered, pkg.sha256)).toThrow(/holds different code/);
    expect(() => verifyCodePackage(Buffer.from("not gzip"), pkg.sha256)).toThrow(
      /not a gzip stream/,
    );
  });

  it("refuses an entry that would leave the folder it is unpacked in", () => {
    const pkg = buildCodePackage(otherCheckout("x"));
    const tar = Buffer.from(verifyCodePackage(pkg.bytes, pkg.sha256));
    // Rename the first entry to ../escape and fix the header's checksum.
    tar.fill(0, 0, 100);
    tar.write("../escape.js", 0);
    tar.fill(" ", 148, 156);
    let sum = 0;
    for (const byte of tar.subarray(0, 512)) sum += byte;
    tar.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148);
    expect(() => unpackCodePackage(tar, folder("evil"))).toThrow(
      /entry it may not \("\.\.\/escape\.js"/,
    );
  });

  it("names packages by their address only", () => {
    expect(parseCodePackageUrl(`s3://b/p/code/${"a".repeat(64)}.tar.gz`)).toEqual({
      store: "s3://b/p",
      key: `code/${"a".repeat(64)}.tar.gz`,
      sha256: "a".repeat(64),
    });
    expect(() => parseCodePackageUrl("s3://b/p/code/latest.tar.gz")).toThrow(/MLOPS_CODE_PACKAGE/);
    expect(() => codePackageKey("../x")).toThrow(/64 hex digits/);
  });
});

describe("the train image's bootstrap", () => {
  it("runs the code of the package it is given, not code of its own", () => {
    const image = imageRoot();
    for (const marker of ["code of run one", "code of run two"]) {
      const { url } = publish(otherCheckout(marker));
      const job = runImage(image, ["train", "--compute", "local"], { MLOPS_CODE_PACKAGE: url });
      expect(job.stderr).toContain("code package ");
      expect(job.status, job.stderr).toBe(0);
      expect(job.stdout.trim()).toBe(`${marker} train --compute local`);
    }
  });

  it("runs this checkout's CLI from its package", () => {
    const { url } = publish(ROOT);
    const job = runImage(imageRoot(), ["train", "--help"], { MLOPS_CODE_PACKAGE: url });
    expect(job.status, job.stderr).toBe(0);
    expect(job.stdout).toMatch(/Usage: pipeline train/);
  });

  it("passes the CLI's exit code through", () => {
    const checkout = otherCheckout("unused");
    writeFileSync(join(checkout, "bin", "pipeline.js"), "process.exit(3);\n");
    const job = runImage(imageRoot(), [], { MLOPS_CODE_PACKAGE: publish(checkout).url });
    expect(job.status).toBe(3);
  });

  it("stops with exit 2 and says why without a package, a missing one or another lockfile", () => {
    const image = imageRoot();
    const none = runImage(image, ["train"], {});
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(
      /MLOPS_CODE_PACKAGE is not set: this image holds the dependencies only/,
    );
    expect(none.stderr).toMatch(/hint: .*pipeline train --compute batch/);

    const { store } = publish(otherCheckout("x"));
    const missing = runImage(image, ["train"], {
      MLOPS_CODE_PACKAGE: `${store}/code/${"0".repeat(64)}.tar.gz`,
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/code package code\/0{64}\.tar\.gz is not in the run store/);

    const lockfile = join(folder("lock"), "package-lock.json");
    writeFileSync(lockfile, "{}\n");
    const other = runImage(imageRoot(lockfile), ["train"], {
      MLOPS_CODE_PACKAGE: publish(otherCheckout("x")).url,
    });
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/package-lock\.json .* is not the one this image was built from/);
  });
});
