/** The default slot budget of {@link SeenEans}: 24 MiB. */
export const SEEN_SLOTS_MAX = 1 << 21;

/** Arrays this long or longer are kept for reuse when let go (see {@link keepSpareArrays}). */
const SPARE_SLOTS_MIN = 1 << 18;

/** An EAN key array and its row array, as SeenEans and SeenLog hold them. */
export interface KeyRowArrays {
  keys: Float64Array;
  rows: Uint32Array;
}

/** The arrays of the largest table or log let go, for the process's next one. */
let spare: KeyRowArrays | null = null;

/**
 * The arrays let go last (see {@link keepSpareArrays}) when their length is from `min` to `max`;
 * else new ones of length `min`, and spare arrays of another length are let go for good (the
 * process would otherwise keep them beside the new ones). Reused keys are zeroed when `zeroKeys`
 * (new ones are); otherwise reused arrays hold what was in them.
 */
export function takeSpareArrays(min: number, max: number, zeroKeys = false): KeyRowArrays {
  const kept = spare;
  spare = null;
  if (kept === null || kept.keys.length < min || kept.keys.length > max) {
    return { keys: new Float64Array(min), rows: new Uint32Array(min) };
  }
  if (zeroKeys) kept.keys.fill(0);
  return kept;
}

/**
 * Keeps large arrays let go for the process's next table or log. Their memory is off the
 * JavaScript heap and is given back only by a full garbage collection, so back-to-back imports
 * would otherwise hold two sets at once.
 */
export function keepSpareArrays(arrays: KeyRowArrays): void {
  if (arrays.keys.length >= SPARE_SLOTS_MIN && (spare === null || spare.keys.length < arrays.keys.length)) spare = arrays;
}

/** The ascending run's first size (see SeenEans): 2^16 EANs, 768 KiB; it doubles as EANs come. */
const RUN_ENTRIES_MIN = 1 << 16;

/** Arrays twice as long holding the first `count` entries of `arrays`. */
export function doubledArrays(arrays: KeyRowArrays, count: number): KeyRowArrays {
  const keys = new Float64Array(arrays.keys.length * 2);
  const rows = new Uint32Array(arrays.rows.length * 2);
  keys.set(arrays.keys.subarray(0, count));
  rows.set(arrays.rows.subarray(0, count));
  return { keys, rows };
}

/**
 * The EANs seen so far in one import file, each with the row of its first occurrence, so that a
 * later row with the same EAN is caught in the worker instead of by a table lookup per row.
 *
 * An EAN is 8, 12, 13 or 14 digits; `1` followed by its digits is a whole number below 2^53, so it
 * is held exactly in a double, and EANs of different lengths ("012345678905" and "12345678905")
 * stay different. The numbers live in typed arrays (12 bytes an EAN, off the JavaScript heap, no
 * object per EAN), in two places:
 * - the ascending run: every EAN greater than all before it, appended in order (a file sorted by
 *   EAN is all run). An EAN above the run's last cannot have been seen, so it costs one write; an
 *   EAN below it is looked up by bisection. Appending touches memory in order, where a hash table
 *   misses the processor's cache on nearly every EAN of a large file.
 * - an open-addressing hash table for the others, taken at the first EAN that is not above the
 *   run's last (at once for a file in no order).
 * Once it holds {@link SeenEans.full} EANs the caller moves them to the database and stops adding
 * here, so memory stays bounded whatever the file size.
 */
export class SeenEans {
  private run: KeyRowArrays;
  private runSize = 0;
  /** The hash table; empty (one slot) until an EAN comes out of order. */
  private keys: Float64Array = new Float64Array(1);
  private rows: Uint32Array = new Uint32Array(1);
  private mask = 0;
  /** EANs held, in the run and the table. */
  size = 0;

  constructor(
    /** Most slots the table may take (a power of two): 2^21 slots are 24 MiB, full at about 1.47M EANs. */
    private readonly maxSlots = SEEN_SLOTS_MAX,
    /** The table's first size, when it is taken early in the file (a file in no order). */
    private readonly initialSlots = 1 << 16,
  ) {
    this.run = takeSpareArrays(Math.min(RUN_ENTRIES_MIN, maxSlots), maxSlots);
  }

  /** True once no more EANs should be added: the caller moves them to the database. */
  get full(): boolean {
    return this.size >= this.maxSlots * 0.7;
  }

  /**
   * Records `ean` (digits only, as validated) first seen at `row`; returns 0 when it is new, or the
   * row of its first occurrence when it was seen before (rows are 1-based).
   */
  firstRowOrAdd(ean: string, row: number): number {
    const key = eanKey(ean);
    const runSize = this.runSize;
    if (runSize === 0 || key > this.run.keys[runSize - 1]!) {
      if (runSize === this.run.keys.length) this.run = doubledArrays(this.run, runSize);
      this.run.keys[runSize] = key;
      this.run.rows[runSize] = row;
      this.runSize = runSize + 1;
      this.size += 1;
      return 0;
    }
    return this.runRow(key) || this.tableRowOrAdd(key, row);
  }

  /** Every EAN held, with the row of its first occurrence (in no particular order). */
  *entries(): Generator<[ean: string, row: number]> {
    for (let i = 0; i < this.runSize; i += 1) yield [eanOfKey(this.run.keys[i]!), this.run.rows[i]!];
    for (let slot = 0; slot <= this.mask; slot += 1) {
      const key = this.keys[slot]!;
      if (key !== 0) yield [eanOfKey(key), this.rows[slot]!];
    }
  }

  /** Lets go of the run and the table (their EANs are in the database now, or the import ended); see {@link keepSpareArrays}. */
  clear(): void {
    keepSpareArrays(this.run);
    keepSpareArrays({ keys: this.keys, rows: this.rows });
    this.run = { keys: new Float64Array(1), rows: new Uint32Array(1) };
    this.runSize = 0;
    this.keys = new Float64Array(1);
    this.rows = new Uint32Array(1);
    this.mask = 0;
    this.size = 0;
  }

  /** The row of `key` in the run (found by bisection), or 0. */
  private runRow(key: number): number {
    const keys = this.run.keys;
    let low = 0;
    let high = this.runSize - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = keys[middle]!;
      if (found === key) return this.run.rows[middle]!;
      if (found < key) low = middle + 1;
      else high = middle - 1;
    }
    return 0;
  }

  private tableRowOrAdd(key: number, row: number): number {
    // The table's first size: the file's when the run is short (a file in no order), else small.
    if (this.mask === 0) this.takeTable(this.runSize < RUN_ENTRIES_MIN ? this.initialSlots : 1 << 16);
    let slot = hash(key) & this.mask;
    for (;;) {
      const stored = this.keys[slot]!;
      if (stored === 0) break;
      if (stored === key) return this.rows[slot]!;
      slot = (slot + 1) & this.mask;
    }
    this.keys[slot] = key;
    this.rows[slot] = row;
    this.size += 1;
    // Past maxSlots only if the caller kept adding long after `full` (never with real chunk sizes).
    const slots = this.mask + 1;
    const held = this.size - this.runSize;
    if (held > slots * 0.75 && (slots < this.maxSlots || held > slots * 0.9)) this.grow();
    return 0;
  }

  private takeTable(slots: number): void {
    const run = this.run;
    if (run.keys.length > RUN_ENTRIES_MIN && this.runSize <= RUN_ENTRIES_MIN) {
      // The run took over the arrays of a table let go before (see takeSpareArrays), and stays
      // short: the table takes them instead, rather than new ones beside them.
      this.run = { keys: run.keys.slice(0, RUN_ENTRIES_MIN), rows: run.rows.slice(0, RUN_ENTRIES_MIN) };
      keepSpareArrays(run);
    }
    const arrays = takeSpareArrays(Math.min(slots, this.maxSlots), this.maxSlots, true);
    this.keys = arrays.keys;
    this.rows = arrays.rows;
    this.mask = this.keys.length - 1;
  }

  private grow(): void {
    const { keys, rows } = this;
    const slots = (this.mask + 1) * 2;
    this.keys = new Float64Array(slots);
    this.rows = new Uint32Array(slots);
    this.mask = slots - 1;
    for (let old = 0; old < keys.length; old += 1) {
      const key = keys[old]!;
      if (key === 0) continue;
      let slot = hash(key) & this.mask;
      while (this.keys[slot] !== 0) slot = (slot + 1) & this.mask;
      this.keys[slot] = key;
      this.rows[slot] = rows[old]!;
    }
  }
}

/**
 * The first size of a file's table of seen EANs, from the file's size: room for one EAN per 64
 * bytes of file (a row is seldom shorter), from 2^16 slots up to `maxSlots`. A table that starts
 * at its final size is never grown: growing briefly holds the old table and one twice its size,
 * which for a large file would be the import's peak of memory.
 */
export function seenSlotsFor(fileBytes: number, maxSlots = SEEN_SLOTS_MAX): number {
  let slots = 1 << 16;
  while (slots < maxSlots && slots * 0.7 * 64 < fileBytes) slots *= 2;
  return slots;
}

/** `1` followed by the EAN's digits, as a number (exact: at most 15 digits). */
export function eanKey(ean: string): number {
  let key = 1;
  for (let i = 0; i < ean.length; i += 1) key = key * 10 + (ean.charCodeAt(i) - 48);
  return key;
}

/** The EAN of a key made by {@link eanKey}. */
export const eanOfKey = (key: number): string => String(key).slice(1);

/** Mixes both 32-bit halves of a key into a table index. */
export function hash(key: number): number {
  const low = key >>> 0;
  const high = (key / 4_294_967_296) >>> 0;
  let h = Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
