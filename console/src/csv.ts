/** CSV as RFC 4180 says, safe to open in a spreadsheet. */

export type CsvValue = string | number | bigint | null | undefined;

/** One field: quoted when needed; text starting with = + - @ is prefixed with ' (no formulas). */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A header line and one line per row, CRLF-separated, ending with a CRLF. */
export function buildCsv<T>(columns: { key: string; value: (row: T) => CsvValue }[], rows: T[]): string {
  const lines = [columns.map((c) => csvField(c.key)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvField(c.value(row))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
