/** A real S3-compatible server (s3rver) on loopback, for tests of the S3 store. */
import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A real s3rver over HTTP, in a child Node process. Not in this process because s3rver encrypts
 * ListObjectsV2 continuation tokens with DES, which Node >= 17 (OpenSSL 3) only offers with
 * --openssl-legacy-provider: in-process, every listing of more than 1,000 keys answers 500.
 */
const S3RVER_SCRIPT = `
import S3rver from "s3rver";
const server = new S3rver(JSON.parse(process.env.S3RVER_OPTIONS));
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + "\\n");
// Stops when the test closes stdin, or when the test process dies: never an orphan server.
process.stdin.on("data", () => {});
process.stdin.on("end", () => server.close().then(() => process.exit(0)));
`;

export interface S3rverProcess {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startS3rver(directory: string, bucket: string): Promise<S3rverProcess> {
  const options = {
    address: "127.0.0.1",
    port: 0, // a free port, reported back on stdout
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  };
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    process.execPath,
    ["--openssl-legacy-provider", "--input-type=module", "--eval", S3RVER_SCRIPT],
    {
      cwd: REPO_ROOT, // where "s3rver" resolves from
      env: { ...process.env, NODE_OPTIONS: "", S3RVER_OPTIONS: JSON.stringify(options) },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  // Writing to stdin after the child died would raise EPIPE here; its exit is reported below.
  child.stdin.on("error", () => {});
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const port = await new Promise<number>((resolve, reject) => {
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line !== undefined) {
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`s3rver exited (${code}) before listening:\n${stderr}`)),
    );
  });

  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
