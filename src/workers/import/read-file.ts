import { pipeline } from 'node:stream/promises';
import { parse, type Parser } from 'csv-parse';
import type { Db } from '../../shared/db/pool.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { FileProblem, fileProblemFromParser } from './file-problem.js';
import { detectDelimiter, HeaderError } from './header.js';
import type { ImportWriter } from './import-writer.js';
import { InputGuard } from './input-guard.js';
import { RecordSink } from './record-sink.js';
import { workbookRecords } from './xlsx/workbook-records.js';

/** The first bytes of a zip archive (an .xlsx workbook): a local file header. */
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** What reading the file found; the rows themselves went to the writer. */
export interface ReadResult {
  rowsProcessed: number;
  problem: FileProblem | null;
}

export interface ReadFileInput {
  db: Db;
  uploads: FileStore;
  jobId: string;
  inputPath: string;
  options: ImportOptions;
  maxRecordBytes: number;
  /** Most bytes an .xlsx workbook may inflate to (zip-bomb bound). */
  maxXlsxUncompressedBytes: number;
  writer: ImportWriter;
  signal?: AbortSignal;
}

function csvParser(delimiter: string, maxRecordBytes: number, info: boolean): Parser {
  return parse({
    bom: true,
    delimiter,
    // Both line endings in one file (a file edited on two systems): a CRLF line must not leave a
    // stray carriage return behind as a cell or a one-cell row.
    record_delimiter: ['\r\n', '\n'],
    relax_quotes: false,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: maxRecordBytes,
    info,
  });
}

/**
 * Streams the upload through the UTF-8 guard and csv-parse (or, for an .xlsx workbook, through
 * the workbook reader) and validates every row with the shared product schema, handing valid rows
 * and row problems to the writer as it goes. Memory stays flat whatever the file size. A file-level problem comes back in `problem` (every row
 * problem found before it is already reported).
 */
export async function readFile(input: ReadFileInput): Promise<ReadResult> {
  const { options } = input;
  const sink = new RecordSink(input);
  const head = await input.uploads.head(input.inputPath, options.delimiter ? ZIP_MAGIC.length : 64 * 1024);
  if (options.format === 'xlsx' || head.subarray(0, ZIP_MAGIC.length).equals(ZIP_MAGIC)) return readWorkbook(input, sink, head);
  const delimiter = options.delimiter ?? detectDelimiter(head.toString('utf8'));
  const guard = new InputGuard();
  const result: ReadResult = { rowsProcessed: 0, problem: null };
  // An error thrown inside the loop reaches pipeline() as an AbortError; keep the original.
  let consumeError: unknown;

  const consume = async (records: AsyncIterable<string[]>) => {
    try {
      await sink.consume(records);
    } catch (error) {
      consumeError = error;
      throw error;
    }
  };

  // The guard stops at a bad byte on the line after the last row read (row 0: the header line).
  const guardFailure = () => guardProblem(guard, sink.hasHeader ? sink.rowsProcessed + 1 : 0);
  try {
    await pipeline(input.uploads.open(input.inputPath), guard, csvParser(delimiter, input.maxRecordBytes, false), consume);
  } catch (pipelineError) {
    result.rowsProcessed = sink.rowsProcessed;
    const error = consumeError ?? pipelineError;
    if (error instanceof HeaderError) result.problem = new FileProblem(error.code, error.message, 0);
    else if (guard.problem) result.problem = guardFailure();
    else if (!isParserError(error)) throw error;
    else {
      // csv-parse reports an unclosed quote only at the end of the file: find where its record began.
      const scan = error.code === 'CSV_QUOTE_NOT_CLOSED' || !error.lines;
      result.problem = fileProblemFromParser(error, scan ? await failedRecordLine(input, delimiter) : error.lines!);
    }
    return result;
  }
  result.rowsProcessed = sink.rowsProcessed;
  result.problem = guard.problem ? guardFailure() : sink.endProblem();
  return result;
}

/**
 * Reads an .xlsx upload: the records of the chosen sheet go to the same sink as a CSV file's.
 * An upload sent as a workbook that is not a zip archive fails at row 0.
 */
async function readWorkbook(input: ReadFileInput, sink: RecordSink, head: Buffer): Promise<ReadResult> {
  if (!head.subarray(0, ZIP_MAGIC.length).equals(ZIP_MAGIC)) {
    const problem = new FileProblem('INVALID_XLSX', 'The file was sent as an .xlsx workbook but is not one (no zip archive).', 0);
    return { rowsProcessed: 0, problem };
  }
  const records = workbookRecords({
    open: () => input.uploads.open(input.inputPath),
    sheet: input.options.sheet,
    maxUncompressedBytes: input.maxXlsxUncompressedBytes,
    maxRecordBytes: input.maxRecordBytes,
  });
  try {
    await sink.consume(records);
  } catch (error) {
    if (error instanceof HeaderError) return { rowsProcessed: sink.rowsProcessed, problem: new FileProblem(error.code, error.message, 0) };
    if (error instanceof FileProblem) return { rowsProcessed: sink.rowsProcessed, problem: error };
    throw error;
  }
  return { rowsProcessed: sink.rowsProcessed, problem: sink.endProblem() };
}

/**
 * Where the record that failed to parse begins: the first non-blank line after the last complete
 * record (csv-parse reports an unclosed quote only at the end of the file). The main pass runs
 * without csv-parse's per-record `info`, which costs a third of the parse time; only a failed
 * import pays for these two extra passes.
 */
async function failedRecordLine(input: ReadFileInput, delimiter: string): Promise<number> {
  let lastLine = 0;
  const parser = csvParser(delimiter, input.maxRecordBytes, true);
  parser.on('data', (entry: { info: { lines: number } }) => {
    lastLine = entry.info.lines;
  });
  await pipeline(input.uploads.open(input.inputPath), new InputGuard(), parser).catch(() => {});
  let line = 1;
  for await (const chunk of input.uploads.open(input.inputPath) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 0x0a) line += 1;
      else if (line > lastLine && byte !== 0x0d && byte !== 0x20 && byte !== 0x09) return line;
    }
  }
  return lastLine + 1;
}

/** The guard's problem, reported at `row`: 0 when it was on the header line (no header was read). */
function guardProblem(guard: InputGuard, row: number): FileProblem {
  const { kind, line } = guard.problem!;
  return kind === 'binary'
    ? new FileProblem('BINARY_CONTENT', `The file looks binary, not CSV text: a NUL byte on line ${line} (row ${row}).`, row)
    : new FileProblem('INVALID_UTF8', `The file is not valid UTF-8: an invalid byte sequence on line ${line} (row ${row}).`, row);
}

function isParserError(error: unknown): error is Error & { code: string; lines?: number; records?: number } {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && /QUOTE|CSV_/.test(error.code);
}
