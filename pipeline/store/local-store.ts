import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { copyFile, mkdir, open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { ArtifactStore } from "./store.ts";

/** The default store: a folder (`.mlops/` in the repository, git-ignored). */
export class LocalStore implements ArtifactStore {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private path(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === "")) {
      throw new Error(`invalid store key "${key}": use '/'-separated names without '..'`);
    }
    return join(this.root, ...key.split("/"));
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    // Write then rename: a reader (or a crash) never sees half a file.
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, body);
    await rename(temp, target);
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    await copyFile(localPath, temp);
    await rename(temp, target);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async getVersioned(key: string): Promise<{ bytes: Uint8Array; version: string } | undefined> {
    const bytes = await this.get(key);
    return bytes === undefined ? undefined : { bytes, version: contentVersion(bytes) };
  }

  async putIfUnchanged(
    key: string,
    body: Uint8Array | string,
    expected: string | null,
  ): Promise<boolean> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    // A lock file created exclusively: two processes cannot both be between check and write.
    const lock = `${target}.lock`;
    let handle;
    for (let attempt = 0; ; attempt++) {
      try {
        handle = await open(lock, "wx");
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    try {
      const current = await this.get(key);
      const version = current === undefined ? null : contentVersion(current);
      if (version !== expected) return false;
      await this.put(key, body);
      return true;
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }

  async getFile(key: string, localPath: string): Promise<boolean> {
    try {
      await mkdir(dirname(localPath), { recursive: true });
      await copyFile(this.path(key), localPath);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix === "" ? this.root : this.path(prefix.replace(/\/$/, ""));
    let entries: Dirent[];
    try {
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (isNotFound(error) || (error as NodeJS.ErrnoException).code === "ENOTDIR") return [];
      throw error;
    }
    const keys = entries
      .filter((entry) => entry.isFile() && !entry.name.endsWith(".tmp"))
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join("/"));
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
