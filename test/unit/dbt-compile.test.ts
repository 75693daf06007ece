/**
 * The built-in runner's parser and renderer, without a warehouse: the dispatched macros as each
 * adapter renders them (snapshots), refs ordering and selectors over the real project, and a
 * clear error naming file, line and construct for everything outside the supported subset.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import { compileProject } from "../../pipeline/transform/builtin/builtin.ts";
import { buildOrder } from "../../pipeline/transform/builtin/graph.ts";
import { JinjaRenderer } from "../../pipeline/transform/builtin/jinja.ts";
import { loadProject } from "../../pipeline/transform/builtin/project.ts";
import { select } from "../../pipeline/transform/builtin/selection.ts";
import { DEFAULT_PROJECT_DIR } from "../../pipeline/transform/transform.ts";
import { tempDir } from "../helpers/rows.ts";

const ENV = { SNOWFLAKE_SCHEMA: "RECS", SNOWFLAKE_DATABASE: "ANALYTICS" };

function renderer(adapter: "duckdb" | "snowflake"): JinjaRenderer {
  const project = loadProject(DEFAULT_PROJECT_DIR);
  return new JinjaRenderer(
    project.name,
    {
      name: adapter,
      type: adapter,
      schema: "main",
      database: "db",
      profile_name: project.profile,
      threads: 1,
    },
    project.vars,
    project.macroFiles,
    ENV,
  );
}

const scope = {
  file: "inline.sql",
  ref: (name: string) => `"main"."${name}"`,
  source: (s: string, t: string) => `"${s}"."${t}"`,
  isIncremental: false,
};

describe("dispatched macros", () => {
  for (const adapter of ["duckdb", "snowflake"] as const) {
    it(`render ${adapter}'s own SQL`, () => {
      const r = renderer(adapter);
      const sql = r.render(
        [
          "{{ array_agg_ordered('sku', 'position') }}",
          "{{ epoch_ms_to_timestamp('server_timestamp_epoch_ms') }}",
          "{{ epoch_ms_to_date('min(event_ms)') }}",
          "{{ sql_string_list(var('sequence_actions')) }}",
        ].join("\n"),
        scope,
      ).sql;
      expect(sql).toMatchSnapshot();
    });

    it(`compile session_sequences for ${adapter}`, () => {
      const graph = compileProject(DEFAULT_PROJECT_DIR, adapter, {}, ENV);
      const model = graph.models.find((m) => m.name === "session_sequences");
      expect(model?.compiledSql).toMatchSnapshot();
      expect(model?.macros).toContain(`${adapter}__array_agg_ordered`);
    });
  }
});

describe("the project's graph", () => {
  const graph = compileProject(DEFAULT_PROJECT_DIR, "duckdb", {}, {});

  it("orders models after everything they ref", () => {
    const order = buildOrder(graph.models).map((m) => m.name);
    for (const model of graph.models) {
      for (const parent of model.refs) {
        expect(order.indexOf(parent), `${parent} before ${model.name}`).toBeLessThan(
          order.indexOf(model.name),
        );
      }
    }
    expect(graph.models.find((m) => m.name === "stg_browsing_events")?.dependsOn).toEqual([
      "source.mlops_session_recs.coveo.raw_browsing_events",
      "source.mlops_session_recs.coveo.raw_loads",
    ]);
  });

  it("selects model, model+, +model and tag:x", () => {
    const names = (selectors: string[]) =>
      graph.models
        .filter((m) => select(graph, selectors).models.has(m.uniqueId))
        .map((m) => m.name)
        .sort();
    expect(names(["session_splits"])).toEqual(["session_splits"]);
    expect(names(["session_splits+"])).toEqual([
      "baseline_next_item",
      "baseline_popularity",
      "item_catalog",
      "session_splits",
    ]);
    expect(names(["+session_sequences"])).toEqual([
      "int_session_interactions",
      "int_session_stats",
      "int_sessionized_events",
      "session_sequences",
      "stg_browsing_events",
    ]);
    expect(names(["tag:staging"])).toEqual([
      "stg_browsing_events",
      "stg_search_events",
      "stg_served_events",
      "stg_sku_content",
    ]);
    expect(names(["tag:staging stg_sku_content+"])).toContain("baseline_popularity");
    const tests = select(graph, ["session_splits"]).tests;
    expect([...tests].some((id) => id.includes("assert_no_train_test_leakage"))).toBe(true);
    expect(() => select(graph, ["a,b"])).toThrow(/unsupported selector/);
    expect(() => select(graph, ["path:models"])).toThrow(/unsupported selector method "path:"/);
  });

  it("writes columns and descriptions from the YAML for every model", () => {
    for (const model of graph.models) {
      expect(model.description, model.name).not.toBe("");
      expect(model.columns.length, model.name).toBeGreaterThan(0);
      for (const column of model.columns) expect(column.description).not.toBe("");
    }
  });
});

/** A one-model project whose files are given; returns the error compiling it raises. */
function compileError(files: Record<string, string>): InputError {
  const dir = tempDir("dbt-unsupported-");
  const all: Record<string, string> = {
    "dbt_project.yml": "name: p\nprofile: p\nconfig-version: 2\n",
    "profiles.yml":
      "p:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n      schema: main\n",
    "models/base.sql": "select 1 as id\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  try {
    compileProject(dir, "duckdb", {}, {});
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error("expected an InputError");
}

describe("outside the supported subset", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "a do statement",
      { "models/m.sql": "select 1\n\n{% do log('x') %}\n" },
      /^models\/m\.sql, line 3, column \d+: unsupported construct: \{% do %\}/,
    ],
    [
      "run_query",
      { "models/m.sql": "select 1\n{% set r = run_query('select 1') %}\n" },
      /^models\/m\.sql, line 2: unsupported construct: run_query/,
    ],
    [
      "Python string formatting",
      { "models/m.sql": "select {{ '%s' % 1 }}\n" },
      /^models\/m\.sql, line 1: unsupported construct: the % operator/,
    ],
    [
      "a package macro",
      { "models/m.sql": "select 1\n{{ dbt_utils.star(ref('base')) }}\n" },
      /^models\/m\.sql, line 2: unsupported construct: dbt_utils/,
    ],
    [
      "an adapter method other than dispatch",
      { "models/m.sql": "select 1\n-- x\n{{ adapter.get_relation(this) }}\n" },
      /^models\/m\.sql, line 3, column \d+: unsupported construct: adapter\["get_relation"\]\(\)/,
    ],
    [
      "an ephemeral model",
      { "models/m.sql": "{{ config(materialized='ephemeral') }}\nselect 1\n" },
      /^models\/m\.sql, line 1: materialized='ephemeral' is outside what the built-in dbt runner supports/,
    ],
    [
      "an unknown config",
      { "models/m.sql": "select 1\n{{ config(post_hook='grant select') }}\n" },
      /^models\/m\.sql, line 2, column \d+: unsupported construct: config\(post_hook=...\)/,
    ],
    [
      "a ref to no model",
      { "models/m.sql": "select *\nfrom {{ ref('nope') }}\n" },
      /^models\/m\.sql, line 2, column \d+: ref\('nope'\) names no enabled model/,
    ],
    [
      "an undefined variable",
      { "models/m.sql": "select {{ undefined_thing }}\n" },
      /^models\/m\.sql, line 1, column \d+: undefined value rendered/,
    ],
    [
      "a package generic test",
      {
        "models/schema.yml":
          "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests:\n          - dbt_utils.not_constant\n",
      },
      /^models\/schema\.yml, line 7: the generic test "dbt_utils\.not_constant" is outside/,
    ],
    [
      "a seeds section",
      { "dbt_project.yml": "name: p\nprofile: p\nseeds:\n  p:\n    +enabled: true\n" },
      /^dbt_project\.yml, line 3: the dbt_project\.yml key "seeds" is outside/,
    ],
    [
      "a custom materialization",
      { "macros/m.sql": "{% materialization mine, default %}\n{% endmaterialization %}\n" },
      /^macros\/m\.sql, line 1, column \d+: unsupported construct: \{% materialization %\}/,
    ],
  ];
  for (const [name, files, message] of cases) {
    it(`refuses ${name}`, () => {
      const error = compileError(files);
      expect(error.message).toMatch(message);
      expect(error.exitCode).toBe(2);
    });
  }
});

describe("rendering as Jinja does", () => {
  it("prints lists as Python lists and loops over them", () => {
    const r = renderer("duckdb");
    const sql = r.render(
      "{{ var('sequence_actions') }} {% for a in var('sequence_actions') %}{{ a }}{{ '|' if not loop.last }}{% endfor %} {{ var('sequence_actions') | length }} {{ var('missing', ['x']) }}",
      scope,
    ).sql;
    expect(sql).toBe("['detail', 'add', 'purchase'] detail|add|purchase 3 ['x']");
  });
});
