import { numberText } from './cell-text.js';
import type { WorkbookParts } from './workbook-parts.js';
import { feedXml, type XmlHandlers } from './xml-stream.js';

/** Columns of a worksheet (A … XFD): a cell reference past them is not a worksheet. */
export const MAX_COLUMNS = 16_384;

/** A row that cannot become a record; `record` is its place among the records (0: the header). */
export class SheetRowError extends Error {
  override name = 'SheetRowError';
  constructor(
    readonly code: 'RECORD_TOO_LARGE' | 'TOO_MANY_COLUMNS',
    message: string,
    readonly record: number,
  ) {
    super(message);
  }
}

/** The 0-based column of a cell reference (`AB12` → 27), or -1 when it has none. */
function columnOf(reference: string | undefined): number {
  if (!reference) return -1;
  let column = 0;
  let at = 0;
  for (; at < reference.length; at += 1) {
    const code = reference.charCodeAt(at) & ~0x20;
    if (code < 65 || code > 90) break;
    column = column * 26 + (code - 64);
  }
  return at === 0 ? -1 : column - 1;
}

/** The state of the row and cell being read. */
class RowBuilder {
  cells: string[] = [];
  column = 0;
  type = 'n';
  style = 0;
  value = '';
  capturing = false;
  inInline = false;
  inPhonetic = false;

  constructor(private readonly parts: WorkbookParts) {}

  /** The cell's text, as the CSV path would see it (see numberText for numbers). */
  cellText(): string {
    const { value } = this;
    if (value === '') return '';
    switch (this.type) {
      case 's':
        return this.parts.sharedStrings.get(Number(value)) ?? '';
      case 'b':
        return value.trim() === '0' ? 'FALSE' : 'TRUE';
      case 'inlineStr':
      case 'str':
      case 'e':
      case 'd':
        return value;
      default:
        return numberText(value, this.parts.styles[this.style] ?? null, this.parts.date1904);
    }
  }
}

/**
 * The rows of a worksheet as records of cell texts, read from the sheet's XML as it inflates:
 * cells a row leaves out are empty, empty rows are skipped (as blank lines of a CSV file), the
 * first record is the header and every later one is padded with empty cells to its width.
 * Formulas give their cached value; shared, inline and rich-text strings their text.
 */
export async function* sheetRecords(
  content: AsyncIterable<Buffer>,
  parts: WorkbookParts,
  maxRecordBytes: number,
): AsyncGenerator<string[]> {
  const row = new RowBuilder(parts);
  const ready: string[][] = [];
  let headerWidth = -1;
  let recordBytes = 0;
  let records = 0;
  const handlers: XmlHandlers = {
    open(name, attributes) {
      if (name === 'c') {
        const column = columnOf(attributes.r);
        row.column = column === -1 ? row.column : column;
        if (row.column >= MAX_COLUMNS) {
          throw new SheetRowError('TOO_MANY_COLUMNS', `has a cell past column XFD, the last of a worksheet (${MAX_COLUMNS} columns)`, records + ready.length);
        }
        row.type = attributes.t ?? 'n';
        row.style = attributes.s === undefined ? 0 : Number(attributes.s);
        row.value = '';
      } else if (name === 'v') {
        row.value = '';
        row.capturing = true;
      } else if (name === 'is') row.inInline = true;
      else if (name === 't') row.capturing = row.inInline && !row.inPhonetic;
      else if (name === 'rPh') row.inPhonetic = true;
      else if (name === 'row') {
        row.cells = [];
        row.column = 0;
        recordBytes = 0;
      }
    },
    text(value) {
      if (row.capturing) row.value += value;
    },
    close(name) {
      if (name === 'v' || name === 't') row.capturing = false;
      else if (name === 'rPh') row.inPhonetic = false;
      else if (name === 'is') row.inInline = false;
      else if (name === 'c') {
        const text = row.cellText();
        if (text !== '') {
          while (row.cells.length < row.column) row.cells.push('');
          row.cells[row.column] = text;
          recordBytes += Buffer.byteLength(text) + 1;
          if (recordBytes + row.column > maxRecordBytes) {
            throw new SheetRowError('RECORD_TOO_LARGE', `is larger than the limit of ${maxRecordBytes} bytes (IMPORT_MAX_RECORD_BYTES)`, records + ready.length);
          }
        }
        row.column += 1;
      } else if (name === 'row' && row.cells.length > 0) {
        if (headerWidth === -1) headerWidth = row.cells.length;
        while (row.cells.length < headerWidth) row.cells.push('');
        ready.push(row.cells);
        row.cells = [];
      }
    },
  };
  for await (const _ of feedXml(content, handlers)) {
    for (const record of ready) yield record;
    records += ready.length;
    ready.length = 0;
  }
  for (const record of ready) yield record;
}
