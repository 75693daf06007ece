import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/errors.ts";
import { selectBackend } from "../../pipeline/train/backend.ts";

const nodeInstalled = async (pkg: string) =>
  import(/* @vite-ignore */ pkg).then(
    () => true,
    () => false,
  );

describe("selectBackend", () => {
  it("auto takes the first backend that loads and says why the others were skipped", async () => {
    const hasGpu = await nodeInstalled("@tensorflow/tfjs-node-gpu");
    const hasNode = await nodeInstalled("@tensorflow/tfjs-node");
    const selection = await selectBackend("auto");
    expect(tf.getBackend()).toBe(selection.tfjsName);
    if (!hasGpu && !hasNode) {
      // This machine (and CI) has neither node package: wasm is the best that loads.
      expect(selection.name).toBe("wasm");
      expect(selection.skipped.map((s) => s.name)).toEqual(["node-gpu", "node"]);
      for (const skipped of selection.skipped)
        expect(skipped.why).toMatch(/Cannot find (package|module)/);
      expect(selection.reason).toMatch(/node-gpu → node → wasm/);
      expect(selection.threads).toBeGreaterThanOrEqual(1);
    }
  });

  it("auto falls through a backend whose loader fails, recording the failure", async () => {
    const fail = (why: string) => async () => {
      throw new Error(why);
    };
    const selection = await selectBackend("auto", {
      "node-gpu": fail("no CUDA"),
      node: fail("libtensorflow missing"),
      wasm: fail("no wasm today"),
    });
    expect(selection).toMatchObject({
      name: "cpu",
      tfjsName: "cpu",
      skipped: [
        { name: "node-gpu", why: "no CUDA" },
        { name: "node", why: "libtensorflow missing" },
        { name: "wasm", why: "no wasm today" },
      ],
    });
    expect(tf.getBackend()).toBe("cpu");
  });

  it("an explicit backend that loads is used, with no fallbacks tried", async () => {
    const selection = await selectBackend("cpu");
    expect(selection).toMatchObject({
      name: "cpu",
      skipped: [],
      reason: expect.stringMatching(/explicit/),
    });
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await selectBackend("wasm");
    expect(wasm.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    // The backend really computes: a tiny matmul on wasm.
    expect(
      Array.from(tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [2, 1])).dataSync()),
    ).toEqual([11]);
  });

  it("an explicit backend that cannot load is an error naming it, why, and what to install", async () => {
    if (await nodeInstalled("@tensorflow/tfjs-node")) return; // the premise needs it absent
    const error = await selectBackend("node").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    const { message, hint } = error as PipelineError;
    expect(message).toMatch(
      /"node" tfjs backend could not be loaded: Cannot find (package|module) '@tensorflow\/tfjs-node'/,
    );
    expect(hint).toMatch(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
  });

  it("reports a backend whose init fails instead of pretending it loaded", async () => {
    const error = await selectBackend("wasm", {
      wasm: async () => ({ tfjsName: "no-such-backend" }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as Error).message).toMatch(/"wasm" tfjs backend could not be loaded/);
  });
});
