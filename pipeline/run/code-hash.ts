/**
 * The hash of the code a stage runs: its entry modules and everything they import, followed
 * through relative imports, with the lockfile (the packages they run on). A change to any file a
 * stage can reach changes its hash; a change elsewhere (a card template, a test) does not.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root when running from its sources (pipeline/run/ is two levels down). */
export const SOURCE_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const IMPORT = /^\s*(?:import|export)[^;]*?from\s+["'](\.{1,2}\/[^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** Every source file reachable from the entries, relative to root, sorted. */
export function reachableSources(root: string, entries: readonly string[]): string[] {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    const path = join(root, file);
    if (!existsSync(path)) continue;
    seen.add(file);
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    const text = readFileSync(path, "utf8");
    for (const pattern of [IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
      for (const match of text.matchAll(pattern)) {
        queue.push(
          relative(root, join(dirname(path), match[1] as string))
            .split(sep)
            .join("/"),
        );
      }
    }
  }
  return [...seen].sort();
}

/** sha256 over each file's path and bytes, in the order given. */
export function hashFiles(root: string, files: readonly string[]): string {
  const hash = createHash("sha256");
  for (const file of files) {
    const bytes = readFileSync(join(root, file));
    hash.update(`${file}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest("hex");
}

/**
 * The code hash of a stage. From a bundle (a GitHub Action's dist/, the train image) the sources
 * are not beside the running file: the bundle itself is then the code, hashed whole, which is
 * coarser (any change to the bundle counts) but never misses one.
 */
export function codeHash(entries: readonly string[], root = SOURCE_ROOT): string {
  const sources = reachableSources(root, entries);
  const files = sources.length > 0 ? sources : [relative(root, fileURLToPath(import.meta.url))];
  const lockfile = existsSync(join(root, "package-lock.json")) ? ["package-lock.json"] : [];
  return hashFiles(root, [...files, ...lockfile]);
}
