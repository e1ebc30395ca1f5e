import type { DbClient } from '../../shared/db/pool.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import {
  CHUNK_COLUMNS,
  clearChunk,
  mergeChunk,
  previewChunk,
  PRODUCT_COPY_COLUMNS,
  rejectRepeatedEans,
  spillSeenEans,
  type ChunkMergeResult,
  type MergeCounts,
  type MergeShape,
  type RejectedRow,
} from './chunk-sql.js';
import { upsertChunk } from './chunk-upsert.js';
import { mergeSetsAttributes, rejectTooManyAttributes } from './attribute-count-rule.js';
import { copyText } from './copy-writer.js';
import { mergedCurrencyRule, rejectPriceWithoutCurrency } from './currency-rule.js';
import type { FullChunk } from './chunk-builder.js';
import type { FirstLoadRepeats } from './first-load-repeats.js';
import type { Chunk, EanRange } from './import-chunk.js';
import { rejectByMode } from './mode-rule.js';
import { UnchangedRows } from './unchanged-rows.js';
import { mergeVanishedRows, type SettledRows } from './vanished-rows.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/** What merging one chunk did: its effect on products (or, for a dry run, the preview) and the rows it rejected. */
export interface ChunkMerged {
  counts: MergeCounts;
  rejected: number;
}

/** A report entry: row, ordinal, ean, field, code, message, raw cells. */
export type ReportEntry = [number, number, string, string, RowErrorCode, string, string];

/** The set-based rules of the file's columns a merge checks (see ChunkMerger.columnRules). */
interface ColumnRules {
  /** The currency rule of a file with only one of price and currency (see mergedCurrencyRule). */
  currency: 'price' | 'currency' | null;
  /** Whether merged products are checked for too many attribute names (see rejectTooManyAttributes). */
  attributeCount: boolean;
}

/**
 * Writes chunks into products on the import's transaction. A direct chunk (a first load, see
 * isFirstLoad) is COPYed into products and its held-back rows settled by FirstLoadRepeats; any
 * other chunk goes through the chunk table: set-based rejections (repeats the worker did not
 * catch, the mode's rule, the rules of the file's columns: a price left without a currency by a
 * file with only one of the two columns, a product merged past 1,000 attribute names), then the
 * merge, or its preview for a dry run.
 */
export class ChunkMerger {
  /** Whether chunks' stored products are still read by their range of EANs: until one range holds too many. */
  private byRange = true;
  private readonly unchangedRows: UnchangedRows;

  constructor(
    private readonly tx: DbClient,
    private readonly settings: { accountId: string; options: ImportOptions; catalogWasEmpty: boolean },
    private readonly repeats: FirstLoadRepeats | null,
    private readonly report: (entry: ReportEntry) => Promise<void>,
  ) {
    this.unchangedRows = new UnchangedRows(tx, settings.accountId);
  }

  /**
   * Merges one chunk. `stillMerging(rejected)` says, given the rows this chunk rejected, whether the
   * import can still succeed (abort mode fails on the first problem); if not, the chunk's rows are
   * not merged. A first load's chunks are COPYed even once the import is bound to fail (they are
   * rolled back): products' unique index is how its repeats are found.
   */
  async merge(
    { chunk, spill }: FullChunk,
    shape: MergeShape,
    stillMerging: (rejected: number) => boolean,
    next: Chunk | null = null,
  ): Promise<ChunkMerged> {
    let merged: ChunkMerged;
    if (chunk.direct) {
      await copyText(this.tx, 'products', PRODUCT_COPY_COLUMNS, chunk.text.subarray(0, chunk.bytes));
      const settled = await this.repeats!.settle(chunk.direct);
      merged = { counts: { created: chunk.rows + settled.created, updated: 0, unchanged: 0 }, rejected: settled.rejected };
    } else merged = await this.mergeThroughChunkTable(chunk, shape, stillMerging, next);
    if (spill) await spillSeenEans(this.tx, spill);
    return merged;
  }

  /**
   * Whether the merge may reject rows for the file's columns (see {@link columnRules}): chunks then
   * keep their rows' cells for the report.
   */
  rejectsByColumns(shape: MergeShape): boolean {
    const rules = this.columnRules(shape);
    return rules.currency !== null || rules.attributeCount;
  }

  /**
   * The rules of the file's columns that the merge checks against stored products. None on a first
   * load: its direct chunks are not merged with anything, and the rows' own checks decide. The
   * attribute count only where a product can be stored (not on a catalog that was empty, whose rows
   * are all new products), and only for a file that sets attributes: another cannot add names.
   */
  private columnRules(shape: MergeShape): ColumnRules {
    if (this.repeats) return { currency: null, attributeCount: false };
    return {
      currency: mergedCurrencyRule(shape.columns),
      attributeCount: !this.settings.catalogWasEmpty && mergeSetsAttributes(shape),
    };
  }

  /**
   * Starts reading the stored products of `chunk`, due next, while the chunk before is merged (see
   * UnchangedRows.readAhead).
   */
  readAhead(chunk: Chunk, shape: MergeShape): void {
    const { options, catalogWasEmpty } = this.settings;
    // A first load's direct chunks never suit (an empty catalog) and keep no line starts.
    if (UnchangedRows.suits(options, catalogWasEmpty, shape)) this.unchangedRows.readAhead(chunk, shape, this.byRange);
  }

  private async mergeThroughChunkTable(
    chunk: Chunk,
    shape: MergeShape,
    stillMerging: (rejected: number) => boolean,
    next: Chunk | null,
  ): Promise<ChunkMerged> {
    const { tx, settings } = this;
    const { accountId, options, catalogWasEmpty } = settings;
    // Rows that would change nothing stay in the worker (see UnchangedRows), unless the import is bound to fail.
    let unchanged = 0;
    if (stillMerging(0) && UnchangedRows.suits(options, catalogWasEmpty, shape)) {
      const taken = await this.unchangedRows.drop(chunk, shape, this.byRange, next);
      this.byRange = taken.rangeFits;
      unchanged = taken.dropped;
      if (chunk.rows === 0) return { counts: { created: 0, updated: 0, unchanged }, rejected: 0 };
    }
    await copyText(tx, 'import_chunk', CHUNK_COLUMNS, chunk.text.subarray(0, chunk.bytes));
    const repeated = chunk.checked ? [] : await rejectRepeatedEans(tx, chunk.rows);
    const rejected = [...repeated, ...(await rejectByMode(tx, accountId, options.mode, catalogWasEmpty))];
    // A file with both price and currency columns (or neither) was checked row by row: no statement here.
    const rules = this.columnRules(shape);
    // What these rules read is locked until the import commits, unless it is a dry run, which writes nothing.
    const lock = !options.dry_run;
    if (rules.currency) rejected.push(...(await rejectPriceWithoutCurrency(tx, accountId, rules.currency, lock)));
    // A file without attribute columns (or the JSON column) adds no names: no statement either.
    if (rules.attributeCount) rejected.push(...(await rejectTooManyAttributes(tx, accountId, shape, lock)));
    await this.reportRejected(chunk, rejected);
    let counts: MergeCounts = { created: 0, updated: 0, unchanged: 0 };
    if (stillMerging(rejected.length)) {
      const staged = chunk.rows - rejected.length;
      if (options.dry_run) counts = await previewChunk(tx, accountId, shape, staged);
      else {
        const merged = await this.mergeStaged(chunk, shape, staged, unchanged === 0);
        await this.reportRejected(chunk, merged.rejected);
        rejected.push(...merged.rejected);
        counts = merged.counts;
      }
      counts.unchanged += unchanged;
    }
    await clearChunk(tx);
    return { counts, rejected: rejected.length };
  }

  /** Reports the chunk's rejected rows, with their cells as uploaded. */
  private async reportRejected(chunk: Chunk, rejected: RejectedRow[]): Promise<void> {
    for (const { row, field, code, message } of rejected) {
      const record = chunk.records!.get(row)!;
      await this.report([row, 0, record.ean, field, code, message, JSON.stringify(record.cells)]);
    }
  }

  /**
   * Merges the chunk table's `staged` rows, reading their stored products by the chunk's range of
   * EANs while ranges stay dense (a file in EAN order); the first range that is not turns it off
   * for the rest of the attempt, and that chunk is merged by its EANs. A chunk that lost its
   * unchanged rows (not `whole`) holds mostly new and changed rows: an upsert's is merged with one
   * probe per row (see upsertChunk), another mode's by its EANs (its range holds the rows taken
   * out too). Rows whose product was deleted, or whose new EAN was stored, while mergeChunk ran
   * are settled after it (see mergeVanishedRows): the rows the mode's rule then rejects (mode=update's
   * left without a product, mode=create's whose EAN is stored) come back as `rejected`.
   */
  private async mergeStaged(chunk: Chunk, shape: MergeShape, staged: number, whole: boolean): Promise<SettledRows> {
    const { tx, settings } = this;
    const { accountId, options, catalogWasEmpty } = settings;
    if (!whole && options.mode === 'upsert') return { counts: await upsertChunk(tx, accountId, shape, staged), rejected: [] };
    const merge = (range: EanRange | null) => mergeChunk(tx, accountId, options.mode, shape, staged, catalogWasEmpty, range);
    let merged: ChunkMergeResult | null = null;
    if (whole && this.byRange && chunk.eans) {
      merged = await merge(chunk.eans);
      if (!merged) this.byRange = false;
    }
    merged ??= (await merge(null))!;
    if (merged.vanished.length === 0) return { counts: merged.counts, rejected: [] };
    const settled = await mergeVanishedRows(tx, accountId, options.mode, shape, merged.vanished);
    const { created, updated, unchanged } = merged.counts;
    const more = settled.counts;
    return {
      counts: { created: created + more.created, updated: updated + more.updated, unchanged: unchanged + more.unchanged },
      rejected: settled.rejected,
    };
  }
}
