import type { DbClient } from '../../shared/db/pool.js';
import { copyText, writeDigits } from './copy-writer.js';
import { doubledArrays, eanOfKey, keepSpareArrays, SEEN_SLOTS_MAX, takeSpareArrays } from './seen-eans.js';

/** Columns of the seen-EAN table and of the seen log, in COPY order. */
const SEEN_COLUMNS = ['ean', 'row'] as const;

/** Longest `ean\trow\n` line of the seen log: 14 digits, a row of at most 10. */
const SEEN_LINE_BYTES = 26;

/**
 * Writes `ean\trow\n` (COPY text of the seen log and of the seen table) into `buffer` at `at`,
 * with room for {@link SEEN_LINE_BYTES}; returns the offset after it. The row's digits are written
 * from the last: no string per row.
 */
export function writeSeenLine(buffer: Buffer, at: number, ean: string, row: number): number {
  let end = at + buffer.write(ean, at, 'latin1');
  buffer[end++] = 0x09;
  end = writeDigits(buffer, end, row);
  buffer[end] = 0x0a;
  return end + 1;
}

/** COPY text of seen EANs sent at once when they move to the database. */
const SEEN_BLOCK_BYTES = 1 << 20;

/**
 * COPYs `ean\trow` lines into `table` (import_seen, or a first load's import_seen_log) through one
 * buffer, a block at a time: hundreds of thousands of lines waiting as strings would be promoted to
 * the old generation, and the heap would grow by tens of megabytes.
 */
export async function copySeenLines(tx: DbClient, table: string, lines: Iterable<[ean: string, row: number]>): Promise<void> {
  const block = Buffer.allocUnsafeSlow(SEEN_BLOCK_BYTES);
  let bytes = 0;
  for (const [ean, row] of lines) {
    if (bytes + SEEN_LINE_BYTES > block.length) {
      await copyText(tx, table, SEEN_COLUMNS, block.subarray(0, bytes));
      bytes = 0;
    }
    bytes = writeSeenLine(block, bytes, ean, row);
  }
  if (bytes > 0) await copyText(tx, table, SEEN_COLUMNS, block.subarray(0, bytes));
}

/** A new log's size: 2^16 rows, 768 KiB; it doubles as rows come. */
const LOG_ENTRIES_MIN = 1 << 16;

/**
 * The seen log of a first load (see FirstLoadRepeats): the EAN key (see eanKey) and row of every
 * row written to products, in memory (12 bytes a row, off the JavaScript heap, as SeenEans holds
 * them). It is read only when the file repeats an EAN, to name the row of its first occurrence;
 * that is done in SQL, so only then is the log written to the transaction's import_seen_log. A
 * {@link full} log is moved there at the next chunk, so memory stays bounded whatever the file's
 * size.
 *
 * It starts small and doubles as rows come, rather than at a size from the file's: in
 * `bench:import`, taking 24 MiB at once at the start of a 1M-row first load left V8 marking the
 * heap all through the import in 8 runs of 14 (see node-flags.ts), growing from 768 KiB in 3 of 15.
 */
export class SeenLog {
  private keys: Float64Array;
  private rows: Uint32Array;
  size = 0;

  constructor(
    /**
     * Most rows the log takes (a power of two). It is {@link full} at three quarters of them: the
     * rows of the chunks built before it is moved fit in the rest, so it does not double past it.
     */
    private readonly maxEntries = SEEN_SLOTS_MAX,
  ) {
    const arrays = takeSpareArrays(Math.min(LOG_ENTRIES_MIN, maxEntries), maxEntries);
    this.keys = arrays.keys;
    this.rows = arrays.rows;
  }

  /** Whether the log holds three quarters of `maxEntries` rows or more: {@link flush} it. */
  get full(): boolean {
    return this.size >= this.maxEntries * 0.75;
  }

  /** Logs row `row` with the EAN of `key`, growing the log when it has no room. */
  add(key: number, row: number): void {
    if (this.size === this.keys.length) this.grow();
    this.keys[this.size] = key;
    this.rows[this.size] = row;
    this.size += 1;
  }

  /**
   * Moves the rows logged so far to import_seen_log. Rows logged while it writes (the next
   * chunk is built meanwhile) stay for the next flush.
   */
  async flush(tx: DbClient): Promise<void> {
    const moved = this.size;
    if (moved === 0) return;
    await copySeenLines(tx, 'import_seen_log', this.lines(moved));
    this.keys.copyWithin(0, moved, this.size);
    this.rows.copyWithin(0, moved, this.size);
    this.size -= moved;
  }

  /** Calls `visit` with the EAN key of every row in the log. */
  forEachKey(visit: (key: number) => void): void {
    for (let i = 0; i < this.size; i += 1) visit(this.keys[i]!);
  }

  /** Lets go of the log: the attempt has ended (see keepSpareArrays). */
  clear(): void {
    keepSpareArrays({ keys: this.keys, rows: this.rows });
    this.keys = new Float64Array(1);
    this.rows = new Uint32Array(1);
    this.size = 0;
  }

  /** The first `count` rows as [EAN, row]; read as they are written (the arrays may grow meanwhile). */
  private *lines(count: number): Generator<[ean: string, row: number]> {
    for (let i = 0; i < count; i += 1) yield [eanOfKey(this.keys[i]!), this.rows[i]!];
  }

  private grow(): void {
    ({ keys: this.keys, rows: this.rows } = doubledArrays({ keys: this.keys, rows: this.rows }, this.size));
  }
}
