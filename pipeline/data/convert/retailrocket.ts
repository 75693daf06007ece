/**
 * RetailRocket (`events.csv`: timestamp,visitorid,event,itemid,transactionid, with a header;
 * epoch-ms timestamps; view / addtocart / transaction). The dataset has visitors, not sessions:
 * a visitor's events in time order are cut into sessions at gaps of 30 minutes or more (the
 * transform's rule), and session id = hash of `<visitor>-<ordinal>`.
 *
 * The file is not in time order, so every event is held until the cut: in typed columns, about
 * 30 bytes per event (the published 2.76 M events: ~85 MB; 10 M events: ~300 MB, plus the sort's
 * index). Sorting with DuckDB would spill to disk instead; at this dataset's size the columns are
 * simpler and faster (see the README's measurements).
 */
import { InputError } from "../../errors.ts";
import { firstLine } from "./input.ts";
import type { Action } from "./output.ts";
import {
  eachRecord,
  id,
  inRange,
  layoutError,
  openInput,
  RecordProblem,
  sameHeader,
  show,
} from "./fields.ts";
import type { FormatConverter } from "./format-converter.ts";

const COLUMNS = ["timestamp", "visitorid", "event", "itemid", "transactionid"] as const;

const ACTIONS: readonly Action[] = ["detail", "add", "purchase"];
const EVENT_KIND: ReadonlyMap<string, number> = new Map([
  ["view", 0],
  ["addtocart", 1],
  ["transaction", 2],
]);

/** Growable typed columns: one slot per event, doubled when full. */
class Columns {
  size = 0;
  ms = new Float64Array(1 << 16);
  visitor = new Float64Array(1 << 16);
  item = new Float64Array(1 << 16);
  kind = new Uint8Array(1 << 16);

  push(ms: number, visitor: number, item: number, kind: number): void {
    if (this.size === this.ms.length) this.grow();
    this.ms[this.size] = ms;
    this.visitor[this.size] = visitor;
    this.item[this.size] = item;
    this.kind[this.size] = kind;
    this.size++;
  }

  private grow(): void {
    const capacity = this.ms.length * 2;
    const grow = <T extends Float64Array | Uint8Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.ms = grow(this.ms, new Float64Array(capacity));
    this.visitor = grow(this.visitor, new Float64Array(capacity));
    this.item = grow(this.item, new Float64Array(capacity));
    this.kind = grow(this.kind, new Uint8Array(capacity));
  }
}

export const convertRetailrocket: FormatConverter = async (inputs, { out, sessionGapMinutes }) => {
  const events = new Columns();
  for (const path of inputs) {
    const first = await firstLine(path);
    if (!first) throw new InputError("is empty", { file: path });
    if (!sameHeader(first.text, ",", COLUMNS)) {
      throw layoutError(
        path,
        first.text,
        "RetailRocket's events.csv",
        `Expected the header ${COLUMNS.join(",")} (item_properties and category_tree files are not read).`,
      );
    }
    await eachRecord({
      path,
      stats: openInput(out, path, "events"),
      out,
      delimiter: ",",
      skip: 1,
      columns: COLUMNS,
      record: (f) => {
        const raw = f[0] as string;
        const ms = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
        if (Number.isNaN(ms)) {
          throw new RecordProblem(
            "timestamp",
            `bad timestamp: expected epoch milliseconds, got ${show(raw)}`,
          );
        }
        inRange(ms, "timestamp", raw);
        const visitor = Number(id(f[1] as string, "visitorid"));
        const kind = EVENT_KIND.get(f[2] as string);
        if (kind === undefined) {
          throw new RecordProblem(
            "event",
            `bad event: expected view, addtocart or transaction, got ${show(f[2] as string)}`,
          );
        }
        const item = Number(id(f[3] as string, "itemid"));
        if (!Number.isSafeInteger(visitor) || !Number.isSafeInteger(item)) {
          throw new RecordProblem("", "bad id: over 2^53, beyond what this converter holds");
        }
        events.push(ms, visitor, item, kind);
      },
    });
  }

  // Visitor, then time, then file order (ties keep the order they were read in: deterministic).
  const order = new Uint32Array(events.size);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const { ms, visitor, item, kind } = events;
  order.sort(
    (a, b) =>
      (visitor[a] as number) - (visitor[b] as number) ||
      (ms[a] as number) - (ms[b] as number) ||
      a - b,
  );

  const gap = sessionGapMinutes * 60_000;
  let sessions = 0;
  let ordinal = 0;
  let previousVisitor = -1;
  let previousMs = 0;
  let session = "";
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    const v = visitor[i] as number;
    const t = ms[i] as number;
    if (v !== previousVisitor || t - previousMs >= gap) {
      ordinal = v === previousVisitor ? ordinal + 1 : 1;
      session = `${v}-${ordinal}`;
      sessions++;
    }
    previousVisitor = v;
    previousMs = t;
    out.event(session, ACTIONS[kind[i] as number] as Action, String(item[i]), t);
    if ((k & 0xffff) === 0) await out.drain();
  }
  return { sessions };
};
