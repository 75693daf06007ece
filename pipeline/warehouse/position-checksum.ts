/**
 * A checksum that ties each row to its line: the sum over rows of source_line × (timestamp mod
 * P), mod M. The bulk load has the database number a file's rows by their position in the scan;
 * the reader computes the same sum from the lines it checked. Equal sums (with equal counts) say
 * the database read the rows the reader checked, each at the line it was read from; a row moved,
 * dropped or read twice changes the sum, and the load falls back to the reader's exact path.
 */
export const POSITION_CHECKSUM = {
  /** A prime, so that timestamps a whole number of seconds apart still weigh differently. */
  timestampModulus: 1_000_003,
  /** 2^31 - 1: every partial sum below stays an exact double in JavaScript. */
  modulus: 2_147_483_647,
} as const;

/** Adds one line to a running checksum (all arguments non-negative integers). */
export function addToPositionChecksum(sum: number, line: number, timestamp: number): number {
  const weight = timestamp % POSITION_CHECKSUM.timestampModulus;
  // line < 2^31 and weight < 2^20: the product stays below 2^51, exact.
  return (sum + ((line * weight) % POSITION_CHECKSUM.modulus)) % POSITION_CHECKSUM.modulus;
}

/** The same sum in SQL over a raw table's rows (DuckDB sums BIGINTs into an exact HUGEINT). */
export function positionChecksumSql(lineColumn: string, timestampColumn: string): string {
  const { timestampModulus, modulus } = POSITION_CHECKSUM;
  return `coalesce(sum(${lineColumn} * (${timestampColumn} % ${timestampModulus})) % ${modulus}, 0)`;
}
