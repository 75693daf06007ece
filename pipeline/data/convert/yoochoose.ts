/**
 * YOOCHOOSE (RecSys Challenge 2015): `yoochoose-clicks.dat` (session,timestamp,item,category) and
 * `yoochoose-buys.dat` (session,timestamp,item,price,quantity), comma-separated, no header. The
 * files are grouped by session, so nothing but the distinct-session bitset is kept per session.
 */
import { InputError } from "../../errors.ts";
import { DistinctCounter } from "./ids.ts";
import { firstLine } from "./input.ts";
import { count, eachRecord, fileName, id, isoMs, number, openInput } from "./fields.ts";
import type { FormatConverter } from "./format-converter.ts";

const CLICKS = ["session", "timestamp", "item", "category"] as const;
const BUYS = ["session", "timestamp", "item", "price", "quantity"] as const;

/**
 * The category column holds 0 (unknown), S (a special offer) or a brand's 8–10 digit number for
 * most clicks; only 1–12 are the shop's categories, and only those go to the catalog.
 */
const CATEGORY = /^(?:[1-9]|1[0-2])$/;

export const convertYoochoose: FormatConverter = async (inputs, { out }) => {
  const sessions = new DistinctCounter();
  for (const path of inputs) {
    const first = await firstLine(path);
    if (!first) throw new InputError("is empty", { file: path });
    const fields = first.text.split(",");
    // The published files have no header; a copy that added one is read the same.
    const header = fields[0] !== undefined && !/^\d+$/.test(fields[0]) && fields.length >= 4;
    const role =
      fields.length === CLICKS.length ? "clicks" : fields.length === BUYS.length ? "buys" : null;
    if (role === null) {
      throw new InputError(
        `not a YOOCHOOSE file: the first line has ${fields.length} columns, expected 4 (clicks: ${CLICKS.join(",")}) or 5 (buys: ${BUYS.join(",")})`,
        { file: path, line: 1 },
        "Pass yoochoose-clicks.dat and optionally yoochoose-buys.dat (or yoochoose-test.dat).",
      );
    }
    const named = fileName(path).includes("buys")
      ? "buys"
      : fileName(path).includes("clicks")
        ? "clicks"
        : role;
    if (named !== role) {
      out.warn(
        `${path}: named like the ${named} file but laid out as ${role} (${fields.length} columns); read as ${role}`,
      );
    }
    if (header) out.warn(`${path}: line 1 looks like a header (${first.text}); skipped`);
    const stats = openInput(out, path, role);
    const columns = role === "clicks" ? CLICKS : BUYS;
    await eachRecord({
      path,
      stats,
      out,
      delimiter: ",",
      skip: header ? 1 : 0,
      columns,
      record: (f) => {
        const session = id(f[0] as string, "session");
        const ms = isoMs(f[1] as string, "timestamp");
        const item = id(f[2] as string, "item");
        if (role === "clicks") {
          out.event(session, "detail", item, ms);
          const category = f[3] as string;
          if (CATEGORY.test(category)) out.item(item, { category });
        } else {
          number(f[3] as string, "price", "price");
          count(f[4] as string, "quantity", "quantity");
          // One purchase event per bought line, whatever its quantity: a sequence step, not a sale.
          out.event(session, "purchase", item, ms);
        }
        sessions.add(session);
      },
    });
  }
  return { sessions: sessions.size };
};
