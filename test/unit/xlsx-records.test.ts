import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FileProblem } from '../../src/workers/import/file-problem.js';
import { isPointNumber } from '../../src/workers/import/spreadsheet-cells.js';
import { numberText, plainNumber } from '../../src/workers/import/xlsx/cell-text.js';
import { builtInFormat, numberStyleOf } from '../../src/workers/import/xlsx/number-formats.js';
import { workbookRecords } from '../../src/workers/import/xlsx/workbook-records.js';
import { excelWorkbook, handWrittenWorkbook, zipOf } from '../support/xlsx.js';

/** Every record of `workbook`'s chosen sheet, read as the worker reads an upload. */
async function recordsOf(workbook: Buffer, options: { sheet?: string; maxUncompressedBytes?: number; maxRecordBytes?: number } = {}) {
  const records: string[][] = [];
  const source = workbookRecords({
    open: () => Readable.from([workbook.subarray(0, 100), workbook.subarray(100)]),
    sheet: options.sheet,
    maxUncompressedBytes: options.maxUncompressedBytes ?? 1 << 30,
    maxRecordBytes: options.maxRecordBytes ?? 1 << 20,
  });
  for await (const record of source) records.push(record);
  return records;
}

describe('xlsx records', () => {
  it('gives the cells of an exceljs workbook the text the CSV path would see', async () => {
    const workbook = await excelWorkbook((book) => {
      const sheet = book.addWorksheet('Products');
      sheet.addRow(['ean', 'name', 'price', 'released', 'double', 'flag', 'note']);
      const row = sheet.addRow([4006381333931, { richText: [{ text: 'Pen ', font: { bold: true } }, { text: 'blue' }] }, 19.99,
        new Date(Date.UTC(2026, 4, 14)), { formula: 'C2*2', result: 39.98 }, true, null]);
      row.getCell(3).numFmt = '0.00';
      sheet.addRow(['0012345678905', 'Plain & <simple>', 1.5, new Date(Date.UTC(2026, 4, 14, 10, 30)), 0.1, false, 'x']);
      sheet.getCell('C3').numFmt = '#,##0.00';
      sheet.getCell('D3').numFmt = 'yyyy-mm-dd hh:mm:ss';
    });
    expect(await recordsOf(workbook)).toEqual([
      ['ean', 'name', 'price', 'released', 'double', 'flag', 'note'],
      ['4006381333931', 'Pen blue', '19.99', '2026-05-14', '39.98', 'TRUE', ''],
      ['0012345678905', 'Plain & <simple>', '1.50', '2026-05-14T10:30:00', '0.1', 'FALSE', 'x'],
    ]);
  });

  it('reads inline strings, gaps, prefixed elements and sheets that come before their shared strings', async () => {
    const rows =
      '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c><x:c r="C1" t="s"><x:v>1</x:v></x:c></x:row>' +
      '<x:row r="3"><x:c r="A3"><x:v>4.006381333931E+12</x:v></x:c><x:c r="B3" t="inlineStr"><x:is><x:r><x:t xml:space="preserve">Tom &amp; </x:t></x:r><x:r><x:t>Jerry</x:t></x:r><x:rPh><x:t>ignored</x:t></x:rPh></x:is></x:c>' +
      '<x:c r="D3" t="str"><x:f>"a"&amp;"b"</x:f><x:v>ab</x:v></x:c></x:row>' +
      '<x:row r="4"><x:c r="A4" s="1"><x:v>46156</x:v></x:c><x:c r="C4" t="e"><x:v>#N/A</x:v></x:c></x:row>';
    const workbook = zipOf(
      handWrittenWorkbook({
        prefix: 'x:',
        sheets: [{ name: 'Data', rows }],
        styles: '<x:numFmts count="1"><x:numFmt numFmtId="164" formatCode="dd/mm/yyyy;@"/></x:numFmts><x:cellXfs count="2"><x:xf numFmtId="0"/><x:xf numFmtId="164"/></x:cellXfs>',
        sharedStrings: ['<x:si><x:t>ean</x:t></x:si>', '<x:si><x:r><x:t>bra</x:t></x:r><x:r><x:t>nd</x:t></x:r></x:si>'],
        date1904: true,
      }),
    );
    expect(await recordsOf(workbook)).toEqual([
      ['ean', 'name', 'brand'],
      ['4006381333931', 'Tom & Jerry', '', 'ab'],
      ['2030-05-15', '', '#N/A'],
    ]);
  });

  it('chooses a sheet by name or 1-based position and names the sheets of an unknown one', async () => {
    const workbook = zipOf(
      handWrittenWorkbook({
        sheets: [
          { name: 'Notes', rows: '<row r="1"><c r="A1" t="inlineStr"><is><t>notes</t></is></c></row>' },
          { name: 'Products', rows: '<row r="1"><c r="A1" t="inlineStr"><is><t>products</t></is></c></row>' },
        ],
      }),
    );
    expect(await recordsOf(workbook)).toEqual([['notes']]);
    expect(await recordsOf(workbook, { sheet: 'Products' })).toEqual([['products']]);
    expect(await recordsOf(workbook, { sheet: '2' })).toEqual([['products']]);
    const unknown = recordsOf(workbook, { sheet: 'Prices' });
    await expect(unknown).rejects.toBeInstanceOf(FileProblem);
    await expect(unknown).rejects.toMatchObject({
      code: 'UNKNOWN_SHEET',
      message: "The workbook has no sheet 'Prices'; its sheets are 'Notes', 'Products'.",
    });
  });

  it('chooses the first visible sheet by default; a hidden one by name or by its position among all sheets', async () => {
    const sheet = (name: string, state?: string) => ({ name, state, rows: `<row><c t="inlineStr"><is><t>${name}</t></is></c></row>` });
    const workbook = zipOf(handWrittenWorkbook({ sheets: [sheet('Hidden', 'hidden'), sheet('Secret', 'veryHidden'), sheet('Products'), sheet('Other', 'visible')] }));
    expect(await recordsOf(workbook)).toEqual([['Products']]);
    expect(await recordsOf(workbook, { sheet: 'hidden' })).toEqual([['Hidden']]);
    expect(await recordsOf(workbook, { sheet: '2' })).toEqual([['Secret']]);
    expect(await recordsOf(workbook, { sheet: '4' })).toEqual([['Other']]);
    await expect(recordsOf(workbook, { sheet: 'Prices' })).rejects.toMatchObject({
      code: 'UNKNOWN_SHEET',
      message: "The workbook has no sheet 'Prices'; its sheets are 'Hidden' (hidden), 'Secret' (hidden), 'Products', 'Other'.",
    });
    const allHidden = zipOf(handWrittenWorkbook({ sheets: [sheet('First', 'hidden'), sheet('Second', 'hidden')] }));
    expect(await recordsOf(allHidden)).toEqual([['First']]);
  });

  it('skips a chart sheet by default and says a chart sheet named by name or position is not a worksheet', async () => {
    const products = { name: 'Products', rows: '<row><c t="inlineStr"><is><t>products</t></is></c></row>' };
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Chart1', rows: '', chart: true }, products] }));
    expect(await recordsOf(workbook)).toEqual([['products']]);
    expect(await recordsOf(workbook, { sheet: '2' })).toEqual([['products']]);
    const chart = "The sheet 'Chart1' is a chart, not a worksheet: it has no rows to import. The workbook's worksheets are 'Products'.";
    await expect(recordsOf(workbook, { sheet: 'chart1' })).rejects.toMatchObject({ code: 'UNKNOWN_SHEET', message: chart });
    await expect(recordsOf(workbook, { sheet: '1' })).rejects.toMatchObject({ code: 'UNKNOWN_SHEET', message: chart });
    await expect(recordsOf(workbook, { sheet: 'Prices' })).rejects.toMatchObject({
      code: 'UNKNOWN_SHEET',
      message: "The workbook has no sheet 'Prices'; its sheets are 'Chart1' (chart), 'Products'.",
    });
    // A writer that leaves out the relationship's type: the chart sheet is told by its folder.
    const untyped = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Chart1', rows: '', chart: true }, products] })
      .map((part) => (part.path.endsWith('.rels') ? { ...part, content: part.content.toString().replace(/ Type="[^"]*"/g, '') } : part)));
    expect(await recordsOf(untyped)).toEqual([['products']]);
    const chartsOnly = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Chart1', rows: '', chart: true }] }));
    await expect(recordsOf(chartsOnly)).rejects.toMatchObject({
      code: 'INVALID_XLSX',
      message: "The workbook has no worksheet; its sheets are 'Chart1' (chart).",
    });
  });

  it('fails a cell that refers to a shared string the workbook does not have, naming the cell', async () => {
    const header = '<row r="1"><c r="A1" t="inlineStr"><is><t>ean</t></is></c><c r="B1" t="s"><v>0</v></c></row>';
    for (const [cells, cell, index] of [
      ['<c r="A3"><v>4006381333931</v></c><c r="B3" t="s"><v>99</v></c>', 'B3', '99'],
      ['<c><v>4006381333931</v></c><c t="s"><v>1.5</v></c>', 'B3', '1.5'],
      ['<c><v>4006381333931</v></c><c t="s"><v>-1</v></c>', 'B3', '-1'],
    ]) {
      const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows: `${header}<row r="3">${cells}</row>` }], sharedStrings: ['<si><t>name</t></si>'] }));
      await expect(recordsOf(workbook)).rejects.toMatchObject({
        code: 'INVALID_XLSX',
        row: 1,
        message: `Row 1 has a cell (${cell}) that refers to shared string '${index}', which the workbook does not have (it has 1 shared string).`,
      });
    }
  });

  it('stops at the inflated-size bound even when the archive declares small sizes', async () => {
    const rows = '<row><c t="inlineStr"><is><t>x</t></is></c></row>'.repeat(50_000);
    const honest = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }] }));
    const lying = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }] }).map((part) => ({ ...part, declaredSize: 10 })));
    for (const workbook of [honest, lying]) {
      await expect(recordsOf(workbook, { maxUncompressedBytes: 1 << 20 })).rejects.toMatchObject({
        code: 'XLSX_TOO_LARGE',
        message: 'The workbook inflates to more than 1048576 bytes, the limit (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES).',
      });
    }
  });

  it('fails a row larger than the record limit, at its row', async () => {
    const big = 'y'.repeat(1500);
    const rows = `<row><c t="inlineStr"><is><t>ean</t></is></c></row><row><c t="inlineStr"><is><t>${big}</t></is></c></row>`;
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }] }));
    await expect(recordsOf(workbook, { maxRecordBytes: 1024 })).rejects.toMatchObject({
      code: 'RECORD_TOO_LARGE',
      row: 1,
      message: 'Row 1 is larger than the limit of 1024 bytes (IMPORT_MAX_RECORD_BYTES).',
    });
  });

  it('fails a workbook cut short, wherever it is cut, as not readable', async () => {
    const workbook = await excelWorkbook((book) => book.addWorksheet('S').addRows([['ean', 'name'], [4006381333931, 'Pen']]));
    for (const cut of [200, 1000, 3000, workbook.length - 10]) {
      await expect(recordsOf(workbook.subarray(0, cut))).rejects.toMatchObject({ code: 'INVALID_XLSX' });
    }
  });

  it('reads a small workbook whose members are stored, not deflated, as JSZip and SheetJS write them', async () => {
    const rows = '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>' +
      '<row><c><v>4006381333931</v></c><c t="inlineStr"><is><t>Pen</t></is></c></row>';
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }] }), { stored: true });
    expect(await recordsOf(workbook)).toEqual([['ean', 'name'], ['4006381333931', 'Pen']]);
    for (const cut of [200, 1000, workbook.length - 10]) {
      await expect(recordsOf(workbook.subarray(0, cut))).rejects.toMatchObject({ code: 'INVALID_XLSX' });
    }
  });

  it("decodes Excel's _xHHHH_ escapes in shared and inline strings", async () => {
    const rows = '<row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>a_x000D_\nb</t></is></c></row>';
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }], sharedStrings: ['<si><t>Line_x000D_\nbreak _x005F_x0041_</t></si>'] }));
    expect(await recordsOf(workbook)).toEqual([['Line\r\nbreak _x0041_', 'a\r\nb']]);
  });

  it('reads a cell without a value as empty, whatever its type', async () => {
    const rows = '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>' +
      '<row><c t="s"/><c t="s"><v>0</v></c></row>';
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }], sharedStrings: ['<si><t>Pen</t></si>'] }));
    expect(await recordsOf(workbook)).toEqual([['ean', 'name'], ['', 'Pen']]);
  });

  it('writes numbers as the sheet shows them: an EAN format\'s leading zeros, a formula\'s binary noise left out', () => {
    const ean = numberStyleOf('0000000000000');
    expect(numberText('12000161155', ean, false)).toBe('0012000161155');
    expect(numberText('4006381333931', ean, false)).toBe('4006381333931');
    expect(numberText('16.799999999999997', numberStyleOf('0.00'), false)).toBe('16.80');
    expect(numberText('0.30000000000000004', null, false)).toBe('0.3');
    expect(numberText('1.23456', numberStyleOf('0.00'), false)).toBe('1.23456');
    expect(numberText('-5.5', numberStyleOf('000.00'), false)).toBe('-005.50');
  });

  it('writes numbers without exponent and formats with decimals', () => {
    expect(plainNumber(4006381333931)).toBe('4006381333931');
    expect(plainNumber(1e21)).toBe('1000000000000000000000');
    expect(plainNumber(1.5e-7)).toBe('0.00000015');
    expect(plainNumber(-2.5e-7)).toBe('-0.00000025');
    expect(plainNumber(0.30000000000000004)).toBe('0.30000000000000004');
    expect(numberStyleOf('0.00')).toEqual({ kind: 'fixed', decimals: 2, integerDigits: 1 });
    expect(numberStyleOf('[$€-407] #,##0.000')).toEqual({ kind: 'fixed', decimals: 3, integerDigits: 1 });
    expect(numberStyleOf('0000000000000')).toEqual({ kind: 'fixed', decimals: 0, integerDigits: 13 });
    expect(numberStyleOf('h:mm')).toEqual({ kind: 'date', hasDate: false, hasTime: true });
  });

  it("writes a 12-hour clock's time as a time of day, and a duration with its hours past 24", () => {
    // Built-in formats 18 and 46: the M of AM/PM is no month, [h] counts hours past a day.
    expect(numberStyleOf('h:mm AM/PM')).toEqual({ kind: 'date', hasDate: false, hasTime: true });
    expect(numberText('0.375', numberStyleOf('h:mm AM/PM'), false)).toBe('09:00:00');
    expect(numberText('0.8125', numberStyleOf('h:mm:ss A/P'), false)).toBe('19:30:00');
    expect(numberText('1.5', numberStyleOf('[h]:mm:ss'), false)).toBe('36:00:00');
    expect(numberText('0.0625', numberStyleOf('[mm]:ss'), false)).toBe('01:30:00');
    expect(numberText('46156.4375', numberStyleOf('yyyy-mm-dd h:mm AM/PM'), false)).toBe('2026-05-14T10:30:00');
    expect(numberStyleOf('"Qty: "0')).toEqual({ kind: 'fixed', decimals: 0, integerDigits: 1 });
    expect(numberStyleOf('[Red]0.0%')).toBeNull();
  });

  it('writes minutes and seconds as a time of day, not a date: an m next to an hour or a second is minutes', () => {
    // 0.0215277… is 31 minutes; built-in formats 45 (mm:ss) and 47 (mm:ss.0).
    const minutes = String(31 / 1440);
    expect(numberText(minutes, numberStyleOf(builtInFormat(45)), false)).toBe('00:31:00');
    expect(numberText(String(31 / 1440 + 5 / 86_400), numberStyleOf(builtInFormat(47)), false)).toBe('00:31:05');
    expect(numberText(minutes, numberStyleOf('mm:ss'), false)).toBe('00:31:00');
    expect(numberText(minutes, numberStyleOf('[mm]:ss'), false)).toBe('00:31:00');
    expect(numberText('0.4375', numberStyleOf('h:mm'), false)).toBe('10:30:00');
    expect(numberText('0.4375', numberStyleOf('hh"h"mm'), false)).toBe('10:30:00');
    expect(numberText(minutes, numberStyleOf('mm\\:ss'), false)).toBe('00:31:00');
  });

  it('still reads an m away from hours and seconds, and every mmm, as a month', () => {
    // 46156.4375 is 2026-05-14 10:30.
    const serial = '46156.4375';
    expect(numberText(serial, numberStyleOf('mm/dd/yyyy'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('d-mmm-yy'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('mmm'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('mmmm yyyy'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('yyyy-mm-dd hh:mm:ss'), false)).toBe('2026-05-14T10:30:00');
    expect(numberText(serial, numberStyleOf('[$-409]mmmm d, yyyy'), false)).toBe('2026-05-14');
    // A month next to an hour or second that is only quoted or escaped text stays a month.
    expect(numberText(serial, numberStyleOf('mm"s"'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('\\hmm'), false)).toBe('2026-05-14');
    expect(numberText(serial, numberStyleOf('mmm:ss'), false)).toBe('2026-05-14T10:30:00');
  });

  it('reads a workbook cell styled mm:ss (built-in 45 and 47, or its own format) as a time of day', async () => {
    const rows = '<row><c s="1"><v>0.021527777777777778</v></c><c s="2"><v>0.021527777777777778</v></c><c s="3"><v>0.021527777777777778</v></c></row>';
    const workbook = zipOf(handWrittenWorkbook({
      sheets: [{ name: 'S', rows }],
      styles: '<numFmts count="1"><numFmt numFmtId="164" formatCode="mm:ss"/></numFmts>' +
        '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="45"/><xf numFmtId="47"/><xf numFmtId="164"/></cellXfs>',
    }));
    expect(await recordsOf(workbook)).toEqual([['00:31:00', '00:31:00', '00:31:00']]);
  });

  it('marks the cells that were numbers written with a decimal point, not text that looks like one', async () => {
    const rows =
      '<row><c t="inlineStr"><is><t>a</t></is></c></row>' +
      '<row><c><v>1.5</v></c><c t="s"><v>0</v></c><c t="inlineStr"><is><t>1.234</t></is></c><c t="str"><v>2.5</v></c><c><v>3</v></c><c s="1"><v>7</v></c></row>';
    const workbook = zipOf(handWrittenWorkbook({
      sheets: [{ name: 'S', rows }],
      sharedStrings: ['<si><t>1.234</t></si>'],
      styles: '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="2"/></cellXfs>',
    }));
    const [, record] = await recordsOf(workbook);
    expect(record).toEqual(['1.5', '1.234', '1.234', '2.5', '3', '7.00']);
    expect(record!.map((_, column) => isPointNumber(record!, column))).toEqual([true, false, false, false, false, true]);
  });
});
