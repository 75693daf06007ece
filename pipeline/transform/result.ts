/** What the transform stage returns (and records): the build, its tests and their failures. */
import type { StageInput } from "../store/runs.ts";
import type { Row } from "../warehouse/warehouse.ts";
import type { BuildSummary, TransformDag } from "./dag.ts";

export interface FailedTest {
  id: string;
  name: string;
  status: string;
  severity: "error" | "warn";
  failures: number | null;
  tested?: string;
  column?: string;
  message?: string;
  sample: Row[];
}

export interface TransformResult {
  engine: "builtin" | "dbt-core";
  target: "duckdb" | "snowflake";
  projectDir: string;
  selected: string[];
  vars: Record<string, unknown>;
  dag: TransformDag;
  summary: BuildSummary;
  /** Sessions per split, when session_splits was built. */
  splits?: Record<"train" | "validation" | "test", number>;
  /** Failing and warning tests with their first rows. */
  failedTests: FailedTest[];
  artifacts: { manifest: string; runResults: string };
  /** The project's and the raw tables' content hashes. */
  inputs: StageInput[];
  seconds: number;
}
