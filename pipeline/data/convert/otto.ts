/**
 * OTTO (RecSys 2022, `train.jsonl` / `test.jsonl`): one JSON object per line and session,
 * `{"session":12899779,"events":[{"aid":59625,"ts":1661724000278,"type":"clicks"}]}`; clicks,
 * carts and orders. Streamed line by line (the training file is 11 GB).
 *
 * A record here is an event, the unit that becomes a row: a bad event is rejected alone, and a
 * line that is not a session object counts as one rejected record.
 *
 * `ts` is in milliseconds in the published files; some preprocessed copies store seconds. A ts
 * below 10^12 (before 2001-09-09 in ms, after 33658 AD in seconds) is read as seconds, times
 * 1000, and the conversion says how many it read so.
 */
import { InputError } from "../../errors.ts";
import { DistinctCounter } from "./ids.ts";
import { readLines } from "./input.ts";
import type { Action, InputStats, Output } from "./output.ts";
import { inRange, lineProblem, noRows, openInput, RecordProblem, show } from "./fields.ts";
import type { FormatConverter } from "./format-converter.ts";

const ACTIONS: ReadonlyMap<unknown, Action> = new Map([
  ["clicks", "detail"],
  ["carts", "add"],
  ["orders", "purchase"],
]);
const SECONDS_BELOW = 1e12;
const LAYOUT = '{"session":N,"events":[{"aid":N,"ts":N,"type":"clicks|carts|orders"}]}';

interface Session {
  session: number;
  events: unknown[];
}

export const convertOtto: FormatConverter = async (inputs, { out }) => {
  const sessions = new DistinctCounter();
  let inSeconds = 0;
  for (const path of inputs) {
    const stats = openInput(out, path, "sessions");
    let lines = 0;
    for await (const batch of readLines(path)) {
      for (const line of batch) {
        lines++;
        const parsed = parseLine(line.text, line.tooLong === true);
        if ("problem" in parsed) {
          // Line 1 decides whether this is OTTO's layout at all, as a header would.
          if (line.line === 1) {
            throw new InputError(
              `not OTTO's JSON lines (${parsed.problem.reason})`,
              {
                file: path,
                line: 1,
                ...(parsed.problem.column ? { field: parsed.problem.column } : {}),
              },
              `Expected one session per line: ${LAYOUT}.`,
            );
          }
          stats.read++;
          out.reject(stats, line.line, parsed.problem.column, parsed.problem.reason, line.text);
          continue;
        }
        const session = String(parsed.session.session);
        if (parsed.session.events.length === 0) {
          // Not an event, but not to be lost silently either: one rejected record.
          stats.read++;
          out.reject(stats, line.line, "events", "empty session: no events", line.text);
          continue;
        }
        let wrote = false;
        parsed.session.events.forEach((event, index) => {
          stats.read++;
          try {
            const { aid, ms, action, seconds } = parseEvent(event, index);
            out.event(session, action, aid, ms);
            stats.written++;
            wrote = true;
            if (seconds) inSeconds++;
          } catch (error) {
            if (!(error instanceof RecordProblem)) throw error;
            rejectEvent(out, stats, line.line, error, event);
          }
        });
        if (wrote) sessions.add(session);
      }
      await out.drain();
    }
    if (lines === 0 || stats.read === 0) throw noRows(path);
  }
  if (inSeconds > 0) {
    out.warn(
      `${inSeconds} events had a ts below 10^12, read as seconds and multiplied by 1000 (a preprocessed copy; the published files are in milliseconds)`,
    );
  }
  return { sessions: sessions.size };
};

function rejectEvent(
  out: Output,
  stats: InputStats,
  line: number,
  problem: RecordProblem,
  event: unknown,
): void {
  out.reject(stats, line, problem.column, problem.message, JSON.stringify(event) ?? "");
}

function parseLine(
  text: string,
  tooLong: boolean,
): { session: Session } | { problem: { column: string; reason: string } } {
  const whole = lineProblem({ line: 0, text, ...(tooLong ? { tooLong: true as const } : {}) });
  if (whole) return { problem: whole };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: { column: "", reason: `bad JSON: ${(error as Error).message}` } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: { column: "", reason: "not a session: expected a JSON object" } };
  }
  const { session, events } = value as Record<string, unknown>;
  if (!isId(session)) {
    return {
      problem: {
        column: "session",
        reason: `bad session: expected a non-negative integer, got ${shown(session)}`,
      },
    };
  }
  if (!Array.isArray(events)) {
    return {
      problem: { column: "events", reason: "bad events: expected an array of events" },
    };
  }
  return { session: { session, events: events as unknown[] } };
}

/** A JSON value in a reason: strings as they are, anything else as JSON. */
function shown(value: unknown): string {
  return typeof value === "string" ? show(value) : show(JSON.stringify(value) ?? "nothing");
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseEvent(
  event: unknown,
  index: number,
): { aid: string; ms: number; action: Action; seconds: boolean } {
  const at = (field: string) => `events[${index}].${field}`;
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new RecordProblem(`events[${index}]`, "bad event: expected a JSON object");
  }
  const { aid, ts, type } = event as Record<string, unknown>;
  if (!isId(aid)) {
    throw new RecordProblem(
      at("aid"),
      `bad aid: expected a non-negative integer, got ${shown(aid)}`,
    );
  }
  if (!isId(ts)) {
    throw new RecordProblem(
      at("ts"),
      `bad timestamp: expected epoch milliseconds, got ${shown(ts)}`,
    );
  }
  const action = ACTIONS.get(type);
  if (action === undefined) {
    throw new RecordProblem(
      at("type"),
      `bad type: expected clicks, carts or orders, got ${shown(type)}`,
    );
  }
  const seconds = ts < SECONDS_BELOW;
  const ms = inRange(seconds ? ts * 1000 : ts, at("ts"), String(ts));
  return { aid: String(aid), ms, action, seconds };
}
