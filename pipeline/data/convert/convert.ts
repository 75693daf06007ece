/**
 * `pipeline convert`: a public session dataset (YOOCHOOSE, DIGINETICA, RetailRocket, OTTO) in its
 * published layout to the challenge's three files, which `pipeline upload --source csv` loads
 * like the real thing. Ids become salted sha256 hashes, event kinds become product actions, times
 * become epoch milliseconds. Bad records are skipped into convert-rejects.csv, counted, never
 * silently dropped (read = written + rejected for every input); a file that is not the layout it
 * was said to be (wrong header, unknown layout, no rows) stops the conversion with exit code 2.
 */
import { InputError } from "../../errors.ts";
import type { Reporter } from "../../reporter.ts";
import { CONVERT_FORMATS, type ConvertFormat } from "./ids.ts";
import { checkReadable } from "./input.ts";
import { Output, type InputStats } from "./output.ts";
import { convertDiginetica } from "./diginetica.ts";
import { convertOtto } from "./otto.ts";
import { convertRetailrocket } from "./retailrocket.ts";
import { convertYoochoose } from "./yoochoose.ts";
import type { FormatConverter } from "./format-converter.ts";

export { CONVERT_FORMATS, type ConvertFormat };

const CONVERTERS: Record<ConvertFormat, FormatConverter> = {
  yoochoose: convertYoochoose,
  diginetica: convertDiginetica,
  retailrocket: convertRetailrocket,
  otto: convertOtto,
};

export interface ConvertOptions {
  format: string;
  inputs: readonly string[];
  out: string;
  /** Default 30, the transform's default: dbt cuts sessions with the same rule afterwards. */
  sessionGapMinutes?: number;
  reporter?: Reporter;
}

export interface ConvertResult {
  format: ConvertFormat;
  inputs: InputStats[];
  out: string;
  /** Records read over all inputs (data lines; OTTO: events, and lines that are not JSON). */
  read: number;
  /** Records turned into output rows: read = written + rejected. */
  written: number;
  rejected: number;
  /** Distinct session ids in browsing_train.csv (dbt may cut them further at 30-minute gaps). */
  sessions: number;
  /** Rows of browsing_train.csv. */
  events: number;
  /** Rows of sku_to_content.csv: every item seen, with the facts the dataset gives. */
  items: number;
  /** Rejects by what was wrong (the reason up to its first ':'), most frequent first. */
  rejectReasons: Record<string, number>;
  files: { browsing: string; search: string; catalog: string; rejects: string };
  warnings: string[];
  seconds: number;
}

export async function convert(options: ConvertOptions): Promise<ConvertResult> {
  const started = performance.now();
  const format = checkFormat(options.format);
  if (options.inputs.length === 0) {
    throw new InputError("no input files", { field: "--input" }, "Pass --input FILE...");
  }
  for (const input of options.inputs) checkReadable(input);
  const out = await Output.create(format, options.out);
  let sessions: number;
  let items: number;
  try {
    options.reporter?.info(
      `converting ${format}: ${options.inputs.join(", ")} into ${options.out}`,
    );
    ({ sessions } = await CONVERTERS[format](options.inputs, {
      out,
      sessionGapMinutes: options.sessionGapMinutes ?? 30,
    }));
    ({ items } = await out.close());
  } catch (error) {
    await out.abandon();
    throw error;
  }
  for (const input of out.inputs) {
    if (input.read !== input.written + input.rejected) {
      throw new Error(
        `convert: ${input.file} does not reconcile: read ${input.read} ≠ written ${input.written} + rejected ${input.rejected}`,
      );
    }
  }
  const sum = (key: "read" | "written" | "rejected") =>
    out.inputs.reduce((total, input) => total + input[key], 0);
  if (out.rejected > 0) {
    out.warn(`${out.rejected} records rejected: see ${out.files.rejects}`);
  }
  return {
    format,
    inputs: out.inputs,
    out: options.out,
    read: sum("read"),
    written: sum("written"),
    rejected: sum("rejected"),
    sessions,
    events: out.events,
    items,
    rejectReasons: Object.fromEntries(
      [...out.rejectReasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    ),
    files: out.files,
    warnings: out.warnings,
    seconds: (performance.now() - started) / 1000,
  };
}

function checkFormat(format: string): ConvertFormat {
  if ((CONVERT_FORMATS as readonly string[]).includes(format)) return format as ConvertFormat;
  throw new InputError(
    `unknown format "${format}"`,
    { field: "--format" },
    `Use one of: ${CONVERT_FORMATS.join(", ")}.`,
  );
}
