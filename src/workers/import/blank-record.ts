/**
 * Rows with nothing in them, which an import skips like blank lines: Excel writes the empty rows
 * of a sheet as `;;;`. rows.csv skips the same records, so its rows keep the import's numbers.
 */

/** A cell of nothing but white space. */
const isBlankCell = (cell: string): boolean => cell.length === 0 || cell.trim().length === 0;

/** Whether no cell of `record` has anything in it. */
export function isBlankRecord(record: readonly string[]): boolean {
  return record.every(isBlankCell);
}

/**
 * Whether a quote-free line has nothing but delimiters and white space; it stops at the first
 * other character, at once for a row of data.
 */
export function isBlankLine(line: string, delimiter: string): boolean {
  for (let at = 0; at < line.length; at += 1) {
    if (!line.startsWith(delimiter, at) && !isBlankCell(line[at]!)) return false;
  }
  return true;
}
