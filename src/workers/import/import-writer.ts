import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { finishJob, lockProcessingJob, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import {
  CHUNK_COLUMNS,
  clearChunk,
  createChunkTables,
  mergeChunk,
  previewChunk,
  rejectByMode,
  rejectRepeatedEans,
  type MergeCounts,
  type MergeShape,
} from './chunk-sql.js';
import { copyLine, copyText, CopyWriter } from './copy-writer.js';
import type { ColumnLayout, ProductColumn } from './header.js';
import { publishReport, REPORT_TABLE_COLUMNS } from './report-table.js';
import type { RowProblem, ValidRow } from './row-reader.js';

/** A chunk goes to PostgreSQL at this many rows or bytes of COPY text, whichever comes first. */
const CHUNK_ROWS = 5_000;
const CHUNK_BYTES = 1 << 20;

/** The advisory lock key of a job: attempts of one job run their transactions one at a time. */
const jobLockSql = `SELECT pg_advisory_xact_lock(hashtextextended('import:' || $1, 0))`;

interface Chunk {
  lines: string[];
  rows: number;
  bytes: number;
  /** Cells of each row as uploaded, for the report of rows a set-based rule rejects. */
  records: Map<number, { ean: string; cells: string[] }>;
}

/** The attributes as JSON; most files have no attribute columns, so skip stringify for `{}`. */
function attributesJson(attributes: Record<string, string>): string {
  for (const _ in attributes) return JSON.stringify(attributes);
  return '{}';
}

const emptyChunk = (): Chunk => ({ lines: [], rows: 0, bytes: 0, records: new Map() });

export interface ImportWriterInput {
  db: Db;
  jobId: string;
  accountId: string;
  options: ImportOptions;
  reportTable: string;
}

/**
 * Writes one import attempt inside ONE transaction. Valid rows are gathered into chunks; each
 * chunk is COPYed into a temporary table and merged into `products` while the next chunk is being
 * parsed, so PostgreSQL's work overlaps the parser's. Nothing is visible to readers until
 * {@link commit}; {@link rollback} undoes every chunk. Row problems go to the attempt's report
 * table on a second connection, outside the transaction, so they survive a rollback.
 */
export class ImportWriter {
  readonly counts: MergeCounts = { created: 0, updated: 0, unchanged: 0 };
  rowsInvalid = 0;
  rowsRejected = 0;
  private shape: MergeShape | null = null;
  private chunk = emptyChunk();
  private inFlight: Promise<void> = Promise.resolve();
  private ended = false;

  private constructor(
    private readonly input: ImportWriterInput,
    private readonly tx: DbClient,
    private readonly reportClient: DbClient,
    private readonly report: CopyWriter,
  ) {}

  /**
   * Opens the attempt's transaction, waiting for any other attempt of the same job to end first.
   * Returns null (and holds nothing) when the job is no longer `processing`.
   */
  static async begin(input: ImportWriterInput): Promise<ImportWriter | null> {
    const tx = await input.db.connect();
    try {
      await tx.query('BEGIN');
      await tx.query(jobLockSql, [input.jobId]);
      const { rows } = await tx.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [input.jobId]);
      if (rows[0]?.status !== 'processing') {
        await tx.query('ROLLBACK');
        tx.release();
        return null;
      }
      await createChunkTables(tx);
    } catch (error) {
      tx.release(error as Error);
      throw error;
    }
    const reportClient = await input.db.connect();
    const report = new CopyWriter(reportClient, input.reportTable, REPORT_TABLE_COLUMNS);
    return new ImportWriter(input, tx, reportClient, report);
  }

  /** Rows with a problem so far: invalid rows plus rows a set-based rule rejected. */
  get rowsFailed(): number {
    return this.rowsInvalid + this.rowsRejected;
  }

  /** Sets the columns the merge writes, from the file's header. */
  setLayout(layout: ColumnLayout): void {
    this.shape = {
      columns: new Set(Object.keys(layout.product) as ProductColumn[]),
      attributeNames: layout.attributes.map((attribute) => attribute.name),
    };
  }

  /** Adds a valid row; hands a full chunk to PostgreSQL, waiting only for the chunk before it. */
  async addValid(row: number, product: ValidRow, cells: string[]): Promise<void> {
    const line = copyLine([
      row, product.ean, product.name, product.brand, product.category, product.description, product.price,
      product.currency, product.stock, product.image_url, attributesJson(product.attributes),
    ]);
    const chunk = this.chunk;
    chunk.lines.push(line);
    chunk.rows += 1;
    chunk.bytes += line.length;
    chunk.records.set(row, { ean: product.ean, cells });
    if (chunk.rows >= CHUNK_ROWS || chunk.bytes >= CHUNK_BYTES) await this.handOff();
  }

  /** Reports an invalid row, one report entry per problem. */
  async addInvalid(problems: RowProblem[], cells: string[]): Promise<void> {
    this.rowsInvalid += 1;
    const raw = JSON.stringify(cells);
    for (const [ordinal, problem] of problems.entries()) {
      await this.report.add([problem.row, ordinal, problem.ean, problem.field, problem.code, problem.message, raw]);
    }
  }

  /** Merges the last chunk and completes the report; the transaction stays open. */
  async drain(): Promise<void> {
    await this.handOff();
    await this.inFlight;
    await this.report.end();
    this.ended = true;
  }

  /**
   * Publishes the report and ends the job with `outcome` in the import's transaction, then
   * commits: the catalog changes, the report and the final status become visible together.
   * Returns false (and rolls back) when the job had already ended meanwhile (e.g. cancelled).
   */
  async commit(outcome: JobOutcome): Promise<boolean> {
    if (!(await lockProcessingJob(this.tx, this.input.jobId))) {
      await this.rollback();
      return false;
    }
    await publishReport(this.tx, this.input.reportTable, this.input.jobId);
    await finishJob(this.tx, this.input.jobId, outcome);
    await this.tx.query('COMMIT');
    return true;
  }

  /** Undoes every merged chunk. */
  async rollback(): Promise<void> {
    await this.tx.query('ROLLBACK');
  }

  /**
   * Returns both connections to the pool; after a failure (or before {@link drain}) they are
   * discarded, so an open transaction or COPY never reaches another user of the pool. `failure`
   * may be an abort reason that is not an Error.
   */
  release(failure?: unknown): void {
    const broken =
      failure === undefined
        ? this.ended
          ? undefined
          : new Error('import writer released before it was drained')
        : failure instanceof Error
          ? failure
          : new Error(String(failure));
    if (broken) this.report.destroy(broken);
    this.tx.release(broken);
    this.reportClient.release(broken);
  }

  /** Merges rows only while the import can still succeed (abort mode fails on the first problem). */
  private get merging(): boolean {
    return this.input.options.on_error === 'skip' || this.rowsFailed === 0;
  }

  private async handOff(): Promise<void> {
    await this.inFlight;
    if (this.chunk.rows === 0) return;
    const chunk = this.chunk;
    this.chunk = emptyChunk();
    this.inFlight = this.flush(chunk);
    // Awaited at the next hand-off or in drain(); this only keeps Node from calling it unhandled.
    this.inFlight.catch(() => {});
  }

  private async flush(chunk: Chunk): Promise<void> {
    const { tx, input } = this;
    await copyText(tx, 'import_chunk', CHUNK_COLUMNS, chunk.lines.join(''));
    const repeated = await rejectRepeatedEans(tx, chunk.rows);
    const rejected = [...repeated, ...(await rejectByMode(tx, input.accountId, input.options.mode))];
    for (const { row, code, message } of rejected) {
      const record = chunk.records.get(row)!;
      await this.report.add([row, 0, record.ean, 'ean', code, message, JSON.stringify(record.cells)]);
    }
    this.rowsRejected += rejected.length;
    if (this.merging) {
      const staged = chunk.rows - rejected.length;
      const counts = input.options.dry_run
        ? await previewChunk(tx, input.accountId, this.shape!, staged)
        : await mergeChunk(tx, input.accountId, input.options.mode, this.shape!, staged);
      this.counts.created += counts.created;
      this.counts.updated += counts.updated;
      this.counts.unchanged += counts.unchanged;
    }
    await clearChunk(tx);
  }
}

/**
 * Ends a job as failed in a transaction of its own (after the import's transaction was rolled
 * back): publishes the report, with the file-level problem if there is one.
 */
export async function failImport(
  db: Db,
  input: { jobId: string; reportTable: string; outcome: JobOutcome; addToReport?: (client: DbClient) => Promise<void> },
): Promise<boolean> {
  return withTransaction(db, async (client) => {
    await client.query(jobLockSql, [input.jobId]);
    if (!(await lockProcessingJob(client, input.jobId))) return false;
    await input.addToReport?.(client);
    await publishReport(client, input.reportTable, input.jobId);
    await finishJob(client, input.jobId, input.outcome);
    return true;
  });
}
