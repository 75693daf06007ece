import { randomBytes } from "node:crypto";
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PACKAGE_FILES,
  buildModelPackage,
  extractModelPackage,
} from "../../pipeline/promote/model-package.ts";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "promote-package-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** An artifact folder: the six files with distinct contents (weights.bin binary). */
async function artifact(contents: Record<string, Buffer>): Promise<string> {
  const dir = await mkdtemp(join(scratch, "artifact-"));
  for (const [name, body] of Object.entries(contents)) await writeFile(join(dir, name), body);
  return dir;
}
function sampleContents(): Record<string, Buffer> {
  return Object.fromEntries(
    PACKAGE_FILES.map((name) => [
      name,
      name === "weights.bin" ? randomBytes(4096) : Buffer.from(JSON.stringify({ name })),
    ]),
  );
}

describe("model package", () => {
  it("puts exactly the artifact files at the archive root", async () => {
    const dir = await artifact(sampleContents());
    const out = join(scratch, "root.tar.gz");
    await buildModelPackage(dir, out);
    const entries: {
      path: string;
      type: string;
      mode: number | undefined;
      uid: number | undefined;
    }[] = [];
    await tar.list({
      file: out,
      onReadEntry: (e) => entries.push({ path: e.path, type: e.type, mode: e.mode, uid: e.uid }),
    });
    expect(entries.map((e) => e.path)).toEqual([...PACKAGE_FILES]);
    expect(entries.every((e) => e.type === "File" && e.mode === 0o644 && e.uid === undefined)).toBe(
      true,
    );
  });

  it("gives the same bytes for the same files, whatever their mtime and mode", async () => {
    const contents = sampleContents();
    const a = await artifact(contents);
    const b = await artifact(contents);
    await utimes(join(b, "model.json"), new Date("2001-02-03"), new Date("2001-02-03"));
    await chmod(join(b, "weights.bin"), 0o755);
    const pa = await buildModelPackage(a, join(scratch, "a.tar.gz"));
    const pb = await buildModelPackage(b, join(scratch, "b.tar.gz"));
    expect(pb.sha256).toBe(pa.sha256);
    expect(await readFile(pb.path)).toEqual(await readFile(pa.path));

    const changed = await artifact({ ...contents, "vocabulary.json": Buffer.from("{}") });
    const pc = await buildModelPackage(changed, join(scratch, "c.tar.gz"));
    expect(pc.sha256).not.toBe(pa.sha256);
  });

  it("round-trips through extractModelPackage", async () => {
    const contents = sampleContents();
    const dir = await artifact(contents);
    const pkg = await buildModelPackage(dir, join(scratch, "trip.tar.gz"));
    const target = join(scratch, "extracted");
    expect(await extractModelPackage(pkg.path, target)).toEqual([...PACKAGE_FILES]);
    for (const name of PACKAGE_FILES) {
      expect(await readFile(join(target, name))).toEqual(contents[name]);
    }
  });

  it("refuses an incomplete artifact folder, naming what is missing", async () => {
    const contents = sampleContents();
    delete contents["weights.bin"];
    const dir = await artifact(contents);
    await expect(buildModelPackage(dir, join(scratch, "x.tar.gz"))).rejects.toThrow(
      /lacks weights\.bin/,
    );
  });

  it("extracts only regular files at the root, and names the missing ones", async () => {
    const src = await mkdtemp(join(scratch, "hostile-"));
    await mkdir(join(src, "nested"));
    await writeFile(join(src, "nested", "model.json"), "{}");
    await writeFile(join(src, "vocabulary.json"), "{}");
    await symlink("/etc/passwd", join(src, "weights.bin"));
    const tgz = join(scratch, "hostile.tar.gz");
    await tar.create({ file: tgz, cwd: src, gzip: true }, [
      "nested",
      "vocabulary.json",
      "weights.bin",
    ]);
    const target = join(scratch, "hostile-out");
    await expect(extractModelPackage(tgz, target)).rejects.toThrow(
      /lacks history\.json, model-config\.json, model\.json, weights\.bin at its root/,
    );
    expect(await readdir(target)).toEqual(["vocabulary.json"]);
  });

  it("reports a file that is not a gzip tar", async () => {
    const bad = join(scratch, "bad.tar.gz");
    await writeFile(bad, "not an archive at all");
    await expect(extractModelPackage(bad, join(scratch, "bad-out"))).rejects.toThrow(
      /cannot unpack model package .*bad\.tar\.gz/,
    );
  });
});
