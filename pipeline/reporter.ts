/**
 * How stages talk to a person: log lines and progress bars on stderr, never stdout (stdout is
 * reserved for `--json`'s single object). Bars show only on an interactive terminal, outside CI
 * and without --json, so logs in CI and machine-read output stay quiet.
 */
import cliProgress from "cli-progress";

export interface ProgressBar {
  /** Sets the amount done (in the bar's unit) and the items processed so far. */
  update(done: number, rows: number): void;
  stop(): void;
}

export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  /** A bar over `total` (bytes, sessions) that also shows the items done (rows by default), rate and ETA. */
  progress(label: string, total: number, items?: string): ProgressBar;
}

export interface ReporterOptions {
  /** `--json` or `--quiet`: no info lines, no bars; warnings still go to stderr. */
  quiet: boolean;
  progress: "auto" | "on" | "off";
  stream?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
}

export function createReporter(options: ReporterOptions): Reporter {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  const bars =
    !options.quiet &&
    (options.progress === "on" ||
      (options.progress === "auto" && stream.isTTY === true && !env.CI && !env.GITHUB_ACTIONS));
  return {
    info(message) {
      if (!options.quiet) stream.write(`${message}\n`);
    },
    warn(message) {
      stream.write(`warning: ${message}\n`);
    },
    progress(label, total, items = "rows") {
      if (!bars) return { update() {}, stop() {} };
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {percentage}% | {rows} ${items} | {rate} ${items}/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = performance.now();
      bar.start(total, 0, { rows: 0, rate: 0 });
      return {
        update(done, rows) {
          const seconds = (performance.now() - started) / 1000;
          bar.update(done, { rows, rate: seconds > 0 ? Math.round(rows / seconds) : 0 });
        },
        stop() {
          bar.stop();
        },
      };
    },
  };
}

/** A reporter that records what it was told; for callers that want no output at all. */
export function silentReporter(): Reporter & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info() {},
    warn(message) {
      warnings.push(message);
    },
    progress() {
      return { update() {}, stop() {} };
    },
  };
}
