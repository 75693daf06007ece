import { describe, expect, it } from "vitest";
import { PredictionBatcher, type Predictor } from "../../pipeline/serve/batcher.ts";
import type { SessionPrediction } from "../../pipeline/model/predictor.ts";

/**
 * A deterministic stand-in ranking: item j of a session's list is `<last SKU>:<j>`, so every
 * answer says which session and which k it was computed for. Records each call's size and k.
 */
function recordingPredictor(options: { failOn?: string; delayMs?: number } = {}) {
  const calls: { size: number; k: number }[] = [];
  const predictor: Predictor = {
    async predict(sessions, k) {
      calls.push({ size: sessions.length, k });
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (options.failOn && sessions.some((s) => s.includes(options.failOn as string))) {
        throw new Error(`cannot rank ${options.failOn}`);
      }
      return sessions.map((s): SessionPrediction => ({
        items: Array.from({ length: k }, (_, j) => ({
          sku: `${s[s.length - 1] ?? "-"}:${j}`,
          score: 1 / (j + 1),
        })),
        unknownSkus: 0,
        fallback: s.length === 0,
      }));
    },
  };
  return { predictor, calls };
}

const expected = (sessions: string[][], k: number) =>
  sessions.map((s) => Array.from({ length: k }, (_, j) => `${s[s.length - 1] ?? "-"}:${j}`));

const skus = (predictions: SessionPrediction[]) =>
  predictions.map((p) => p.items.map((i) => i.sku));

describe("PredictionBatcher", () => {
  it("coalesces concurrent requests into one call and answers each with its own sessions", async () => {
    const { predictor, calls } = recordingPredictor();
    const batcher = new PredictionBatcher(predictor, { maxBatch: 100, maxWaitMs: 5 });
    const requests = Array.from({ length: 10 }, (_, r) =>
      Array.from({ length: 1 + (r % 3) }, (_, s) => [`r${r}s${s}`]),
    );
    const answers = await Promise.all(
      requests.map((sessions, r) => batcher.predict(sessions, 1 + (r % 4))),
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ size: requests.flat().length, k: 4 });
    answers.forEach((answer, r) => {
      expect(skus(answer)).toEqual(expected(requests[r] as string[][], 1 + (r % 4)));
    });
  });

  it("splits a request larger than maxBatch across calls, in order", async () => {
    const { predictor, calls } = recordingPredictor();
    const batcher = new PredictionBatcher(predictor, { maxBatch: 4, maxWaitMs: 1 });
    const sessions = Array.from({ length: 10 }, (_, i) => [`s${i}`]);
    const [big, small] = await Promise.all([
      batcher.predict(sessions, 2),
      batcher.predict([["x"]], 3),
    ]);
    expect(calls.map((c) => c.size)).toEqual([4, 4, 3]);
    expect(calls.every((c) => c.size <= 4)).toBe(true);
    expect(skus(big as SessionPrediction[])).toEqual(expected(sessions, 2));
    expect(skus(small as SessionPrediction[])).toEqual(expected([["x"]], 3));
  });

  it("batches what arrives while a call is running into the next call", async () => {
    const { predictor, calls } = recordingPredictor({ delayMs: 20 });
    const batcher = new PredictionBatcher(predictor, { maxBatch: 64, maxWaitMs: 0 });
    const first = batcher.predict([["a"]], 1);
    await new Promise((r) => setTimeout(r, 5)); // the first call is now running
    const rest = Array.from({ length: 8 }, (_, i) => batcher.predict([[`b${i}`]], 1));
    await Promise.all([first, ...rest]);
    expect(calls.map((c) => c.size)).toEqual([1, 8]);
  });

  it("with maxWaitMs 0, calls once for what arrived in the same turn of the event loop", async () => {
    const { predictor, calls } = recordingPredictor();
    const batcher = new PredictionBatcher(predictor, { maxBatch: 64, maxWaitMs: 0 });
    const requests = [batcher.predict([["a"]], 1), batcher.predict([["b"], ["c"]], 1)];
    expect(batcher.waiting).toBe(3);
    await Promise.all(requests);
    expect(calls.map((c) => c.size)).toEqual([3]);
    expect(batcher.waiting).toBe(0);
  });

  it("fails only the request whose sessions break the model", async () => {
    const { predictor, calls } = recordingPredictor({ failOn: "poison" });
    const batcher = new PredictionBatcher(predictor, { maxBatch: 64, maxWaitMs: 2 });
    const results = await Promise.allSettled([
      batcher.predict([["ok1"]], 2),
      batcher.predict([["poison"]], 2),
      batcher.predict([["ok2"]], 2),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason.message).toContain("cannot rank poison");
    // One shared call that failed, then one retry per request.
    expect(calls.map((c) => c.size)).toEqual([3, 1, 1, 1]);
  });

  it("refuses a model answer of the wrong length", async () => {
    const batcher = new PredictionBatcher(
      { predict: async () => [] },
      { maxBatch: 8, maxWaitMs: 0 },
    );
    await expect(batcher.predict([["a"]], 1)).rejects.toThrow(/0 predictions for 1 sessions/);
  });

  it("rejects bad settings", () => {
    const { predictor } = recordingPredictor();
    expect(() => new PredictionBatcher(predictor, { maxBatch: 0, maxWaitMs: 1 })).toThrow(
      /maxBatch/,
    );
    expect(() => new PredictionBatcher(predictor, { maxBatch: 1, maxWaitMs: -1 })).toThrow(
      /maxWaitMs/,
    );
  });
});
