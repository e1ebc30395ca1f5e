import { copyValue } from './copy-writer.js';
import type { ValidRow } from './row-reader.js';
import { writeVerbatimLine, type VerbatimLines } from './verbatim-lines.js';

/** A chunk goes to PostgreSQL at this many rows or bytes of COPY text, whichever comes first. */
export const CHUNK_ROWS = 5_000;
export const CHUNK_BYTES = 1 << 20;

/**
 * Rows gathered for one COPY. Their COPY text goes straight into a buffer (off the JavaScript
 * heap) and the cells of a row are kept only when a set-based rule may reject it, so that little
 * outlives a row: with the worker's small heap, objects kept for a whole chunk are promoted to the
 * old generation and collected at a high price.
 */
export interface Chunk {
  /** Whether its rows were checked against the EANs seen before in the worker (else in SQL). */
  checked: boolean;
  text: Buffer;
  bytes: number;
  rows: number;
  /** The lowest and highest EAN of its rows, when it has rows; not kept for a direct chunk. */
  eans: EanRange | null;
  /** Whether each row's EAN sorts after the row before's (a file in EAN order); not kept for a direct chunk. */
  ascending: boolean;
  /**
   * Where each row's line starts in `text`, in row order; null for a direct chunk. Lets rows be
   * taken out of the text again (see UnchangedRows).
   */
  starts: Int32Array | null;
  /** Cells of each row as uploaded, for the report of rows a set-based rule rejects; null when no rule can. */
  records: Map<number, { ean: string; cells: string[] }> | null;
  /**
   * Set when its rows go straight into products (a first load, see isFirstLoad in import-transaction.ts):
   * the rows held back because the EAN filter says their EAN may have been seen (see
   * FirstLoadRepeats). Null otherwise.
   */
  direct: DirectRows | null;
}

/** The lowest and highest EAN of a chunk's rows (text order, as products' key). */
export interface EanRange {
  low: string;
  high: string;
}

/** What a direct chunk keeps beside its COPY text. */
export interface DirectRows {
  candidates: Candidate[];
}

/** A row whose EAN may have been seen before in the file: checked against the database. */
export interface Candidate {
  row: number;
  ean: string;
  /** Its COPY line for products. */
  line: string;
  cells: string[];
}

/** The attributes as JSON; most files have no attribute columns, so skip stringify for `{}`. */
export function attributesJson(attributes: ValidRow['attributes']): string {
  for (const _ in attributes) return JSON.stringify(attributes);
  return '{}';
}

/** An optional text value in COPY text format (`\\N` for null). */
const optional = (value: string | null): string => (value === null ? '\\N' : copyValue(value));

/**
 * The COPY line (with its newline) of a valid row, for products or the chunk table: `first` (the
 * account id, or the row number), then the EAN, the product's values and its attributes as JSON.
 * Joined from an array, which gives one flat string: a template literal of this length is a rope
 * of a dozen string objects, which writing it to the buffer then flattens into one more. The EAN,
 * price, currency and stock were validated (digits, a decimal, three letters, a number) and need
 * no escaping.
 */
export function validRowLine(first: string | number, product: ValidRow): string {
  const { price, currency, stock } = product;
  return [
    first,
    product.ean,
    optional(product.name),
    optional(product.brand),
    optional(product.category),
    optional(product.description),
    price ?? '\\N',
    currency ?? '\\N',
    stock ?? '\\N',
    optional(product.image_url),
    `${copyValue(attributesJson(product.attributes))}\n`,
  ].join('\t');
}

/** Size of a chunk's COPY text buffer: a chunk is handed off once it holds CHUNK_BYTES. */
export const CHUNK_BUFFER_BYTES = CHUNK_BYTES + (64 << 10);

/** The buffers of a merged chunk, for a new one (see ChunkBuilder.recycle). */
export interface SpareChunkBuffers {
  text: Buffer | null;
  starts: Int32Array | null;
}

/** A new chunk, whose COPY text and line starts go into `spare` buffers where there are some. */
export const emptyChunk = (checked: boolean, direct: boolean, keepRecords: boolean, spare: SpareChunkBuffers): Chunk => ({
  checked,
  text: spare.text ?? Buffer.allocUnsafeSlow(CHUNK_BUFFER_BYTES),
  bytes: 0,
  rows: 0,
  eans: null,
  ascending: true,
  starts: direct ? null : (spare.starts ?? new Int32Array(CHUNK_ROWS)),
  records: keepRecords ? new Map() : null,
  direct: direct ? { candidates: [] } : null,
});

/** Rows of the chunk, counting those held back as candidates: a chunk is handed off at CHUNK_ROWS. */
export const rowsOf = (chunk: Chunk): number => chunk.rows + (chunk.direct?.candidates.length ?? 0);

/** Widens the chunk's range of EANs by `ean` (digits only, so string order is products' byte order). */
export function coverEan(chunk: Chunk, ean: string): void {
  const { eans } = chunk;
  if (eans === null) chunk.eans = { low: ean, high: ean };
  else if (ean > eans.high) eans.high = ean;
  else {
    chunk.ascending = false;
    if (ean < eans.low) eans.low = ean;
  }
}

/** Appends `line` to the chunk's COPY text, growing the buffer for a very long row. */
export function appendLine(chunk: Chunk, line: string): void {
  makeRoom(chunk, line.length * 3);
  chunk.bytes += chunk.text.write(line, chunk.bytes);
}

/** Appends the COPY line of a row copied as uploaded (see VerbatimLines and writeVerbatimLine). */
export function appendVerbatim(chunk: Chunk, first: Buffer | number, line: string, verbatim: VerbatimLines): void {
  makeRoom(chunk, line.length * 3 + 64 + verbatim.suffix.length);
  chunk.bytes = writeVerbatimLine(chunk.text, chunk.bytes, first, line, verbatim);
}

/** Grows the chunk's text buffer when `most` more bytes might not fit (a very long row). */
function makeRoom(chunk: Chunk, most: number): void {
  if (chunk.bytes + most > chunk.text.length) {
    const grown = Buffer.allocUnsafeSlow(Math.max(chunk.text.length * 2, chunk.bytes + most));
    chunk.text.copy(grown, 0, 0, chunk.bytes);
    chunk.text = grown;
  }
}
