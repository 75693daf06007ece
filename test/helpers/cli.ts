/** Runs the real `pipeline` bin in a child process, as a user would. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../bin/pipeline.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [BIN, ...args], options);
}

/**
 * `npm run pipeline -- ARGS` in the repository, the README's main command as a user types it
 * (npm runs scripts in the package's folder: point the settings elsewhere through `env`).
 */
export function runNpmPipeline(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  return runProcess(npm, ["--prefix", ROOT, "run", "--silent", "pipeline", "--", ...args], options);
}

interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  onStderr?: (text: string, kill: () => void) => void;
}

function runProcess(command: string, args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, CI: "true", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, () => child.kill("SIGKILL"));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The single JSON object a `--json` command prints on stdout. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  const lines = result.stdout.trim().split("\n");
  if (lines.length !== 1)
    throw new Error(`expected one JSON line on stdout, got:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(lines[0] as string) as T;
}
