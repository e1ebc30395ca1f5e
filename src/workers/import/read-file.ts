import { pipeline } from 'node:stream/promises';
import type { Db } from '../../shared/db/pool.js';
import { saveInputColumns, saveProgress } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { UploadStore } from '../../shared/upload-store.js';
import { csvParser, describeCsvUpload, openUtf8, type CsvSource } from './csv-source.js';
import { FileProblem, fileProblemFromParser } from './file-problem.js';
import { HeaderError, layoutFromHeader, type HeaderMapping } from './header.js';
import type { ImportWriter } from './import-writer.js';
import { InputGuard } from './input-guard.js';
import { inputGuardProblem } from './input-problem.js';
import { RowReader } from './row-reader.js';

/** Rows parsed between two turns of the event loop. */
const YIELD_EVERY_ROWS = 500;

/** How often running counts are written to the job row. */
const PROGRESS_INTERVAL_MS = 1_000;

/** What reading the file found; the rows themselves went to the writer. */
export interface ReadResult {
  rowsProcessed: number;
  problem: FileProblem | null;
}

export interface ReadFileInput {
  db: Db;
  uploads: UploadStore;
  jobId: string;
  inputPath: string;
  options: ImportOptions;
  maxRecordBytes: number;
  writer: ImportWriter;
  signal?: AbortSignal;
}

/**
 * Streams the upload through the UTF-8 guard and csv-parse and validates every row with the
 * shared product schema, handing valid rows and row problems to the writer as it goes. Memory
 * stays flat whatever the file size. A file-level problem comes back in `problem` (every row
 * problem found before it is already reported).
 */
export async function readFile(input: ReadFileInput): Promise<ReadResult> {
  const { db, jobId, options, writer } = input;
  const source = await describeCsvUpload(input.uploads, input.inputPath, options);
  const guard = new InputGuard();
  const result: ReadResult = { rowsProcessed: 0, problem: null };
  let reader: RowReader | null = null;
  let header: string[] | null = null;
  let lastProgressAt = Date.now();
  // An error thrown inside the loop reaches pipeline() as an AbortError; keep the original.
  let consumeError: unknown;

  const consume = async (records: AsyncIterable<string[]>) => {
    try {
      await consumeRecords(records);
    } catch (error) {
      consumeError = error;
      throw error;
    }
  };
  const consumeRecords = async (records: AsyncIterable<string[]>) => {
    for await (const record of records) {
      if (!reader) {
        const layout = layoutFromHeader(record, options.mode, headerMapping(options));
        reader = new RowReader(layout, options.mode, { decimalComma: options.decimal_separator === ',' });
        header = record;
        writer.setLayout(layout);
        await saveInputColumns(db, jobId, record);
        continue;
      }
      const row = (result.rowsProcessed += 1);
      const read = reader.read(record, row);
      if (read.ok) await writer.addValid(row, read.row, record);
      else await writer.addInvalid(read.problems, record);
      // The loop only awaits settled promises, which never lets socket I/O in: without a turn of
      // the event loop now and then, PostgreSQL's replies for the chunk being merged would wait
      // for the whole read buffer to be parsed, and the merge would no longer overlap the parse.
      if (row % YIELD_EVERY_ROWS === 0) {
        await new Promise(setImmediate);
        // A cancel (or shutdown) stops the import here, well within its current chunk; the
        // caller then discards the transaction, so nothing of this attempt is written.
        input.signal?.throwIfAborted();
      }
      if (Date.now() - lastProgressAt >= PROGRESS_INTERVAL_MS) {
        lastProgressAt = Date.now();
        await saveProgress(db, jobId, { rowsProcessed: row, rowsFailed: writer.rowsFailed });
      }
    }
  };

  // The guard stops at a bad byte on the line after the last row read (row 0: the header line).
  const guardFailure = () =>
    inputGuardProblem(guard.problem!, { row: reader ? result.rowsProcessed + 1 : 0, source, header });
  try {
    await pipeline(openUtf8(source), guard, csvParser(source, input.maxRecordBytes, false), consume);
  } catch (pipelineError) {
    const error = consumeError ?? pipelineError;
    if (error instanceof HeaderError) result.problem = new FileProblem(error.code, error.message, 0);
    else if (guard.problem) result.problem = guardFailure();
    else if (!isParserError(error)) throw error;
    else {
      // csv-parse reports an unclosed quote only at the end of the file: find where its record began.
      const scan = error.code === 'CSV_QUOTE_NOT_CLOSED' || !error.lines;
      const line = scan ? await failedRecordLine(source, input.maxRecordBytes) : error.lines!;
      result.problem = fileProblemFromParser(error, line, input.maxRecordBytes);
    }
    return result;
  }
  if (guard.problem) result.problem = guardFailure();
  else if (!reader) result.problem = new FileProblem('EMPTY_FILE', 'The file is empty: it has no header row.', 0);
  else if (result.rowsProcessed === 0) result.problem = new FileProblem('NO_DATA_ROWS', 'The file has a header but no data rows.', 1);
  return result;
}

/**
 * Where the record that failed to parse begins: the first non-blank line after the last complete
 * record (csv-parse reports an unclosed quote only at the end of the file). The main pass runs
 * without csv-parse's per-record `info`, which costs a third of the parse time; only a failed
 * import pays for these two extra passes.
 */
async function failedRecordLine(source: CsvSource, maxRecordBytes: number): Promise<number> {
  let lastLine = 0;
  const parser = csvParser(source, maxRecordBytes, true);
  parser.on('data', (entry: { info: { lines: number } }) => {
    lastLine = entry.info.lines;
  });
  await pipeline(openUtf8(source), new InputGuard(), parser).catch(() => {});
  let line = 1;
  for await (const chunk of openUtf8(source) as AsyncIterable<Buffer | string>) {
    // A decoded (non-UTF-8) upload arrives as text.
    for (const byte of typeof chunk === 'string' ? Buffer.from(chunk) : chunk) {
      if (byte === 0x0a) line += 1;
      else if (line > lastLine && byte !== 0x0d && byte !== 0x20 && byte !== 0x09) return line;
    }
  }
  return lastLine + 1;
}

/** The profile's header renaming, named as messages name it; undefined without one. */
export function headerMapping(options: ImportOptions): HeaderMapping | undefined {
  if (!options.columns) return undefined;
  const label = options.profile ? `the column mapping of profile '${options.profile.name}'` : 'the column mapping';
  return { columns: options.columns, label };
}

function isParserError(error: unknown): error is Error & { code: string; lines?: number; records?: number } {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && /QUOTE|CSV_/.test(error.code);
}
