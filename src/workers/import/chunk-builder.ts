import type { ImportOptions } from '../../shared/jobs/import-options.js';
import type { FirstLoadRepeats } from './first-load-repeats.js';
import {
  appendLine,
  appendVerbatim,
  CHUNK_BUFFER_BYTES,
  CHUNK_BYTES,
  CHUNK_ROWS,
  coverEan,
  emptyChunk,
  rowsOf,
  validRowLine,
  type Chunk,
  type SpareChunkBuffers,
} from './import-chunk.js';
import type { ValidRow } from './row-reader.js';
import { SeenEans, seenSlotsFor } from './seen-eans.js';
import { cellsOfLine, verbatimLineText, type VerbatimLines } from './verbatim-lines.js';

/** A chunk ready to be merged, with the EANs seen so far when they are to leave the worker's memory. */
export interface FullChunk {
  chunk: Chunk;
  /** The worker's seen EANs, to move to the transaction's seen table after this chunk (a very large file). */
  spill: SeenEans | null;
}

/**
 * Gathers an attempt's valid rows into chunks of COPY text (see Chunk). Repeats of an EAN are
 * caught here while the worker can: against its table of seen EANs, or, on a first load (see
 * isFirstLoad), by the filter of FirstLoadRepeats, whose "maybe seen" rows are held back for a
 * check against products.
 */
export class ChunkBuilder {
  /**
   * Not for a first load: EANs of the file's valid rows so far, while they fit in the worker's
   * memory; null once they were moved to the transaction's seen table (a very large file).
   */
  private seen: SeenEans | null;
  private chunk: Chunk;
  /**
   * The COPY text buffer and line starts of a merged chunk, reused for the chunk after next. A
   * buffer that lives as long as a chunk outlasts young-generation collections, and V8 counts every
   * such byte outside the heap towards its next full collection.
   */
  private spare: SpareChunkBuffers = { text: null, starts: null };
  /** How rows read with their line (ValidRow.line) are copied into chunks; null until the layout is known, or when they cannot be. */
  private verbatim: VerbatimLines | null = null;
  /** Whether the merge may reject rows for the file's columns (see ChunkMerger.rejectsByColumns); known with the layout. */
  private rejectsByColumns = false;
  /** The account id and a tab: how a direct chunk's lines begin. */
  private readonly accountPrefix: Buffer;

  constructor(
    private readonly settings: {
      accountId: string;
      options: ImportOptions;
      catalogWasEmpty: boolean;
      /** Size of the upload: the table of seen EANs starts at the size it will need. */
      fileBytes: number;
      seenEanSlots?: number;
    },
    /** Set on a first load: its chunks go straight into products. */
    private readonly repeats: FirstLoadRepeats | null,
  ) {
    const { seenEanSlots, fileBytes } = settings;
    this.seen = repeats ? null : new SeenEans(seenEanSlots, seenSlotsFor(fileBytes, seenEanSlots));
    this.chunk = this.newChunk();
    this.accountPrefix = Buffer.from(`${settings.accountId}\t`);
  }

  /**
   * Sets, once the header is read, how rows read with their line are copied into chunks (see
   * VerbatimLines), and whether the merge may reject rows for the file's columns (see
   * ChunkMerger.rejectsByColumns): chunks then keep their rows' cells for the report.
   */
  setLayout(verbatim: VerbatimLines | null, rejectsByColumns: boolean): void {
    this.verbatim = verbatim;
    this.rejectsByColumns = rejectsByColumns;
    if (rejectsByColumns) this.chunk.records ??= new Map();
  }

  /**
   * Adds a valid row to the current chunk. Returns the row where its EAN first appeared when the
   * worker has seen it already: the row is a repeat and is not added.
   */
  add(row: number, product: ValidRow, cells: string[]): number | undefined {
    return this.addRow(row, product.ean, product, product.line ?? null, cells);
  }

  /**
   * Adds a row the fast lane took (see PlainRows): its line goes into the chunk as uploaded, and its
   * cells are cut out only if a repeat check or a set-based rule needs them. Returns as {@link add}.
   */
  addPlain(row: number, ean: string, line: string): number | undefined {
    return this.addRow(row, ean, null, line, null);
  }

  /** {@link add} of a row with its values (`product`), or with its line only (fast lane); `cells` null: cut from the line. */
  private addRow(row: number, ean: string, product: ValidRow | null, line: string | null, cells: string[] | null): number | undefined {
    const firstRow = this.seen?.firstRowOrAdd(ean, row);
    if (firstRow) return firstRow;
    const chunk = this.chunk;
    const { verbatim } = this;
    const copied = verbatim !== null && line !== null ? line : null;
    if (chunk.direct && this.repeats!.maybeSeen(ean, row)) {
      const text = copied !== null ? verbatimLineText(this.accountPrefix, copied, verbatim!) : validRowLine(this.settings.accountId, product!);
      chunk.direct.candidates.push({ row, ean, line: text, cells: cells ?? this.cellsOf(line!) });
    } else {
      if (chunk.starts) chunk.starts[chunk.rows] = chunk.bytes;
      if (copied !== null) appendVerbatim(chunk, chunk.direct ? this.accountPrefix : row, copied, verbatim!);
      else appendLine(chunk, validRowLine(chunk.direct ? this.settings.accountId : row, product!));
      chunk.rows += 1;
      chunk.records?.set(row, { ean, cells: cells ?? this.cellsOf(line!) });
      if (!chunk.direct) coverEan(chunk, ean);
    }
    return undefined;
  }

  /** The cells of a line the fast lane took, for a report or a set-based rule (see cellsOfLine). */
  cellsOf(line: string): string[] {
    return cellsOfLine(line, this.verbatim!);
  }

  /** Whether the current chunk has reached CHUNK_ROWS rows or CHUNK_BYTES of COPY text. */
  get full(): boolean {
    return rowsOf(this.chunk) >= CHUNK_ROWS || this.chunk.bytes >= CHUNK_BYTES;
  }

  /** Hands over the current chunk (null when it has no rows) and starts the next one. */
  take(): FullChunk | null {
    if (rowsOf(this.chunk) === 0) return null;
    const chunk = this.chunk;
    // Past the memory budget, the EANs seen so far go to the seen table after this chunk.
    const spill = this.seen?.full ? this.seen : null;
    if (spill) this.seen = null;
    this.chunk = this.newChunk();
    return { chunk, spill };
  }

  /** Lets go of the table of seen EANs: the attempt has ended. */
  release(): void {
    this.seen?.clear();
    this.seen = null;
  }

  /** Takes back a merged chunk's buffers for the chunk after next (a grown text buffer is let go). */
  recycle(chunk: Chunk): void {
    if (chunk.text.length === CHUNK_BUFFER_BYTES) this.spare.text = chunk.text;
    if (chunk.starts) this.spare.starts = chunk.starts;
  }

  /**
   * A chunk for the next rows. Their cells are kept only if a set-based rule may reject one:
   * repeats not caught in the worker, mode create (unless nothing is stored) or update, and a rule
   * of the file's columns. On a first load the chunk is direct: its rows go straight into products.
   */
  private newChunk(): Chunk {
    const direct = this.repeats !== null;
    const checked = direct || this.seen !== null;
    const { mode } = this.settings.options;
    const byMode = mode === 'update' || (mode === 'create' && !this.settings.catalogWasEmpty);
    const spare = this.spare;
    this.spare = { text: null, starts: null };
    return emptyChunk(checked, direct, !checked || byMode || this.rejectsByColumns, spare);
  }
}
