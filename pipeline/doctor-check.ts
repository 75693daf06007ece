/**
 * What one `pipeline doctor` check finds, and what the checks share. The checks live beside the
 * code they check (the warehouse probe in warehouse/, the AWS credential chain in compute/);
 * doctor.ts runs them in order and prints the report.
 */
import { randomUUID } from "node:crypto";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PipelineError } from "./errors.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do; present whenever the status is warn or fail. */
  fix?: string;
}

export interface FolderProbe {
  /** Where the store's folder is, or will be created. */
  detail: string;
  problem?: string;
}

/**
 * Writes and deletes a probe file in the folder, or, when the folder does not exist yet, in the
 * nearest folder above it that does (the pipeline creates the rest): doctor creates nothing.
 */
export function probeFolder(folder: string): FolderProbe {
  const target = resolve(folder);
  let existing = target;
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  if (!statSync(existing).isDirectory()) {
    return {
      detail: target,
      problem: `cannot create ${target}: ${existing} is a file, not a folder`,
    };
  }
  const probe = join(existing, `.mlops-doctor-${process.pid}-${randomUUID()}.tmp`);
  try {
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (error) {
    return { detail: target, problem: `cannot write in ${existing}: ${messageOf(error)}` };
  }
  return {
    detail:
      existing === target
        ? `${target} is writable`
        : `${target} does not exist yet; ${existing} is writable, so it can be created`,
  };
}

/** Hints are written as sentences; joined into one fix they read as clauses of one. */
export function clauses(parts: string[]): string {
  return (
    parts
      .map((part) => part.trim().replace(/\.$/, ""))
      // "Set X" becomes "set X"; a part that starts with a name (SNOWFLAKE_USER) keeps it.
      .map((part) =>
        /^[A-Z][a-z]/.test(part) ? part.charAt(0).toLowerCase() + part.slice(1) : part,
      )
      .join("; ")
  );
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function hintOf(error: unknown): string | undefined {
  return error instanceof PipelineError ? error.hint : undefined;
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
