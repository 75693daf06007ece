/**
 * The parts of a stage's cache key: the code it can reach, its settings, its inputs. Each kind
 * of change moves the key; a change the stage cannot see does not.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { codeHash, reachableSources, SOURCE_ROOT } from "../../pipeline/run/code-hash.ts";
import { canonicalJson, stageCache } from "../../pipeline/run/memo.ts";
import { tempDir } from "../helpers/rows.ts";

function tree(files: Record<string, string>): string {
  const root = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe("the code hash", () => {
  const files = {
    "package-lock.json": '{"lockfileVersion": 3}',
    "stage/entry.ts":
      'import { helper } from "./helper.ts";\nexport * from "../shared/types.ts";\n',
    "stage/helper.ts":
      'import "../shared/setup.ts";\nexport const helper = () => import("./lazy.ts");\n',
    "stage/lazy.ts": "export const lazy = 1;\n",
    "shared/types.ts": "export type T = number;\n",
    "shared/setup.ts": "globalThis.x = 1;\n",
    "other/card.ts": "export const card = 1;\n",
  };

  it("follows static, re-exported, side-effect and dynamic imports", () => {
    expect(reachableSources(tree(files), ["stage/entry.ts"])).toEqual([
      "shared/setup.ts",
      "shared/types.ts",
      "stage/entry.ts",
      "stage/helper.ts",
      "stage/lazy.ts",
    ]);
  });

  it("changes with any reachable file or the lockfile, not with a file the stage cannot reach", () => {
    const base = codeHash(["stage/entry.ts"], tree(files));
    expect(codeHash(["stage/entry.ts"], tree(files))).toBe(base);
    for (const changed of ["stage/lazy.ts", "shared/setup.ts", "package-lock.json"]) {
      const edited = { ...files, [changed]: `${files[changed as keyof typeof files]} ` };
      expect(codeHash(["stage/entry.ts"], tree(edited)), changed).not.toBe(base);
    }
    const unrelated = { ...files, "other/card.ts": "export const card = 2;\n" };
    expect(codeHash(["stage/entry.ts"], tree(unrelated))).toBe(base);
  });

  it("reaches the training code from the train stage's entry, and not the card", () => {
    const reached = reachableSources(SOURCE_ROOT, ["pipeline/train/train.ts"]);
    expect(reached).toContain("pipeline/train/trainer.ts");
    expect(reached.some((file) => file.startsWith("reports/"))).toBe(false);
  });
});

describe("the cache key", () => {
  const parts = {
    code: "c".repeat(64),
    settings: { epochs: 4, model: { cell: "gru", dim: 64 } },
    inputs: { transform: "t".repeat(64), production: "none" },
  };

  it("is the same for the same parts, whatever the order of settings and inputs", () => {
    const reordered = {
      code: parts.code,
      settings: { model: { dim: 64, cell: "gru" }, epochs: 4 },
      inputs: { production: "none", transform: "t".repeat(64) },
    };
    expect(stageCache("train", reordered).key).toBe(stageCache("train", parts).key);
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it("moves with the stage, the code, a setting or an input, and says which part moved", () => {
    const base = stageCache("train", parts);
    const variants = {
      stage: stageCache("evaluate", parts),
      code: stageCache("train", { ...parts, code: "d".repeat(64) }),
      settings: stageCache("train", { ...parts, settings: { ...parts.settings, epochs: 5 } }),
      inputs: stageCache("train", { ...parts, inputs: { ...parts.inputs, production: "p" } }),
    };
    for (const [name, variant] of Object.entries(variants)) {
      expect(variant.key, name).not.toBe(base.key);
    }
    expect(variants.settings.settings).not.toBe(base.settings);
    expect(variants.settings.code).toBe(base.code);
    expect(variants.inputs.inputs.production).toBe("p");
  });
});
