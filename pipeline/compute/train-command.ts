/**
 * The contract between the train image and the Batch job: the image's ENTRYPOINT is the
 * code-package bootstrap, which runs the run's own CLI (`bin/pipeline.js` of its code package),
 * and the job's command is the CLI's arguments. The job runs the very same `pipeline train`
 * in-process inside the container (`--compute local`), writing into the S3 run store, so a Batch
 * run and a local run produce the same artifact under `runs/<id>/train/`.
 * test/unit/dockerfiles.test.ts checks containers/train.Dockerfile against these constants.
 */
import { parseS3Url } from "../store/s3-store.ts";
import { validateRunId } from "../store/runs.ts";
import { InputError } from "../errors.ts";

/** The image's exec-form ENTRYPOINT: the bootstrap (code-bootstrap.ts) bundled into the image. */
export const TRAIN_IMAGE_ENTRYPOINT = ["node", "/app/train-bootstrap.mjs"] as const;

/** The image's default CMD, and the start of every Batch job's command. */
export const TRAIN_IMAGE_COMMAND = ["train", "--compute", "local"] as const;

export interface TrainCommandOptions {
  runId: string;
  /** `s3://bucket/prefix`: the container cannot see a local folder. */
  storeUrl: string;
  /** The tfjs backend; `node-gpu` on GPU jobs, so a broken CUDA setup fails instead of crawling on CPU. */
  backend?: string;
  /** Further `pipeline train` flags passed through (`--epochs 5`). */
  args?: readonly string[];
}

/** Flags the job command sets itself; passing them in `args` would contradict it. */
const RESERVED_FLAGS = ["--compute", "--run-id", "--store", "--backend"];

/** The default command of the job definition: the image's CMD plus the backend. */
export function jobDefinitionCommand(backend?: string): string[] {
  return backend === undefined
    ? [...TRAIN_IMAGE_COMMAND]
    : [...TRAIN_IMAGE_COMMAND, "--backend", backend];
}

/** The command a job runs for one pipeline run (SubmitJob's containerOverrides.command). */
export function trainJobCommand(options: TrainCommandOptions): string[] {
  validateRunId(options.runId);
  requireS3Store(options.storeUrl);
  for (const arg of options.args ?? []) {
    const flag = arg.split("=")[0] ?? arg;
    if (RESERVED_FLAGS.includes(flag)) {
      throw new InputError(
        `the train flag ${flag} cannot be passed through to the Batch job: the job sets it itself`,
        { field: "args" },
        "Drop it from the extra train arguments; --run-id and --store come from the run, --compute is local inside the job.",
      );
    }
  }
  return [
    ...jobDefinitionCommand(options.backend),
    "--run-id",
    options.runId,
    "--store",
    options.storeUrl,
    ...(options.args ?? []),
  ];
}

/** The store must be S3: the job's container writes the artifact there for the caller to read. */
export function requireS3Store(storeUrl: string): void {
  if (!storeUrl.startsWith("s3://")) {
    throw new InputError(
      `the run store "${storeUrl}" is a local folder, which a Batch job cannot write to`,
      { field: "store" },
      "Use --store s3://bucket/prefix (or MLOPS_STORE) with --compute batch, or train with --compute local.",
    );
  }
  try {
    parseS3Url(storeUrl);
  } catch (error) {
    throw new InputError((error as Error).message, { field: "store" });
  }
}
