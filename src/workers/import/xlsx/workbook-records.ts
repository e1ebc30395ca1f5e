import type { Readable } from 'node:stream';
import { FileProblem } from '../file-problem.js';
import { SheetRowError, sheetRecords } from './sheet-records.js';
import { readWorkbookParts, type SheetEntry, type SheetKind } from './workbook-parts.js';
import { XmlFormatError } from './xml-stream.js';
import { InflateBudget, InflateLimitError, ZipFormatError, zipEntries } from './zip-entries.js';

/** What reading a workbook needs. */
export interface WorkbookInput {
  /** A fresh stream over the stored workbook; the workbook is read twice. */
  open: () => Readable;
  /** The sheet to read, by name or 1-based position; the first visible one when unset. */
  sheet?: string;
  /** Most bytes all members of the archive may inflate to (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES). */
  maxUncompressedBytes: number;
  /** Most bytes of text one row may hold (IMPORT_MAX_RECORD_BYTES, as for a CSV record). */
  maxRecordBytes: number;
  /** Stops the reading (a cancel, a shutdown): the records then reject with its reason. */
  signal?: AbortSignal;
}

const KIND_NOTES: Record<SheetKind, string> = { worksheet: '', chart: ' (chart)', other: ' (not a worksheet)' };

const quoted = (sheets: SheetEntry[]) =>
  sheets.map((sheet) => `'${sheet.name}'${sheet.hidden ? ' (hidden)' : ''}${KIND_NOTES[sheet.kind]}`).join(', ');

/**
 * The sheet `wanted` names (a name first, then a 1-based position in the workbook's order, hidden
 * sheets and chart sheets counted as Excel counts them), or the first worksheet Excel shows as a
 * tab: a hidden sheet (lookup tables, a template's settings) is read only when named, and a chart
 * sheet (a chart on a tab of its own, often the first) never, since it has no rows. A workbook
 * whose worksheets are all hidden, which Excel does not write, gives its first.
 */
export function chooseSheet(sheets: SheetEntry[], wanted: string | undefined): SheetEntry {
  const worksheets = sheets.filter((sheet) => sheet.kind === 'worksheet');
  if (worksheets.length === 0) {
    const message = sheets.length === 0 ? 'The workbook has no worksheet.' : `The workbook has no worksheet; its sheets are ${quoted(sheets)}.`;
    throw new FileProblem('INVALID_XLSX', message, 0);
  }
  if (wanted === undefined) return worksheets.find((sheet) => !sheet.hidden) ?? worksheets[0]!;
  const byName = sheets.find((sheet) => sheet.name === wanted) ?? sheets.find((sheet) => sheet.name.toLowerCase() === wanted.trim().toLowerCase());
  const position = /^\d+$/.test(wanted.trim()) ? Number(wanted) : 0;
  const sheet = byName ?? sheets[position - 1];
  if (!sheet) {
    throw new FileProblem('UNKNOWN_SHEET', `The workbook has no sheet '${wanted}'; its sheets are ${quoted(sheets)}.`, 0);
  }
  if (sheet.kind !== 'worksheet') {
    const what = sheet.kind === 'chart' ? 'is a chart, not a worksheet' : 'is not a worksheet';
    throw new FileProblem(
      'UNKNOWN_SHEET',
      `The sheet '${sheet.name}' ${what}: it has no rows to import. The workbook's worksheets are ${quoted(worksheets)}.`,
      0,
    );
  }
  return sheet;
}

/**
 * The records (header first) of one worksheet of an .xlsx workbook, read as a stream: a first
 * pass over the archive reads the sheet list, formats and shared strings and checks the inflated
 * size of every member, a second inflates only the chosen sheet. Problems with the workbook as a
 * whole are thrown as {@link FileProblem}s at the record where they were found.
 */
export async function* workbookRecords(input: WorkbookInput): AsyncGenerator<string[]> {
  let records = 0;
  try {
    const parts = await readWorkbookParts(input.open(), new InflateBudget(input.maxUncompressedBytes), input.maxRecordBytes, input.signal);
    const sheet = chooseSheet(parts.sheets, input.sheet);
    // The first pass has counted every member already; this budget only keeps the second honest.
    for await (const entry of zipEntries(input.open(), new InflateBudget(input.maxUncompressedBytes), input.signal)) {
      if (entry.path.toLowerCase() !== sheet.path) continue;
      for await (const record of sheetRecords(entry.content, parts, input.maxRecordBytes)) {
        yield record;
        records += 1;
      }
      return;
    }
    throw new FileProblem('INVALID_XLSX', `The workbook is damaged: the sheet '${sheet.name}' is missing from it.`, 0);
  } catch (error) {
    throw asFileProblem(error, records);
  }
}

/** The file-level problem a reading error stands for; other errors (I/O) pass unchanged. */
function asFileProblem(error: unknown, records: number): unknown {
  if (error instanceof InflateLimitError) {
    return new FileProblem(
      'XLSX_TOO_LARGE',
      `The workbook inflates to more than ${error.limit} bytes, the limit (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES).`,
      0,
    );
  }
  if (error instanceof SheetRowError) return new FileProblem(error.code, `Row ${error.record} ${error.message}.`, error.record);
  if (error instanceof ZipFormatError || error instanceof XmlFormatError) {
    return new FileProblem('INVALID_XLSX', `The file is not a readable .xlsx workbook (${error.message}).`, records);
  }
  return error;
}
