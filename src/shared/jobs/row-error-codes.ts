/**
 * The codes of a job's per-row report (`code` of GET /v1/jobs/{id}/errors, `error_code` of
 * errors.csv and rows.csv), each with what it means. Every code a worker writes into the report
 * is typed as one of these, so the OpenAPI document, which lists them from here, names them all.
 */
export const ROW_ERROR_MEANINGS = {
  // A row's value (imports; `field` names it).
  REQUIRED: 'a required value is empty: the EAN, the name (not needed with mode=update), or the currency of a row with a price',
  INVALID_EAN: 'the EAN is not 8, 12, 13 or 14 digits (an enrichment: nor a valid check digit; not looked up)',
  INVALID_CHECK_DIGIT: "the EAN's GS1 check digit is wrong",
  TOO_LONG: 'a text is longer than its field takes',
  INVALID_PRICE: 'the price is not a decimal number of at least 0 with at most 4 decimal places',
  INVALID_CURRENCY: 'the currency is not an ISO 4217 code',
  INVALID_STOCK: 'the stock is not a whole number from 0 to 2147483647',
  INVALID_URL: 'the image URL is not an http or https URL',
  INVALID_TEXT: 'a text holds what cannot be stored (a NUL character, an unpaired surrogate)',
  INVALID_ATTRIBUTES: 'the attributes are not a flat object of string, number or boolean values, a name or value is refused, or a product would hold more than 1000 names',
  INVALID_TYPE: "a value of the wrong JSON type (not expected of an import: a file's cells are text)",
  INVALID_VALUE: 'a value refused for a reason without a code of its own',
  COLUMN_COUNT: "the row has another number of fields than the header, or is a report's row still marked COLUMN_COUNT",
  DUPLICATE_EAN: 'with mode=create, a product with this EAN exists; or an earlier row of the file has this EAN',
  NOT_FOUND: 'with mode=update, no product has this EAN; an enrichment: the EAN is not in the catalog, or its product was deleted before it was enriched',
  // A problem of the file as a whole (imports; `field` is null, the row is where it was found).
  EMPTY_FILE: 'the file has no header row (nothing but a byte-order mark or blank lines)',
  NO_HEADER: "the header's names are all empty",
  NO_DATA_ROWS: 'the file has a header but no data rows',
  MISSING_COLUMN: 'the header lacks a required column: ean, and name unless mode=update',
  DUPLICATE_COLUMN: 'two columns of the header name the same field',
  UNTERMINATED_QUOTE: 'a quoted field is never closed',
  INVALID_QUOTE: 'a quote is misplaced: a field holding quotes must be quoted, with inner quotes doubled',
  MALFORMED_CSV: 'the file is not valid CSV (such as lines ending with a carriage return alone)',
  RECORD_TOO_LARGE: "a row (or a workbook's shared string) is larger than IMPORT_MAX_RECORD_BYTES",
  INVALID_UTF8: 'the file, read as UTF-8, is not valid UTF-8',
  BINARY_CONTENT: 'the file is binary (a NUL byte, an Excel 97-2003 workbook), not CSV text',
  INVALID_XLSX: 'the file is not a readable .xlsx workbook',
  UNKNOWN_SHEET: 'the workbook has no sheet named or numbered `sheet`, or that sheet is not a worksheet (a chart)',
  XLSX_TOO_LARGE: 'the workbook inflates to more than IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES',
  TOO_MANY_COLUMNS: "a row has a cell past column XFD, a worksheet's last",
  // A product an enrichment could not enrich (`field` is null).
  NOT_FOUND_AT_PROVIDER: 'the lookup provider has no product with this EAN',
  PROVIDER_QUOTA_EXCEEDED: "not looked up: the lookup provider's monthly quota is used up",
  PROVIDER_ERROR: 'the lookup provider failed on every attempt, or answered what cannot be read; not enriched',
} as const satisfies Record<string, string>;

/** One code of a job's per-row report. */
export type RowErrorCode = keyof typeof ROW_ERROR_MEANINGS;

/** Every code of a job's per-row report, in the order of {@link ROW_ERROR_MEANINGS}. */
export const ROW_ERROR_CODES = Object.keys(ROW_ERROR_MEANINGS) as [RowErrorCode, ...RowErrorCode[]];

/** Whether `value` is a code of the per-row report. */
export function isRowErrorCode(value: unknown): value is RowErrorCode {
  return typeof value === 'string' && Object.hasOwn(ROW_ERROR_MEANINGS, value);
}
