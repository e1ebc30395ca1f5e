import { ERRORS_CSV_COLUMNS } from '../../shared/jobs/job-error-queries.js';

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
 * Which records of a file with `header` are skipped as blank: rows of empty cells and, when the
 * file is a report given back (errors.csv, rows.csv), the line on which it gives a problem of the
 * header: error_row 0, nothing outside the error columns. That line is no row of the file, and
 * skipping it keeps the numbers of the rows after it. A line of a later row with nothing outside
 * the error columns is not skipped: it stands for a row the file no longer has (where a read
 * stopped, or cells cleared), which an import must not pass over in silence.
 */
export function blankRecordTest(header: readonly string[]): (record: readonly string[]) => boolean {
  const errorRow: number[] = [];
  const otherError: number[] = [];
  header.forEach((cell, index) => {
    const name = cell.trim().toLowerCase();
    if (name === 'error_row') errorRow.push(index);
    else if ((ERRORS_CSV_COLUMNS as readonly string[]).includes(name)) otherError.push(index);
  });
  if (errorRow.length === 0) return isBlankRecord;
  // Stops at the first cell with something in it: at once for a row of data.
  return (record) =>
    record.every(
      (cell, index) => isBlankCell(cell) || otherError.includes(index) || (errorRow.includes(index) && cell.trim() === '0'),
    );
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
