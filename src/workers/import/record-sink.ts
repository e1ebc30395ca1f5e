import type { Db } from '../../shared/db/pool.js';
import { saveProgress } from '../../shared/jobs/job-queries.js';
import type { ImportEncoding, ImportOptions } from '../../shared/jobs/import-options.js';
import { saveUploadHeader } from '../../shared/jobs/upload-header-queries.js';
import { storableText } from '../../shared/product/storable-text.js';
import type { UploadReading } from '../../shared/jobs/upload-reading.js';
import { blankRecordTest, isBlankLine, isBlankRecord } from './blank-record.js';
import { FileProblem } from './file-problem.js';
import { HeaderError, layoutFromHeader, type HeaderMapping } from './header.js';
import type { ImportWriter } from './import-writer.js';
import { UNCUT, type RecordBatch } from './csv-records.js';
import { PlainRows } from './plain-rows.js';
import { RowReader } from './row-reader.js';
import { cellsOfLine, verbatimLines, type VerbatimLines } from './verbatim-lines.js';

/**
 * Rows parsed between two turns of the event loop (about 0.7 ms): each reply of PostgreSQL for a
 * chunk being merged waits for the next turn.
 */
const YIELD_EVERY_ROWS = 250;

/** How often running counts are written to the job row. */
const PROGRESS_INTERVAL_MS = 1_000;

export interface RecordSinkInput {
  db: Db;
  jobId: string;
  options: ImportOptions;
  writer: ImportWriter;
  signal?: AbortSignal;
  /** The CSV file's delimiter (not for a workbook): its lines may go into chunks as uploaded (see VerbatimLines). */
  delimiter?: string;
  /** The encoding the CSV file was decoded from (not for a workbook): its reports are written for it. */
  encoding?: ImportEncoding;
  /** The CSV reader of the batches: told to leave quote-free lines uncut when the fast lane (PlainRows) reads them. */
  csvReader?: { cutPlainLines: boolean };
}

/**
 * Where the records of an upload go, whatever the file format: the first record is the header,
 * every later one a data row (1-based) that is validated with the shared product schema and
 * handed to the writer as a valid row or as row problems. A CSV file and an .xlsx workbook are
 * both a source of records (string arrays), so everything after this point is the same for both.
 */
export class RecordSink {
  /** Data rows read so far. */
  rowsProcessed = 0;
  /** The header record, once read (messages name a cell's column by it). */
  header: string[] | null = null;
  private reader: RowReader | null = null;
  /** How the file's lines are copied into chunks, when they may be (see VerbatimLines). */
  private verbatim: VerbatimLines | null = null;
  /** The fast lane for quote-free lines (see PlainRows), when the file has one. */
  private plain: PlainRows | null = null;
  /** Which records are skipped: rows of empty cells, and a report's line of the header's problem. */
  private isBlank: (record: readonly string[]) => boolean = isBlankRecord;

  constructor(private readonly input: RecordSinkInput) {}

  /** Whether the header has been read. */
  get hasHeader(): boolean {
    return this.reader !== null;
  }

  /** Reads every record of `batches` (records in batches); a HeaderError is thrown as is. */
  async consume(batches: AsyncIterable<RecordBatch>): Promise<void> {
    const { db, jobId, writer, signal } = this.input;
    // The hot loop keeps its state in locals, written back when it ends (or throws).
    let reader = this.reader;
    let rows = this.rowsProcessed;
    let lastProgressAt = Date.now();
    try {
      for await (const batch of batches) {
        const { lines } = batch;
        for (let index = 0; index < batch.length; index += 1) {
          let record = batch[index]!;
          if (!reader) {
            // Saved before it is read: errors.csv has the uploaded columns when the header fails too.
            // A NUL (a workbook's `_x0000_`) cannot be stored: the attribute column it names fails its rows.
            await saveUploadHeader(db, jobId, record.map(storableText), this.reading());
            reader = this.reader = this.readHeader(record);
            continue;
          }
          const line = lines?.[index];
          // A row of empty cells is skipped like a blank line, and so is a report's line of the
          // header's problem (see blank-record.ts). Lines are left uncut only in a file of product
          // columns alone (VerbatimLines), which has no error columns.
          if (record === UNCUT ? isBlankLine(line!, this.input.delimiter!) : this.isBlank(record)) continue;
          const row = (rows += 1);
          const ean = record === UNCUT ? this.plain!.ean(line!) : null;
          if (ean !== null) {
            const added = writer.addPlain(row, ean, line!);
            if (added) await added;
          } else {
            if (record === UNCUT) record = cellsOfLine(line!, this.verbatim!);
            const read = reader.read(record, row, line);
            if (Array.isArray(read)) await writer.addInvalid(read, record);
            else {
              const added = writer.addValid(row, read, record);
              if (added) await added;
            }
          }
          // The loop only awaits settled promises, which never lets socket I/O in: without a turn of
          // the event loop now and then, PostgreSQL's replies for the chunk being merged would wait
          // for the whole read buffer to be parsed, and the merge would no longer overlap the parse.
          if (row % YIELD_EVERY_ROWS === 0) {
            await new Promise(setImmediate);
            // A cancel (or shutdown) stops the import here, well within its current chunk; the
            // caller then discards the transaction, so nothing of this attempt is written.
            signal?.throwIfAborted();
          }
          if (Date.now() - lastProgressAt >= PROGRESS_INTERVAL_MS) {
            lastProgressAt = Date.now();
            await saveProgress(db, jobId, { rowsProcessed: row, rowsFailed: writer.rowsFailed });
          }
        }
      }
    } finally {
      this.rowsProcessed = rows;
    }
  }

  /**
   * Reads the header: the row reader, how lines are copied into chunks (see VerbatimLines) and,
   * where they may be, the fast lane for them (PlainRows), which then reads quote-free lines uncut.
   */
  private readHeader(record: string[]): RowReader {
    const { options, writer, delimiter, csvReader } = this.input;
    // Lines that end with a carriage return alone (classic Mac OS) are one line here: its header
    // runs into the rows, which would otherwise be reported as a missing column.
    // A carriage return at the end of a cell is a CR CR LF line end (\r\r\n, as some writers on
    // Windows leave), which does end the line; one followed by more text does not.
    if (delimiter !== undefined && record.some((cell) => /\r(?=[^\r\n])/.test(cell))) {
      throw new HeaderError(
        'The lines of the file end with a carriage return alone (classic Mac OS), which ends no line here. ' +
          'Save it with CRLF or LF line ends, such as Excel\'s "CSV UTF-8".',
        'MALFORMED_CSV',
      );
    }
    const layout = layoutFromHeader(record, options.mode, headerMapping(options));
    this.isBlank = blankRecordTest(record);
    const decimalComma = options.decimal_separator === ',';
    this.verbatim = delimiter === undefined ? null : verbatimLines(layout, delimiter);
    if (this.verbatim && csvReader && !decimalComma) {
      this.plain = new PlainRows(layout, options.mode, this.verbatim);
      csvReader.cutPlainLines = false;
    }
    this.header = record;
    writer.setLayout(layout, this.verbatim);
    return new RowReader(layout, options.mode, {
      decimalComma,
      verbatim: this.verbatim,
      // A CSV file's text is decoded bytes, NULs and bad sequences refused (InputGuard): only a
      // workbook's cells (Excel's `_x0000_`) can hold text PostgreSQL cannot store.
      unstorableCells: delimiter === undefined,
      // A price in a file without a currency column is checked against the stored currency in the merge.
      mergedWithStored: writer.mergesWithStored,
    });
  }

  /** How the CSV file was read, for its reports; null for a workbook. */
  private reading(): UploadReading | null {
    const { delimiter, encoding } = this.input;
    return delimiter !== undefined && encoding !== undefined ? { delimiter, encoding } : null;
  }

  /** The problem of a file that ended without a header or without data rows, else null. */
  endProblem(): FileProblem | null {
    if (!this.reader) return new FileProblem('EMPTY_FILE', 'The file is empty: it has no header row.', 0);
    if (this.rowsProcessed === 0) return new FileProblem('NO_DATA_ROWS', 'The file has a header but no data rows.', 1);
    return null;
  }
}

/** The profile's header renaming, named as messages name it; undefined without one. */
export function headerMapping(options: ImportOptions): HeaderMapping | undefined {
  if (!options.columns) return undefined;
  const label = options.profile ? `the column mapping of profile '${options.profile.name}'` : 'the column mapping';
  return { columns: options.columns, label };
}
