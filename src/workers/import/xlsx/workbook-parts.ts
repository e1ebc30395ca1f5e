import type { Readable } from 'node:stream';
import { FileProblem } from '../file-problem.js';
import { unescapeText } from './cell-text.js';
import { builtInFormat, numberStyleOf, type NumberStyle } from './number-formats.js';
import { SharedStrings } from './shared-strings.js';
import { pastLimit, WORKBOOK_LIMITS, type WorkbookLimits } from './workbook-limits.js';
import { readXml, type XmlHandlers } from './xml-stream.js';
import { zipEntries, type InflateBudget } from './zip-entries.js';

/**
 * What a sheet of the workbook is: a worksheet (cells in rows), a chart sheet (a chart on a tab of
 * its own, no cells), or another kind (an old dialog or macro sheet), which has no rows either.
 */
export type SheetKind = 'worksheet' | 'chart' | 'other';

/** A sheet of the workbook (a tab), in the workbook's order, and the archive member holding it. */
export interface SheetEntry {
  name: string;
  /** `state="hidden"` or `"veryHidden"`: not shown as a tab in Excel. */
  hidden: boolean;
  /** Archive path in lower case (`xl/worksheets/sheet1.xml`); null when the workbook names no part. */
  path: string | null;
  kind: SheetKind;
}

/** What reading a worksheet needs from the rest of the workbook. */
export interface WorkbookParts {
  sheets: SheetEntry[];
  /** Dates count from 1904-01-01 (old Mac workbooks) instead of 1900. */
  date1904: boolean;
  /** How numbers are written, per cell format (`s` attribute of a cell). */
  styles: NumberStyle[];
  sharedStrings: SharedStrings;
}

/** An attribute by local name (`r:id` → `id`), whatever prefix the writer used. */
function attribute(attributes: Record<string, string>, name: string): string | undefined {
  if (name in attributes) return attributes[name];
  for (const key in attributes) if (key.endsWith(`:${name}`)) return attributes[key];
  return undefined;
}

/**
 * The kind of sheet a relationship of the workbook points to, by its type (`…/relationships/worksheet`,
 * `…/chartsheet`, in the transitional and the strict namespace alike); by the part's folder when a
 * writer left the type out.
 */
function sheetKind(type: string | undefined, path: string): SheetKind {
  const kind = type?.slice(type.lastIndexOf('/') + 1).toLowerCase();
  if (kind === 'worksheet') return 'worksheet';
  if (kind === 'chartsheet') return 'chart';
  if (kind) return 'other';
  return path.includes('/chartsheets/') ? 'chart' : 'worksheet';
}

/** A relationship target as an archive path: relative to `xl/`, or absolute from the root. */
function partPath(target: string): string {
  const path = target.startsWith('/') ? target.slice(1) : `xl/${target}`;
  return path.replace(/[^/]+\/\.\.\//g, '').toLowerCase();
}

/**
 * Reads the workbook's sheet list, relationships, cell formats and shared strings in one pass
 * over the archive, whatever order its members come in (Excel writes the sheets before the
 * shared strings). Every member is inflated against `budget`, sheets included, so a workbook
 * too large to read fails here, before any row is imported. No row can hold a text longer than
 * `maxRecordBytes`, so no shared string may be longer either. Each list read is bounded by
 * `limits`: past one the workbook fails with INVALID_XLSX before the list fills the heap.
 */
export async function readWorkbookParts(
  source: Readable,
  budget: InflateBudget,
  maxRecordBytes: number,
  signal?: AbortSignal,
  limits: WorkbookLimits = WORKBOOK_LIMITS,
): Promise<WorkbookParts> {
  const sheets: Array<Pick<SheetEntry, 'name' | 'hidden'> & { relationId: string }> = [];
  const targets = new Map<string, { path: string; kind: SheetKind }>();
  const formatStyles = new Map<number, NumberStyle>();
  const formatIds: number[] = [];
  const parts: WorkbookParts = { sheets: [], date1904: false, styles: [], sharedStrings: new SharedStrings() };
  /** A name, Id or Target kept for the whole read: no longer than {@link WorkbookLimits.nameChars}. */
  const kept = (value: string, what: string, part: string): string => {
    if (value.length > limits.nameChars) throw pastLimit(`characters in ${what}`, part, limits.nameChars);
    return value;
  };

  const workbook: XmlHandlers = {
    open(name, attributes) {
      if (name === 'sheet') {
        if (sheets.length === limits.sheets) throw pastLimit('sheets', 'xl/workbook.xml', limits.sheets);
        const hidden = attributes.state === 'hidden' || attributes.state === 'veryHidden';
        const relationId = kept(attribute(attributes, 'id') ?? '', "a sheet's relationship id", 'xl/workbook.xml');
        sheets.push({ name: kept(attributes.name ?? '', "a sheet's name", 'xl/workbook.xml'), hidden, relationId });
      }
      else if (name === 'workbookPr') parts.date1904 = ['1', 'true'].includes(attributes.date1904 ?? '');
    },
  };
  const relationships: XmlHandlers = {
    open(name, attributes) {
      if (name !== 'Relationship' || !attributes.Id || !attributes.Target) return;
      const part = 'xl/_rels/workbook.xml.rels';
      if (targets.size === limits.relationships && !targets.has(attributes.Id)) throw pastLimit('relationships', part, limits.relationships);
      const path = partPath(kept(attributes.Target, "a relationship's Target", part));
      targets.set(kept(attributes.Id, "a relationship's Id", part), { path, kind: sheetKind(attributes.Type, path) });
    },
  };
  let inCellFormats = false;
  const styles: XmlHandlers = {
    open(name, attributes) {
      if (name === 'numFmt') {
        const id = Number(attributes.numFmtId);
        if (formatStyles.size === limits.numberFormats && !formatStyles.has(id)) {
          throw pastLimit('number formats', 'xl/styles.xml', limits.numberFormats);
        }
        // The style, not the code: a code may be as long as any text of the part.
        formatStyles.set(id, numberStyleOf(attributes.formatCode ?? ''));
      } else if (name === 'cellXfs') inCellFormats = true;
      else if (name === 'xf' && inCellFormats) {
        if (formatIds.length === limits.cellFormats) throw pastLimit('cell formats', 'xl/styles.xml', limits.cellFormats);
        formatIds.push(Number(attributes.numFmtId ?? 0));
      }
    },
    close(name) {
      if (name === 'cellXfs') inCellFormats = false;
    },
  };

  for await (const entry of zipEntries(source, budget, signal)) {
    const path = entry.path.toLowerCase();
    if (path === 'xl/workbook.xml') await readXml(entry.content, workbook, maxRecordBytes);
    else if (path === 'xl/_rels/workbook.xml.rels') await readXml(entry.content, relationships, maxRecordBytes);
    else if (path === 'xl/styles.xml') await readXml(entry.content, styles, maxRecordBytes);
    else if (path === 'xl/sharedstrings.xml') await readXml(entry.content, sharedStringHandlers(parts.sharedStrings, maxRecordBytes, limits.sharedStrings), maxRecordBytes);
  }
  parts.sheets = sheets.map(({ name, hidden, relationId }) => {
    const target = targets.get(relationId);
    return { name, hidden, path: target?.path ?? null, kind: target?.kind ?? 'worksheet' };
  });
  parts.styles = formatIds.map((id) => (formatStyles.has(id) ? formatStyles.get(id)! : numberStyleOf(builtInFormat(id))));
  return parts;
}

/**
 * Each `<si>` is one string: the text of its `<t>` elements, plain or in rich-text runs, without
 * the phonetic guides (`<rPh>`) that East Asian workbooks add.
 */
function sharedStringHandlers(store: SharedStrings, maxBytes: number, maxStrings: number): XmlHandlers {
  let text = '';
  let tooLarge = false;
  let inText = false;
  let inPhonetic = false;
  // A text too long for the parser to hand over at all is a bomb, not a string to keep the place of.
  const bomb = () =>
    new FileProblem(
      'RECORD_TOO_LARGE',
      `The workbook's shared string ${store.size} is larger than the limit of ${maxBytes} bytes (IMPORT_MAX_RECORD_BYTES): no row can hold it.`,
      0,
    );
  return {
    open(name) {
      if (name === 'si') {
        if (store.size === maxStrings) throw pastLimit('shared strings', 'xl/sharedStrings.xml', maxStrings);
        text = '';
        tooLarge = false;
      } else if (name === 't') inText = !inPhonetic;
      else if (name === 'rPh') inPhonetic = true;
    },
    text(value) {
      if (!inText || tooLarge) return;
      // A string's length never exceeds its UTF-8 bytes: past the bound it is not held any longer.
      tooLarge = text.length + value.length > maxBytes;
      text = tooLarge ? '' : text + value;
    },
    runTooLong: () => (inText ? bomb() : undefined),
    close(name) {
      if (name === 't') inText = false;
      else if (name === 'rPh') inPhonetic = false;
      else if (name === 'si' && tooLarge) store.addTooLarge();
      else if (name === 'si') store.add(unescapeText(text));
    },
  };
}
