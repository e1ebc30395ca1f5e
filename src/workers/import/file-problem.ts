import { storableText } from '../../shared/product/storable-text.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/**
 * A problem with the file as a whole (not one row): it fails the import with IMPORT_FAILED and is
 * reported at the row where it was found (0 for the header). A message that quotes the header
 * (a workbook's header cell may hold a NUL) has U+FFFD in the NUL's place, so that it can be stored.
 */
export class FileProblem extends Error {
  override name = 'FileProblem';
  constructor(
    readonly code: RowErrorCode,
    message: string,
    readonly row: number,
  ) {
    super(storableText(message));
  }
}

/** An error of csv-parse's about the file's text (a quote, a record's size), not a failure to read it. */
export type ParserError = Error & { code: string; lines?: number; records?: number };

export function isParserError(error: unknown): error is ParserError {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && /QUOTE|CSV_/.test(error.code);
}

/** The record count csv-parse attaches to its errors and to each record's `info`; `field`: the field before a misplaced quote. */
interface ParserPosition {
  code?: string;
  records?: number;
  field?: unknown;
}

/**
 * Said of a quote that opens after a field's `=`: Excel's `="0614141000036"` notation for a text
 * of digits, which a CSV file must quote as a whole.
 */
const TEXT_FORMULA_HINT = ` A cell written ="…" (Excel's notation for text such as leading zeros) must be quoted as a whole: "=""0614141000036""".`;

/**
 * Turns a csv-parse error into a {@link FileProblem}. `records` counts the header too, so the
 * failing data row is `records`. `line` is the file's line of the problem (csv-parse's own count
 * takes a CRLF inside a quoted cell for two lines; see ParserLines); for an unclosed quote, which
 * csv-parse only notices at the end of the file, the line where the failing record begins.
 */
export function fileProblemFromParser(error: Error & ParserPosition, line: number, maxRecordBytes: number): FileProblem {
  const row = error.records ?? 0;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new FileProblem(
        'UNTERMINATED_QUOTE',
        `Unterminated quoted field: the quote opened on line ${line} (row ${row}) is never closed.`,
        row,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE': {
      const textFormula = error.code === 'INVALID_OPENING_QUOTE' && typeof error.field === 'string' && error.field.trimEnd().endsWith('=');
      return new FileProblem(
        'INVALID_QUOTE',
        `Misplaced quote on line ${line} (row ${row}): a field containing quotes must be quoted, with inner quotes doubled ("").` +
          (textFormula ? TEXT_FORMULA_HINT : ''),
        row,
      );
    }
    case 'CSV_MAX_RECORD_SIZE':
      return new FileProblem(
        'RECORD_TOO_LARGE',
        `The record on line ${line} (row ${row}) is larger than the limit of ${maxRecordBytes} bytes (set by IMPORT_MAX_RECORD_BYTES). ` +
          'If the row is not meant to be that long, a quote is probably left open before it.',
        row,
      );
    default:
      return new FileProblem('MALFORMED_CSV', `The file is not valid CSV at line ${line} (row ${row}).`, row);
  }
}
