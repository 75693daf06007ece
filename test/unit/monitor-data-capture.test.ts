import { describe, expect, it } from "vitest";
import { parseDataCapture } from "../../pipeline/monitor/data-capture.ts";
import { servedSessionId } from "../../pipeline/monitor/served-events.ts";
import { InputError } from "../../pipeline/errors.ts";
import { hex } from "../helpers/rows.ts";

const FILE = "s3://captures/recs-endpoint/AllTraffic/2026/01/02/03/04-05-678-0a1b2c3d.jsonl";
const TIME = "2026-01-02T03:04:05Z";
const AT = Date.parse(TIME);
const RUN = "20260101-120000-a1b2c3";

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** The response body serve/protocol.ts writes. */
const answer = (runId: string) =>
  JSON.stringify({
    predictions: [{ items: [hex("x")], unknown_skus: [], fallback: false }],
    model: { run_id: runId, format: "tfjs" },
  });

/**
 * One record as SageMaker Data Capture writes it (AWS's documented layout): the bodies base64
 * by default, or as text when the capture config lists their content type as JSON.
 */
function record(options: {
  request: string;
  response?: string;
  encoding?: "BASE64" | "JSON";
  eventId?: string;
  time?: string;
}): Record<string, unknown> {
  const encoding = options.encoding ?? "BASE64";
  const data = (body: string) => (encoding === "BASE64" ? base64(body) : body);
  return {
    captureData: {
      endpointInput: {
        observedContentType: "application/json",
        mode: "INPUT",
        data: data(options.request),
        encoding,
      },
      ...(options.response === undefined
        ? {}
        : {
            endpointOutput: {
              observedContentType: "application/json",
              mode: "OUTPUT",
              data: data(options.response),
              encoding,
            },
          }),
    },
    eventMetadata: {
      eventId: options.eventId ?? "b1a2c3d4-0000-4000-8000-000000000001",
      inferenceTime: options.time ?? TIME,
    },
    eventVersion: "0",
  };
}

const lines = (...records: (Record<string, unknown> | string)[]) =>
  records.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n");

describe("parseDataCapture", () => {
  it("turns a BASE64 record's sessions into rows answered by the run the response names", () => {
    const eventId = "8f2b7a1e-1111-4c3d-9e8f-000000000001";
    const request = JSON.stringify({
      sessions: [[hex(1), "not-a-hash", hex(2)], ["short"], [hex(3)]],
      k: 5,
    });
    const result = parseDataCapture(
      `${lines(record({ request, response: answer(RUN), eventId }))}\n`,
      FILE,
    );
    expect(result).toMatchObject({ records: 1, rejects: [], skippedSkus: 2 });
    expect(result.events).toEqual([
      { sessionId: servedSessionId(eventId, 0), sku: hex(1), timestampMs: AT - 1, modelRunId: RUN },
      { sessionId: servedSessionId(eventId, 0), sku: hex(2), timestampMs: AT, modelRunId: RUN },
      // Session 1 had no hash SKU; session 2 keeps its index, so its id does not shift.
      { sessionId: servedSessionId(eventId, 2), sku: hex(3), timestampMs: AT, modelRunId: RUN },
    ]);
  });

  it('reads JSON-encoded records in the TF Serving "instances" shape', () => {
    const request = JSON.stringify({ instances: [[hex(1)], { session: [hex(2), hex(3)] }] });
    const result = parseDataCapture(
      lines(
        record({ request, response: answer(RUN), encoding: "JSON", eventId: "e-1" }),
        // An input-only capture, and a response that names no model: the run is unknown.
        record({ request, eventId: "e-2", time: "2026-01-02T04:04:05.250+01:00" }),
        record({ request, response: '{"predictions": []}', encoding: "JSON", eventId: "e-3" }),
      ),
      FILE,
    );
    expect(result).toMatchObject({ records: 3, rejects: [], skippedSkus: 0 });
    expect(result.events.map((e) => [e.sessionId, e.sku, e.timestampMs, e.modelRunId])).toEqual([
      [servedSessionId("e-1", 0), hex(1), AT, RUN],
      [servedSessionId("e-1", 1), hex(2), AT - 1, RUN],
      [servedSessionId("e-1", 1), hex(3), AT, RUN],
      [servedSessionId("e-2", 0), hex(1), AT + 250, "unknown"],
      [servedSessionId("e-2", 1), hex(2), AT + 249, "unknown"],
      [servedSessionId("e-2", 1), hex(3), AT + 250, "unknown"],
      [servedSessionId("e-3", 0), hex(1), AT, "unknown"],
      [servedSessionId("e-3", 1), hex(2), AT - 1, "unknown"],
      [servedSessionId("e-3", 1), hex(3), AT, "unknown"],
    ]);
  });

  it("keeps only a valid run id from the response (it becomes a CSV column)", () => {
    const request = JSON.stringify({ sessions: [[hex(1)]] });
    const runOf = (response: string) =>
      parseDataCapture(lines(record({ request, response })), FILE).events[0]?.modelRunId;
    expect(runOf(answer("a,b\nc"))).toBe("unknown");
    expect(runOf('{"error": {"code": "model_not_ready", "message": "..."}}')).toBe("unknown");
    expect(runOf("not json")).toBe("unknown");
  });

  it("rejects each bad line at its line number, naming the field, and reads the rest", () => {
    const good = record({ request: JSON.stringify({ sessions: [[hex(1)]] }) });
    const withInput = (input: Record<string, unknown>) => ({
      ...good,
      captureData: {
        endpointInput: {
          ...(good.captureData as { endpointInput: object }).endpointInput,
          ...input,
        },
      },
    });
    const text = lines(
      good, // 1
      "{not json", // 2
      { eventMetadata: good.eventMetadata, eventVersion: "0" }, // 3
      { ...good, eventMetadata: { inferenceTime: TIME } }, // 4
      withInput({ data: "eyJzZXNzaW9ucyI6W1tdXX0!" }), // 5
      withInput({ data: base64('{"sessions": [["a"]], "k": 10') }), // 6
      withInput({ data: base64('{"session": [["a"]]}') }), // 7
      withInput({ data: Buffer.from([0xff, 0xfe, 0x7b]).toString("base64") }), // 8
      withInput({ encoding: "CSV", data: "a,b,c" }), // 9
      withInput({ mode: "OUTPUT" }), // 10
      { ...good, eventMetadata: { eventId: "e", inferenceTime: "Jan 2 2026" } }, // 11
      withInput({ data: base64(JSON.stringify({ sessions: [[hex(1), 7]] })) }), // 12
      "", // 13: a blank line inside the file is not a record either
      good, // 14
    );
    const result = parseDataCapture(`${text}\r\n\n  \n`, FILE);
    expect(result.records).toBe(14);
    expect(result.events).toHaveLength(2);
    expect(result.rejects).toEqual([
      { line: 2, reason: 'not a JSON record: unexpected "n" at column 2' },
      { line: 3, reason: "captureData: missing" },
      { line: 4, reason: "eventMetadata.eventId: missing" },
      { line: 5, reason: "captureData.endpointInput.data: not valid base64" },
      {
        line: 6,
        reason: expect.stringMatching(
          /^captureData\.endpointInput\.data: the body is not valid JSON: unexpected end of the body/,
        ),
      },
      {
        line: 7,
        reason: expect.stringMatching(
          /^captureData\.endpointInput\.data: body: expected a "sessions"/,
        ),
      },
      { line: 8, reason: "captureData.endpointInput.data: the decoded body is not UTF-8 text" },
      {
        line: 9,
        reason:
          'captureData.endpointInput.encoding: "CSV" is not a JSON request (expected BASE64 or JSON)',
      },
      { line: 10, reason: 'captureData.endpointInput.mode: expected "INPUT", got "OUTPUT"' },
      {
        line: 11,
        reason: 'eventMetadata.inferenceTime: "Jan 2 2026" is not an ISO 8601 time',
      },
      {
        line: 12,
        reason:
          "captureData.endpointInput.data: sessions[0][1]: a SKU must be a string, got number 7",
      },
      { line: 13, reason: "not a JSON record: unexpected end of line at column 1" },
    ]);
  });

  it("reads an empty file as no records", () => {
    expect(parseDataCapture("", FILE)).toEqual({
      events: [],
      rejects: [],
      records: 0,
      skippedSkus: 0,
    });
  });

  it("refuses a binary (compressed) file as a whole, naming it", () => {
    const gzipped = "\u001f\ufffd\b\u0000\u0000\u0000\u0000\u0000\u0000\u0003";
    expect(() => parseDataCapture(gzipped, FILE)).toThrow(InputError);
    expect(() => parseDataCapture(gzipped, FILE)).toThrow(FILE);
  });
});
