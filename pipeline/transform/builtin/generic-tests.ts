/**
 * dbt's four built-in generic tests, written as dbt-core's own macros write them (a query that
 * returns the failing rows), and the names dbt gives their nodes.
 */
import { createHash } from "node:crypto";

export const GENERIC_TESTS = ["not_null", "unique", "accepted_values", "relationships"] as const;
export type GenericTestName = (typeof GENERIC_TESTS)[number];

export interface GenericTestArgs {
  /** The tested relation, already rendered. */
  model: string;
  column_name?: string;
  values?: unknown[];
  quote?: boolean;
  /** relationships: the parent relation (rendered) and its field. */
  to?: string;
  field?: string;
}

export function genericTestSql(test: GenericTestName, args: GenericTestArgs): string {
  const column = args.column_name;
  if (!column) throw new Error(`${test} needs a column`);
  switch (test) {
    case "not_null":
      return `select ${column}\nfrom ${args.model}\nwhere ${column} is null`;
    case "unique":
      return [
        `select ${column} as unique_field, count(*) as n_records`,
        `from ${args.model}`,
        `where ${column} is not null`,
        `group by ${column}`,
        `having count(*) > 1`,
      ].join("\n");
    case "accepted_values": {
      const quote = args.quote ?? true;
      const values = (args.values ?? []).map((value) =>
        quote ? `'${String(value).replaceAll("'", "''")}'` : String(value),
      );
      return [
        "with all_values as (",
        `    select ${column} as value_field, count(*) as n_records`,
        `    from ${args.model}`,
        `    group by ${column}`,
        ")",
        "select * from all_values",
        `where value_field not in (${values.join(", ")})`,
      ].join("\n");
    }
    case "relationships":
      return [
        "with child as (",
        `    select ${column} as from_field from ${args.model} where ${column} is not null`,
        "),",
        "parent as (",
        `    select ${args.field} as to_field from ${args.to}`,
        ")",
        "select from_field",
        "from child",
        "left join parent on child.from_field = parent.to_field",
        "where parent.to_field is null",
      ].join("\n");
  }
}

/**
 * dbt's test node name: `<test>_<model>_<column>` plus its arguments, e.g.
 * `accepted_values_session_splits_split__train__validation__test`.
 */
export function genericTestName(
  test: GenericTestName,
  model: string,
  column: string,
  kwargs: Record<string, unknown>,
): string {
  const parts = [test, model, column];
  const extra: string[] = [];
  if (test === "accepted_values") extra.push(...(kwargs.values as unknown[]).map(String));
  if (test === "relationships") {
    extra.push(String(kwargs.field), String(kwargs.to).replace(/[^A-Za-z0-9_]+/g, "_"));
  }
  const name = [parts.join("_"), ...extra].join("__").replace(/[^A-Za-z0-9_]+/g, "_");
  // dbt shortens long names to a prefix and a hash, so they stay valid identifiers.
  if (name.length <= 64) return name;
  return `${name.slice(0, 30)}_${createHash("md5").update(name).digest("hex")}`;
}
