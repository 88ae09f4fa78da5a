/** A plain text table: the header row, then rows, columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  // Numbers align right, text left.
  const line = (r: readonly string[]) => r.map((x, c) => (/^-?[\d.,]+(e[-+]?\d+)?[%×x]?$/.test(x) ? x.padStart(widths[c]!) : x.padEnd(widths[c]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
