import type { FailedRow } from '../shared/jobs/job-error-queries.js';
import type { ImportOptions } from '../shared/jobs/import-options.js';
import { headerMapping } from '../workers/import/record-sink.js';
import { HeaderError, layoutFromHeader } from '../workers/import/header.js';

/** The cells of a report row as they are to be written, given the row's problems (null: none). */
export type ReportCells = (cells: string[], failed: FailedRow | null) => string[];

/** A price written with a decimal point, as a workbook writes every number. */
const POINT_NUMBER = /^\s*\d+\.\d+\s*$/;

/**
 * How the price cells of a workbook import read with decimal_separator="," go into its reports,
 * or null when they go as they are. A workbook stores a number with a decimal point whatever the
 * locale, and the import reads its price so (`1.5`); but its report is CSV, in which the same
 * options (the profile) read `1.5` as a price with a thousands separator, and refuse it. So a
 * price the import read as such a number (its row has no price problem, and the right number of
 * fields) is written with a decimal comma (`1,5`): the same price, in the form the options read
 * back. Any other cell stays as it was read.
 */
export function workbookPriceCells(options: ImportOptions, workbook: boolean, header: readonly string[]): ReportCells | null {
  if (!workbook || options.decimal_separator !== ',') return null;
  const price = priceColumn(options, header);
  if (price === undefined) return null;
  return (cells, failed) => {
    const cell = cells[price];
    if (cell === undefined || !POINT_NUMBER.test(cell) || (failed !== null && !priceWasRead(failed))) return cells;
    const written = cells.slice();
    written[price] = cell.replace('.', ',');
    return written;
  };
}

/** The cell index of the price column of `header` as the import read it; none when the header failed. */
function priceColumn(options: ImportOptions, header: readonly string[]): number | undefined {
  try {
    return layoutFromHeader([...header], options.mode, headerMapping(options)).product.price;
  } catch (error) {
    if (error instanceof HeaderError) return undefined;
    throw error;
  }
}

/** Whether the price of a failed row was read without a problem. */
function priceWasRead(failed: FailedRow): boolean {
  return !failed.fields.split('; ').includes('price') && !failed.codes.split('; ').includes('COLUMN_COUNT');
}
