/**
 * The built-in dbt runner's templates cannot reach JavaScript or the environment: the escape
 * that once ran code (`ref.constructor("return process.env.HOME")()`, found in a review) and its
 * variants stop with exit 2 naming the model, line and token; `env_var` reads DBT_* and MLOPS_*
 * only, and never dbt's secret variables.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import { runBuiltin } from "../../pipeline/transform/builtin/builtin.ts";
import { JinjaRenderer } from "../../pipeline/transform/builtin/jinja.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { tempDir } from "../helpers/rows.ts";

const ENVIRONMENT = {
  HOME: "/home/secret-user",
  AWS_SECRET_ACCESS_KEY: "aws-secret",
  DBT_SCHEMA_SUFFIX: "_dev",
  MLOPS_TENANT: "acme",
  DBT_ENV_SECRET_TOKEN: "dbt-secret",
};

const renderer = () =>
  new JinjaRenderer(
    "p",
    {
      name: "duckdb",
      type: "duckdb",
      schema: "main",
      database: "db",
      profile_name: "p",
      threads: 1,
    },
    { list: ["a", "b"] },
    [],
    ENVIRONMENT,
  );
const scope = {
  file: "models/evil.sql",
  ref: (name: string) => `"main"."${name}"`,
  source: (s: string, t: string) => `"${s}"."${t}"`,
  isIncremental: false,
};
const render = (source: string) => renderer().render(source, scope).sql;

function failure(source: string): InputError {
  try {
    render(source);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error(`rendered: ${source}`);
}

describe("the built-in runner's templates", () => {
  it.each([
    ['select 1\n{{ ref.constructor("return process.env.HOME")() }}', 2, "constructor"],
    ["{{ target.__proto__ }}", 1, "__proto__"],
    ["{{ var.prototype }}", 1, "prototype"],
    ['{{ ref["constructor"]("return 1")() }}', 1, "constructor"],
    ["{{ constructor }}", 1, "constructor"],
  ])("refuse %j at its line", (source, line, token) => {
    const error = failure(source);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      `models/evil.sql, line ${line}: unsupported construct: ${token} (templates cannot reach JavaScript)`,
    );
  });

  it.each([
    // Names put together at run time get past any token check; the lookup itself refuses them.
    [
      '{{ ref["constr" ~ "uctor"]("return process.env.HOME")() }}',
      "unsupported construct: .constructor (templates cannot reach JavaScript)",
    ],
    [
      '{% set k = "__pro" ~ "to__" %}{{ target[k] }}',
      "unsupported construct: .__proto__ (templates cannot reach JavaScript)",
    ],
    ["{{ ref.call }}", "unsupported construct: .call of a function"],
    ["{{ ref.apply }}", "unsupported construct: .apply of a function"],
  ])("refuse %j when it runs", (source, message) => {
    const error = failure(source);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain("/home/secret-user");
  });

  it("still read what dbt templates read: fields, list items, lengths, macros' results", () => {
    expect(render("{{ target.schema }}.{{ var('list')[1] }}.{{ var('list') | length }}")).toBe(
      "main.b.2",
    );
    expect(render("{{ ref('x') }}")).toBe('"main"."x"');
    expect(render("{{ target.nothing_here is defined }}")).toBe("false");
  });

  it("let env_var read DBT_* and MLOPS_* only, and never dbt's secrets", () => {
    expect(render("{{ env_var('DBT_SCHEMA_SUFFIX') }} {{ env_var('MLOPS_TENANT') }}")).toBe(
      "_dev acme",
    );
    expect(failure("{{ env_var('HOME') }}").message).toContain(
      "env_var('HOME'): the built-in runner reads only DBT_* and MLOPS_* variables in models",
    );
    expect(failure("{{ env_var('AWS_SECRET_ACCESS_KEY', 'x') }}").message).not.toContain(
      "aws-secret",
    );
    expect(failure("{{ env_var('DBT_ENV_SECRET_TOKEN') }}").message).toContain(
      "secret variables (DBT_ENV_SECRET_*) may be used in profiles.yml only",
    );
  });

  it("stop a whole build with exit 2 before anything runs, and build nothing", async () => {
    const dir = tempDir("jinja-sandbox-");
    mkdirSync(join(dir, "models"));
    writeFileSync(
      join(dir, "dbt_project.yml"),
      "name: evil\nversion: '1.0'\nprofile: evil\nmodel-paths: ['models']\n",
    );
    writeFileSync(
      join(dir, "profiles.yml"),
      "evil:\n  target: duckdb\n  outputs:\n    duckdb: {type: duckdb, schema: main}\n",
    );
    writeFileSync(
      join(dir, "models", "evil.sql"),
      "select '{{ ref.constructor(\"return process.env.HOME\")() }}' as home\n",
    );
    const warehouse = await DuckDbWarehouse.open(join(dir, "w.duckdb"));
    try {
      const error = await runBuiltin(warehouse, {
        projectDir: dir,
        target: "duckdb",
        vars: {},
        selectors: [],
        env: ENVIRONMENT,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toContain(
        "evil.sql, line 1: unsupported construct: constructor",
      );
      expect(
        await warehouse.query(
          "select count(*) as n from information_schema.tables where table_name = 'evil'",
        ),
      ).toEqual([{ n: 0 }]);
    } finally {
      await warehouse.close();
    }
  });
});
