import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/errors.ts";
import { decidePromotion } from "../../pipeline/promote/decision.ts";
import type { MetricsSummary } from "../../pipeline/promote/decision.ts";
import {
  HISTORY_PREFIX,
  PRODUCTION_KEY,
  promotionHistory,
  readProduction,
  recordPromotion,
  recordRollback,
} from "../../pipeline/store/registry.ts";
import type { DeploymentRecord, PromotionRecord } from "../../pipeline/store/registry.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { S3Store } from "../../pipeline/store/s3-store.ts";
import { startS3rver } from "../helpers/s3rver.ts";
import type { S3rverProcess } from "../helpers/s3rver.ts";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "promote-registry-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const metrics = (hr: number): MetricsSummary => ({
  hr20: { value: hr, lower: hr - 0.01, upper: hr + 0.01 },
  mrr20: { value: hr / 3, lower: hr / 3 - 0.005, upper: hr / 3 + 0.005 },
  examples: 5000,
});
const local = (runId: string): DeploymentRecord => ({
  target: "local",
  endpoint: "http://127.0.0.1:8080",
  modelDataUrl: `runs/${runId}/train/model`,
});

function promotion(runId: string, hr: number, champion?: MetricsSummary): PromotionRecord {
  const gates = { passed: true, failedBlocking: [] };
  return {
    runId,
    deployment: local(runId),
    metrics: metrics(hr),
    gates,
    decision: decidePromotion({
      gates,
      challenger: metrics(hr),
      champion,
      force: false,
      tolerance: 0,
    }),
  };
}

async function freshStore(): Promise<LocalStore> {
  return new LocalStore(await mkdtemp(join(scratch, "store-")));
}

describe("registry on a LocalStore", () => {
  it("is empty before the first promotion", async () => {
    const store = await freshStore();
    expect(await readProduction(store)).toBeUndefined();
    expect(await promotionHistory(store)).toEqual([]);
  });

  it("records promotions with the previous run, in history order", async () => {
    const store = await freshStore();
    const first = await recordPromotion(
      store,
      promotion("run-a", 0.3),
      new Date("2026-11-23T10:00:00Z"),
    );
    expect(first).toMatchObject({
      action: "promote",
      runId: "run-a",
      previousRunId: null,
      verdict: "no-champion",
      forced: false,
      promotedAt: "2026-11-23T10:00:00.000Z",
    });
    const second = await recordPromotion(
      store,
      promotion("run-b", 0.32, metrics(0.3)),
      new Date("2026-11-23T11:00:00Z"),
    );
    expect(second.previousRunId).toBe("run-a");
    expect(await readProduction(store)).toEqual(second);
    const history = await promotionHistory(store);
    expect(history.map((e) => e.runId)).toEqual(["run-a", "run-b"]);
    const keys = await store.list(HISTORY_PREFIX);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(
      /^registry\/history\/20261123T100000000Z-promote-run-a-[0-9a-f]{4}\.json$/,
    );
  });

  it("records a forced promotion as forced", async () => {
    const store = await freshStore();
    await recordPromotion(store, promotion("run-a", 0.4));
    const gates = { passed: true, failedBlocking: [] };
    const decision = decidePromotion({
      gates,
      challenger: metrics(0.2),
      champion: metrics(0.4),
      force: true,
      tolerance: 0,
    });
    const entry = await recordPromotion(store, {
      runId: "run-b",
      deployment: local("run-b"),
      metrics: metrics(0.2),
      gates,
      decision,
    });
    expect(entry).toMatchObject({ forced: true, verdict: "significantly-worse" });
    expect(entry.reason).toContain("--force");
  });

  it("refuses to record a decision that did not promote", async () => {
    const store = await freshStore();
    const gates = { passed: false, failedBlocking: ["hr20-min"] };
    const record: PromotionRecord = {
      runId: "run-a",
      deployment: local("run-a"),
      metrics: metrics(0.1),
      gates,
      decision: decidePromotion({ gates, challenger: metrics(0.1), force: true, tolerance: 0 }),
    };
    await expect(recordPromotion(store, record)).rejects.toThrow(/was not promoted/);
    expect(await readProduction(store)).toBeUndefined();
  });

  it("rolls back to the previous run, and further back on a second rollback", async () => {
    const store = await freshStore();
    await recordPromotion(store, promotion("run-a", 0.3), new Date("2026-11-23T10:00:00Z"));
    await recordPromotion(store, promotion("run-b", 0.31), new Date("2026-11-23T11:00:00Z"));
    await recordPromotion(store, promotion("run-c", 0.32), new Date("2026-11-23T12:00:00Z"));

    const back = await recordRollback(
      store,
      { reason: "smoke test failed: 0 items" },
      new Date("2026-11-23T13:00:00Z"),
    );
    expect(back).toMatchObject({
      action: "rollback",
      runId: "run-b",
      rolledBackFrom: "run-c",
      previousRunId: "run-a",
      verdict: "rollback",
      reason: "smoke test failed: 0 items",
      metrics: metrics(0.31),
    });
    expect((await readProduction(store))?.runId).toBe("run-b");

    const further = await recordRollback(
      store,
      { reason: "manual" },
      new Date("2026-11-23T14:00:00Z"),
    );
    expect(further).toMatchObject({ runId: "run-a", rolledBackFrom: "run-b", previousRunId: null });
    await expect(recordRollback(store, { reason: "again" })).rejects.toThrow(
      /first model ever promoted/,
    );
    expect((await promotionHistory(store)).map((e) => `${e.action}:${e.runId}`)).toEqual([
      "promote:run-a",
      "promote:run-b",
      "promote:run-c",
      "rollback:run-b",
      "rollback:run-a",
    ]);
  });

  it("rolls back to a named run only when it was in production", async () => {
    const store = await freshStore();
    await expect(recordRollback(store, { reason: "x" })).rejects.toThrow(
      /nothing is in production/,
    );
    await recordPromotion(store, promotion("run-a", 0.3), new Date("2026-11-23T10:00:00Z"));
    await recordPromotion(store, promotion("run-b", 0.31), new Date("2026-11-23T11:00:00Z"));
    await expect(recordRollback(store, { reason: "x", toRunId: "run-z" })).rejects.toThrow(
      /run-z was never in production/,
    );
    const deployment: DeploymentRecord = { target: "local", endpoint: "http://127.0.0.1:9090" };
    const entry = await recordRollback(store, { reason: "x", toRunId: "run-a", deployment });
    expect(entry.deployment).toEqual(deployment);
  });

  it("names the damaged file and what to do", async () => {
    const store = await freshStore();
    await recordPromotion(store, promotion("run-a", 0.3));
    await writeFile(join(store.root, "registry", "production.json"), "{ not json");
    const notJson = await readProduction(store).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(PipelineError);
    expect((notJson as PipelineError).message).toMatch(
      /registry damaged: .*registry\/production\.json is not valid JSON/,
    );
    expect((notJson as PipelineError).hint).toMatch(/registry\/history\//);

    const entry = JSON.parse(
      Buffer.from(
        (await store.get((await store.list(HISTORY_PREFIX))[0] as string)) ?? [],
      ).toString(),
    ) as Record<string, unknown>;
    await store.put(PRODUCTION_KEY, JSON.stringify({ ...entry, metrics: { hr20: 0.3 } }));
    await expect(readProduction(store)).rejects.toThrow(/production\.json: metrics\.hr20: /);

    await store.put(`${HISTORY_PREFIX}20990101T000000000Z-promote-x-0000.json`, "[]");
    await expect(promotionHistory(store)).rejects.toThrow(
      /registry damaged: .*20990101T000000000Z-promote-x-0000\.json/,
    );
  });
});

describe("registry on an S3Store (s3rver)", () => {
  let s3rver: S3rverProcess;
  beforeAll(async () => {
    s3rver = await startS3rver(await mkdtemp(join(scratch, "s3rver-")), "registry-bucket");
  }, 30_000);
  afterAll(async () => {
    await s3rver?.stop();
  });

  it("records and reads back a promotion and a rollback", async () => {
    const client = new S3Client({
      region: "us-east-1",
      endpoint: s3rver.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    const store = new S3Store({ bucket: "registry-bucket", prefix: "team", client });
    await recordPromotion(store, promotion("run-a", 0.3), new Date("2026-11-23T10:00:00Z"));
    const b = await recordPromotion(
      store,
      promotion("run-b", 0.31),
      new Date("2026-11-23T11:00:00Z"),
    );
    expect(await readProduction(store)).toEqual(b);
    await recordRollback(store, { reason: "manual" }, new Date("2026-11-23T12:00:00Z"));
    expect((await readProduction(store))?.runId).toBe("run-a");
    expect((await promotionHistory(store)).map((e) => e.action)).toEqual([
      "promote",
      "promote",
      "rollback",
    ]);
  });
});

describe("two promotions at once", () => {
  it("record one in production.json and fail the other, which overwrites nothing", async () => {
    const store = await freshStore();
    await recordPromotion(store, promotion("run-a", 0.3));
    const [b, c] = await Promise.allSettled([
      recordPromotion(store, promotion("run-b", 0.31, metrics(0.3))),
      recordPromotion(store, promotion("run-c", 0.32, metrics(0.3))),
    ]);
    const won = [b, c].filter((r) => r.status === "fulfilled");
    const lost = [b, c].filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ runId: string }>).value.runId;
    expect(lost[0]?.reason).toBeInstanceOf(PipelineError);
    expect((lost[0]?.reason as PipelineError).message).toMatch(
      new RegExp(
        `production\\.json changed while run run-[bc]'s promote was being recorded \\(run ${winner} is in production now\\); it was not overwritten`,
      ),
    );
    const production = await readProduction(store);
    expect(production?.runId).toBe(winner);
    expect(production?.previousRunId).toBe("run-a");
    // Both attempts are in the history: the loser's record says it happened.
    expect((await promotionHistory(store)).map((e) => e.runId).sort()).toEqual([
      "run-a",
      "run-b",
      "run-c",
    ]);
  });
});

describe("conditional writes", () => {
  it("a folder store writes only over the version it was given, one racer at a time", async () => {
    const store = await freshStore();
    expect(await store.putIfUnchanged("k.json", "1", null)).toBe(true);
    expect(await store.putIfUnchanged("k.json", "2", null)).toBe(false);
    const first = await store.getVersioned("k.json");
    const racers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.putIfUnchanged("k.json", `racer ${i}`, first?.version ?? null),
      ),
    );
    expect(racers.filter(Boolean)).toHaveLength(1);
    expect(await store.putIfUnchanged("k.json", "late", first?.version ?? null)).toBe(false);
  });

  it("an S3 store sends If-Match or If-None-Match, and reads 412 and 409 as a lost race", async () => {
    const sent: Record<string, unknown>[] = [];
    let answer: "ok" | 412 | 409 | 500 = "ok";
    const client = {
      send: (command: { input: Record<string, unknown> }) => {
        sent.push(command.input);
        if (answer === "ok") return Promise.resolve({ ETag: '"etag-2"' });
        const error = Object.assign(new Error(answer === 412 ? "PreconditionFailed" : "boom"), {
          name:
            answer === 412
              ? "PreconditionFailed"
              : answer === 409
                ? "ConditionalRequestConflict"
                : "InternalError",
          $metadata: { httpStatusCode: answer },
        });
        return Promise.reject(error);
      },
    } as unknown as S3Client;
    const store = new S3Store({ bucket: "runs", prefix: "team", client });
    expect(await store.putIfUnchanged("registry/production.json", "x", null)).toBe(true);
    expect(await store.putIfUnchanged("registry/production.json", "y", '"etag-1"')).toBe(true);
    expect(sent.map((input) => [input.Key, input.IfNoneMatch, input.IfMatch])).toEqual([
      ["team/registry/production.json", "*", undefined],
      ["team/registry/production.json", undefined, '"etag-1"'],
    ]);
    answer = 412;
    expect(await store.putIfUnchanged("registry/production.json", "z", '"etag-1"')).toBe(false);
    answer = 409;
    expect(await store.putIfUnchanged("registry/production.json", "z", '"etag-1"')).toBe(false);
    answer = 500;
    await expect(
      store.putIfUnchanged("registry/production.json", "z", '"etag-1"'),
    ).rejects.toThrow();
  });
});
