import { isValidGtin } from '../../shared/product/gtin.js';

/**
 * What spreadsheets do to the cells of a product file, and the messages that say how to undo it.
 * Excel shows a barcode as a number: it writes long ones in scientific notation (`4.00638E+12`,
 * the last digits lost) and drops leading zeros (`0012345678905` becomes `12345678905`); a cell
 * kept as text may carry Excel's text marker, a leading `'`, or be written as a formula giving
 * text, `="0614141000036"` (what files made for Excel write to keep the leading zeros).
 */

const QUOTE = 0x27;
const EQUALS = 0x3d;
/** `="digits"`: Excel's formula notation for a text of digits. */
const TEXT_FORMULA = /^="(\d+)"$/;

/**
 * The EAN cell trimmed, without Excel's leading `'` text marker, and the digits of an
 * `="digits"` cell; null when it is empty.
 */
export function eanCellOf(cell: string | undefined): string | null {
  let ean = cell?.trim();
  if (ean?.charCodeAt(0) === QUOTE) ean = ean.slice(1).trim();
  // After the marker too: a report writes a `="…"` cell back as `'="…"`, kept from running as a formula.
  if (ean?.charCodeAt(0) === EQUALS) ean = TEXT_FORMULA.exec(ean)?.[1] ?? ean;
  return ean || null;
}

const SCIENTIFIC = /^\d+(?:[.,]\d+)?e\+?\d+$/i;

/** The INVALID_EAN message for a cell a spreadsheet mangled, or null for any other invalid EAN. */
export function spreadsheetEanMessage(ean: string): string | null {
  if (SCIENTIFIC.test(ean)) {
    return (
      `The EAN '${ean}' is in scientific notation: Excel shortened the number and its last digits are lost. ` +
      'Format the EAN column as Text in Excel (and enter the full EANs again) before exporting the file.'
    );
  }
  if ((ean.length === 7 || ean.length === 11) && /^\d+$/.test(ean) && isValidGtin(`0${ean}`)) {
    return (
      `The EAN '${ean}' has ${ean.length} digits: a leading zero was probably lost (Excel drops it from numbers). ` +
      `The padded EAN '0${ean}' has a valid check digit: write that, and format the EAN column as Text before exporting.`
    );
  }
  return null;
}

/** The row's problems with a spreadsheet's explanation on its INVALID_EAN, when there is one. */
export function explainInvalidEan<Problem extends { field: string | null; code: string; message: string }>(
  problems: Problem[],
  ean: string | null,
): Problem[] {
  const message = ean === null ? null : spreadsheetEanMessage(ean);
  if (message === null) return problems;
  return problems.map((problem) => (problem.field === 'ean' && problem.code === 'INVALID_EAN' ? { ...problem, message } : problem));
}

/**
 * A workbook's record (see sheet-records.ts): the columns of its cells that were numbers in the
 * sheet written with a decimal point (`1.5`), as a workbook stores every number whatever the locale.
 * The list is not enumerable: the record stays a plain list of cells wherever it is compared.
 */
type SheetRecord = string[] & { pointNumbers?: number[] };

/** Notes that the cell of `column` in `record` was a number in the sheet, written with a decimal point. */
export function markPointNumber(record: string[], column: number): void {
  const { pointNumbers } = record as SheetRecord;
  if (pointNumbers) pointNumbers.push(column);
  else Object.defineProperty(record, 'pointNumbers', { value: [column] });
}

/** Whether the cell of `column` was a workbook's number written with a decimal point (see markPointNumber). */
export function isPointNumber(record: readonly string[], column: number | undefined): boolean {
  return column !== undefined && (record as SheetRecord).pointNumbers?.includes(column) === true;
}

const COMMA_PRICE_MESSAGE = 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9,99".';

/**
 * A price cell written with a decimal comma (`1,50`), as a decimal-point string. A point or a
 * second comma is a thousands separator: refused rather than guessed, since `1.234` could be
 * either; a point that cannot group thousands (`1.5`) is refused as the decimal point it is. `pointNumber` (a workbook's numeric cell, see isPointNumber) reads `1.50` as it is: the
 * sheet stored a number, which is written with a point whatever the locale and never with a
 * thousands separator. A workbook's text cell is read as a CSV cell is.
 */
export function commaPrice(cell: string, pointNumber = false): { ok: true; value: string } | { ok: false; message: string } {
  if (/^\d+(?:,\d{1,4})?$/.test(cell)) return { ok: true, value: cell.replace(',', '.') };
  if (pointNumber && /^\d+\.\d+$/.test(cell)) return { ok: true, value: cell };
  // A lone point before anything but three digits groups no thousands: it is a decimal point.
  if (/^\d+\.(?:\d{1,2}|\d{4})$/.test(cell)) {
    return {
      ok: false,
      message: `The price '${cell}' has a decimal point, which is not read with decimal_separator=",": write it with a decimal comma, such as "${cell.replace('.', ',')}".`,
    };
  }
  // Only a point, a space, an apostrophe or a second comma can be a thousands separator.
  if (/^[\d.,\s']+$/.test(cell) && /\d/.test(cell) && /[.\s']|,.*,/.test(cell)) {
    return {
      ok: false,
      message: `The price '${cell}' has a thousands separator, which is not read with decimal_separator=",": write it without one, such as "1234,50".`,
    };
  }
  return { ok: false, message: COMMA_PRICE_MESSAGE };
}

/**
 * The row's problems with the schema's INVALID_PRICE message giving its example with a decimal
 * comma (decimal_separator=","): the schema reads the price after the comma became a point, so
 * its own message (`9.99`) would ask for what the file may not write.
 */
export function explainCommaPrice<Problem extends { field: string | null; code: string; message: string }>(problems: Problem[]): Problem[] {
  return problems.map((problem) =>
    problem.field === 'price' && problem.code === 'INVALID_PRICE' ? { ...problem, message: COMMA_PRICE_MESSAGE } : problem,
  );
}
