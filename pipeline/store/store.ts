/**
 * Where runs and their artifacts live: a local folder by default, S3 when configured.
 * Keys are '/'-separated paths relative to the store's root (e.g. `runs/<id>/upload/stage.json`).
 */
export interface ArtifactStore {
  /** Human-readable location: a folder path or `s3://bucket/prefix`. */
  readonly location: string;
  put(key: string, body: Uint8Array | string): Promise<void>;
  putFile(key: string, localPath: string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Copies the object to a local file; false when it does not exist. */
  getFile(key: string, localPath: string): Promise<boolean>;
  /**
   * The object's bytes and a version tag (S3's ETag, a content hash for a folder), or undefined
   * when it does not exist: what `putIfUnchanged` compares against.
   */
  getVersioned(key: string): Promise<{ bytes: Uint8Array; version: string } | undefined>;
  /**
   * Writes the object only if it is still at `expected` (a version from `getVersioned`; null: it
   * must not exist yet). False when someone else wrote it in between: a read-modify-write (the
   * registry's production.json) then knows it lost a race instead of overwriting the winner.
   */
  putIfUnchanged(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean>;
  /** Every key under the prefix (recursively), sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
