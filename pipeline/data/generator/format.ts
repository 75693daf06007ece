/**
 * Deterministic text for the list-valued columns. The challenge files hold Python reprs of
 * lists (`[0.1, -0.2]`, `['ab', 'cd']`), which contain commas and so are CSV-quoted; single
 * quotes inside need no escaping. Floats use a fixed number of decimals so the same draws always
 * give the same bytes and the files stay compact.
 */

const DECIMALS = 4;
const NEGATIVE_ZERO = `-${(0).toFixed(DECIMALS)}`;

export function fixed(value: number): string {
  const text = value.toFixed(DECIMALS);
  // toFixed keeps the sign of values that round to zero; Python would print 0.0 there.
  return text === NEGATIVE_ZERO ? text.slice(1) : text;
}

/** A CSV field holding a Python-style list of floats. */
export function floatListField(values: ArrayLike<number>): string {
  let out = '"[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ", ";
    out += fixed(values[i] as number);
  }
  return `${out}]"`;
}

/** A CSV field holding a Python-style list of strings; empty when there are none. */
export function stringListField(values: readonly string[]): string {
  if (values.length === 0) return "";
  return `"['${values.join("', '")}']"`;
}

/**
 * A CSV field holding a JSON array of strings without quotes or backslashes (hashes): the JSON
 * quotes are doubled, as RFC 4180 requires inside a quoted field.
 */
export function jsonStringListField(values: readonly string[]): string {
  return values.length === 0 ? '"[]"' : `"[""${values.join('"",""')}""]"`;
}

/** A CSV field holding a JSON array of numbers (already formatted). */
export function jsonNumberListField(values: readonly string[]): string {
  return `"[${values.join(",")}]"`;
}

/**
 * Probabilities with 6 significant digits: enough to rank and compare, a third of the bytes.
 * This is the generator's hottest formatting path (21 numbers per evaluable session), so values
 * in [1e-6, 1) are written from their rounded integer significand instead of through toPrecision.
 */
export function probabilityText(p: number): string {
  if (!(p > 0)) return "0";
  let exponent = Math.floor(Math.log10(p));
  if (exponent >= -6 && exponent < 0) {
    let significand = Math.round(p * 10 ** (5 - exponent));
    if (significand >= 1_000_000) {
      // Rounded up to the next power of ten.
      exponent++;
      significand = 100_000;
      if (exponent === 0) return "1";
    }
    let digits = String(significand);
    let end = digits.length;
    while (end > 1 && digits.charCodeAt(end - 1) === 48) end--;
    digits = digits.slice(0, end);
    return `0.${"0".repeat(-exponent - 1)}${digits}`;
  }
  return String(Number(p.toPrecision(6)));
}
