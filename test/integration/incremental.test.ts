/**
 * Materializations in the built-in runner: incremental models (the first build creates the
 * table, later builds render with is_incremental() true and `this`, and append or delete+insert
 * on the unique key), views, and a table in a custom schema under an alias.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith } from "../helpers/transform.ts";

const dir = tempDir("incremental-test-");
const project = join(dir, "project");
let warehouse: DuckDbWarehouse;

const FILES: Record<string, string> = {
  "dbt_project.yml": "name: inc\nprofile: inc\nconfig-version: 2\nvars:\n  upto: 3\n  version: 1\n",
  "profiles.yml":
    "inc:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n      schema: main\n",
  "models/numbers.sql":
    "{{ config(materialized='view') }}\nselect range as id, {{ var('version') }} as version from range({{ var('upto') }})\n",
  "models/appended.sql": [
    "{{ config(materialized='incremental') }}",
    "select id, version from {{ ref('numbers') }}",
    "{% if is_incremental() %}",
    "where id > (select max(id) from {{ this }})",
    "{% endif %}",
  ].join("\n"),
  "models/elsewhere.sql":
    "{{ config(materialized='table', schema='extra', alias='numbers_copy') }}\nselect * from {{ ref('numbers') }}\n",
  "models/reads_elsewhere.sql": "select count(*) as n from {{ ref('elsewhere') }}\n",
  "models/upserted.sql": [
    "{{ config(materialized='incremental', unique_key='id') }}",
    "select id, version from {{ ref('numbers') }}",
    "{% if is_incremental() %}",
    "where id >= (select max(id) from {{ this }})",
    "{% endif %}",
  ].join("\n"),
};

beforeAll(async () => {
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(project, path)), { recursive: true });
    writeFileSync(join(project, path), text);
  }
  warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
});

afterAll(async () => {
  await warehouse.close();
});

const rows = async (table: string) =>
  (await warehouse.query(`select id, version from ${table} order by id`)).map(
    (r) => `${r.id}:${r.version}`,
  );

describe("incremental models", () => {
  it("create, then append only new rows, or replace rows by unique key", async () => {
    const first = await buildWith(warehouse, { projectDir: project });
    expect(first.runs.map((r) => r.status)).toEqual(Array(5).fill("success"));
    expect(await rows("appended")).toEqual(["0:1", "1:1", "2:1"]);

    const second = await buildWith(warehouse, {
      projectDir: project,
      vars: { upto: 5, version: 2 },
    });
    const byName = Object.fromEntries(second.runs.map((r) => [r.uniqueId.split(".").pop(), r]));
    expect(byName.appended?.message).toBe("OK inserted 2");
    expect(byName.appended?.compiledSql).toContain(
      'where id > (select max(id) from "main"."appended")',
    );
    expect(await rows("appended")).toEqual(["0:1", "1:1", "2:1", "3:2", "4:2"]);
    // A custom schema is appended to the target's, as dbt's generate_schema_name does.
    expect(await rows('"main_extra"."numbers_copy"')).toEqual(["0:2", "1:2", "2:2", "3:2", "4:2"]);
    expect((await warehouse.query("select n from reads_elsewhere"))[0]?.n).toBe(5);
    // Row 2 is selected again and replaced, not duplicated.
    expect(await rows("upserted")).toEqual(["0:1", "1:1", "2:2", "3:2", "4:2"]);
  });
});
