import { markPointNumber } from '../spreadsheet-cells.js';
import { numberText, unescapeText } from './cell-text.js';
import type { WorkbookParts } from './workbook-parts.js';
import { feedXml, type XmlHandlers } from './xml-stream.js';

/**
 * A row as the sheet has it: its non-empty cells and their columns. Rows wait in this form, since
 * the cells a row leaves out cost nothing here, while a record of a row whose last cell is at XFD
 * holds 16,384; they become records (see {@link SheetParser.recordOf}) one at a time, as handed out.
 */
interface SheetRow {
  /** The record's length: one past the last non-empty cell's column. */
  width: number;
  columns: number[];
  texts: string[];
  /** Columns of numbers written with a decimal point (see markPointNumber). */
  points: number[];
}

const newRow = (): SheetRow => ({ width: 0, columns: [], texts: [], points: [] });

/** Columns of a worksheet (A … XFD): a cell reference past them is not a worksheet. */
export const MAX_COLUMNS = 16_384;

/** A row that cannot become a record; `record` is its place among the records (0: the header). */
export class SheetRowError extends Error {
  override name = 'SheetRowError';
  constructor(
    readonly code: 'RECORD_TOO_LARGE' | 'TOO_MANY_COLUMNS' | 'INVALID_XLSX',
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

/** The letters of a 0-based column (27 → `AB`). */
function columnName(column: number): string {
  let name = '';
  for (let rest = column + 1; rest > 0; rest = Math.floor((rest - 1) / 26)) name = String.fromCharCode(65 + ((rest - 1) % 26)) + name;
  return name;
}

/**
 * Builds records from the elements of a sheet's XML: the cell being read (its column, type,
 * format and value) and the row it belongs to. Finished records wait in `ready`.
 */
class SheetParser implements XmlHandlers {
  readonly ready: SheetRow[] = [];
  /** Records handed out before those in `ready`. */
  recordsBefore = 0;
  private cells = newRow();
  private recordBytes = 0;
  private headerWidth = -1;
  private column = 0;
  /** The `r` of the row and of the cell (`3`, `B3`), when the writer gives them. */
  private rowNumber = '';
  private reference: string | undefined;
  private type = 'n';
  private style = 0;
  private value = '';
  private capturing = false;
  private inInline = false;
  private inPhonetic = false;

  constructor(
    private readonly parts: WorkbookParts,
    private readonly maxRecordBytes: number,
  ) {}

  open(name: string, attributes: Record<string, string>): void {
    if (name === 'c') {
      this.reference = attributes.r;
      const column = columnOf(attributes.r);
      if (column !== -1) this.column = column;
      if (this.column >= MAX_COLUMNS) {
        throw this.rowError('TOO_MANY_COLUMNS', `has a cell past column XFD, the last of a worksheet (${MAX_COLUMNS} columns)`);
      }
      this.type = attributes.t ?? 'n';
      this.style = attributes.s === undefined ? 0 : Number(attributes.s);
      this.value = '';
    } else if (name === 'v') {
      this.value = '';
      this.capturing = true;
    } else if (name === 'is') this.inInline = true;
    else if (name === 't') this.capturing = this.inInline && !this.inPhonetic;
    else if (name === 'rPh') this.inPhonetic = true;
    else if (name === 'row') {
      this.cells = newRow();
      this.column = 0;
      this.recordBytes = 0;
      this.rowNumber = attributes.r ?? '';
    }
  }

  text(value: string): void {
    if (!this.capturing) return;
    // A string's length never exceeds its UTF-8 bytes: past the bound the row cannot fit, and
    // the value is not held any longer (a rich text of a million runs comes in as many texts).
    if (this.recordBytes + this.value.length + value.length > this.maxRecordBytes) throw this.tooLarge();
    this.value += value;
  }

  /** A cell's text too long for the parser to hand over in one piece is too large for a row. */
  runTooLong(): Error | undefined {
    return this.capturing ? this.tooLarge() : undefined;
  }

  close(name: string): void {
    if (name === 'v' || name === 't') this.capturing = false;
    else if (name === 'rPh') this.inPhonetic = false;
    else if (name === 'is') this.inInline = false;
    else if (name === 'c') this.endCell();
    else if (name === 'row' && this.cells.width > 0) {
      if (this.headerWidth === -1) this.headerWidth = this.cells.width;
      this.ready.push(this.cells);
      this.cells = newRow();
    }
  }

  /** The record of a row of `ready`: its cells, empty where it has none, to the header's width at least. */
  recordOf(row: SheetRow): string[] {
    const record = new Array<string>(Math.max(row.width, this.headerWidth)).fill('');
    for (let at = 0; at < row.columns.length; at += 1) record[row.columns[at]!] = row.texts[at]!;
    for (const column of row.points) markPointNumber(record, column);
    return record;
  }

  private endCell(): void {
    const text = this.cellText();
    if (text !== '') {
      const row = this.cells;
      row.columns.push(this.column);
      row.texts.push(text);
      row.width = Math.max(row.width, this.column + 1);
      // A number is written with a point whatever the locale: decimal_separator="," reads it as one.
      if (this.type === 'n' && text.includes('.')) row.points.push(this.column);
      // As the CSV record would be: the cells' bytes and a separator between each two.
      this.recordBytes += Buffer.byteLength(text) + 1;
      if (this.recordBytes + this.column > this.maxRecordBytes) throw this.tooLarge();
    }
    this.column += 1;
  }

  /** The cell's text, as the CSV path would see it (see numberText for numbers). */
  private cellText(): string {
    const { value } = this;
    if (value === '') return '';
    switch (this.type) {
      case 's':
        return this.sharedString(value);
      case 'b':
        return value.trim() === '0' ? 'FALSE' : 'TRUE';
      case 'inlineStr':
      case 'str':
        return unescapeText(value);
      case 'e':
      case 'd':
        return value;
      default:
        return numberText(value, this.parts.styles[this.style] ?? null, this.parts.date1904);
    }
  }

  /**
   * The shared string a cell refers to. An index the workbook has no string for is a damaged
   * workbook: reading it as an empty cell would clear the field it maps to.
   */
  private sharedString(index: string): string {
    const { sharedStrings } = this.parts;
    const text = /^\s*\d+\s*$/.test(index) ? sharedStrings.get(Number(index)) : undefined;
    if (text === null) throw this.tooLarge();
    if (text !== undefined) return text;
    const cell = this.reference ?? (this.rowNumber ? `${columnName(this.column)}${this.rowNumber}` : `column ${columnName(this.column)}`);
    const has = `${sharedStrings.size} shared string${sharedStrings.size === 1 ? '' : 's'}`;
    throw this.rowError('INVALID_XLSX', `has a cell (${cell}) that refers to shared string '${index.trim().slice(0, 20)}', which the workbook does not have (it has ${has})`);
  }

  private tooLarge(): SheetRowError {
    return this.rowError('RECORD_TOO_LARGE', `is larger than the limit of ${this.maxRecordBytes} bytes (IMPORT_MAX_RECORD_BYTES)`);
  }

  private rowError(code: SheetRowError['code'], message: string): SheetRowError {
    return new SheetRowError(code, message, this.recordsBefore + this.ready.length);
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
  const parser = new SheetParser(parts, maxRecordBytes);
  const { ready } = parser;
  for await (const _ of feedXml(content, parser, maxRecordBytes)) {
    for (const row of ready) yield parser.recordOf(row);
    parser.recordsBefore += ready.length;
    ready.length = 0;
  }
  for (const row of ready) yield parser.recordOf(row);
}
