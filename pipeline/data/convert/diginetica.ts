/**
 * DIGINETICA (CIKM Cup 2016, track 2): `;`-separated files with a header, each told by its header
 * (not its name): train-item-views.csv (the events), train-purchases.csv (purchases, optional),
 * products.csv (price, optional) and product-categories.csv (category, optional).
 *
 * An event's time is its `eventdate` (midnight UTC) plus `timeframe`, the milliseconds since the
 * session's first event.
 */
import { InputError } from "../../errors.ts";
import { DistinctCounter } from "./ids.ts";
import { firstLine } from "./input.ts";
import type { Output } from "./output.ts";
import {
  count,
  dateMs,
  eachRecord,
  id,
  inRange,
  layoutError,
  number,
  openInput,
  RecordProblem,
  sameHeader,
} from "./fields.ts";
import type { FormatConverter } from "./format-converter.ts";

const LAYOUTS = {
  views: ["sessionId", "userId", "itemId", "timeframe", "eventdate"],
  purchases: ["sessionId", "userId", "timeframe", "eventdate", "ordernumber", "itemId"],
  products: ["itemId", "pricelog2", "product.name.tokens"],
  categories: ["itemId", "categoryId"],
} as const;
type Role = keyof typeof LAYOUTS;
const ROLES = Object.keys(LAYOUTS) as Role[];

const EXPECTED = ROLES.map((role) => `${role}: ${LAYOUTS[role].join(";")}`).join(" | ");

async function roleOf(path: string): Promise<Role> {
  const first = await firstLine(path);
  if (!first) throw new InputError("is empty", { file: path });
  const role = ROLES.find((r) => sameHeader(first.text, ";", LAYOUTS[r]));
  if (!role) {
    throw layoutError(
      path,
      first.text,
      "a DIGINETICA file (a ';'-separated header)",
      `Expected one of the headers ${EXPECTED}.`,
    );
  }
  return role;
}

export const convertDiginetica: FormatConverter = async (inputs, { out }) => {
  const byRole = new Map<Role, string[]>(ROLES.map((r) => [r, []]));
  for (const path of inputs) byRole.get(await roleOf(path))?.push(path);
  const events = [...(byRole.get("views") ?? []), ...(byRole.get("purchases") ?? [])];
  if (events.length === 0) {
    throw new InputError(
      "no events file among the inputs (products and categories alone make no sessions)",
      { field: "--input" },
      "Pass train-item-views.csv (and optionally train-purchases.csv, products.csv, product-categories.csv).",
    );
  }
  // The catalog first: the price buckets are deciles over the whole products file.
  for (const path of byRole.get("categories") ?? []) await readCategories(path, out);
  for (const path of byRole.get("products") ?? []) await readProducts(path, out);

  const sessions = new DistinctCounter();
  for (const path of inputs) {
    const role = await roleOf(path);
    if (role !== "views" && role !== "purchases") continue;
    const columns = LAYOUTS[role];
    const at = (name: string) => columns.indexOf(name as never);
    const [iSession, iItem, iTime, iDate] = [
      at("sessionId"),
      at("itemId"),
      at("timeframe"),
      at("eventdate"),
    ];
    await eachRecord({
      path,
      stats: openInput(out, path, role),
      out,
      delimiter: ";",
      skip: 1,
      columns,
      record: (f) => {
        const session = id(f[iSession] as string, "sessionId");
        const item = id(f[iItem] as string, "itemId");
        const offset = count(f[iTime] as string, "timeframe", "timeframe");
        const day = dateMs(f[iDate] as string, "eventdate");
        const ms = inRange(day + offset, "timeframe", `${f[iDate]} + ${offset} ms`);
        out.event(session, role === "views" ? "detail" : "purchase", item, ms);
        sessions.add(session);
      },
    });
  }
  return { sessions: sessions.size };
};

/** product-categories.csv: one category per item; the category id becomes a one-level path. */
async function readCategories(path: string, out: Output): Promise<void> {
  const seen = new Map<string, number>();
  await eachRecord({
    path,
    stats: openInput(out, path, "categories"),
    out,
    delimiter: ";",
    skip: 1,
    columns: LAYOUTS.categories,
    record: (f, line) => {
      const item = id(f[0] as string, "itemId");
      const category = id(f[1] as string, "categoryId");
      duplicate(seen, item, line);
      out.item(item, { category });
    },
  });
}

/**
 * products.csv: `pricelog2` (log2 of the price, as the organizers published it) becomes the
 * challenge's price bucket 1..10 as a decile over the file's products: bucket = 1 + floor(10 ×
 * share of products with a strictly lower pricelog2), so equal prices share a bucket, the
 * cheapest are 1 and the dearest at most 10. Product name tokens have no place in the challenge's
 * catalog and are ignored.
 */
async function readProducts(path: string, out: Output): Promise<void> {
  const prices = new Map<string, number>();
  const seen = new Map<string, number>();
  await eachRecord({
    path,
    stats: openInput(out, path, "products"),
    out,
    delimiter: ";",
    skip: 1,
    columns: LAYOUTS.products,
    record: (f, line) => {
      const item = id(f[0] as string, "itemId");
      const price = number(f[1] as string, "pricelog2", "pricelog2");
      duplicate(seen, item, line);
      prices.set(item, price);
    },
  });
  const buckets = priceBuckets([...prices.values()]);
  for (const [item, price] of prices) out.item(item, { priceBucket: buckets(price) });
}

/** Deciles of `values`: a value's bucket is 1 + floor(10 × share of values strictly below it). */
export function priceBuckets(values: readonly number[]): (value: number) => number {
  const sorted = [...values].sort((a, b) => a - b);
  const below = new Map<number, number>();
  sorted.forEach((value, index) => {
    if (!below.has(value)) below.set(value, index);
  });
  const n = sorted.length;
  return (value) => 1 + Math.floor((10 * (below.get(value) ?? 0)) / n);
}

function duplicate(seen: Map<string, number>, item: string, line: number): void {
  const earlier = seen.get(item);
  if (earlier !== undefined) {
    throw new RecordProblem(
      "itemId",
      `duplicate item: item ${item} is on line ${earlier} already (the first is kept)`,
    );
  }
  seen.set(item, line);
}
