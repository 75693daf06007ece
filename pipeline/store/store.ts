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
  /** Every key under the prefix (recursively), sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}
