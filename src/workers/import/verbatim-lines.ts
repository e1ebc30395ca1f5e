import { writeDigits } from './copy-writer.js';
import { splitLine } from './csv-text.js';
import { PRODUCT_COLUMNS, type ColumnLayout } from './header.js';

const TAB = 0x09;

/**
 * How a CSV line goes into a chunk as it was uploaded. When a file's columns are the product
 * columns in their documented order (`ean,name,brand,…`, or the first of them) and it has no
 * attribute columns, a line whose cells are its COPY values as they stand (none empty, trimmed,
 * normalized or escaped) is its COPY line once its delimiters are tabs: the row's line is copied
 * into the chunk instead of being joined from its values. The bytes are those `validRowLine`
 * gives, so everything after the chunk is the same.
 */
export interface VerbatimLines {
  /** The file's delimiter (one ASCII byte), replaced by tabs. */
  delimiter: number;
  /** The same delimiter as text. */
  delimiterText: string;
  /** What follows the file's last column in a COPY line: `\N` for each product column it lacks, `{}` for attributes, the newline. */
  suffix: Buffer;
  /** A line with one of these characters is not copied: COPY text escapes them. */
  special: RegExp;
}

/** How lines of a file with `layout` and `delimiter` are copied into chunks, or null when they cannot be. */
export function verbatimLines(layout: ColumnLayout, delimiter: string): VerbatimLines | null {
  const code = delimiter.charCodeAt(0);
  if (delimiter.length !== 1 || code >= 0x80 || layout.attributes.length > 0 || layout.attributesJson !== undefined) return null;
  const count = layout.header.length;
  if (count > PRODUCT_COLUMNS.length) return null;
  for (let index = 0; index < count; index += 1) if (layout.product[PRODUCT_COLUMNS[index]!] !== index) return null;
  return {
    delimiter: code,
    delimiterText: delimiter,
    suffix: Buffer.from(`${'\t\\N'.repeat(PRODUCT_COLUMNS.length - count)}\t{}\n`),
    special: code === TAB ? /[\\\r]/ : /[\\\t\r]/,
  };
}

/**
 * Writes the COPY line of a row copied as uploaded into `buffer` at `at`: `first` (the account id
 * and a tab, as bytes, or the row number), the line with tabs for delimiters, the suffix. The
 * caller leaves room for the line's UTF-8 bytes (at most 3 per character) and 64 more. Returns the
 * offset after it.
 */
export function writeVerbatimLine(buffer: Buffer, at: number, first: Buffer | number, line: string, verbatim: VerbatimLines): number {
  let end = typeof first === 'number' ? writeDigits(buffer, at, first) : writeShort(buffer, at, first);
  if (typeof first === 'number') buffer[end++] = TAB;
  const from = end;
  end += buffer.write(line, end);
  const { delimiter } = verbatim;
  if (delimiter !== TAB) for (let i = from; i < end; i += 1) if (buffer[i] === delimiter) buffer[i] = TAB;
  return writeShort(buffer, end, verbatim.suffix);
}

/** Copies the few bytes of `bytes` into `buffer` at `at` (a loop: `Buffer.copy` costs more for a handful); returns the offset after them. */
function writeShort(buffer: Buffer, at: number, bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i += 1) buffer[at + i] = bytes[i]!;
  return at + bytes.length;
}

/** The COPY line of a row copied as uploaded, as a string (a row held back for a check keeps it so). */
export function verbatimLineText(first: Buffer | number, line: string, verbatim: VerbatimLines): string {
  const buffer = Buffer.allocUnsafe(line.length * 3 + 64 + verbatim.suffix.length);
  return buffer.toString('utf8', 0, writeVerbatimLine(buffer, 0, first, line, verbatim));
}

/** The cells of a quote-free line, as the CSV reader cuts them. */
export function cellsOfLine(line: string, verbatim: VerbatimLines): string[] {
  return splitLine(line, 0, line.length, verbatim.delimiterText);
}
