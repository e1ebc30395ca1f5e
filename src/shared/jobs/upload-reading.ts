import type { ImportEncoding, ImportOptions } from './import-options.js';

/** How the worker read a CSV upload: the delimiter it split lines on and the encoding it decoded. */
export interface UploadReading {
  delimiter: string;
  encoding: ImportEncoding;
}

/** The delimiters an import detects in a header line, and so the ones a report is written with. */
const REPORT_DELIMITERS = [',', ';', '\t'] as const;
export type ReportDelimiter = (typeof REPORT_DELIMITERS)[number];

/** How a report of an import (errors.csv, rows.csv) is written. */
export interface ReportFormat {
  delimiter: ReportDelimiter;
  /** A UTF-8 byte-order mark before the text. */
  bom: boolean;
}

/**
 * The form of a report of an import read with `options` (and, for a CSV upload, as `reading`
 * says): the form in which the same options read it back, so a fixed report is uploaded as it is
 * with the query parameters or profile the upload was sent with.
 *
 * - The delimiter the upload was read with (given, Excel's `sep=` line or detected); a given one
 *   for a workbook (its rows.csv is CSV), else a comma. One not given is detected again in the
 *   report's header line, which has at least the four error columns. A `sep=` line is not
 *   repeated: detection finds the delimiter without it, and Excel misreads the encoding of a file
 *   with both a byte-order mark and a `sep=` line. A `sep=` line's delimiter that detection does
 *   not know (`sep=|`) gives way to a comma.
 * - The text is UTF-8, with a byte-order mark when the job read another encoding or was told to:
 *   the mark wins over `encoding` when the report comes back, and tells Excel it is UTF-8.
 *
 * A UTF-8 comma-separated upload thus gets its reports with no mark and commas.
 */
export function reportFormat(options: ImportOptions, reading: UploadReading | null): ReportFormat {
  const encodings = [reading?.encoding, options.encoding];
  const read = REPORT_DELIMITERS.find((delimiter) => delimiter === reading?.delimiter);
  return {
    delimiter: read ?? options.delimiter ?? ',',
    bom: encodings.some((encoding) => encoding != null && encoding !== 'utf-8'),
  };
}
