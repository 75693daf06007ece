/**
 * The one plain-text table of the terminal and the logs (the CLI's summaries, the transform's
 * and the evaluation's reports): columns padded to their widest cell; the first column (what
 * a row is about) and text left-aligned, numbers right-aligned.
 */
export function textTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = rows.map((row) => row.map(String));
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => (r[c] ?? "").length)));
  const numeric = header.map(
    (_, c) =>
      c > 0 &&
      cells.length > 0 &&
      cells.every((r) => /^[-+]?[\d.]+%?( \[.*\])?$|^n\/a$/.test(r[c] ?? "")),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, c) =>
        numeric[c] ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number),
      )
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...cells.map(line)].join("\n");
}
