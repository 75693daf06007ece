/**
 * Errors the CLI turns into exit codes: 1 for a stage that failed, 2 for bad usage or bad input.
 * Every message names what was wrong, where, and what to do.
 */
export interface InputLocation {
  file?: string;
  line?: number;
  column?: number;
  field?: string;
}

export class PipelineError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A verdict the command has already printed as its one JSON result (`pipeline drift --json`
 * with a failed drift gate): exit code 1, and no second JSON object after it.
 */
export class ReportedVerdict extends PipelineError {}

/**
 * A stage that ran to the end and failed on what it found (a failed dbt test, a failed gate):
 * exit code 1, with the stage's result kept so the run store records what it found.
 */
export class StageFailure extends PipelineError {
  constructor(
    message: string,
    readonly result: unknown,
    hint?: string,
  ) {
    super(message, 1, hint);
  }
}

/** Bad flags, settings or input files: exit code 2. */
export class InputError extends PipelineError {
  constructor(
    message: string,
    readonly where: InputLocation = {},
    hint?: string,
  ) {
    super(`${formatLocation(where)}${message}`, 2, hint);
  }
}

export function formatLocation(where: InputLocation): string {
  const parts: string[] = [];
  if (where.file) parts.push(where.file);
  if (where.line !== undefined) parts.push(`line ${where.line}`);
  if (where.column !== undefined) parts.push(`column ${where.column}`);
  if (where.field) parts.push(`field "${where.field}"`);
  return parts.length ? `${parts.join(", ")}: ` : "";
}

/** What a front end reports of an error: its message, its hint, and the exit code it ends with. */
export interface ErrorReport {
  message: string;
  hint?: string;
  exitCode: 1 | 2;
}

export function errorReport(error: unknown): ErrorReport {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof PipelineError)) return { message, exitCode: 1 };
  return error.hint === undefined
    ? { message, exitCode: error.exitCode }
    : { message, hint: error.hint, exitCode: error.exitCode };
}

/** The `error:` line and the `hint:` line under it, as the CLI and the serving image print them. */
export function errorLines({ message, hint }: ErrorReport): string {
  return `error: ${message}\n${hint ? `hint: ${hint}\n` : ""}`;
}
