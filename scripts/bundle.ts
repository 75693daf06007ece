/**
 * Bundles each action's main.ts (actions/<name>/main.ts) into actions/<name>/dist/index.js, the
 * file its action.yml runs, the serving image's entry (pipeline/serve/bin.ts) into
 * containers/dist/serve.js and the train image's code-package bootstrap into
 * containers/dist/train-bootstrap.mjs. `npm run bundle` writes them; `npm run bundle -- --check` exits 1
 * and names the stale ones.
 *
 * What is bundled: this repository's TypeScript (actions/, pipeline/, reports/), which the
 * runner's Node cannot run as it is. What is not: npm packages. They stay imports resolved from
 * the workspace's node_modules, because several cannot be bundled at all (DuckDB's and tfjs's
 * native bindings, tfjs's wasm files, @actions/core 3 is ESM-only) and the rest would add
 * megabytes of committed, unreviewable code to each of six actions. So every workflow runs
 * `npm ci` before it uses an action.
 *
 * import.meta.url: pipeline modules find files relative to themselves (`../../dbt`,
 * `../../package.json`), and all of them sit two folders below the root (pipeline/<area>/x.ts).
 * In a bundle that would resolve against actions/<name>/dist/, one level deeper, so the bundle
 * replaces import.meta.url with the URL of a file two folders below the root; a bundled module
 * that uses import.meta.url elsewhere fails the build instead of finding the wrong files.
 *
 * The serving image is the exception: it holds Node and its one file, so that bundle includes its
 * npm packages (pure JavaScript: zod, yaml, cli-progress) with their license notices at the end,
 * and none of its modules may use import.meta.url (there is nothing next to it in the image).
 *
 * The output has no timestamps or absolute paths, so the same sources give the same bytes on
 * any machine and the stale check can compare them.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where a bundled module's import.meta.url points: two folders below the root, like pipeline/*. */
const MODULE_URL_ANCHOR = "pipeline/run/bundled-action.js";

export interface Bundle {
  /** What it is: an action's folder name, or "serve image". */
  name: string;
  /** Path of dist/index.js relative to the root, with forward slashes. */
  path: string;
  contents: string;
}

/** Actions are the folders of actions/ that have a main.ts (actions/common has none). */
export function actionNames(root = ROOT): string[] {
  const dir = join(root, "actions");
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, "main.ts")))
    .map((entry) => entry.name)
    .sort();
}

/** The repository's modules among a bundle's inputs that use import.meta.url. */
function moduleUrlUsers(root: string, inputs: string[]): string[] {
  // esbuild's metafile names inputs relative to absWorkingDir, with forward slashes.
  return inputs.filter(
    (input) =>
      !input.startsWith("node_modules/") &&
      readFileSync(join(root, input), "utf8").includes("import.meta.url"),
  );
}

function checkModuleUrls(root: string, inputs: string[]): void {
  for (const input of moduleUrlUsers(root, inputs)) {
    if (input.split("/").length - 1 !== 2) {
      throw new Error(
        `${input} uses import.meta.url but is not two folders below the repository root: inside a bundle it would resolve against the wrong folder. Move it, or pass the path in from its caller.`,
      );
    }
  }
}

export async function buildBundle(action: string, root = ROOT): Promise<Bundle> {
  const path = `actions/${action}/dist/index.js`;
  const anchor = `${"../".repeat(3)}${MODULE_URL_ANCHOR}`;
  const result = await build({
    absWorkingDir: root,
    entryPoints: [`actions/${action}/main.ts`],
    outfile: path,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    packages: "external",
    write: false,
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
    charset: "utf8",
    define: { "import.meta.url": "__moduleUrl" },
    banner: {
      js: [
        `// Bundled from actions/${action}/main.ts by scripts/bundle.ts; do not edit: run \`npm run bundle\`.`,
        `const __moduleUrl = new URL(${JSON.stringify(anchor)}, import.meta.url).href;`,
      ].join("\n"),
    },
  });
  checkModuleUrls(root, Object.keys(result.metafile.inputs));
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild wrote nothing for ${path}`);
  return { name: action, path, contents: output.text };
}

/** Where the serving image's bundle is written (containers/serve.Dockerfile copies it). */
export const SERVE_IMAGE_BUNDLE = "containers/dist/serve.js";

/**
 * One image's entry, bundled: no module of it may use import.meta.url, since the image holds the
 * bundle without the files around it in this repository (`why` says what the image holds).
 */
async function buildImageEntry(
  root: string,
  entry: string,
  outfile: string,
  options: { npmExternal: boolean; bannerLines?: string[]; why: string },
): Promise<{ text: string; inputs: string[] }> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    ...(options.npmExternal ? { packages: "external" as const } : {}),
    platform: "node",
    target: "node20",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
    legalComments: "none",
    charset: "utf8",
    banner: {
      js: [
        `// Bundled from ${entry} by scripts/bundle.ts; do not edit: run \`npm run bundle\`.`,
        ...(options.bannerLines ?? []),
      ].join("\n"),
    },
  });
  const inputs = Object.keys(result.metafile.inputs);
  const [locating] = moduleUrlUsers(root, inputs);
  if (locating !== undefined) {
    throw new Error(
      `${locating} uses import.meta.url, but ${options.why}: pass the path in from its caller instead.`,
    );
  }
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild wrote nothing for ${outfile}`);
  return { text: output.text, inputs };
}

export async function buildServeImageBundle(root = ROOT): Promise<Bundle> {
  const { text, inputs } = await buildImageEntry(
    root,
    "pipeline/serve/bin.ts",
    SERVE_IMAGE_BUNDLE,
    {
      npmExternal: false,
      bannerLines: [
        // CommonJS packages inside an ES module bundle still call require() for Node's modules.
        'import { createRequire as __createRequire } from "node:module";',
        "const require = __createRequire(import.meta.url);",
      ],
      why: "the serving image holds its bundle alone",
    },
  );
  return {
    name: "serve image",
    path: SERVE_IMAGE_BUNDLE,
    contents: text + licenseNotices(root, inputs),
  };
}

/** Where the train image's entry is written (containers/train.Dockerfile copies it). */
export const TRAIN_IMAGE_BUNDLE = "containers/dist/train-bootstrap.mjs";

/**
 * The train image's entry: the code-package bootstrap (pipeline/compute/train-image-bin.ts).
 * Its npm imports stay imports: the image has the lockfile's node_modules next to the bundle.
 * It holds no pipeline code beyond fetching, checking and starting the run's own package.
 */
export async function buildTrainImageBundle(root = ROOT): Promise<Bundle> {
  const { text } = await buildImageEntry(
    root,
    "pipeline/compute/train-image-bin.ts",
    TRAIN_IMAGE_BUNDLE,
    { npmExternal: true, why: "the train image holds its bootstrap without the code" },
  );
  return { name: "train image", path: TRAIN_IMAGE_BUNDLE, contents: text };
}

/**
 * The license files of the npm packages a bundle holds, as one comment at its end: MIT and ISC
 * ask that their notice travel with every copy, and the packages carry no license comment for
 * esbuild to keep.
 */
function licenseNotices(root: string, inputs: string[]): string {
  const packages = new Set<string>();
  for (const input of inputs) {
    const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packages.add(match[1] as string);
  }
  const sections = [...packages].sort().map((name) => {
    const dir = join(root, "node_modules", name);
    const file = readdirSync(dir).find((f) => /^licen[cs]e([-.][\w.-]+)?$/i.test(f));
    if (!file) throw new Error(`${name} is bundled into the serving image but has no LICENSE file`);
    const text = readFileSync(join(dir, file), "utf8").replaceAll("*/", "* /").trim();
    return `${name}\n\n${text}`;
  });
  if (sections.length === 0) return "";
  return `\n/*\n * The npm packages bundled above, and their licenses:\n\n${sections.join("\n\n---\n\n")}\n */\n`;
}

export async function buildBundles(root = ROOT): Promise<Bundle[]> {
  const bundles: Bundle[] = [];
  // One at a time: esbuild is fast, and the CI machine has two cores shared with tests.
  for (const action of actionNames(root)) bundles.push(await buildBundle(action, root));
  bundles.push(await buildServeImageBundle(root));
  bundles.push(await buildTrainImageBundle(root));
  return bundles;
}

export async function writeBundles(root = ROOT): Promise<Bundle[]> {
  const bundles = await buildBundles(root);
  for (const bundle of bundles) {
    const file = join(root, bundle.path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, bundle.contents);
  }
  return bundles;
}

/** Bundles whose committed dist/index.js is missing or differs from a fresh build. */
export async function staleBundles(root = ROOT): Promise<string[]> {
  const stale: string[] = [];
  for (const bundle of await buildBundles(root)) {
    const file = join(root, bundle.path);
    if (!existsSync(file) || readFileSync(file, "utf8") !== bundle.contents)
      stale.push(bundle.path);
  }
  return stale;
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--check")) {
    const stale = await staleBundles();
    if (stale.length === 0) {
      process.stderr.write("bundles are up to date\n");
      return 0;
    }
    process.stderr.write(
      `stale bundles (rebuild with \`npm run bundle\` and commit them):\n${stale.map((p) => `  ${p}`).join("\n")}\n`,
    );
    return 1;
  }
  for (const bundle of await writeBundles()) {
    process.stderr.write(`wrote ${bundle.path} (${Buffer.byteLength(bundle.contents)} bytes)\n`);
  }
  return 0;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(resolve(entry)).href) {
  process.exitCode = await main(process.argv.slice(2));
}
