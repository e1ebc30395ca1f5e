import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SharedStrings } from '../../src/workers/import/xlsx/shared-strings.js';
import { sheetRecords } from '../../src/workers/import/xlsx/sheet-records.js';
import { workbookRecords } from '../../src/workers/import/xlsx/workbook-records.js';
import { handWrittenWorkbook, withFiller, zipOf } from '../support/xlsx.js';

// A deflated part can hold hundreds of megabytes of one character in a few hundred kilobytes.
// The reader must fail such a part once it is past what a cell may hold, not after holding it
// (the worker's heap is 128 MB): API.md, RECORD_TOO_LARGE and INVALID_XLSX.

const MAX_RECORD_BYTES = 1 << 20;
const FILL_BYTES = 50 << 20;
/** Enough for a workbook's part to be past every bound (a multiple of the fillers' lengths). */
const WORKBOOK_FILL_BYTES = 16 << 20;
/** Runs of two characters in 16 of XML: 1.125 MiB of text. */
const RUNS_FILL_BYTES = 9 << 20;
/** What the parser may take in before it must have failed: six characters of XML per byte of text, and a chunk. */
const READ_BOUND = 7 * MAX_RECORD_BYTES;

const noParts = () => ({ sheets: [], date1904: false, styles: [], sharedStrings: new SharedStrings() });

/**
 * Reads a sheet whose XML is `head`, 50 MB of `filler`, then `tail`, in 64 KiB chunks as a part
 * inflates; gives what the reader threw and how many bytes of the sheet it had read by then.
 */
async function readSheet(head: string, filler: string, tail: string) {
  let read = 0;
  async function* sheet() {
    const prologue = `<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${head}`;
    const chunks = [Buffer.from(prologue)];
    const piece = Buffer.from(filler.repeat(Math.ceil((64 << 10) / filler.length)));
    for (let filled = 0; filled < FILL_BYTES; filled += piece.length) chunks.push(piece);
    chunks.push(Buffer.from(`${tail}</sheetData></worksheet>`));
    for (const chunk of chunks) {
      read += chunk.length;
      yield chunk;
    }
  }
  const records: string[][] = [];
  try {
    for await (const record of sheetRecords(sheet(), noParts(), MAX_RECORD_BYTES)) records.push(record);
  } catch (error) {
    return { error, read, records };
  }
  return { error: null, read, records };
}

const HEADER = '<row><c t="inlineStr"><is><t>ean</t></is></c></row>';

describe('a sheet part with a text, attribute or space of 50 MB', () => {
  it.each([
    ['an inline string', `${HEADER}<row><c t="inlineStr"><is><t>`, 'a', '</t></is></c></row>', READ_BOUND],
    ['a value', `${HEADER}<row><c><v>`, '1', '</v></c></row>', READ_BOUND],
    // Two characters of text in each 16 of XML: the texts are small, their sum is bounded.
    ['a rich text of many runs', `${HEADER}<row><c t="inlineStr"><is>`, '<r><t>ab</t></r>', '</is></c></row>', 9 * MAX_RECORD_BYTES],
  ])('fails %s with RECORD_TOO_LARGE at its row, having read little more than the bound', async (_label, head, filler, tail, readBound) => {
    const { error, read, records } = await readSheet(head, filler, tail);
    expect(records).toEqual([['ean']]);
    expect(error).toMatchObject({ code: 'RECORD_TOO_LARGE', record: 1, message: `is larger than the limit of ${MAX_RECORD_BYTES} bytes (IMPORT_MAX_RECORD_BYTES)` });
    expect(read).toBeLessThan(readBound);
  });

  it.each([
    ['space between rows', HEADER, ' ', '<row><c t="inlineStr"><is><t>x</t></is></c></row>'],
    ['an attribute', `${HEADER}<row><c t="inlineStr" x="`, 'a', '"><is><t>x</t></is></c></row>'],
    ['a comment', `${HEADER}<!--`, 'a', '-->'],
    ['a formula', `${HEADER}<row><c><f>`, 'a', '</f><v>1</v></c></row>'],
  ])('fails %s as not a readable workbook, having read little more than the bound', async (_label, head, filler, tail) => {
    const { error, read } = await readSheet(head, filler, tail);
    expect(error).toMatchObject({
      name: 'XmlRunError',
      message: `it has a text, attribute or comment of more than ${6 * MAX_RECORD_BYTES} characters, longer than any cell may be (IMPORT_MAX_RECORD_BYTES)`,
    });
    expect(read).toBeLessThan(READ_BOUND);
  });
});

/** The records of a workbook's first sheet, as the worker reads an upload, or what reading it threw. */
async function readWorkbook(workbook: Buffer) {
  const records: string[][] = [];
  const source = workbookRecords({
    open: () => Readable.from([workbook]),
    maxUncompressedBytes: 1 << 30,
    maxRecordBytes: MAX_RECORD_BYTES,
  });
  try {
    for await (const record of source) records.push(record);
  } catch (error) {
    return error;
  }
  return records;
}

describe('a workbook bomb of 16 MB in one text', () => {
  it('fails a shared string of one text that long with RECORD_TOO_LARGE, naming the string', async () => {
    const parts = handWrittenWorkbook({ sheets: [{ name: 'S', rows: HEADER }], sharedStrings: ['<si><t>ean</t></si>', '<si><t>#</t></si>'] });
    expect(await readWorkbook(zipOf(withFiller(parts, '#', 'a', WORKBOOK_FILL_BYTES)))).toMatchObject({
      code: 'RECORD_TOO_LARGE',
      row: 0,
      message: `The workbook's shared string 1 is larger than the limit of ${MAX_RECORD_BYTES} bytes (IMPORT_MAX_RECORD_BYTES): no row can hold it.`,
    });
  });

  it('keeps the place of a shared string of many runs past the bound, and fails the row that uses it', async () => {
    const sharedStrings = ['<si><t>ean</t></si>', '<si>#</si>', '<si><t>Pen</t></si>'];
    const rows = (index: number) => `${HEADER}<row><c t="s"><v>2</v></c></row><row><c t="s"><v>${index}</v></c></row>`;
    const unused = handWrittenWorkbook({ sheets: [{ name: 'S', rows: rows(2) }], sharedStrings });
    expect(await readWorkbook(zipOf(withFiller(unused, '#', '<r><t>ab</t></r>', RUNS_FILL_BYTES)))).toEqual([['ean'], ['Pen'], ['Pen']]);
    const used = handWrittenWorkbook({ sheets: [{ name: 'S', rows: rows(1) }], sharedStrings });
    expect(await readWorkbook(zipOf(withFiller(used, '#', '<r><t>ab</t></r>', RUNS_FILL_BYTES)))).toMatchObject({
      code: 'RECORD_TOO_LARGE',
      row: 2,
      message: `Row 2 is larger than the limit of ${MAX_RECORD_BYTES} bytes (IMPORT_MAX_RECORD_BYTES).`,
    });
  });

  it('fails an inline string with RECORD_TOO_LARGE at its row, and an attribute or space as not readable', async () => {
    const inline = handWrittenWorkbook({ sheets: [{ name: 'S', rows: `${HEADER}<row><c t="inlineStr"><is><t>#</t></is></c></row>` }] });
    expect(await readWorkbook(zipOf(withFiller(inline, '#', 'a', WORKBOOK_FILL_BYTES)))).toMatchObject({
      code: 'RECORD_TOO_LARGE',
      row: 1,
      message: `Row 1 is larger than the limit of ${MAX_RECORD_BYTES} bytes (IMPORT_MAX_RECORD_BYTES).`,
    });
    const notReadable = {
      code: 'INVALID_XLSX',
      message: `The file is not a readable .xlsx workbook (it has a text, attribute or comment of more than ${6 * MAX_RECORD_BYTES} characters, longer than any cell may be (IMPORT_MAX_RECORD_BYTES)).`,
    };
    const attribute = handWrittenWorkbook({ sheets: [{ name: 'S', rows: `${HEADER}<row><c t="inlineStr" x="#"><is><t>x</t></is></c></row>` }] });
    expect(await readWorkbook(zipOf(withFiller(attribute, '#', 'a', WORKBOOK_FILL_BYTES)))).toMatchObject({ ...notReadable, row: 1 });
    const space = handWrittenWorkbook({ sheets: [{ name: 'S', rows: `${HEADER}#<row><c t="inlineStr"><is><t>x</t></is></c></row>` }] });
    expect(await readWorkbook(zipOf(withFiller(space, '#', ' ', WORKBOOK_FILL_BYTES)))).toMatchObject({ ...notReadable, row: 1 });
    const styles = handWrittenWorkbook({ sheets: [{ name: 'S', rows: HEADER }], styles: '<numFmts><numFmt numFmtId="164" formatCode="#"/></numFmts>' });
    expect(await readWorkbook(zipOf(withFiller(styles, '#', 'a', WORKBOOK_FILL_BYTES)))).toMatchObject({ ...notReadable, row: 0 });
  });
});
