import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Db } from '../../shared/db/pool.js';
import type { Delimiter } from '../../shared/jobs/delimiters.js';
import type { ExportOptions } from '../../shared/jobs/export-options.js';
import { CopyOutStream } from '../copy-out-stream.js';
import { defuseFormula } from '../../shared/product/formula-cells.js';
import { csvColumns, csvCopySql, exportWhere, mappedCsvColumns, ndjsonCopySql } from './export-sql.js';

/**
 * The CSV header line. Field names need neither quoting nor the injection defence; headers of a
 * `columns` mapping are a partner's text and get both. A header holding any of the delimiters an
 * import detects (`,` `;` tab) is quoted whichever the file's is, as the reports' are: the
 * importer finds the delimiter from the header line, outside quotes.
 */
function headerLine(names: string[], delimiter: Delimiter): Buffer {
  const cell = (name: string) => {
    const text = defuseFormula(name);
    return /[",\r\n;\t]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return Buffer.from(`${names.map(cell).join(delimiter)}\n`);
}

/** One snapshot to write. */
export interface SnapshotRequest {
  accountId: string;
  options: ExportOptions;
  /** Where the file goes: a file store's result writer (the caller finishes or aborts it). */
  target: Writable;
  signal: AbortSignal;
  /** Called once the snapshot is taken, before the rows stream. */
  onSnapshot(): Promise<void>;
  /** Receives the counter of rows streamed so far, for progress. */
  onStream(counter: { readonly rows: number }): void;
}

/**
 * Writes the account's catalog as one consistent snapshot to `target`: one REPEATABLE READ, read
 * only transaction, in which one COPY … TO STDOUT streams the rows (a single pass) in blocks of
 * about 1 MiB ({@link CopyOutStream}) through an optional gzip into the target, with backpressure all the way, so memory stays flat whatever the
 * catalog's size. Returns the rows written. On any failure
 * or abort the connection is discarded (a COPY cannot be stopped half-way and the connection
 * reused); the caller aborts the target.
 */
export async function writeSnapshot(db: Db, request: SnapshotRequest): Promise<number> {
  const { accountId, options, target, signal } = request;
  const client = await db.connect();
  let failure: Error | undefined;
  try {
    // One round trip: the transaction, JIT off (compiling these large scans costs more than it
    // saves, seconds per million rows) and a first query, which takes the snapshot the COPY reads.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off; SELECT 1');
    const where = exportWhere(accountId, options.filter);
    await request.onSnapshot();
    signal.throwIfAborted();
    let copy: CopyOutStream;
    if (options.format === 'csv') {
      const separator = options.decimal_separator ?? '.';
      const columns = options.columns ? mappedCsvColumns(options.columns, separator) : csvColumns(options.fields, separator);
      const delimiter = options.delimiter ?? ',';
      copy = new CopyOutStream(csvCopySql(columns, where, delimiter), headerLine(columns.map((column) => column.header), delimiter));
    } else {
      copy = new CopyOutStream(ndjsonCopySql(options.fields, where));
    }
    request.onStream(copy);
    client.query(copy);
    if (options.gzip) await pipeline(copy, createGzip(), target, { signal });
    else await pipeline(copy, target, { signal });
    await client.query('COMMIT');
    return copy.rowCount;
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    client.release(failure ?? false);
  }
}
