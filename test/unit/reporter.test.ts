import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createReporter } from "../../pipeline/reporter.ts";

function sink(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(stream, {
    isTTY,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    text: () => text,
  });
  return stream;
}

function drive(reporter: ReturnType<typeof createReporter>): void {
  reporter.info("hello");
  const bar = reporter.progress("load", 100, "rows");
  bar.update(50, 5000);
  bar.stop();
}

describe("the reporter", () => {
  it("draws bars with items, rate and ETA on an interactive terminal outside CI", () => {
    const stream = sink(true);
    drive(createReporter({ quiet: false, progress: "auto", stream, env: {} }));
    expect(stream.text()).toContain("hello\n");
    expect(stream.text()).toMatch(/load \[.*\] \d+% \| 5000 rows \| \d+ rows\/s \| ETA/);
  });

  it("stays quiet in CI, on a pipe, with --json, and with --progress off", () => {
    for (const [options, isTTY] of [
      [{ quiet: false, progress: "auto", env: { CI: "true" } }, true],
      [{ quiet: false, progress: "auto", env: { GITHUB_ACTIONS: "true" } }, true],
      [{ quiet: false, progress: "auto", env: {} }, false],
      [{ quiet: false, progress: "off", env: {} }, true],
    ] as const) {
      const stream = sink(isTTY);
      drive(createReporter({ ...options, stream }));
      expect(stream.text()).toBe("hello\n");
    }
    const json = sink(true);
    drive(createReporter({ quiet: true, progress: "on", stream: json, env: {} }));
    expect(json.text()).toBe("");
  });

  it("always writes warnings to stderr, even when quiet", () => {
    const stream = sink(false);
    createReporter({ quiet: true, progress: "auto", stream, env: {} }).warn("careful");
    expect(stream.text()).toBe("warning: careful\n");
  });
});
