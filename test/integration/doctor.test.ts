/**
 * `runDoctor` on the embedded defaults, as a fresh checkout has them: the real tfjs backends,
 * a real DuckDB file, a run store folder, this machine's PATH (dbt, Chromium or not).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { formatDoctor, runDoctor } from "../../pipeline/doctor.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { tempDir } from "../helpers/rows.ts";

describe("pipeline doctor on the embedded defaults", () => {
  const dir = tempDir("mlops-doctor-it-");
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is ok with a real DuckDB file and a local store", async () => {
    const { config } = loadConfig({ env: {}, cwd: dir });
    // The defaults are relative to the working directory: anchor them in this test's folder.
    const store = join(dir, config.store);
    const file = join(dir, config.warehouse.slice("duckdb:".length));
    const warehouse = await DuckDbWarehouse.open(file);
    await warehouse.ensureRawSchema();
    await warehouse.close();

    const report = await runDoctor(
      { ...config, store, warehouse: `duckdb:${file}` },
      { probeWarehouse: true },
    );
    const text = formatDoctor(report);

    expect(report.ok, text).toBe(true);
    const status = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(status.node?.status).toBe("ok");
    // wasm or cpu here (a warning); a machine with tfjs-node installed reports ok.
    expect(["ok", "warn"]).toContain(status.backend?.status);
    expect(status.backend?.detail).toMatch(/^(node-gpu|node|wasm|cpu), auto/);
    expect(status.store).toMatchObject({ status: "ok" });
    expect(status.warehouse).toMatchObject({
      status: "ok",
      detail: expect.stringContaining("opened it and ran select 1"),
    });
    expect(status.transform?.status).toBe("ok");
    expect(status.compute?.status).toBe("ok");
    expect(status.promote?.status).toBe("ok");
    expect(["ok", "warn"]).toContain(status.chromium?.status);
    for (const c of report.checks) {
      if (c.status === "warn") expect(c.fix, c.name).toBeTruthy();
    }
    expect(text).toMatch(/^ready: /m);
    // The probe left nothing behind, and the database was opened, not replaced.
    expect(readdirSync(store)).toEqual(["warehouse.duckdb"]);
    expect(existsSync(file)).toBe(true);
  });
});
