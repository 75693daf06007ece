/**
 * Training on AWS Batch: the same `pipeline train` run in the GPU train image (see
 * train-command.ts), submitted as a job and followed to the end. The job writes the model under
 * `runs/<id>/train/` in the S3 run store; the caller then copies it with `fetchTrainArtifact`.
 *
 * Following the job: DescribeJobs is polled with a growing interval (reset on every status
 * change), each status change is reported, the container's CloudWatch log stream is printed
 * once the job runs, a job left RUNNABLE too long (no instance can take it) is warned about and
 * then terminated, an abort (Ctrl-C) terminates the job, and a FAILED job becomes an error that
 * quotes Batch's reason, the container's exit code and the last log lines.
 */
import {
  DescribeJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type BatchClient,
  type JobDetail,
  type JobStatus,
} from "@aws-sdk/client-batch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { InputError, PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { describeAwsError, isAccessDenied, isRetryableAwsError } from "./aws-errors.ts";
import {
  ensureJobDefinition,
  trainJobDefinitionSpec,
  validateJobDefinitionSpec,
} from "./batch-job-definition.ts";
import { BatchLogTail } from "./batch-logs.ts";
import { CODE_PACKAGE_ENV, parseCodePackageUrl } from "./code-bootstrap.ts";
import { jobNameProblem, type BatchSettings } from "../config/batch-settings.ts";
import { validateBatchSettings } from "./batch-settings.ts";
import { requireS3Store, trainJobCommand } from "./train-command.ts";

export { ensureJobDefinition, trainJobDefinitionSpec } from "./batch-job-definition.ts";
export type { EnsuredJobDefinition, JobDefinitionSpec } from "./batch-job-definition.ts";
export type { BatchSettings } from "../config/batch-settings.ts";

/** Time, injectable so tests run the whole state machine without waiting. */
export interface BatchClock {
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: BatchClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** The parts of `process` that `interruptSignal` uses (tests pass an EventEmitter). */
export interface SignalSource {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM (Ctrl-C; GitHub Actions sends SIGINT,
 * then SIGTERM, when a run is cancelled), for `runBatchTraining`'s `signal`: the job is then
 * terminated instead of running on, billed, after the pipeline is gone. Call `dispose` when done.
 */
export function interruptSignal(
  source: SignalSource = process,
  signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"],
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners = signals.map((name) => {
    const listener = () => {
      dispose();
      controller.abort(name);
    };
    source.once(name, listener);
    return [name, listener] as const;
  });
  function dispose(): void {
    for (const [name, listener] of listeners) source.off(name, listener);
  }
  return { signal: controller.signal, dispose };
}

export interface PollPolicy {
  /** First wait between DescribeJobs calls, and the wait after each status change. */
  initialMs: number;
  /** The wait grows by `factor` while the status stays the same, up to this. */
  maxMs: number;
  factor: number;
  /** DescribeJobs failures in a row (throttling, 5xx, network) tolerated before giving up. */
  describeRetries: number;
}

export const DEFAULT_POLL: PollPolicy = {
  initialMs: 5_000,
  maxMs: 30_000,
  factor: 1.5,
  describeRetries: 6,
};

export interface BatchTrainingOptions {
  batch: BatchClient;
  logs: CloudWatchLogsClient;
  settings: BatchSettings;
  runId: string;
  /** The S3 run store (`s3://bucket/prefix`) the job writes into. */
  storeUrl: string;
  /** Further `pipeline train` flags for the job (`["--epochs", "5"]`). */
  trainArgs?: readonly string[];
  /** The run's code package (`<store>/code/<sha256>.tar.gz`), which the image runs. */
  codePackageUrl: string;
  /** The commit the package was built from, recorded by the job's stage record. */
  gitSha?: string;
  /** Non-secret settings for the container, kept in the job definition (MLOPS_WAREHOUSE …). */
  environment?: Record<string, string>;
  /** Extra tags on the job (the run id and stage are always set). */
  tags?: Record<string, string>;
  reporter: Reporter;
  /** Abort (wire SIGINT to it) terminates the job. */
  signal?: AbortSignal;
  clock?: BatchClock;
  poll?: Partial<PollPolicy>;
  /** Log lines quoted when the job fails. */
  tailLines?: number;
}

export interface BatchTrainingResult {
  jobId: string;
  jobName: string;
  jobDefinitionArn: string;
  status: "SUCCEEDED";
  /** Attempts the job took (more than 1 after the instance went away). */
  attempts: number;
  durations: {
    /** From submission to the final status, as seen here. */
    totalSeconds: number;
    /** Batch's createdAt → startedAt (waiting for an instance, pulling the image). */
    queuedSeconds?: number;
    /** Batch's startedAt → stoppedAt of the successful attempt. */
    runningSeconds?: number;
    /** Time seen in each status, by polling. */
    byStatus: Partial<Record<JobStatus, number>>;
  };
  /** Log lines printed from the job's log streams. */
  logLines: number;
}

const TERMINAL = new Set<JobStatus>(["SUCCEEDED", "FAILED"]);

/** `mlops-train-<run id>`, with the run id's '.' (not allowed in job names) turned into '-'. */
export function trainJobName(runId: string): string {
  const name = `mlops-train-${runId.replace(/[^A-Za-z0-9_-]/g, "-")}`.slice(0, 128);
  const problem = jobNameProblem(name);
  if (problem !== undefined)
    throw new InputError(`job name "${name}" ${problem}`, { field: "runId" });
  return name;
}

/** Submits the training job, follows it to the end and returns what happened. */
export async function runBatchTraining(
  options: BatchTrainingOptions,
): Promise<BatchTrainingResult> {
  const { settings, reporter, signal } = options;
  const clock = options.clock ?? systemClock;
  const poll = { ...DEFAULT_POLL, ...options.poll };

  // Everything checkable is checked before the first AWS call.
  validateBatchSettings(settings);
  requireS3Store(options.storeUrl);
  const jobName = trainJobName(options.runId);
  const command = trainJobCommand({
    runId: options.runId,
    storeUrl: options.storeUrl,
    backend: settings.gpus > 0 ? "node-gpu" : undefined,
    args: options.trainArgs,
  });
  const spec = trainJobDefinitionSpec(settings, { environment: options.environment });
  parseCodePackageUrl(options.codePackageUrl);
  const runEnvironment: Record<string, string> = {
    MLOPS_RUN_ID: options.runId,
    MLOPS_STORE: options.storeUrl,
    [CODE_PACKAGE_ENV]: options.codePackageUrl,
    ...(options.gitSha ? { MLOPS_GIT_SHA: options.gitSha } : {}),
  };
  for (const name of Object.keys(spec.environment)) {
    if (name in runEnvironment || name === "MLOPS_GIT_SHA") {
      throw new InputError(`the job environment must not set ${name}: each run sets it`, {
        field: "environment",
      });
    }
  }
  validateJobDefinitionSpec(spec);
  throwIfAborted(signal, "before the job was submitted");

  const definition = await ensureJobDefinition(options.batch, spec);
  reporter.info(
    `AWS Batch job definition ${definition.name}:${definition.revision} (${definition.action})`,
  );
  throwIfAborted(signal, "before the job was submitted");

  const started = clock.now();
  const jobId = await submit(options, jobName, definition.arn, command, runEnvironment);
  reporter.info(
    `submitted AWS Batch job ${jobName} (${jobId}) to queue ${settings.queue} in ${settings.region}: ${settings.gpus} GPU, ${settings.vcpus} vCPU, ${settings.memoryMiB} MiB`,
  );

  const logs = new BatchLogTail({
    client: options.logs,
    logGroup: settings.logGroup,
    reporter,
    keep: options.tailLines ?? 30,
  });
  const follower = new JobFollower(options, clock, poll, logs, jobId, jobName);
  const job = await follower.follow();
  return {
    jobId,
    jobName,
    jobDefinitionArn: definition.arn,
    status: "SUCCEEDED",
    attempts: Math.max(1, job.attempts?.length ?? 0),
    durations: {
      totalSeconds: (clock.now() - started) / 1000,
      ...secondsBetween("queuedSeconds", job.createdAt, job.startedAt),
      ...secondsBetween("runningSeconds", job.startedAt, job.stoppedAt),
      byStatus: follower.byStatus,
    },
    logLines: logs.lines,
  };
}

async function submit(
  options: BatchTrainingOptions,
  jobName: string,
  jobDefinition: string,
  command: string[],
  environment: Record<string, string>,
): Promise<string> {
  let output;
  try {
    // Not retried here: SubmitJob is not idempotent, and the SDK already retried throttling.
    output = await options.batch.send(
      new SubmitJobCommand({
        jobName,
        jobQueue: options.settings.queue,
        jobDefinition,
        containerOverrides: {
          command,
          environment: Object.entries(environment).map(([name, value]) => ({ name, value })),
        },
        propagateTags: true,
        tags: { ...options.tags, "mlops:run-id": options.runId, "mlops:stage": "train" },
      }),
    );
  } catch (error) {
    throw new PipelineError(
      `AWS Batch SubmitJob failed for ${jobName} on queue ${options.settings.queue}: ${describeAwsError(error)}`,
      1,
      isAccessDenied(error)
        ? "Allow batch:SubmitJob and batch:TagResource on the job queue and job definition for the identity that runs the pipeline."
        : `Check that the job queue ${options.settings.queue} exists in ${options.settings.region} and is ENABLED (aws batch describe-job-queues).`,
    );
  }
  if (output.jobId === undefined) {
    throw new PipelineError(`AWS Batch SubmitJob for ${jobName} answered without a job id`);
  }
  return output.jobId;
}

/** The polling state machine for one submitted job. */
class JobFollower {
  readonly byStatus: Partial<Record<JobStatus, number>> = {};
  private status: JobStatus | undefined;
  private statusSince = 0;
  private runnableWarned = false;
  private attemptsSeen = 0;
  /** Streams of earlier attempts that were read to their end. */
  private readonly finishedStreams = new Set<string>();

  constructor(
    private readonly options: BatchTrainingOptions,
    private readonly clock: BatchClock,
    private readonly poll: PollPolicy,
    private readonly logs: BatchLogTail,
    private readonly jobId: string,
    private readonly jobName: string,
  ) {}

  private get label(): string {
    return `AWS Batch job ${this.jobName} (${this.jobId})`;
  }

  async follow(): Promise<JobDetail> {
    const { signal } = this.options;
    let wait = this.poll.initialMs;
    for (;;) {
      if (signal?.aborted) await this.cancel(abortReason(signal));
      const job = await this.describe();
      if (signal?.aborted) await this.cancel(abortReason(signal));
      const status = job.status as JobStatus;
      if (status !== this.status) {
        this.onStatusChange(job, status);
        wait = this.poll.initialMs;
      }
      this.onNewAttempts(job);
      await this.readLogs(job);
      if (status === "SUCCEEDED") return job;
      if (status === "FAILED") throw this.failure(job);
      if (status === "RUNNABLE") await this.checkRunnable();
      await this.clock.sleep(wait, signal);
      wait = Math.min(this.poll.maxMs, Math.round(wait * this.poll.factor));
    }
  }

  /** DescribeJobs, retried with backoff on throttling and other passing failures. */
  private async describe(): Promise<JobDetail> {
    for (let failures = 0; ;) {
      let job: JobDetail | undefined;
      let problem: string;
      try {
        const output = await this.options.batch.send(
          new DescribeJobsCommand({ jobs: [this.jobId] }),
        );
        job = output.jobs?.find((candidate) => candidate.jobId === this.jobId);
        // Right after SubmitJob the job can be missing from DescribeJobs for a moment.
        problem = "the job is not listed yet";
      } catch (error) {
        if (!isRetryableAwsError(error)) {
          throw new PipelineError(
            `AWS Batch DescribeJobs failed for ${this.label}: ${describeAwsError(error)}`,
            1,
            isAccessDenied(error)
              ? `Allow batch:DescribeJobs for the identity that runs the pipeline. The job keeps running: cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled if needed.`
              : `The job keeps running: follow it in the AWS Batch console, or cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled.`,
          );
        }
        problem = describeAwsError(error);
      }
      if (job?.status !== undefined) return job;
      failures++;
      if (failures > this.poll.describeRetries) {
        throw new PipelineError(
          `AWS Batch DescribeJobs kept failing for ${this.label} (${failures} tries, last: ${problem})`,
          1,
          `The job may still be running: check it in the AWS Batch console (region ${this.options.settings.region}), or cancel it with aws batch terminate-job --job-id ${this.jobId} --reason cancelled.`,
        );
      }
      const delay = Math.min(this.poll.maxMs, this.poll.initialMs * 2 ** (failures - 1));
      this.options.reporter.info(
        `DescribeJobs for ${this.jobId}: ${problem}; trying again in ${formatSeconds(delay / 1000)}`,
      );
      await this.clock.sleep(delay, this.options.signal);
      if (this.options.signal?.aborted) await this.cancel(abortReason(this.options.signal));
    }
  }

  private onStatusChange(job: JobDetail, status: JobStatus): void {
    const now = this.clock.now();
    if (this.status !== undefined) {
      const seconds = (now - this.statusSince) / 1000;
      this.byStatus[this.status] = (this.byStatus[this.status] ?? 0) + seconds;
    }
    const from = this.status === undefined ? "" : `${this.status} → `;
    const attempt = status === "RUNNING" ? ` (attempt ${(job.attempts?.length ?? 0) + 1})` : "";
    const reason = job.statusReason && !TERMINAL.has(status) ? `: ${job.statusReason}` : "";
    this.options.reporter.info(`${this.label}: ${from}${status}${attempt}${reason}`);
    if (status === "RUNNABLE") this.runnableWarned = false;
    this.status = status;
    this.statusSince = now;
  }

  /** An attempt ended and Batch retried the job (the instance went away). */
  private onNewAttempts(job: JobDetail): void {
    const attempts = job.attempts ?? [];
    if (TERMINAL.has(job.status as JobStatus)) {
      this.attemptsSeen = attempts.length;
      return;
    }
    for (let i = this.attemptsSeen; i < attempts.length; i++) {
      const attempt = attempts[i];
      const exit = attempt?.container?.exitCode;
      this.options.reporter.warn(
        `${this.label}: attempt ${i + 1} ended (${attempt?.statusReason ?? "no reason given"}${exit === undefined ? "" : `, exit code ${exit}`}); Batch retries it`,
      );
    }
    this.attemptsSeen = attempts.length;
  }

  /**
   * Prints new lines of every attempt's stream, earlier attempts first. `attempts` lists only
   * attempts that ended: their streams are read to the end once. The running attempt's stream
   * (job.container) is read on every poll.
   */
  private async readLogs(job: JobDetail): Promise<void> {
    for (const attempt of job.attempts ?? []) {
      const stream = attempt.container?.logStreamName;
      if (stream === undefined || this.finishedStreams.has(stream)) continue;
      await this.logs.drain(stream);
      this.finishedStreams.add(stream);
    }
    const current = job.container?.logStreamName;
    const started = job.status === "RUNNING" || TERMINAL.has(job.status as JobStatus);
    if (current !== undefined && started && !this.finishedStreams.has(current)) {
      await this.logs.drain(current);
    }
  }

  private async checkRunnable(): Promise<void> {
    const { settings, reporter } = this.options;
    const seconds = (this.clock.now() - this.statusSince) / 1000;
    if (seconds >= settings.runnableTimeoutSeconds) {
      const reason = `RUNNABLE for ${formatSeconds(seconds)}, over compute.batch.runnableTimeoutSeconds (${settings.runnableTimeoutSeconds} s)`;
      await this.terminate(`no capacity: ${reason}`);
      throw new PipelineError(
        `${this.label} was terminated: it stayed ${reason} without an instance to run on`,
        1,
        capacityHint(settings),
      );
    }
    if (!this.runnableWarned && seconds >= settings.runnableWarnSeconds) {
      this.runnableWarned = true;
      reporter.warn(
        `${this.label} has been RUNNABLE for ${formatSeconds(seconds)}: no instance has taken it yet. ${capacityHint(settings)}`,
      );
    }
  }

  private async cancel(reason: string): Promise<never> {
    await this.terminate(`cancelled: ${reason}`);
    throw new PipelineError(
      `${this.label} was cancelled (${reason}) and terminated`,
      1,
      `Run the train stage again (same --run-id to keep the run) to submit a new job.`,
    );
  }

  /** TerminateJob also cancels a job that has not started yet. Tried a few times: it matters. */
  private async terminate(reason: string): Promise<void> {
    const { reporter } = this.options;
    for (let tries = 1; ; tries++) {
      try {
        await this.options.batch.send(
          new TerminateJobCommand({ jobId: this.jobId, reason: reason.slice(0, 1024) }),
        );
        reporter.warn(`terminated ${this.label}: ${reason}`);
        return;
      } catch (error) {
        if (tries < 3 && isRetryableAwsError(error)) {
          await this.clock.sleep(this.poll.initialMs * tries);
          continue;
        }
        reporter.warn(
          `could not terminate ${this.label} (${describeAwsError(error)}): terminate it by hand with aws batch terminate-job --job-id ${this.jobId} --reason cancelled`,
        );
        return;
      }
    }
  }

  private failure(job: JobDetail): PipelineError {
    const attempts = job.attempts ?? [];
    const last = attempts[attempts.length - 1];
    const exitCode = job.container?.exitCode ?? last?.container?.exitCode;
    const containerReason = job.container?.reason ?? last?.container?.reason;
    const statusReason = job.statusReason ?? last?.statusReason ?? "no reason given";
    const parts = [
      `${this.label} FAILED after ${Math.max(1, attempts.length)} attempt(s): ${statusReason}`,
    ];
    if (exitCode !== undefined || containerReason !== undefined) {
      parts.push(
        `container ${exitCode === undefined ? "did not exit" : `exit code ${exitCode}`}${containerReason ? ` (${containerReason})` : ""}`,
      );
    }
    const lines = this.logs.recentLines();
    let message = parts.join("; ");
    message += lines.length
      ? `\nlast ${lines.length} log line(s):\n${lines.map((line) => `  | ${line}`).join("\n")}`
      : "\n(no log lines were read from the job)";
    return new PipelineError(
      message,
      1,
      failureHint(this.options, statusReason, exitCode, containerReason),
    );
  }
}

function failureHint(
  options: BatchTrainingOptions,
  statusReason: string,
  exitCode: number | undefined,
  containerReason: string | undefined,
): string {
  const { settings } = options;
  const reason = `${statusReason} ${containerReason ?? ""}`;
  if (exitCode === 137 || /OutOfMemory|out of memory/i.test(reason)) {
    return `The container ran out of memory: raise compute.batch.memoryMiB (MLOPS_BATCH_MEMORY_MIB, now ${settings.memoryMiB}) or lower the training batch size.`;
  }
  if (/CannotPullContainer/i.test(reason)) {
    return `The image ${settings.image} could not be pulled: check that it exists and that the instance role can pull it (ecr:GetAuthorizationToken, ecr:BatchGetImage). The images workflow pushes the tag of each lockfile from main (\`pipeline images\` prints it); a branch that changes dependencies or containers/ has no image until that runs: train it with --compute local meanwhile.`;
  }
  if (/timeout/i.test(statusReason)) {
    return `The attempt ran past compute.batch.timeoutSeconds (MLOPS_BATCH_TIMEOUT_SECONDS, now ${settings.timeoutSeconds}): raise it or train fewer epochs.`;
  }
  if (/^Host EC2/i.test(statusReason)) {
    return `The instance went away in every attempt (Spot reclaims?): raise compute.batch.retryAttempts (now ${settings.retryAttempts}) or use an on-demand compute environment.`;
  }
  if (exitCode !== undefined) {
    return `The training CLI failed inside the container: see the log lines above (the full stream is in CloudWatch group ${settings.logGroup}). The same command runs locally: pipeline train --compute local --run-id ${options.runId} --store ${options.storeUrl}.`;
  }
  return `See the job in the AWS Batch console (region ${settings.region}) and its logs in CloudWatch group ${settings.logGroup}.`;
}

function capacityHint(settings: BatchSettings): string {
  const gpu =
    settings.gpus > 0
      ? ` that its instance types include GPU instances (g4dn, g5, p3) with ${settings.gpus} GPU(s),`
      : "";
  return (
    `Check the compute environments of job queue ${settings.queue}: that they are ENABLED and VALID (aws batch describe-compute-environments),` +
    `${gpu} that one instance type offers ${settings.vcpus} vCPUs and ${settings.memoryMiB} MiB (minus what the ECS agent keeps), that maxvCpus leaves room, ` +
    `and that the account's EC2 vCPU quota allows them (Service Quotas: "Running On-Demand G and VT instances" or "All G and VT Spot Instance Requests").`
  );
}

function throwIfAborted(signal: AbortSignal | undefined, when: string): void {
  if (signal?.aborted) {
    throw new PipelineError(`AWS Batch training was cancelled ${when} (${abortReason(signal)})`);
  }
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === "string") return reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason.message;
  return "aborted";
}

function secondsBetween(
  key: "queuedSeconds" | "runningSeconds",
  from: number | undefined,
  to: number | undefined,
): Partial<Record<typeof key, number>> {
  return from !== undefined && to !== undefined && to >= from ? { [key]: (to - from) / 1000 } : {};
}

function formatSeconds(seconds: number): string {
  if (seconds < 600) return `${Math.round(seconds)} s`;
  return `${Math.round(seconds / 60)} min`;
}
