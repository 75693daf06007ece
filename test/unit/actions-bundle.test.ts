/**
 * The committed action bundles (actions/<name>/dist/index.js) match a fresh build, the build is
 * reproducible, and a bundled module finds files relative to itself as it does unbundled.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  actionNames,
  buildBundle,
  buildBundles,
  ROOT,
  SERVE_IMAGE_BUNDLE,
  staleBundles,
} from "../../scripts/bundle.ts";

describe("committed bundles", () => {
  it("are up to date with the sources (else run `npm run bundle` and commit dist/)", async () => {
    expect(await staleBundles()).toEqual([]);
  });

  it("exist for every action, and every action.yml runs its bundle", () => {
    const names = actionNames();
    expect(names).toEqual(
      expect.arrayContaining(["upload", "transform", "train", "evaluate", "promote"]),
    );
    for (const name of names) {
      const action = parse(readFileSync(join(ROOT, "actions", name, "action.yml"), "utf8")) as {
        runs: { using: string; main: string };
      };
      expect(action.runs.main).toBe("dist/index.js");
      expect(existsSync(join(ROOT, "actions", name, action.runs.main))).toBe(true);
    }
  });

  it("give the serving image's bundle the license of every npm package it holds", async () => {
    const bundle = (await buildBundles()).find((b) => b.path === SERVE_IMAGE_BUNDLE);
    const notices = bundle?.contents.split(
      "The npm packages bundled above, and their licenses:",
    )[1];
    for (const name of ["zod", "yaml", "cli-progress"]) {
      expect(notices, name).toMatch(new RegExp(`(^|\\n)${name}\\n\\n`));
    }
    expect(notices).toMatch(/Permission is hereby granted/);
  });

  it("build to the same bytes twice, with no absolute path of this machine in them", async () => {
    const first = await buildBundles();
    const second = await buildBundles();
    expect(second.map((b) => b.contents)).toEqual(first.map((b) => b.contents));
    for (const bundle of first) {
      expect(bundle.contents).not.toContain(ROOT);
      expect(bundle.contents).not.toContain(tmpdir());
    }
  });
});

describe("import.meta.url inside a bundle", () => {
  let root: string;

  async function write(path: string, text: string): Promise<void> {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "bundle-"));
    await write("package.json", '{ "type": "module" }\n');
    await write("data/answer.txt", "42\n");
    await write(
      "lib/files/read.ts",
      'import { readFileSync } from "node:fs";\nexport const answer = () => readFileSync(new URL("../../data/answer.txt", import.meta.url), "utf8").trim();\n',
    );
    await write(
      "actions/good/main.ts",
      'import { answer } from "../../lib/files/read.ts";\nprocess.stdout.write(answer());\n',
    );
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("resolves against the module's own folder depth, not dist/", async () => {
    const bundle = await buildBundle("good", root);
    await write(bundle.path, bundle.contents);
    const out = execFileSync(process.execPath, [join(root, "actions/good/dist/index.js")], {
      encoding: "utf8",
    });
    expect(out).toBe("42");
  });

  it("refuses a module at another depth instead of resolving to the wrong file", async () => {
    await write("shallow.ts", 'export const here = () => new URL("./x", import.meta.url).href;\n');
    await write(
      "actions/bad/main.ts",
      'import { here } from "../../shallow.ts";\nprocess.stdout.write(here());\n',
    );
    await expect(buildBundle("bad", root)).rejects.toThrow(
      /shallow\.ts uses import\.meta\.url but is not two folders below the repository root/,
    );
  });
});
