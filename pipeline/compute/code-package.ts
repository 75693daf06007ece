/**
 * The run's code package, as Metaflow packages a flow: the checkout's code (the CLI, the pipeline,
 * the dbt project, the card's templates, the settings and the lockfile) in one tarball stored in
 * the run store under its content hash. The train image holds Node and the dependencies only;
 * a Batch job downloads the package of its run and runs that code (code-bootstrap.ts), so a pull
 * request that changes `pipeline/train/**` trains with its own code, not the image's.
 *
 * Byte-reproducible: the tar is written here, not by a tar program, with sorted paths, fixed
 * modes, owner 0 and mtime 0, so the same files give the same bytes on any machine. The address
 * is the sha256 of the uncompressed tar (gzip's output may differ between zlib builds; the tar
 * cannot), and the job checks it after download.
 */
import { sha256Hex } from "../data/file-hash.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { InputError } from "../errors.ts";
import type { ArtifactStore } from "../store/store.ts";

/** What travels: folders walked recursively, and single files at the root (when present). */
export const CODE_PACKAGE_FOLDERS = ["bin", "pipeline", "dbt", "reports"] as const;
export const CODE_PACKAGE_FILES = [
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "gates.yml",
  "pipeline.config.yml",
] as const;

/** Never packaged: installed dependencies, dbt's build output, logs and hidden files. */
const SKIPPED_NAMES = new Set(["node_modules", "target", "logs", "dbt_packages"]);

/** Where packages live in the run store: `code/<sha256 of the tar>.tar.gz`. */
export const CODE_PACKAGE_PREFIX = "code/";

export interface CodePackage {
  /** sha256 of the uncompressed tar: the package's address. */
  sha256: string;
  /** The gzipped tar. */
  bytes: Buffer;
  /** Packaged paths, '/'-separated, sorted. */
  files: string[];
  /** Bytes of the files before compression. */
  contentBytes: number;
}

export function codePackageKey(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new InputError(`"${sha256}" is not a code package address (64 hex digits)`, {
      field: "codePackage",
    });
  }
  return `${CODE_PACKAGE_PREFIX}${sha256}.tar.gz`;
}

/** The packaged files of a checkout, sorted by their '/'-separated path. */
export function codePackageFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIPPED_NAMES.has(entry.name)) continue;
      if (entry.name.endsWith(".log")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(relative(root, path).split(sep).join("/"));
      // Symbolic links and other special files are left out: the job could not follow them.
    }
  };
  for (const folder of CODE_PACKAGE_FOLDERS) {
    if (existsSync(join(root, folder))) walk(join(root, folder));
  }
  if (!files.some((file) => file.startsWith("pipeline/"))) {
    throw new InputError(
      `${root} holds no pipeline/ folder: it is not a checkout of this template`,
      { file: root },
      "Build the code package from the repository's root.",
    );
  }
  for (const file of CODE_PACKAGE_FILES) {
    if (existsSync(join(root, file)) && statSync(join(root, file)).isFile()) files.push(file);
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Packs the checkout at `root` into its code package. */
export function buildCodePackage(root: string): CodePackage {
  const files = codePackageFiles(root);
  const blocks: Buffer[] = [];
  let contentBytes = 0;
  for (const file of files) {
    const body = readFileSync(join(root, file));
    contentBytes += body.length;
    blocks.push(tarHeader(file, body.length), body, Buffer.alloc(padding(body.length)));
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  const tar = Buffer.concat(blocks);
  return { sha256: sha256Hex(tar), bytes: gzipPackage(tar), files, contentBytes };
}

export interface PublishedCodePackage {
  sha256: string;
  key: string;
  /** `<store location>/<key>`: what a job is given as MLOPS_CODE_PACKAGE. */
  url: string;
  files: number;
  bytes: number;
}

/**
 * Builds the checkout's package and puts it into the run store. Content-addressed, so writing it
 * again is harmless: every run of the same code names the same object.
 */
export async function publishCodePackage(
  store: ArtifactStore,
  root: string,
): Promise<PublishedCodePackage> {
  const pkg = buildCodePackage(root);
  const key = codePackageKey(pkg.sha256);
  await store.put(key, pkg.bytes);
  return {
    sha256: pkg.sha256,
    key,
    url: `${store.location.replace(/\/+$/, "")}/${key}`,
    files: pkg.files.length,
    bytes: pkg.bytes.length,
  };
}

/**
 * Checks downloaded bytes against their address and returns the tar. Throws when the bytes are
 * not a gzip stream or hash to something else (a truncated download, a replaced object).
 */
export function verifyCodePackage(bytes: Uint8Array, expectedSha256: string): Buffer {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes);
  } catch (error) {
    throw new InputError(
      `the code package ${expectedSha256} is not a gzip stream: ${(error as Error).message}`,
      { file: codePackageKey(expectedSha256) },
      "Upload it again: run the train stage from the checkout (it uploads the package before submitting the job).",
    );
  }
  const actual = sha256Hex(tar);
  if (actual !== expectedSha256) {
    throw new InputError(
      `the code package ${codePackageKey(expectedSha256)} holds different code (sha256 ${actual})`,
      { file: codePackageKey(expectedSha256) },
      "The object was changed after upload; delete it and run the train stage again.",
    );
  }
  return tar;
}

/**
 * Writes the files of a verified tar (as `buildCodePackage` writes them: regular files only)
 * under `dir` and returns their paths. A path that would leave `dir` is refused.
 */
export function unpackCodePackage(tar: Buffer, dir: string): string[] {
  const files: string[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start: number, length: number) =>
      header.toString("utf8", start, start + length).replace(/\0.*$/s, "");
    const prefix = field(345, 155);
    const path = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim(), 8);
    const type = field(156, 1) || "0";
    const segments = path.split("/");
    if (
      type !== "0" ||
      !Number.isFinite(size) ||
      path.startsWith("/") ||
      segments.some((part) => part === "" || part === "." || part === ".." || part.includes("\\"))
    ) {
      throw new InputError(
        `the code package holds an entry it may not ("${path}", type ${type}) at byte ${offset}`,
        { file: path },
        "Code packages hold regular files with relative paths only; build it with buildCodePackage.",
      );
    }
    const target = join(dir, ...segments);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, tar.subarray(offset + 512, offset + 512 + size));
    files.push(path);
    offset += 512 + size + padding(size);
  }
  return files;
}

function gzipPackage(tar: Buffer): Buffer {
  const gz = gzipSync(tar, { level: 9 });
  // The header's OS byte is whatever zlib was built for; one value keeps the bytes the same.
  gz[9] = 3;
  return gz;
}

function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** A POSIX ustar header for a regular file, mode 0644, owner 0:0, mtime 0. */
function tarHeader(path: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  const name = Buffer.from(path, "utf8");
  let prefix = Buffer.alloc(0);
  let base = name;
  if (name.length > 100) {
    // ustar splits long paths at a '/' into prefix (155 bytes) and name (100 bytes).
    const cut = path.lastIndexOf("/", path.length - 1);
    const head = Buffer.from(path.slice(0, cut), "utf8");
    const tail = Buffer.from(path.slice(cut + 1), "utf8");
    if (cut <= 0 || head.length > 155 || tail.length > 100) {
      throw new InputError(
        `${path} is too long a path for the code package (ustar allows 155 + 100 bytes)`,
        { file: path },
        "Shorten the file's name or folder.",
      );
    }
    prefix = head;
    base = tail;
  }
  base.copy(header, 0);
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, size);
  octal(header, 136, 12, 0);
  header.write("0", 156, "ascii"); // regular file
  header.write("ustar\u000000", 257, "ascii");
  prefix.copy(header, 345);
  header.fill(" ", 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "ascii");
  return header;
}

function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, "ascii");
}
