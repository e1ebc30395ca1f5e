import { Readable } from 'node:stream';
import type { FailedRow } from '../shared/jobs/job-error-queries.js';
import type { ReportDelimiter, ReportFormat } from '../shared/jobs/upload-reading.js';
import { defuseFormula, restoreFormula } from '../shared/product/formula-cells.js';
import type { ReportCells } from './workbook-report-prices.js';

/** Characters that make a CSV field need quotes (RFC 4180), with each delimiter a report may have. */
const NEEDS_QUOTES: Record<ReportDelimiter, RegExp> = { ',': /[",\r\n]/, ';': /[";\r\n]/, '\t': /["\t\r\n]/ };
/**
 * A header cell is quoted when it holds any delimiter an import detects: a report uploaded again
 * without `delimiter` is split on the one its header line has most of outside quotes (four error
 * columns at least), whatever its headers hold.
 */
const HEADER_NEEDS_QUOTES = /[",;\t\r\n]/;
/** Text handed to the response at once: large enough for few writes, small enough to stay flat. */
const CHUNK_CHARS = 64 * 1024;

/**
 * One CSV field of a report: a formula cell is prefixed with `'` exactly as exports do
 * ({@link defuseFormula}), then quoted where RFC 4180 needs it.
 */
function reportField(value: string, needsQuotes: RegExp): string {
  const safe = defuseFormula(value);
  return needsQuotes.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * CSV text of `records` (the header first) in chunks of about 64 KiB. A record is walked cell by
 * cell, so one of a million cells is never held as a whole line, and every cell goes through
 * {@link reportField}: a report the API serves cannot carry a live formula into a spreadsheet.
 */
async function* csvChunks(records: AsyncIterable<Iterable<string>>, format: ReportFormat): AsyncGenerator<string> {
  let parts: string[] = format.bom ? ['\uFEFF'] : [];
  let size = 0;
  let needsQuotes = HEADER_NEEDS_QUOTES;
  for await (const record of records) {
    let separator = '';
    for (const value of record) {
      const field = separator + reportField(value, needsQuotes);
      parts.push(field);
      size += field.length;
      separator = format.delimiter;
      if (size >= CHUNK_CHARS) {
        yield parts.join('');
        parts = [];
        size = 0;
      }
    }
    parts.push('\n');
    size += 1;
    needsQuotes = NEEDS_QUOTES[format.delimiter];
  }
  if (parts.length > 0) yield parts.join('');
}

/**
 * A CSV report as a byte stream with backpressure: records are pulled only as fast as the client
 * reads, so memory stays flat whatever the size of the report or of one record. Written in
 * `format` (see reportFormat): the delimiter and byte-order mark of the job's upload.
 */
export function csvReportStream(records: AsyncIterable<Iterable<string>>, format: ReportFormat): Readable {
  return Readable.from(csvChunks(records, format), { objectMode: false });
}

/**
 * A row of errors.csv or rows.csv: its uploaded cells as the importer read them
 * ({@link restoreFormula}; the report defuses them again the way an export would, so a fixed file
 * re-imports to the same values), padded to the header's `width`, then `errorCells` under the
 * error columns, then the cells past the header's width of a row that has more (`COLUMN_COUNT`):
 * the error columns stay under their names and nothing uploaded is left out. Yielded cell by
 * cell, so a row of any width streams in flat memory.
 */
export function* reportRowCells(cells: readonly string[], width: number, errorCells: readonly string[]): Generator<string> {
  for (let index = 0; index < width; index += 1) yield restoreFormula(cells[index] ?? '');
  yield* errorCells;
  for (let index = width; index < cells.length; index += 1) yield restoreFormula(cells[index]!);
}

/**
 * A failed row of the report as errors.csv gives it: the cells the report kept (none for a
 * file-level problem), as `written` has them written, then its row number and problems under
 * the error columns.
 */
export function failedRowCells(failed: FailedRow, width: number, written: ReportCells | null): Iterable<string> {
  const cells: string[] = failed.raw ? (JSON.parse(failed.raw) as string[]) : [];
  return reportRowCells(written ? written(cells, failed) : cells, width, errorCellsOf(failed));
}

/** What a failed row puts under the error columns (ERRORS_CSV_COLUMNS). */
export const errorCellsOf = (failed: FailedRow): string[] => [String(failed.row), failed.fields, failed.codes, failed.messages];
