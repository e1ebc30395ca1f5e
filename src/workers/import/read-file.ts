import { pipeline } from 'node:stream/promises';
import type { Db } from '../../shared/db/pool.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { FileStore } from '../../shared/storage/file-store.js';
import { CsvRecordReader, type RecordBatch } from './csv-records.js';
import { csvParser, describeCsvUpload, openUtf8, readSettings, type CsvSource } from './csv-source.js';
import { FileProblem, fileProblemFromParser, isParserError, type ParserError } from './file-problem.js';
import { HeaderError } from './header.js';
import type { ImportWriter } from './import-writer.js';
import { InputGuard } from './input-guard.js';
import { inputGuardProblem } from './input-problem.js';
import { fileLineOf } from './parser-lines.js';
import { RecordSink } from './record-sink.js';
import { storedWorkbookRecords } from './stored-records.js';

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

/**
 * Streams the upload through the UTF-8 guard and csv-parse (or, for an .xlsx workbook, through
 * the workbook reader) and validates every row with the shared product schema, handing valid rows
 * and row problems to the writer as it goes. Memory stays flat whatever the file size. A
 * file-level problem comes back in `problem` (every row problem found before it is already
 * reported). Decoding and `sep=` apply to CSV only; column mapping and decimal commas to both.
 */
export async function readFile(input: ReadFileInput): Promise<ReadResult> {
  const { options } = input;
  const source = await describeCsvUpload(input.uploads, input.inputPath, options);
  // A zip archive is read as a workbook whatever it was sent as: Excel's .xlsx is one.
  if (options.format === 'xlsx' || source.workbook === 'zip') return readWorkbook(input, source.workbook === 'zip');
  const reader = new CsvRecordReader(readSettings(source, input.maxRecordBytes));
  const sink = new RecordSink({ ...input, delimiter: source.delimiter, encoding: source.encoding, csvReader: reader });
  const guard = new InputGuard();
  const result: ReadResult = { rowsProcessed: 0, problem: null };
  // An error thrown inside the loop reaches pipeline() as an AbortError; keep the original.
  let consumeError: unknown;

  const consume = async (batches: AsyncIterable<RecordBatch>) => {
    try {
      await sink.consume(batches);
    } catch (error) {
      consumeError = error;
      throw error;
    }
  };

  // The guard stops at a bad byte on the line after the last row read (row 0: the header line).
  const guardFailure = () =>
    inputGuardProblem(guard.problem!, { row: sink.hasHeader ? sink.rowsProcessed + 1 : 0, source, header: sink.header });
  try {
    await pipeline(openUtf8(source), guard, (chunks: AsyncIterable<Buffer>) => reader.batches(chunks), consume);
  } catch (pipelineError) {
    result.rowsProcessed = sink.rowsProcessed;
    let error = consumeError ?? pipelineError;
    // csv-parse read the file from a record on: its error counts from there. Read the file
    // with it from the start for the error as the file's (a failed import's extra pass).
    let whole: WholeFileParse | null = null;
    if (reader.handedOver && isParserError(error)) {
      whole = await parseWholeFile(source, input.maxRecordBytes);
      error = whole.error ?? error;
    }
    if (error instanceof HeaderError) result.problem = new FileProblem(error.code, error.message, 0);
    else if (guard.problem) result.problem = guardFailure();
    else if (!isParserError(error)) throw error;
    else {
      // csv-parse reports an unclosed quote only at the end of the file: find where its record began.
      const scan = error.code === 'CSV_QUOTE_NOT_CLOSED' || !error.lines;
      const parserLine = scan ? (whole ?? (await parseWholeFile(source, input.maxRecordBytes))).lastLine : error.lines!;
      const line = await fileLineOf(openUtf8(source), parserLine, scan);
      result.problem = fileProblemFromParser(error, line, input.maxRecordBytes);
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
async function readWorkbook(input: ReadFileInput, isZip: boolean): Promise<ReadResult> {
  const sink = new RecordSink(input);
  if (!isZip) {
    const problem = new FileProblem('INVALID_XLSX', 'The file was sent as an .xlsx workbook but is not one (no zip archive).', 0);
    return { rowsProcessed: 0, problem };
  }
  const records = await storedWorkbookRecords(input.uploads, input.inputPath, input.options, input, input.signal);
  try {
    await sink.consume(oneByOne(records));
  } catch (error) {
    if (error instanceof HeaderError) return { rowsProcessed: sink.rowsProcessed, problem: new FileProblem(error.code, error.message, 0) };
    if (error instanceof FileProblem) return { rowsProcessed: sink.rowsProcessed, problem: error };
    throw error;
  }
  return { rowsProcessed: sink.rowsProcessed, problem: sink.endProblem() };
}

/** What csv-parse makes of the whole upload, with line numbers (only a failed import pays for it). */
interface WholeFileParse {
  /** The error it stops at; null when it reads the whole file. */
  error: ParserError | null;
  /** csv-parse's line where the last complete record ends (0: none); see {@link fileLineOf}. */
  lastLine: number;
}

/**
 * Reads the whole upload with csv-parse and its per-record `info`, which the main pass leaves out
 * (it costs a third of the parse time).
 */
async function parseWholeFile(source: CsvSource, maxRecordBytes: number): Promise<WholeFileParse> {
  let lastLine = 0;
  const parser = csvParser(source, maxRecordBytes, true);
  parser.on('data', (entry: { info: { lines: number } }) => {
    lastLine = entry.info.lines;
  });
  try {
    await pipeline(openUtf8(source), new InputGuard(), parser);
    return { error: null, lastLine };
  } catch (error) {
    return { error: isParserError(error) ? error : null, lastLine };
  }
}

/** Records as batches of one, for the sink: a workbook's reader gives them one at a time. */
async function* oneByOne(records: AsyncIterable<string[]>): AsyncGenerator<string[][]> {
  for await (const record of records) yield [record];
}
