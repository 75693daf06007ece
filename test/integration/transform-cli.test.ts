/**
 * The transform stage through the real CLI: a deliberately broken project fails with every kind
 * of dbt test in a table with sample rows (warnings do not fail it), selectors, and the errors a
 * user meets first.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PROJECT_DIR, type TransformResult } from "../../pipeline/transform/transform.ts";
import { json, runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

const BROKEN = fileURLToPath(new URL("../fixtures/dbt-broken", import.meta.url));
const STAND_IN = fileURLToPath(new URL("../fixtures/dbt-stand-in/dbt", import.meta.url));
const cwd = tempDir("transform-cli-");
// The built-in runner, even where a dbt executable happens to be on PATH.
const env = { MLOPS_SESSIONS: "400", MLOPS_SKUS: "200", MLOPS_DBT: "builtin" };

beforeAll(async () => {
  const loaded = await runCli(["upload"], { cwd, env });
  expect(loaded.code, loaded.stderr).toBe(0);
});

describe("pipeline transform", () => {
  it("fails with exit 1 and a table of the failing tests and their rows; warnings pass", async () => {
    const result = await runCli(["transform", "--dbt-project", BROKEN], { cwd, env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("error: dbt build: 5 dbt test(s) failed");
    for (const test of [
      "unique_children_id",
      "not_null_children_parent_id",
      "accepted_values_children_kind__x__y",
      "relationships_children_parent_id__id__ref_parents_",
      "assert_children_have_parents_or_kind",
    ]) {
      expect(result.stderr).toMatch(new RegExp(`^${test} +fail +error +\\d+`, "m"));
    }
    expect(result.stderr).toMatch(/^accepted_values_children_label__a__b +warn +warn +1/m);
    // Sample rows: the duplicated id, the NULL, the bad value, the orphan.
    expect(result.stderr).toMatch(/^4 +2$/m);
    expect(result.stderr).toMatch(/^NULL/m);
    expect(result.stderr).toMatch(/^bogus +1$/m);
    expect(result.stderr).toMatch(/^9 *$/m);
    expect(result.stderr).toMatch(/SKIPPED grandchildren/);

    // The run store records the failure with what the build found.
    const runId = /runs\/(\S+)\/transform\/run_results\.json/.exec(result.stderr)?.[1];
    const record = JSON.parse(
      readFileSync(join(cwd, ".mlops", "runs", runId ?? "", "transform", "stage.json"), "utf8"),
    ) as { status: string; result: TransformResult };
    expect(record.status).toBe("failed");
    // The passing ones: unique and not_null on parents, not_null on the source.
    expect(record.result.summary.tests).toEqual({
      pass: 3,
      warn: 1,
      fail: 5,
      error: 0,
      skipped: 0,
    });
    expect(record.result.summary.models).toEqual({ success: 2, error: 0, skipped: 1 });
  });

  it("builds what --select names, with its tests", async () => {
    const result = await runCli(
      ["transform", "--select", "tag:staging", "+int_session_stats", "--json"],
      { cwd, env },
    );
    expect(result.code, result.stderr).toBe(0);
    const out = json<TransformResult>(result);
    const ran = out.dag.nodes.filter((n) => n.type === "model" && n.status).map((n) => n.name);
    expect(ran.sort()).toEqual([
      "int_session_stats",
      "int_sessionized_events",
      "stg_browsing_events",
      "stg_search_events",
      "stg_served_events",
      "stg_sku_content",
    ]);
    expect(out.summary.tests.fail).toBe(0);
    expect(out.summary.tests.pass).toBeGreaterThan(5);
    expect(out.splits).toBeUndefined();
  });

  it("names what is wrong: bad selector, no data, Snowflake without dbt-core", async () => {
    const badSelector = await runCli(["transform", "--select", "nope+"], { cwd, env });
    expect(badSelector.code).toBe(2);
    expect(badSelector.stderr).toContain('the selector "nope+" matches no model');

    const empty = await runCli(["transform"], { cwd: tempDir("transform-empty-"), env });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("holds no loaded raw data");

    const snowflake = await runCli(["transform", "--warehouse", "snowflake"], { cwd, env });
    expect(snowflake.code).toBe(2);
    expect(snowflake.stderr).toContain("pip install dbt-snowflake");

    const fractions = await runCli(["transform", "--train-fraction", "0.95"], { cwd, env });
    expect(fractions.code).toBe(2);
    expect(fractions.stderr).toContain("must be below 1");
  });

  it("runs dbt-core when one is configured: dbt build with target, vars and selectors", async () => {
    const record = join(cwd, "dbt-calls.jsonl");
    const result = await runCli(
      [
        "transform",
        "--dbt",
        STAND_IN,
        "--session-gap-minutes",
        "45",
        "--select",
        "+session_splits",
        "--json",
      ],
      { cwd, env: { ...env, STAND_IN_RECORD: record } },
    );
    expect(result.code, result.stderr).toBe(0);
    const out = json<TransformResult>(result);
    expect(out.engine).toBe("dbt-core");
    expect(out.summary.models.success).toBe(6);
    const sizes = out.splits ?? { train: 0, validation: 0, test: 0 };
    expect(sizes.train).toBeGreaterThan(0);
    expect(out.dag.nodes.find((n) => n.name === "session_splits")?.rows).toBe(
      sizes.train + sizes.validation + sizes.test,
    );
    const [call] = readFileSync(record, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { argv: string[]; duckdb: string });
    expect(call?.argv.slice(0, 7)).toEqual([
      "build",
      "--project-dir",
      DEFAULT_PROJECT_DIR,
      "--profiles-dir",
      DEFAULT_PROJECT_DIR,
      "--target",
      "duckdb",
    ]);
    const vars = JSON.parse(call?.argv[call.argv.indexOf("--vars") + 1] ?? "{}") as Record<
      string,
      unknown
    >;
    expect(vars).toMatchObject({
      session_gap_minutes: 45,
      sequence_actions: ["detail", "add", "purchase"],
    });
    expect(call?.argv.slice(-2)).toEqual(["--select", "+session_splits"]);
    expect(call?.duckdb).toBe(join(cwd, ".mlops", "warehouse.duckdb"));
  });
});
