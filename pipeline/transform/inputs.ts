/**
 * What a transform read, as content hashes: the dbt project's files and the loads in the raw
 * tables. Two runs with equal hashes and equal vars build equal marts.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { StageInput } from "../store/runs.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { LOADS_TABLE } from "../warehouse/raw-tables.ts";

/** Folders dbt writes into: not part of the project's content. */
const GENERATED = new Set(["target", "logs", "dbt_packages"]);

export function projectInput(dir: string): StageInput {
  const hash = createHash("sha256");
  let bytes = 0;
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        if (!GENERATED.has(name)) walk(path);
        continue;
      }
      const content = readFileSync(path);
      bytes += content.length;
      hash.update(relative(dir, path).split(sep).join("/")).update("\0").update(content);
    }
  };
  walk(dir);
  return { name: `dbt project ${dir}`, sha256: hash.digest("hex"), bytes };
}

/** One input per raw table: the hash of the source files loaded into it, in load order. */
export async function rawInputs(warehouse: Warehouse): Promise<StageInput[]> {
  // Creating the (empty) raw schema when missing lets a never-loaded warehouse answer "nothing".
  await warehouse.ensureRawSchema();
  const rows = await warehouse.query(
    `select target_table, source_hash from ${LOADS_TABLE} order by target_table, etl_timestamp, source_hash`,
  );
  const byTable = new Map<string, string[]>();
  for (const row of rows) {
    const table = String(row.target_table);
    byTable.set(table, [...(byTable.get(table) ?? []), String(row.source_hash)]);
  }
  return [...byTable].map(([table, hashes]) => ({
    name: table,
    sha256: createHash("sha256").update(hashes.join("\n")).digest("hex"),
  }));
}
