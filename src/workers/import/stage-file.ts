import { pipeline } from 'node:stream/promises';
import { parse, type Info } from 'csv-parse';
import type { Db } from '../../shared/db/pool.js';
import { saveInputColumns, saveProgress } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { UploadStore } from '../../shared/upload-store.js';
import { CopyWriter } from './copy-writer.js';
import { FileProblem, fileProblemFromParser } from './file-problem.js';
import { detectDelimiter, HeaderError, layoutFromHeader, type ColumnLayout, type ProductColumn } from './header.js';
import { InputGuard } from './input-guard.js';
import { RowReader } from './row-reader.js';
import { STAGED_ERROR_COLUMNS, STAGED_ROW_COLUMNS, type StagingTables } from './staging.js';

/** How often running counts are written to the job row. */
const PROGRESS_INTERVAL_MS = 1_000;

/** What reading the file found. */
export interface StagedFile {
  rowsProcessed: number;
  rowsInvalid: number;
  layout: ColumnLayout | null;
  problem: FileProblem | null;
}

export interface StageFileInput {
  db: Db;
  uploads: UploadStore;
  jobId: string;
  inputPath: string;
  options: ImportOptions;
  tables: StagingTables;
  maxRecordBytes: number;
  signal?: AbortSignal;
}

/**
 * Streams the upload through the UTF-8 guard and csv-parse, validates every row with the shared
 * product schema and COPYs valid rows and row problems into the attempt's staging tables. Memory
 * stays flat: rows go out in ~1 MiB COPY chunks with backpressure. File-level problems come back
 * in `problem` (with every row problem found before them already staged).
 */
export async function stageFile(input: StageFileInput): Promise<StagedFile> {
  const { db, tables } = input;
  const rowsClient = await db.connect();
  const errorsClient = await db.connect();
  const rows = new CopyWriter(rowsClient, tables.rows, STAGED_ROW_COLUMNS);
  const errors = new CopyWriter(errorsClient, tables.errors, STAGED_ERROR_COLUMNS);
  let failure: Error | undefined;
  try {
    const staged = await readRows(input, rows, errors);
    await Promise.all([rows.end(), errors.end()]);
    return staged;
  } catch (error) {
    failure = error as Error;
    rows.destroy(failure);
    errors.destroy(failure);
    throw error;
  } finally {
    // A connection whose COPY was abandoned is discarded rather than reused.
    rowsClient.release(failure);
    errorsClient.release(failure);
  }
}

async function readRows(input: StageFileInput, rows: CopyWriter, errors: CopyWriter): Promise<StagedFile> {
  const { db, jobId, options } = input;
  const delimiter =
    options.delimiter ?? detectDelimiter((await input.uploads.head(input.inputPath, 64 * 1024)).toString('utf8'));
  const guard = new InputGuard();
  const parser = parse({
    bom: true,
    delimiter,
    relax_quotes: false,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: input.maxRecordBytes,
    info: true,
  });
  const state: StagedFile = { rowsProcessed: 0, rowsInvalid: 0, layout: null, problem: null };
  let reader: RowReader | null = null;
  let lastLine = 0;
  let lastProgressAt = Date.now();

  const consume = async (records: AsyncIterable<{ record: string[]; info: Info }>) => {
    for await (const { record, info } of records) {
      lastLine = info.lines;
      if (!reader) {
        state.layout = layoutFromHeader(record, options.mode);
        reader = new RowReader(state.layout, options.mode);
        await saveInputColumns(db, jobId, record);
        continue;
      }
      state.rowsProcessed += 1;
      const row = state.rowsProcessed;
      const result = reader.read(record, row);
      if (result.ok) {
        const product = result.row;
        await rows.add([
          row, product.ean, product.name, product.brand, product.category, product.description, product.price,
          product.currency, product.stock, product.image_url, JSON.stringify(product.attributes), JSON.stringify(record),
        ]);
      } else {
        state.rowsInvalid += 1;
        const raw = JSON.stringify(record);
        for (const [ordinal, problem] of result.problems.entries()) {
          await errors.add([row, ordinal, problem.ean, problem.field, problem.code, problem.message, raw]);
        }
      }
      if (Date.now() - lastProgressAt >= PROGRESS_INTERVAL_MS) {
        input.signal?.throwIfAborted();
        lastProgressAt = Date.now();
        await saveProgress(db, jobId, { rowsProcessed: state.rowsProcessed, rowsFailed: state.rowsInvalid });
      }
    }
  };

  try {
    await pipeline(input.uploads.open(input.inputPath), guard, parser, consume);
  } catch (error) {
    if (error instanceof HeaderError) state.problem = new FileProblem(error.code, error.message, 0);
    else if (guard.problem) state.problem = guardProblem(guard, state.rowsProcessed);
    else if (isParserError(error)) state.problem = fileProblemFromParser(error, lastLine);
    else throw error;
    return state;
  }
  state.problem = guard.problem ? guardProblem(guard, state.rowsProcessed) : emptinessProblem(state);
  return state;
}

function guardProblem(guard: InputGuard, rowsProcessed: number): FileProblem {
  const { kind, line } = guard.problem!;
  const row = rowsProcessed + 1;
  return kind === 'binary'
    ? new FileProblem('BINARY_CONTENT', `The file looks binary, not CSV text: a NUL byte on line ${line} (row ${row}).`, row)
    : new FileProblem('INVALID_UTF8', `The file is not valid UTF-8: an invalid byte sequence on line ${line} (row ${row}).`, row);
}

function emptinessProblem(state: StagedFile): FileProblem | null {
  if (!state.layout) return new FileProblem('EMPTY_FILE', 'The file is empty: it has no header row.', 0);
  if (state.rowsProcessed === 0) return new FileProblem('NO_DATA_ROWS', 'The file has a header but no data rows.', 1);
  return null;
}

function isParserError(error: unknown): error is Error & { code: string; lines?: number; records?: number } {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' && /QUOTE|CSV_/.test(error.code);
}

/** Product columns named by the header (for the merge). */
export function presentColumns(layout: ColumnLayout): Set<ProductColumn> {
  return new Set(Object.keys(layout.product) as ProductColumn[]);
}
