/**
 * The serving image's entry point: containers/serve.Dockerfile runs its bundle
 * (containers/dist/serve.js, `npm run bundle`), so the image holds Node and one file, not the
 * project's dependencies (tfjs, DuckDB, the AWS and Snowflake SDKs are for the other stages).
 *
 *   node serve.js [serve] [--port 8080] [--model DIR] [--max-queue N] … [--config FILE]
 *
 * SageMaker starts a custom container as `docker run IMAGE serve`. The settings are those of
 * `pipeline serve` (serve.*), from flags, MLOPS_SERVE_* variables (a SageMaker model's
 * Environment) or a config file. The model is serve.model, else /opt/ml/model, where SageMaker
 * unpacks it; unlike `pipeline serve`, this never looks for one in a run store.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config/config.ts";
import { SETTINGS } from "../config/settings.ts";
import { errorLines, errorReport, InputError } from "../errors.ts";
import { createReporter } from "../reporter.ts";
import { SAGEMAKER_MODEL_DIR, serveModel } from "./serve.ts";

const SERVE_SETTINGS = SETTINGS.filter((spec) => spec.key.startsWith("serve.") && spec.flag);

export async function main(argv: string[]): Promise<number> {
  try {
    const options: Record<string, { type: "string" | "boolean" }> = {
      config: { type: "string" },
      help: { type: "boolean" },
    };
    for (const spec of SERVE_SETTINGS) options[(spec.flag as string).slice(2)] = { type: "string" };
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options });
    if (values.help === true) {
      process.stdout.write(usage());
      return 0;
    }
    const extra = positionals.filter((word, i) => !(i === 0 && word === "serve"));
    if (extra.length > 0) {
      throw new InputError(
        `unexpected argument ${JSON.stringify(extra[0])}: this image only serves`,
        {},
        "run it as `serve` with serve.* flags, e.g. serve --port 8080",
      );
    }
    const flags: Record<string, string> = {};
    for (const spec of SERVE_SETTINGS) {
      const value = values[(spec.flag as string).slice(2)];
      if (typeof value === "string") flags[spec.key] = value;
    }
    const { config } = loadConfig({
      ...(typeof values.config === "string" ? { file: values.config } : {}),
      flags,
    });
    const reporter = createReporter({ quiet: false, progress: "off" });
    await serveModel(config, config.serve.model ?? SAGEMAKER_MODEL_DIR, reporter);
    return 0;
  } catch (error) {
    const report = errorReport(error);
    process.stderr.write(errorLines(report));
    return isUsageError(error) ? 2 : report.exitCode;
  }
}

function usage(): string {
  const lines = SERVE_SETTINGS.map(
    (spec) => `  ${(spec.flag as string).padEnd(26)} ${spec.env.padEnd(36)} ${spec.allowed}`,
  );
  return [
    "usage: serve [flags]   (SageMaker runs the image as `serve`)",
    "",
    "  flag                       environment variable                 allowed",
    ...lines,
    `  ${"--config".padEnd(26)} ${"MLOPS_CONFIG".padEnd(36)} a pipeline.config.yml`,
    "",
  ].join("\n");
}

/** parseArgs' errors for an unknown flag or a flag without its value. */
function isUsageError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
