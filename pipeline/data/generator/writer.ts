/**
 * Buffered text output with backpressure. Sessions are written as many small strings; joining
 * them into ~1 MiB chunks keeps the number of stream writes (and their per-call cost) low, and
 * waiting for 'drain' when the stream's buffer is full keeps memory flat however many sessions
 * are generated. Every byte the generator writes is ASCII, so chunks are encoded as latin1: a
 * plain copy, where utf8 would scan for multi-byte characters.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { finished } from "node:stream/promises";

const CHUNK_CHARS = 1 << 20;

export class ChunkedWriter {
  private readonly stream: WriteStream;
  private parts: string[] = [];
  private size = 0;
  private failure: Error | null = null;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { highWaterMark: 4 * CHUNK_CHARS });
    // Remembered and rethrown on the next call: an unhandled 'error' event would crash the process.
    this.stream.on("error", (error) => {
      this.failure ??= error;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (text.length === 0) return;
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= CHUNK_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk, "latin1")) await once(this.stream, "drain");
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
  }

  /** Abandons the file after an error elsewhere, without waiting on a stream that may be broken. */
  destroy(): void {
    this.stream.destroy();
  }
}
