import type { Db, DbClient } from '../../shared/db/pool.js';
import { finishJob, lockProcessingJob, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { markSearchBacklog } from '../../shared/product/product-search.js';
import {
  CHUNK_COLUMNS,
  clearChunk,
  createChunkTables,
  mergeChunk,
  previewChunk,
  PRODUCT_COPY_COLUMNS,
  rejectByMode,
  rejectRepeatedEans,
  spillSeenEans,
  type MergeCounts,
  type MergeShape,
} from './chunk-sql.js';
import { copyLine, copyText, CopyWriter } from './copy-writer.js';
import type { ColumnLayout, ProductColumn } from './header.js';
import { publishReport, REPORT_TABLE_COLUMNS } from './report-table.js';
import type { RowProblem, ValidRow } from './row-reader.js';
import { filterBytesFor } from './ean-filter.js';
import { FirstLoadRepeats } from './first-load-repeats.js';
import {
  appendLine,
  appendSeen,
  attributesJson,
  CHUNK_BUFFER_BYTES,
  CHUNK_BYTES,
  CHUNK_ROWS,
  emptyChunk,
  rowsOf,
  type Chunk,
} from './import-chunk.js';
import { SeenEans } from './seen-eans.js';

/** The advisory lock key of a job: attempts of one job run their transactions one at a time. */
export const jobLockSql = `SELECT pg_advisory_xact_lock(hashtextextended('import:' || $1, 0))`;

export interface ImportWriterInput {
  db: Db;
  jobId: string;
  accountId: string;
  options: ImportOptions;
  reportTable: string;
  /** Slot budget of the worker's table of seen EANs; the default suits the worker's memory limit. */
  seenEanSlots?: number;
  /** Size of the upload: a first load sizes its EAN filter by it. */
  fileBytes: number;
  /** Size in bytes of a first load's EAN filter (see EanFilter), instead of one from the file's size; tests shrink it. */
  eanFilterBytes?: number;
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
  /**
   * Not for a first load: EANs of the file's valid rows so far, while they fit in the worker's
   * memory; null once they were moved to the transaction's seen table (a very large file).
   */
  private seen: SeenEans | null;
  /**
   * Set on a first load (chunks go straight into products: the catalog was empty when the
   * transaction began, the mode may create products, and this is not a dry run): its way of
   * catching repeats, a filter of EANs checked against products.
   */
  private readonly repeats: FirstLoadRepeats | null;
  private chunk: Chunk;
  /** The COPY text buffer of the last chunk merged, reused for the next chunk (fewer large allocations). */
  private spareText: Buffer | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private ended = false;

  private constructor(
    private readonly input: ImportWriterInput,
    private readonly tx: DbClient,
    private readonly reportClient: DbClient,
    private readonly report: CopyWriter,
    /** The account had no products when the transaction began: merges need not look EANs up. */
    private readonly catalogWasEmpty: boolean,
  ) {
    const firstLoad = isFirstLoad(catalogWasEmpty, input.options);
    this.repeats = firstLoad
      ? new FirstLoadRepeats(tx, input.accountId, input.eanFilterBytes ?? filterBytesFor(input.fileBytes), (...repeat) =>
          this.reportRepeat(...repeat),
        )
      : null;
    this.seen = firstLoad ? null : new SeenEans(input.seenEanSlots);
    this.chunk = this.newChunk();
  }

  /**
   * Opens the attempt's transaction, waiting for any other attempt of the same job to end first.
   * Returns null (and holds nothing) when the job is no longer `processing`.
   */
  static async begin(input: ImportWriterInput): Promise<ImportWriter | null> {
    const tx = await input.db.connect();
    let catalogWasEmpty: boolean;
    try {
      await tx.query('BEGIN');
      await tx.query(jobLockSql, [input.jobId]);
      const { rows } = await tx.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [input.jobId]);
      if (rows[0]?.status !== 'processing') {
        await tx.query('ROLLBACK');
        tx.release();
        return null;
      }
      const { rows: empty } = await tx.query<{ empty: boolean }>(
        'SELECT NOT EXISTS (SELECT 1 FROM products WHERE account_id = $1) AS empty',
        [input.accountId],
      );
      catalogWasEmpty = empty[0]!.empty;
      await createChunkTables(tx, { eanIndex: !catalogWasEmpty, firstLoad: isFirstLoad(catalogWasEmpty, input.options) });
    } catch (error) {
      tx.release(error as Error);
      throw error;
    }
    const reportClient = await input.db.connect();
    const report = new CopyWriter(reportClient, input.reportTable, REPORT_TABLE_COLUMNS);
    return new ImportWriter(input, tx, reportClient, report, catalogWasEmpty);
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
    const firstRow = this.seen?.firstRowOrAdd(product.ean, row);
    if (firstRow) {
      this.rowsRejected += 1;
      await this.reportRepeat(row, product.ean, firstRow, JSON.stringify(cells));
      return;
    }
    const chunk = this.chunk;
    const line = copyLine([
      chunk.direct ? this.input.accountId : row, product.ean, product.name, product.brand, product.category,
      product.description, product.price, product.currency, product.stock, product.image_url,
      attributesJson(product.attributes),
    ]);
    if (chunk.direct && this.repeats!.maybeSeen(product.ean)) {
      chunk.direct.candidates.push({ row, ean: product.ean, line, cells });
    } else {
      appendLine(chunk, line);
      chunk.rows += 1;
      chunk.records?.set(row, { ean: product.ean, cells });
      if (chunk.direct) appendSeen(chunk.direct, product.ean, row);
    }
    if (rowsOf(chunk) >= CHUNK_ROWS || chunk.bytes >= CHUNK_BYTES) await this.handOff();
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
    await this.repeats?.reportPending();
    await this.report.end();
    this.ended = true;
  }

  /**
   * Publishes the report and ends the job with `outcome` in the import's transaction, then
   * commits: the catalog changes, the report and the final status become visible together, and
   * so does the account's search backlog mark when products were written (product search catches
   * up after the job, see migrations/010_name_search.sql). Returns false (and rolls back) when the
   * job had already ended meanwhile (e.g. cancelled).
   */
  async commit(outcome: JobOutcome): Promise<boolean> {
    if (!(await lockProcessingJob(this.tx, this.input.jobId))) {
      await this.rollback();
      return false;
    }
    const wrote = !this.input.options.dry_run && this.counts.created + this.counts.updated > 0;
    if (wrote) await markSearchBacklog(this.tx, this.input.accountId);
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
    if (rowsOf(this.chunk) === 0) return;
    const chunk = this.chunk;
    // Past the memory budget, the EANs seen so far go to the seen table after this chunk.
    const spill = this.seen?.full ? this.seen : null;
    if (spill) this.seen = null;
    this.chunk = this.newChunk();
    this.inFlight = this.flush(chunk, spill);
    // Awaited at the next hand-off or in drain(); this only keeps Node from calling it unhandled.
    this.inFlight.catch(() => {});
  }

  /**
   * A chunk for the next rows. Their cells are kept only if a set-based rule may reject one:
   * repeats not caught in the worker, and mode create (unless nothing is stored) or update.
   *
   * On a first load (the catalog was empty when the transaction began, mode create or upsert, not
   * a dry run) with repeats caught in the worker, no rule can reject a row and every row is a new
   * product: the chunk is COPYed straight into products, as the merge would have inserted it
   * (columns the file lacks are null, timestamps are the transaction's). A product of another
   * import committed meanwhile makes the COPY fail with a unique violation, as the merge's INSERT
   * would, and the attempt is retried. A first load's chunk holds back the rows whose EAN the
   * filter may have seen, and checks them against products once the rest is in (see
   * FirstLoadRepeats).
   */
  private newChunk(): Chunk {
    const direct = this.repeats !== null;
    const checked = direct || this.seen !== null;
    const { mode } = this.input.options;
    const byMode = mode === 'update' || (mode === 'create' && !this.catalogWasEmpty);
    const spare = this.spareText;
    this.spareText = null;
    return emptyChunk(checked, direct, !checked || byMode, spare);
  }

  /**
   * A first load's chunks are COPYed into products even once the import is bound to fail (they
   * are rolled back): products' unique index is how its repeats are found.
   */
  private async flush(chunk: Chunk, spill: SeenEans | null): Promise<void> {
    if (chunk.direct) {
      await copyText(this.tx, 'products', PRODUCT_COPY_COLUMNS, chunk.text.subarray(0, chunk.bytes));
      const settled = await this.repeats!.settle(chunk.direct);
      this.counts.created += chunk.rows + settled.created;
      this.rowsRejected += settled.rejected;
    } else await this.mergeThroughChunkTable(chunk);
    // The COPY has ended: the buffer can take the chunk after next (a grown one is let go).
    if (chunk.text.length === CHUNK_BUFFER_BYTES) this.spareText = chunk.text;
    if (spill) await spillSeenEans(this.tx, spill);
  }

  /** Reports row `row` as a repeat of row `firstRow` (the caller counts it). */
  private async reportRepeat(row: number | string, ean: string, firstRow: number | string, raw: string): Promise<void> {
    const message = `The EAN ${ean} already appears in row ${firstRow} of this file.`;
    await this.report.add([row, 0, ean, 'ean', 'DUPLICATE_EAN', message, raw]);
  }

  private async mergeThroughChunkTable(chunk: Chunk): Promise<void> {
    const { tx, input } = this;
    await copyText(tx, 'import_chunk', CHUNK_COLUMNS, chunk.text.subarray(0, chunk.bytes));
    const repeated = chunk.checked ? [] : await rejectRepeatedEans(tx, chunk.rows);
    const rejected = [...repeated, ...(await rejectByMode(tx, input.accountId, input.options.mode, this.catalogWasEmpty))];
    for (const { row, code, message } of rejected) {
      const record = chunk.records!.get(row)!;
      await this.report.add([row, 0, record.ean, 'ean', code, message, JSON.stringify(record.cells)]);
    }
    this.rowsRejected += rejected.length;
    if (this.merging) {
      const staged = chunk.rows - rejected.length;
      const counts = input.options.dry_run
        ? await previewChunk(tx, input.accountId, this.shape!, staged)
        : await mergeChunk(tx, input.accountId, input.options.mode, this.shape!, staged, this.catalogWasEmpty);
      this.counts.created += counts.created;
      this.counts.updated += counts.updated;
      this.counts.unchanged += counts.unchanged;
    }
    await clearChunk(tx);
  }
}

/** Whether an import's chunks go straight into products (see ImportWriter's newChunk). */
function isFirstLoad(catalogWasEmpty: boolean, options: ImportOptions): boolean {
  return catalogWasEmpty && options.mode !== 'update' && !options.dry_run;
}
