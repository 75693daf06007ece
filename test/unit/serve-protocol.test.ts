import { describe, expect, it } from "vitest";
import {
  HttpError,
  isJsonContentType,
  jsonErrorOffset,
  parseInvocation,
  type InvocationLimits,
} from "../../pipeline/serve/protocol.ts";
import { Rng } from "../../pipeline/prng.ts";

const limits: InvocationLimits = { maxSessions: 3, maxK: 20, defaultK: 10 };

function problem(body: string): HttpError {
  try {
    parseInvocation(body, limits);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error(`expected ${body} to be refused`);
}

describe("parseInvocation", () => {
  it("reads sessions and k, and defaults k", () => {
    expect(parseInvocation('{"sessions": [["a", "b"], []], "k": 5}', limits)).toEqual({
      sessions: [["a", "b"], []],
      k: 5,
    });
    expect(parseInvocation('{"sessions": [["a"]]}', limits).k).toBe(10);
  });

  it("reads TF Serving's instances: arrays or {session} objects", () => {
    expect(
      parseInvocation('{"instances": [["a"], {"session": ["b", "c"]}], "k": 2}', limits),
    ).toEqual({ sessions: [["a"], ["b", "c"]], k: 2 });
    const missing = problem('{"instances": [{"items": ["a"]}]}');
    expect(missing.message).toContain("instances[0]");
    expect(problem('{"instances": [{"session": ["a", 7]}]}').message).toContain(
      "instances[0].session[1]",
    );
  });

  it("names non-string SKUs by their path", () => {
    const error = problem('{"sessions": [["a"], ["b"], ["c", "d", 42]]}');
    expect(error).toMatchObject({ status: 400, code: "invalid_sku" });
    expect(error.message).toContain("sessions[2][2]");
    expect(error.message).toContain("number 42");
    expect(problem('{"sessions": [["a", null]]}').message).toContain("sessions[0][1]");
    expect(problem('{"sessions": ["abc"]}').message).toContain("sessions[0]: expected an array");
  });

  it("refuses k out of range or not an integer", () => {
    for (const k of ["0", "21", "2.5", '"5"', "-1", "null"]) {
      const error = problem(`{"sessions": [["a"]], "k": ${k}}`);
      expect(error).toMatchObject({ status: 400, code: "invalid_k" });
      expect(error.message).toContain("from 1 to 20");
    }
  });

  it("refuses too many sessions, none, both shapes, or neither", () => {
    expect(problem('{"sessions": [[], [], [], []]}')).toMatchObject({
      code: "too_many_sessions",
      status: 400,
    });
    expect(problem('{"sessions": [[], [], [], []]}').message).toContain("4 sessions");
    expect(problem('{"sessions": []}').message).toContain("empty");
    expect(problem('{"sessions": [], "instances": []}').message).toContain("not both");
    expect(problem('{"k": 3}').message).toContain('"sessions"');
    expect(problem("[1, 2]").message).toContain("got an array");
    expect(problem('{"sessions": {"a": 1}}').message).toContain("sessions: expected an array");
  });

  it("says the body is empty", () => {
    expect(problem("")).toMatchObject({ status: 400, code: "empty_body" });
    expect(problem(" \n ")).toMatchObject({ code: "empty_body" });
  });

  it("locates invalid JSON by line and column", () => {
    const error = problem('{\n  "sessions": [["a"]],\n  "k": }');
    expect(error).toMatchObject({ status: 400, code: "invalid_json" });
    expect(error.message).toContain('unexpected "}" at line 3, column 8');
    expect(problem('{"sessions": [["a"]]').message).toContain("unexpected end of the body");
  });
});

describe("jsonErrorOffset", () => {
  const valid = [
    "0",
    "-1.5e+3",
    '"a\\u00e9\\n"',
    "[]",
    "{}",
    ' { "a" : [ 1 , { "b" : null } , true, false ] } ',
    '[[[["deep"]]]]',
  ];
  it("finds no error in valid JSON", () => {
    for (const text of valid) expect(jsonErrorOffset(text), text).toBe(-1);
  });

  it("finds the offset JSON.parse reports where it reports one", () => {
    expect(jsonErrorOffset('{"a":1,}')).toBe(7);
    expect(jsonErrorOffset("[1,2]x")).toBe(5);
    expect(jsonErrorOffset('{"a":"\n"}')).toBe(6);
    expect(jsonErrorOffset('{"a":}')).toBe(5);
    expect(jsonErrorOffset("[01]")).toBe(2);
    expect(jsonErrorOffset('"\\x"')).toBe(2);
    expect(jsonErrorOffset("")).toBe(0);
  });

  it("agrees with JSON.parse on whether a mutated document is valid", () => {
    const rng = Rng.from(7);
    const alphabet = '{}[]",:0123456789.eE+-tfnrulsa \\';
    for (let n = 0; n < 3000; n++) {
      const base = valid[rng.int(valid.length)] as string;
      const chars = base.split("");
      for (let m = rng.int(3); m >= 0; m--) {
        const at = rng.int(chars.length + 1);
        const op = rng.int(3);
        const c = alphabet[rng.int(alphabet.length)] as string;
        if (op === 0) chars.splice(at, 0, c);
        else if (op === 1) chars.splice(at, 1);
        else chars[at] = c;
      }
      const text = chars.join("");
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect(jsonErrorOffset(text) === -1, JSON.stringify(text)).toBe(parses);
    }
  });
});

describe("isJsonContentType", () => {
  it("accepts application/json with a UTF-8 charset or none", () => {
    expect(isJsonContentType("application/json")).toBe(true);
    expect(isJsonContentType("Application/JSON; charset=UTF-8")).toBe(true);
    expect(isJsonContentType("application/json;charset=utf8")).toBe(true);
  });
  it("refuses other types and charsets", () => {
    expect(isJsonContentType(undefined)).toBe(false);
    expect(isJsonContentType("text/plain")).toBe(false);
    expect(isJsonContentType("application/jsonl")).toBe(false);
    expect(isJsonContentType("application/json; charset=latin1")).toBe(false);
  });
});
