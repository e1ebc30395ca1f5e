import pg from 'pg';
import type { DbClient } from '../../shared/db/pool.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { CopyOutStream } from '../copy-out-stream.js';
import { RANGE_DENSITY, VALUE_COLUMNS, type MergeShape } from './chunk-sql.js';
import type { Chunk } from './import-chunk.js';

/** After a chunk in which fewer than this share of rows were unchanged, chunks go to the merge whole… */
const WORTH_IT = 0.25;
/** …for this many chunks; then one is tried again. */
const REST_CHUNKS = 16;

/** Size of the buffer the stored lines of a chunk are read into (more blocks for a larger chunk). */
const STORED_BLOCK_BYTES = 1 << 20;

/** The end of a chunk line whose file has no attribute columns: an empty attributes object. */
const EMPTY_ATTRIBUTES_TAIL = [0x09, 0x7b, 0x7d, 0x0a]; // "\t{}\n"
const TAB = 0x09;
const NEWLINE = 0x0a;

/** COPY takes no parameters: values go into its SQL text as quoted literals (EANs are digits, as validated). */
const literal = (value: string) => pg.escapeLiteral(value);

/**
 * Takes the rows of a re-import that would change nothing out of their chunk in the worker,
 * before anything is written to PostgreSQL: most rows of a catalog sent again each day are
 * unchanged, and COPYing them into the chunk table only for the merge to find them equal is
 * most of PostgreSQL's work on such a file.
 *
 * The stored products of a chunk's EANs are read with `COPY … TO STDOUT` in the same text format
 * the chunk is written in, with the file's columns and NULL for the others (which the merge keeps).
 * A row is unchanged when its line, from the EAN to the last value, is byte for byte the stored
 * product's line. Equal text is an equal value for every column (COPY reads back what it writes),
 * so this never hides a change; a row written in another form of the same value (`1.5` for a
 * stored `1.50`, `007` for `7`) goes to the merge, which decides as before.
 *
 * Not used for files with attribute columns (jsonb prints its objects in another form than the
 * worker), for mode `create` (an existing EAN is an error there), on an empty catalog (nothing to
 * read), or once rows of the file are checked for repeats in SQL (the seen table needs every EAN).
 *
 * The products read are not locked. One deleted by another transaction before the import commits
 * stays deleted, its row counted unchanged: the row wrote nothing, so the catalog and the counts
 * are those of the import coming first and the delete after it, as for a row the merge finds equal.
 * Locking them (FOR KEY SHARE) would write a lock into every stored row this class keeps PostgreSQL
 * from touching, and hold each DELETE of one until the import commits.
 */
export class UnchangedRows {
  private resting = 0;
  /** Blocks stored lines were read into, kept for the chunks after. */
  private readonly spares: Buffer[] = [];
  /** The stored lines of the chunk due next, read while the chunk before is compared (see {@link readAhead}). */
  private ahead: { chunk: Chunk; read: Promise<StoredLines | null> } | null = null;

  constructor(
    private readonly tx: DbClient,
    private readonly accountId: string,
  ) {}

  /** Whether an import with these settings can take unchanged rows out of its chunks. */
  static suits(options: ImportOptions, catalogWasEmpty: boolean, shape: MergeShape): boolean {
    return options.mode !== 'create' && !catalogWasEmpty && shape.attributeNames.length === 0;
  }

  /**
   * Takes the chunk's unchanged rows out of its text and returns how many there were. Reads the
   * stored products as the chunk's stretch of EANs when `byRange`; `rangeFits` is false when that
   * stretch held too many products, and they were read again by the chunk's EANs. `next`, the
   * chunk due after this one, has its stored products read while this one is compared.
   */
  async drop(chunk: Chunk, shape: MergeShape, byRange: boolean, next: Chunk | null = null): Promise<{ dropped: number; rangeFits: boolean }> {
    const ahead = this.ahead?.chunk === chunk ? this.ahead.read : null;
    if (this.ahead?.chunk !== next) this.ahead = null;
    if (!comparable(chunk)) return { dropped: 0, rangeFits: byRange };
    if (this.resting > 0) {
      this.resting -= 1;
      return { dropped: 0, rangeFits: byRange };
    }
    const reading = ahead ?? this.read(chunk, shape, byRange);
    if (next) this.readAhead(next, shape, byRange);
    const inRange = await reading;
    const rangeFits = byRange && inRange !== null;
    const stored = inRange ?? (await this.read(chunk, shape, false))!;
    const rows = chunk.rows;
    const dropped = dropStoredRows(chunk, stored.text, stored.byRange ? (chunk.ascending ? 'ean' : 'any') : 'rows');
    const block = stored.blocks[0];
    if (block && this.spares.length < 2) this.spares.push(block);
    if (dropped < rows * WORTH_IT) this.resting = REST_CHUNKS;
    return { dropped, rangeFits };
  }

  /**
   * Starts reading the stored products of `chunk`, due after the one being merged, so that
   * PostgreSQL reads them while the worker compares the chunk before. Its EANs are none of the
   * chunks' before it (rows were checked for repeats in the worker), so merging those first does
   * not change what it reads. Nothing is read when the chunk will not be compared.
   */
  readAhead(chunk: Chunk, shape: MergeShape, byRange: boolean): void {
    if (this.ahead || !comparable(chunk) || this.resting > 0) return;
    const read = this.read(chunk, shape, byRange);
    // Awaited by drop(); a read of a chunk never compared (the import failed) must not go unhandled.
    read.catch(() => {});
    this.ahead = { chunk, read };
  }

  /**
   * The stored lines of the chunk's EANs: by its stretch of EANs when `byRange` (null when that
   * stretch holds too many products), else by its EANs.
   */
  private async read(chunk: Chunk, shape: MergeShape, byRange: boolean): Promise<StoredLines | null> {
    if (byRange && chunk.eans) {
      const cap = RANGE_DENSITY * chunk.rows + 1;
      const { low, high } = chunk.eans;
      const where = `ean BETWEEN ${literal(low)} AND ${literal(high)} ORDER BY ean LIMIT ${cap}`;
      const stored = await this.copyOut(storedRangeSql(this.accountId, shape, where), true);
      return stored.lines < cap ? stored : null;
    }
    return this.copyOut(storedRowsSql(this.accountId, shape, chunkEans(chunk)), false);
  }

  private async copyOut(sql: string, byRange: boolean): Promise<StoredLines> {
    const blocks: Buffer[] = [];
    const stream = new CopyOutStream(sql, undefined, () => {
      const block = this.spares.pop() ?? Buffer.allocUnsafeSlow(STORED_BLOCK_BYTES);
      blocks.push(block);
      return block;
    });
    this.tx.query(stream);
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    const text = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return { text, lines: stream.rows, byRange, blocks };
  }
}

/** Stored products read back as COPY text, and the blocks that hold it. */
interface StoredLines {
  text: Buffer;
  lines: number;
  /** Whether they were read by the chunk's stretch of EANs, in EAN order; else one line per chunk row, in row order. */
  byRange: boolean;
  blocks: Buffer[];
}

/** Whether a chunk's rows can be compared with their stored products: checked for repeats in the worker, with their line starts kept. */
const comparable = (chunk: Chunk): boolean => chunk.checked && chunk.starts !== null && chunk.rows > 0;

/** The chunk's columns of products: the EAN, then the file's columns in chunk order, NULL for the others. */
function storedColumns(shape: MergeShape): string {
  return ['p.ean', ...VALUE_COLUMNS.map((column) => (shape.columns.has(column) ? `p.${column}` : 'NULL'))].join(', ');
}

/** `COPY … TO STDOUT` of the account's products matching `where`, in the chunk's columns (see storedColumns). */
function storedRangeSql(accountId: string, shape: MergeShape, where: string): string {
  return `COPY (SELECT ${storedColumns(shape)} FROM products p WHERE account_id = ${literal(accountId)}::uuid AND ${where}) TO STDOUT`;
}

/**
 * `COPY … TO STDOUT` of one line per EAN, in the order given: its stored product in the chunk's
 * columns, or a line of NULLs (`\N…`, which equals no chunk line) when it has none. Compared line
 * by line with the chunk's rows, nothing is looked up in the worker.
 */
function storedRowsSql(accountId: string, shape: MergeShape, eans: string[]): string {
  return `COPY (SELECT ${storedColumns(shape)} FROM unnest(${literal(`{${eans.join(',')}}`)}::text[]) WITH ORDINALITY AS u(ean, n)
    LEFT JOIN products p ON p.account_id = ${literal(accountId)}::uuid AND p.ean = u.ean ORDER BY u.n) TO STDOUT`;
}

/**
 * The first tab at or after `at`: where a line's first field ends. A chunk line's EAN starts after
 * the tab that ends its row number.
 */
function tabFrom(text: Buffer, at: number): number {
  while (text[at] !== TAB) at += 1;
  return at;
}

/** The EANs of the chunk's rows (digits only, as validated). */
function chunkEans(chunk: Chunk): string[] {
  const { text, starts } = chunk;
  const eans = new Array<string>(chunk.rows);
  for (let i = 0; i < chunk.rows; i += 1) {
    const start = tabFrom(text, starts![i]!) + 1;
    eans[i] = text.toString('latin1', start, tabFrom(text, start));
  }
  return eans;
}

/**
 * Byte order of the stored EAN at `at` (ending at a tab) against the chunk's EAN in
 * [`start`, `end`): the tab sorts before every digit, so a prefix comes first, as in products' key.
 */
function compareEan(stored: Buffer, at: number, text: Buffer, start: number, end: number): number {
  for (let k = 0; ; k += 1) {
    const a = stored[at + k]!;
    const b = start + k < end ? text[start + k]! : TAB;
    if (a !== b) return a - b;
    if (a === TAB) return 0;
  }
}

/** Map from EAN to the start of its stored line. */
function storedIndex(stored: Buffer): Map<string, number> {
  const index = new Map<string, number>();
  for (let at = 0; at < stored.length; at = stored.indexOf(NEWLINE, at) + 1) {
    index.set(stored.toString('latin1', at, tabFrom(stored, at)), at);
  }
  return index;
}

/**
 * How stored lines line up with a chunk's rows: `ean`, both in EAN order (walked side by side);
 * `any`, stored lines in EAN order and rows in any (looked up by EAN); `rows`, one stored line per
 * row, in row order (see storedRowsSql).
 */
export type StoredOrder = 'ean' | 'any' | 'rows';

/**
 * Takes out of the chunk every row whose line (from its EAN to its last value) equals a stored
 * line, moving the others together in its text, and returns how many were taken out. `stored` is
 * COPY output (see storedRangeSql and storedRowsSql), lined up with the rows as `order` says.
 */
export function dropStoredRows(chunk: Chunk, stored: Buffer, order: StoredOrder): number {
  const { text, starts } = chunk;
  const rows = chunk.rows;
  const index = order === 'any' ? storedIndex(stored) : null;
  let cursor = 0;
  let kept = 0;
  let written = 0;
  for (let i = 0; i < rows; i += 1) {
    const start = starts![i]!;
    const end = i + 1 < rows ? starts![i + 1]! : chunk.bytes;
    const eanStart = tabFrom(text, start) + 1;
    const valuesEnd = end - EMPTY_ATTRIBUTES_TAIL.length;
    let line = -1;
    if (order === 'rows') {
      if (cursor < stored.length) line = cursor;
      cursor = stored.indexOf(NEWLINE, cursor) + 1;
    } else if (index) line = index.get(text.toString('latin1', eanStart, tabFrom(text, eanStart))) ?? -1;
    else {
      const eanEnd = tabFrom(text, eanStart);
      let sign = -1;
      while (cursor < stored.length && (sign = compareEan(stored, cursor, text, eanStart, eanEnd)) < 0) {
        cursor = stored.indexOf(NEWLINE, cursor) + 1;
      }
      if (cursor < stored.length && sign === 0) line = cursor;
    }
    if (line >= 0 && sameValues(text, eanStart, valuesEnd, stored, line)) continue;
    if (written !== start) text.copy(text, written, start, end);
    starts![kept] = written;
    kept += 1;
    written += end - start;
  }
  chunk.rows = kept;
  chunk.bytes = written;
  return rows - kept;
}

/** Whether the chunk line's values [`from`, `to`), followed by empty attributes, equal the stored line at `line`. */
function sameValues(text: Buffer, from: number, to: number, stored: Buffer, line: number): boolean {
  for (let k = 0; k < EMPTY_ATTRIBUTES_TAIL.length; k += 1) if (text[to + k] !== EMPTY_ATTRIBUTES_TAIL[k]) return false;
  const lineEnd = stored.indexOf(NEWLINE, line);
  return lineEnd - line === to - from && stored.compare(text, from, to, line, lineEnd) === 0;
}
