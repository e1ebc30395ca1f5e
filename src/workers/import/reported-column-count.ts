/**
 * A report given back (errors.csv, rows.csv) lists a row whose field count was not the header's
 * (`COLUMN_COUNT`) with its cells as uploaded, filled up with empty cells to the header's width so
 * that the error columns stay under their names. Uploaded again as it is, such a row has the
 * header's width, and its cells would go to the columns they happen to stand under: a row that
 * lacked a cell in the middle would import its later cells one column to the left, in silence.
 * So the row fails again, with the same code, until its `error_code` cell no longer says
 * COLUMN_COUNT: clearing it is how the person fixing the file says the cells are where they
 * belong. Every other problem a report lists is found again from the cells themselves.
 */

const COLUMN_COUNT = /\bCOLUMN_COUNT\b/;

/** The message of a report's COLUMN_COUNT row uploaded again with its error_code (see above). */
export const REPORTED_COLUMN_COUNT_MESSAGE =
  'The row was reported with COLUMN_COUNT (in error_code): its cells may not be under the right columns. ' +
  'Check that each cell is under its column, then clear error_code to import the row.';

/**
 * Whether an `error_code` cell of `record` (at `errorCodes`, the file's error_code columns: a
 * report of a report has several) still says COLUMN_COUNT.
 */
export function isReportedColumnCount(record: readonly string[], errorCodes: readonly number[]): boolean {
  return errorCodes.some((index) => COLUMN_COUNT.test(record[index] ?? ''));
}
