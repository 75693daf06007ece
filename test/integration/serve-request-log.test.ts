/**
 * The monitoring loop closes: requests served over HTTP are logged, and the upload stage loads
 * the log into a real DuckDB warehouse with zero rejects.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentReporter } from "../../pipeline/reporter.ts";
import { createRequestLog } from "../../pipeline/serve/request-log.ts";
import { startServer, type ServedModel } from "../../pipeline/serve/server.ts";
import { loadFile } from "../../pipeline/upload/load-file.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { hex, tempDir } from "../helpers/rows.ts";

/** The log does not depend on what the model answers: a constant ranking will do. */
const model: ServedModel = {
  async predict(sessions, k) {
    return sessions.map(() => ({
      items: Array.from({ length: k }, (_, j) => ({ sku: hex(`p${j}`), score: 1 / (j + 1) })),
      unknownSkus: 0,
      fallback: false,
    }));
  },
};

let dir: string;
let warehouse: DuckDbWarehouse;

beforeAll(async () => {
  dir = tempDir("mlops-serve-log-");
  warehouse = await DuckDbWarehouse.open(join(dir, "wh.duckdb"));
  await warehouse.ensureRawSchema();
});

afterAll(async () => {
  await warehouse.close();
});

describe("the request log", () => {
  it("is loaded back by the upload stage with zero rejects", async () => {
    const log = createRequestLog({ dir: join(dir, "log"), sampleRate: 1, seed: 3 });
    const server = await startServer({ model, port: 0, host: "127.0.0.1", requestLog: log });
    const requests = Array.from({ length: 12 }, (_, r) =>
      Array.from({ length: 1 + (r % 4) }, (_, s) =>
        Array.from({ length: 1 + ((r + s) % 5) }, (_, j) => hex(`p${(r + s + j) % 9}`)),
      ),
    );
    requests[5]?.push(["not-a-hash", hex("p1")]); // the non-hash SKU is counted, not logged
    const statuses = await Promise.all(
      requests.map(async (sessions) => {
        const response = await fetch(`${server.url}/invocations`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sessions, k: 3 }),
        });
        return response.status;
      }),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    await server.close();

    const summary = await log.close(); // closing again returns the same summary
    expect(summary).toMatchObject({ requestsSeen: 12, requestsLogged: 12, skippedSkus: 1 });
    const expectedRows = requests.flat(2).filter((s) => s !== "not-a-hash").length;
    expect(summary.rows).toBe(expectedRows);

    const loaded = await loadFile({
      kind: "served",
      path: summary.file as string,
      warehouse,
      etlId: "serve-log",
      tenant: "t",
      reporter: silentReporter(),
    });
    expect(loaded).toMatchObject({ read: expectedRows, loaded: expectedRows, rejected: 0 });
    const [row] = await warehouse.query(
      "SELECT count(DISTINCT session_id_hash) AS sessions, min(model_run_id) AS model FROM raw_served_events WHERE etl_id = $1",
      ["serve-log"],
    );
    expect(Number(row?.sessions)).toBe(requests.flat().length);
    // The model's own run id, as the server read it from the artifact.
    expect(row?.model).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  });
});
