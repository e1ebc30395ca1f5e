import type { ImportMode } from '../../shared/jobs/import-options.js';
import { isValidGtinAt } from '../../shared/product/gtin.js';
import { currencySchema, imageUrlSchema } from '../../shared/product/schema.js';
import type { ColumnLayout } from './header.js';
import { TEXT_LIMITS } from './row-reader.js';
import type { VerbatimLines } from './verbatim-lines.js';

const APOSTROPHE = 0x27;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const MAX_STOCK = 2_147_483_647;

/** Longest text of the free-text columns, by their place in the documented column order. */
const TEXT_LIMIT_AT = [0, TEXT_LIMITS.name, TEXT_LIMITS.brand, TEXT_LIMITS.category, TEXT_LIMITS.description];

/**
 * The import's fast lane for the common row of a file whose lines are copied into chunks as
 * uploaded (see VerbatimLines): a quote-free line is checked where it lies in the decoded text,
 * cell by cell, without cutting it into cells or building the row's values. A line it takes is a
 * valid row whose cells are its values as they stand, exactly the rows RowReader would accept with
 * their line; it is stricter where that is simpler (a name that begins with a space or a
 * non-ASCII character, a cell that begins with `'`), and any line it does not take is read the
 * usual way, which reports its problems or accepts it all the same. A unit test holds the two to
 * that.
 */
export class PlainRows {
  private readonly columns: number;
  private readonly nameRequired: boolean;
  /** The last currency cell taken: a file uses a handful, most rows the same. */
  private currency = '';

  /** `layout` is one `verbatim` was made for: the product columns in their documented order. */
  constructor(
    layout: ColumnLayout,
    mode: ImportMode,
    private readonly verbatim: VerbatimLines,
  ) {
    this.columns = layout.header.length;
    this.nameRequired = mode !== 'update';
  }

  /** The EAN of `line` when the fast lane takes it (see the class); else null. */
  ean(line: string): string | null {
    const { columns } = this;
    if (columns < 2 && this.nameRequired) return null;
    // A price needs its currency: a file with a price column and no currency column goes the usual way.
    if (columns === 6 || this.verbatim.special.test(line)) return null;
    const delimiter = this.verbatim.delimiterText;
    let start = 0;
    let eanEnd = 0;
    for (let column = 0; column < columns; column += 1) {
      let end = line.indexOf(delimiter, start);
      if (column === columns - 1) {
        if (end !== -1) return null;
        end = line.length;
      } else if (end === -1) return null;
      if (!this.takes(column, line, start, end)) return null;
      if (column === 0) eanEnd = end;
      start = end + 1;
    }
    return line.slice(0, eanEnd);
  }

  /** Whether the cell of `column` (its place in the documented order) from `start` to `end` stands as written and is valid. */
  private takes(column: number, line: string, start: number, end: number): boolean {
    const length = end - start;
    if (length === 0) return false;
    switch (column) {
      case 0:
        return isValidGtinAt(line, start, end);
      case 1: {
        // Printable ASCII other than `'` first: not blank, and not an export's formula prefix.
        const first = line.charCodeAt(start);
        return length <= TEXT_LIMITS.name && first > 0x20 && first < 0x7f && first !== APOSTROPHE;
      }
      case 2:
      case 3:
      case 4:
        return length <= TEXT_LIMIT_AT[column]! && line.charCodeAt(start) !== APOSTROPHE;
      case 5:
        return plainPrice(line, start, end);
      case 6:
        return this.takesCurrency(line, start, end);
      case 7:
        return plainStock(line, start, end);
      default: {
        const url = line.slice(start, end);
        return url.trim() === url && imageUrlSchema.safeParse(url).success;
      }
    }
  }

  /** Whether the currency cell is an ISO 4217 code written in capitals (as the schema returns it). */
  private takesCurrency(line: string, start: number, end: number): boolean {
    const known = this.currency;
    if (end - start === known.length && line.startsWith(known, start)) return true;
    const cell = line.slice(start, end);
    const parsed = currencySchema.safeParse(cell);
    if (!parsed.success || parsed.data !== cell) return false;
    this.currency = cell;
    return true;
  }
}

/** `^\d{1,15}(?:\.\d{1,4})?$`, the price the schema takes (API.md §3), read where it lies. */
function plainPrice(line: string, start: number, end: number): boolean {
  let digits = 0;
  let at = start;
  for (; at < end; at += 1) {
    const code = line.charCodeAt(at);
    if (code === DOT) break;
    if (code < ZERO || code > NINE) return false;
    digits += 1;
  }
  if (digits === 0 || digits > 15) return false;
  if (at === end) return true;
  const decimals = end - at - 1;
  if (decimals < 1 || decimals > 4) return false;
  for (at += 1; at < end; at += 1) {
    const code = line.charCodeAt(at);
    if (code < ZERO || code > NINE) return false;
  }
  return true;
}

/** A stock the schema takes, written as its number is (digits, no leading zero), read where it lies. */
function plainStock(line: string, start: number, end: number): boolean {
  const length = end - start;
  if (length > 10 || (length > 1 && line.charCodeAt(start) === ZERO)) return false;
  let value = 0;
  for (let at = start; at < end; at += 1) {
    const code = line.charCodeAt(at);
    if (code < ZERO || code > NINE) return false;
    value = value * 10 + (code - ZERO);
  }
  return value <= MAX_STOCK;
}
