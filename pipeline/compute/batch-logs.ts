/**
 * Follows a Batch job's CloudWatch log streams (one per attempt) with GetLogEvents' forward
 * tokens: each stream keeps the token it reached, so every line is printed exactly once however
 * often it is polled. The last lines are kept for the failure message.
 */
import { GetLogEventsCommand, type CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { Reporter } from "../reporter.ts";
import {
  awsErrorDetails,
  describeAwsError,
  isAccessDenied,
  isRetryableAwsError,
} from "./aws-errors.ts";

export interface LogTailOptions {
  client: CloudWatchLogsClient;
  logGroup: string;
  reporter: Reporter;
  /** Lines kept for `recentLines` (the failure message quotes them). */
  keep: number;
}

/** GetLogEvents pages read per drain, so a chatty job cannot stall status polling. */
export const MAX_PAGES_PER_DRAIN = 20;

/** Marks the job's lines apart from the pipeline's own. */
const LINE_PREFIX = "  | ";

interface StreamState {
  /** The forward token reached; undefined before the first read (then from the head). */
  token?: string;
}

export class BatchLogTail {
  private readonly streams = new Map<string, StreamState>();
  private readonly recent: string[] = [];
  private printed = 0;
  /** Set once streaming is impossible (no permission, no log group); the job is still followed. */
  private disabled = false;

  constructor(private readonly options: LogTailOptions) {}

  /** Lines printed so far, over all streams. */
  get lines(): number {
    return this.printed;
  }

  /** The last `keep` lines, oldest first. */
  recentLines(): string[] {
    return [...this.recent];
  }

  /** Reads what the stream has beyond the token reached, printing each new line. */
  async drain(streamName: string): Promise<void> {
    if (this.disabled) return;
    const state = this.streams.get(streamName) ?? {};
    this.streams.set(streamName, state);
    for (let page = 0; page < MAX_PAGES_PER_DRAIN; page++) {
      const sent = state.token;
      let output;
      try {
        output = await this.options.client.send(
          new GetLogEventsCommand({
            logGroupName: this.options.logGroup,
            logStreamName: streamName,
            startFromHead: true,
            ...(sent === undefined ? {} : { nextToken: sent }),
          }),
        );
      } catch (error) {
        this.onError(streamName, error);
        return;
      }
      for (const event of output.events ?? []) this.emit(event.message ?? "");
      const next = output.nextForwardToken;
      if (next !== undefined) state.token = next;
      // The end of the stream answers the token it was given. A page can be empty while more
      // events follow (a gap in time), so only the repeated token ends the drain.
      if (next === undefined || next === sent) return;
    }
  }

  private emit(message: string): void {
    const line = message.replace(/\r?\n$/, "");
    this.printed++;
    this.recent.push(line);
    if (this.recent.length > this.options.keep) this.recent.shift();
    this.options.reporter.info(`${LINE_PREFIX}${line}`);
  }

  private onError(streamName: string, error: unknown): void {
    const { name, message } = awsErrorDetails(error);
    // The stream appears only once the container started writing; the next poll tries again.
    if (name === "ResourceNotFoundException" && !/log group/i.test(message)) return;
    if (isRetryableAwsError(error)) return;
    this.disabled = true;
    const why = isAccessDenied(error)
      ? `allow logs:GetLogEvents on ${this.options.logGroup} for the identity that runs the pipeline`
      : name === "ResourceNotFoundException"
        ? `check that the log group ${this.options.logGroup} exists (compute.batch.logGroup, MLOPS_BATCH_LOG_GROUP)`
        : "see the job's logs in the CloudWatch console";
    this.options.reporter.warn(
      `cannot read the job's log stream ${streamName} in ${this.options.logGroup} (${describeAwsError(error)}): the job is still followed, without its logs; ${why}`,
    );
  }
}
