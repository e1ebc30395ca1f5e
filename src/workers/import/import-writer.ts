import type { Db, DbClient } from '../../shared/db/pool.js';
import type { JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { storableText } from '../../shared/product/storable-text.js';
import { ChunkBuilder, type FullChunk } from './chunk-builder.js';
import { ChunkMerger, type ChunkMerged } from './chunk-merger.js';
import { createChunkTables, type MergeCounts, type MergeShape } from './chunk-sql.js';
import { CopyWriter } from './copy-writer.js';
import { filterBytesFor } from './ean-filter.js';
import type { VerbatimLines } from './verbatim-lines.js';
import { FirstLoadRepeats } from './first-load-repeats.js';
import type { ColumnLayout, ProductColumn } from './header.js';
import { ImportTransaction, isFirstLoad, type ImportRun } from './import-transaction.js';
import { REPORT_TABLE_COLUMNS } from './report-table.js';
import type { RowProblem, ValidRow } from './row-reader.js';

/**
 * Chunks handed to PostgreSQL before the parser waits for the oldest to be merged. With one, the
 * parser and PostgreSQL wait for each other whenever one chunk is slower on either side. A
 * re-import's chunk takes several round trips (its stored products read back, the COPY of the rows
 * that change something, the merge), each waiting for the parser's next turn of the event loop;
 * four chunks ahead even that out, for at most three more chunk buffers (1 MiB each).
 */
const MERGES_AHEAD = 4;

export interface ImportWriterInput {
  db: Db;
  jobId: string;
  accountId: string;
  options: ImportOptions;
  reportTable: string;
  /**
   * Slot budget of the worker's table of seen EANs, and of a first load's seen log; the default
   * suits the worker's memory limit.
   */
  seenEanSlots?: number;
  /** Size of the upload: a first load sizes its EAN filter by it. */
  fileBytes: number;
  /** Size in bytes of a first load's EAN filter (see EanFilter), instead of one from the file's size; tests shrink it. */
  eanFilterBytes?: number;
  /** The run of the attempt: its claim on the job, and its logger. */
  run?: ImportRun;
}

/**
 * Writes one import attempt inside its ONE transaction (ImportTransaction). Valid rows are gathered
 * into chunks (ChunkBuilder); each chunk is merged into `products` (ChunkMerger) while the next
 * chunk is being parsed, so PostgreSQL's work overlaps the parser's. Nothing is visible to readers
 * until {@link commit}; {@link rollback} undoes every chunk. Row problems go to the attempt's
 * report table on a second connection, outside the transaction, so they survive a rollback.
 */
export class ImportWriter {
  readonly counts: MergeCounts = { created: 0, updated: 0, unchanged: 0 };
  rowsInvalid = 0;
  rowsRejected = 0;
  private shape: MergeShape | null = null;
  private readonly chunks: ChunkBuilder;
  private readonly merger: ChunkMerger;
  /** Set on a first load (see isFirstLoad): its way of catching repeats, a filter of EANs checked against products. */
  private readonly repeats: FirstLoadRepeats | null;
  /** Merges of chunks handed off and not finished yet, oldest first: at most {@link MERGES_AHEAD}. */
  private merging: Promise<void>[] = [];
  /** Chunks handed off whose merge has not started, oldest first. */
  private readonly queued: FullChunk[] = [];
  /** Whether a chunk's merge is under way. */
  private mergeRunning = false;
  private ended = false;

  private constructor(
    private readonly input: ImportWriterInput,
    private readonly tx: ImportTransaction,
    private readonly report: CopyWriter,
    private readonly reportClient: { release(error?: Error): void },
  ) {
    const settings = { accountId: input.accountId, options: input.options, catalogWasEmpty: tx.catalogWasEmpty };
    this.repeats = isFirstLoad(tx.catalogWasEmpty, input.options)
      ? new FirstLoadRepeats(
          tx.client,
          input.accountId,
          {
            filterBytes: input.eanFilterBytes ?? filterBytesFor(input.fileBytes),
            logMaxEntries: input.seenEanSlots,
          },
          (...repeat) => this.reportRepeat(...repeat),
        )
      : null;
    this.chunks = new ChunkBuilder({ ...settings, fileBytes: input.fileBytes, seenEanSlots: input.seenEanSlots }, this.repeats);
    this.merger = new ChunkMerger(tx.client, settings, this.repeats, (entry) => this.report.add(entry));
  }

  /**
   * Opens the attempt's transaction and its chunk tables. Returns null (and holds nothing) when the
   * job is no longer `processing`.
   */
  static async begin(input: ImportWriterInput): Promise<ImportWriter | null> {
    const tx = await ImportTransaction.begin(input.db, input.jobId, input.accountId, input.run);
    if (!tx) return null;
    let reportClient: DbClient | undefined;
    // Past this point the transaction holds the job's lock: whatever fails must give it back, or
    // the attempt's retry waits for it and the pool loses the connection for good.
    try {
      await createChunkTables(tx.client, {
        firstLoad: isFirstLoad(tx.catalogWasEmpty, input.options),
      });
      reportClient = await input.db.connect();
      return new ImportWriter(input, tx, new CopyWriter(reportClient, input.reportTable, REPORT_TABLE_COLUMNS), reportClient);
    } catch (error) {
      reportClient?.release(error as Error);
      tx.release(error as Error);
      throw error;
    }
  }

  /**
   * Whether rows are merged with stored products: in every import but a first load, whose rows go
   * straight into products. A rule about the merged product is then checked in the merge.
   */
  get mergesWithStored(): boolean {
    return this.repeats === null;
  }

  /** Rows with a problem so far: invalid rows plus rows a set-based rule rejected. */
  get rowsFailed(): number {
    return this.rowsInvalid + this.rowsRejected;
  }

  /** Sets the columns the merge writes, from the file's header, and how rows read with their line are copied (see VerbatimLines). */
  setLayout(layout: ColumnLayout, verbatim: VerbatimLines | null = null): void {
    const columns = new Set(Object.keys(layout.product) as ProductColumn[]);
    const attributeNames = layout.attributes.map((attribute) => attribute.name);
    this.shape = { columns, attributeNames, attributesJson: layout.attributesJson !== undefined };
    this.chunks.setLayout(verbatim, this.merger.rejectsByColumns(this.shape));
  }

  /**
   * Adds a valid row; hands a full chunk to PostgreSQL, waiting only for the chunk before it.
   * Returns a promise only when there is something to wait for: most rows cost no promise.
   */
  addValid(row: number, product: ValidRow, cells: string[]): Promise<void> | undefined {
    const firstRow = this.chunks.add(row, product, cells);
    if (firstRow) {
      this.rowsRejected += 1;
      return this.reportRepeat(row, product.ean, firstRow, JSON.stringify(cells));
    }
    return this.chunks.full ? this.handOff() : undefined;
  }

  /** Adds a row the fast lane took (see PlainRows): as {@link addValid}, with its line as uploaded and its cells cut out only if needed. */
  addPlain(row: number, ean: string, line: string): Promise<void> | undefined {
    const firstRow = this.chunks.addPlain(row, ean, line);
    if (firstRow) {
      this.rowsRejected += 1;
      return this.reportRepeat(row, ean, firstRow, JSON.stringify(this.chunks.cellsOf(line)));
    }
    return this.chunks.full ? this.handOff() : undefined;
  }

  /**
   * Reports an invalid row, one report entry per problem. Its EAN, field and message may quote a
   * cell that holds a NUL (the very problem of the row), which PostgreSQL would refuse for the
   * whole report: written with U+FFFD in its place (the raw cells keep it, as JSON's \u0000).
   */
  async addInvalid(problems: RowProblem[], cells: string[]): Promise<void> {
    this.rowsInvalid += 1;
    const raw = JSON.stringify(cells);
    for (const [ordinal, problem] of problems.entries()) {
      const { row, ean, field, code, message } = problem;
      await this.report.add([row, ordinal, ean && storableText(ean), field && storableText(field), code, storableText(message), raw]);
    }
  }

  /** Merges the last chunk and completes the report; the transaction stays open. */
  async drain(): Promise<void> {
    await this.handOff();
    for (const merged of this.merging) await merged;
    await this.repeats?.reportPending();
    await this.report.end();
    this.ended = true;
  }

  /**
   * Ends the job with `outcome` and commits the import's transaction (see ImportTransaction's
   * commit). Returns false (and rolls back) when the job had already ended meanwhile.
   */
  async commit(outcome: JobOutcome): Promise<boolean> {
    const productsWritten = !this.input.options.dry_run && this.counts.created + this.counts.updated > 0;
    return this.tx.commit(outcome, { table: this.input.reportTable, productsWritten });
  }

  /** Undoes every merged chunk. */
  async rollback(): Promise<void> {
    await this.tx.rollback();
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
    this.chunks.release();
    this.repeats?.release();
    this.tx.release(broken);
    this.reportClient.release(broken);
  }

  private async handOff(): Promise<void> {
    while (this.merging.length >= MERGES_AHEAD) await this.merging.shift();
    const full = this.chunks.take();
    if (!full) return;
    this.queued.push(full);
    // The chunk due next has its stored products read while the one before it is merged.
    if (this.mergeRunning && this.queued.length === 1) this.merger.readAhead(full.chunk, this.shape!);
    // Chunks merge one after another on the transaction, in file order.
    const merged = (this.merging.at(-1) ?? Promise.resolve()).then(() => this.merge(full));
    // Awaited at a later hand-off or in drain(); this only keeps Node from calling it unhandled.
    merged.catch(() => {});
    this.merging.push(merged);
  }

  private async merge(full: FullChunk): Promise<void> {
    // Rows merge only while the import can still succeed (abort mode fails on the first problem).
    const stillMerging = (rejected: number) => this.input.options.on_error === 'skip' || this.rowsFailed + rejected === 0;
    this.queued.shift();
    this.mergeRunning = true;
    let merged: ChunkMerged;
    try {
      merged = await this.merger.merge(full, this.shape!, stillMerging, this.queued[0]?.chunk ?? null);
    } finally {
      this.mergeRunning = false;
    }
    this.counts.created += merged.counts.created;
    this.counts.updated += merged.counts.updated;
    this.counts.unchanged += merged.counts.unchanged;
    this.rowsRejected += merged.rejected;
    this.chunks.recycle(full.chunk);
  }

  /** Reports row `row` as a repeat of row `firstRow` (the caller counts it). */
  private async reportRepeat(row: number | string, ean: string, firstRow: number | string, raw: string): Promise<void> {
    const message = `The EAN ${ean} already appears in row ${firstRow} of this file.`;
    await this.report.add([row, 0, ean, 'ean', 'DUPLICATE_EAN', message, raw]);
  }
}
