/**
 * Each public dataset's layout, as a user would run it: `pipeline convert`, then `pipeline run`
 * on the converted folder, every stage through to the card. The fixtures are a few dozen
 * sessions, too few for the candidate to beat the baselines significantly, so the gates may fail
 * (exit 1); what must hold is that every stage ran and recorded itself, with 0 rejects.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/convert/", import.meta.url));
const FORMATS: [string, string[]][] = [
  ["yoochoose", ["yoochoose/yoochoose-clicks.dat", "yoochoose/yoochoose-buys.dat"]],
  [
    "diginetica",
    [
      "diginetica/train-item-views.csv",
      "diginetica/train-purchases.csv",
      "diginetica/products.csv",
      "diginetica/product-categories.csv",
    ],
  ],
  ["retailrocket", ["retailrocket/events.csv"]],
  ["otto", ["otto/train.jsonl"]],
];

describe.each(FORMATS)("pipeline convert --format %s, then pipeline run", (format, inputs) => {
  it("runs every stage on the converted files", async () => {
    const cwd = tempDir(`convert-run-${format}-`);
    const data = join(cwd, "data");
    const converted = await runCli(
      [
        "convert",
        "--format",
        format,
        "--input",
        ...inputs.map((i) => join(FIXTURES, i)),
        "--out",
        data,
      ],
      { cwd },
    );
    expect(converted.code, converted.stderr).toBe(0);
    const run = await runCli(
      ["run", "--source", "csv", "--data", data, "--epochs", "2", "--screenshot", "off", "--json"],
      {
        cwd,
        env: {
          MLOPS_STORE: join(cwd, ".mlops"),
          MLOPS_WAREHOUSE: `duckdb:${join(cwd, "w.duckdb")}`,
        },
      },
    );
    expect([0, 1], run.stderr).toContain(run.code);
    const listed = await runCli(["runs", "--json"], {
      cwd,
      env: { MLOPS_STORE: join(cwd, ".mlops") },
    });
    const runId = (JSON.parse(listed.stdout) as { runs: { runId: string }[] }).runs[0]?.runId;
    expect(runId).toBeDefined();
    const shown = await runCli(["runs", "show", runId as string, "--json"], {
      cwd,
      env: { MLOPS_STORE: join(cwd, ".mlops") },
    });
    const detail = JSON.parse(shown.stdout) as {
      stages: { stage: string; status: string; result: { totals?: { rejected: number } } | null }[];
    };
    const stages = Object.fromEntries(detail.stages.map((s) => [s.stage, s]));
    for (const stage of ["upload", "transform", "train"])
      expect(stages[stage]?.status, stage).toBe("succeeded");
    expect(stages.upload?.result?.totals?.rejected).toBe(0);
    // Evaluate ran to a verdict (its gates may fail on so few sessions), and the card was drawn.
    expect(stages.evaluate).toBeDefined();
    expect(stages.card?.status).toBe("succeeded");
  });
});
