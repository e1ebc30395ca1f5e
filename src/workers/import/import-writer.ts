import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { finishJob, lockProcessingJob, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import {
  CHUNK_COLUMNS,
  clearChunk,
  createChunkTables,
  mergeChunk,
  previewChunk,
  PRODUCT_COPY_COLUMNS,
  rejectByMode,
  rejectRepeatedEans,
  REPEAT_COLUMNS,
  SEEN_COLUMNS,
  type MergeCounts,
  type MergeShape,
} from './chunk-sql.js';
import { copyLine, copyText, CopyWriter } from './copy-writer.js';
import type { ColumnLayout, ProductColumn } from './header.js';
import { publishReport, REPORT_TABLE_COLUMNS } from './report-table.js';
import type { RowProblem, ValidRow } from './row-reader.js';
import { EanFilter, filterBytesFor } from './ean-filter.js';
import {
  appendLine,
  appendSeen,
  attributesJson,
  CHUNK_BUFFER_BYTES,
  CHUNK_BYTES,
  CHUNK_ROWS,
  emptyChunk,
  rowsOf,
  type Candidate,
  type Chunk,
} from './import-chunk.js';
import { eanKey, SeenEans } from './seen-eans.js';

/** The advisory lock key of a job: attempts of one job run their transactions one at a time. */
const jobLockSql = `SELECT pg_advisory_xact_lock(hashtextextended('import:' || $1, 0))`;

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
   * A first load's filter of the file's EANs so far: a row whose EAN it may have seen is checked
   * against products (see checkCandidates). Fixed in size, so memory stays bounded.
   */
  private readonly filter: EanFilter | null;
  /** Repeats found by the filter's checks whose first row is looked up once the file is read. */
  private repeatsPending = 0;
  /**
   * Chunks go straight into products (a first load): the catalog was empty when the transaction
   * began, the mode may create products, and this is not a dry run.
   */
  private readonly firstLoad: boolean;
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
    this.firstLoad = isFirstLoad(catalogWasEmpty, input.options);
    this.filter = this.firstLoad ? new EanFilter(input.eanFilterBytes ?? filterBytesFor(input.fileBytes)) : null;
    this.seen = this.firstLoad ? null : new SeenEans(input.seenEanSlots);
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
    if (chunk.filtered && this.filter!.add(eanKey(product.ean))) {
      chunk.filtered.candidates.push({ row, ean: product.ean, line, cells });
    } else {
      appendLine(chunk, line);
      chunk.rows += 1;
      chunk.records?.set(row, { ean: product.ean, cells });
      if (chunk.filtered) appendSeen(chunk, product.ean, row);
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
    if (this.repeatsPending > 0) await this.reportPendingRepeats();
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
   * checkCandidates).
   */
  private newChunk(): Chunk {
    const checked = this.seen !== null || this.filter !== null;
    const direct = checked && this.firstLoad;
    const { mode } = this.input.options;
    const byMode = mode === 'update' || (mode === 'create' && !this.catalogWasEmpty);
    const spare = this.spareText;
    this.spareText = null;
    return emptyChunk(checked, direct, !checked || byMode, this.filter !== null, spare);
  }

  /**
   * A first load's chunks are COPYed into products even once the import is bound to fail (they
   * are rolled back): products' unique index is how the filter's checks find the EANs seen.
   */
  private async flush(chunk: Chunk, spill: SeenEans | null): Promise<void> {
    if (chunk.direct) {
      await copyText(this.tx, 'products', PRODUCT_COPY_COLUMNS, chunk.text.subarray(0, chunk.bytes));
      this.counts.created += chunk.rows;
      if (chunk.filtered) {
        await copyText(this.tx, 'import_seen_log', SEEN_COLUMNS, chunk.filtered.log.subarray(0, chunk.filtered.logBytes));
        await this.checkCandidates(chunk.filtered.candidates);
      }
    } else await this.mergeThroughChunkTable(chunk);
    // The COPY has ended: the buffer can take the chunk after next (a grown one is let go).
    if (chunk.text.length === CHUNK_BUFFER_BYTES) this.spareText = chunk.text;
    if (spill) await spillSeenEans(this.tx, spill);
  }

  /**
   * Settles the rows of a chunk the filter held back, once the chunk itself is in products. An
   * EAN products has is a repeat (the catalog was empty when the transaction began): its first row
   * is looked up in the seen log once the file is read. The others are new (the filter said
   * "maybe" of an EAN it had not seen), but for a repeat among them; they are COPYed in as well.
   * An EAN another import committed meanwhile also looks like a repeat; see reportPendingRepeats.
   */
  private async checkCandidates(candidates: Candidate[]): Promise<void> {
    if (candidates.length === 0) return;
    const { tx, input } = this;
    const { rows } = await tx.query<{ ean: string }>(
      'SELECT ean FROM products WHERE account_id = $1 AND ean = ANY ($2::text[])',
      [input.accountId, [...new Set(candidates.map((candidate) => candidate.ean))]],
    );
    const stored = new Set(rows.map((row) => row.ean));
    const fresh = new Map<string, number>();
    const lines: string[] = [];
    const log: string[] = [];
    const repeats: string[] = [];
    for (const { row, ean, line, cells } of candidates) {
      const first = fresh.get(ean);
      if (stored.has(ean)) repeats.push(copyLine([row, ean, JSON.stringify(cells)]));
      else if (first !== undefined) {
        this.rowsRejected += 1;
        await this.reportRepeat(row, ean, first, JSON.stringify(cells));
      } else {
        fresh.set(ean, row);
        lines.push(line);
        log.push(`${ean}\t${row}\n`);
      }
    }
    if (lines.length > 0) {
      await copyText(tx, 'products', PRODUCT_COPY_COLUMNS, lines.join(''));
      await copyText(tx, 'import_seen_log', SEEN_COLUMNS, log.join(''));
      this.counts.created += lines.length;
    }
    if (repeats.length > 0) {
      await copyText(tx, 'import_repeats', REPEAT_COLUMNS, repeats.join(''));
      this.rowsRejected += repeats.length;
      this.repeatsPending += repeats.length;
    }
  }

  /** Reports row `row` as a repeat of row `firstRow` (the caller counts it). */
  private async reportRepeat(row: number | string, ean: string, firstRow: number | string, raw: string): Promise<void> {
    const message = `The EAN ${ean} already appears in row ${firstRow} of this file.`;
    await this.report.add([row, 0, ean, 'ean', 'DUPLICATE_EAN', message, raw]);
  }

  /**
   * Reports the repeats the filter's checks found, each with the first row of its EAN from the
   * seen log: one pass over the log, read through a cursor. An EAN with no first row in the log
   * was committed by another import during this one; the attempt then fails, to be retried
   * against a catalog that is no longer empty.
   */
  private async reportPendingRepeats(): Promise<void> {
    const { tx } = this;
    await tx.query(`
      DECLARE import_pending_repeats NO SCROLL CURSOR FOR
      SELECT r.row::text, r.ean, r.raw, f.first::text
      FROM import_repeats r
      LEFT JOIN (SELECT ean, min(row) AS first FROM import_seen_log
                 WHERE ean IN (SELECT ean FROM import_repeats) GROUP BY ean) f ON f.ean = r.ean
      ORDER BY r.row`);
    for (;;) {
      const { rows } = await tx.query<{ row: string; ean: string; raw: string; first: string | null }>(
        'FETCH 5000 FROM import_pending_repeats',
      );
      if (rows.length === 0) break;
      for (const { row, ean, raw, first } of rows) {
        if (first === null) throw new Error(`EAN ${ean} was stored by another import while this one ran; it will be retried`);
        await this.reportRepeat(row, ean, first, raw);
      }
    }
    await tx.query('CLOSE import_pending_repeats');
    this.repeatsPending = 0;
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

/** Moves the EANs seen so far into the transaction's seen table and frees the worker's table. */
async function spillSeenEans(tx: DbClient, seen: SeenEans): Promise<void> {
  const copy = new CopyWriter(tx, 'import_seen', SEEN_COLUMNS);
  try {
    for (const [ean, row] of seen.entries()) await copy.add([ean, row]);
    await copy.end();
  } catch (error) {
    copy.destroy(error);
    throw error;
  }
  seen.clear();
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
