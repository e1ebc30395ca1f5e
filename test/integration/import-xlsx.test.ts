import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { excelWorkbook, handWrittenWorkbook, importWorkbook, uploadWorkbook, XLSX_MEDIA_TYPE, zipOf } from '../support/xlsx.js';

// .xlsx imports (API.md §7): a workbook's sheet is read like a CSV file, cell by cell as the CSV
// path would see it typed, with the same row numbers, report and errors.csv.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES: String(2 << 20), IMPORT_MAX_RECORD_BYTES: '4096' } });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** A workbook as Excel-like writers make it: numbers, dates, shared and rich-text strings, a formula. */
async function productWorkbook(): Promise<Buffer> {
  return excelWorkbook((book) => {
    book.addWorksheet('Notes').addRow(['this sheet is not products']);
    const sheet = book.addWorksheet('Products');
    sheet.addRow(['EAN', 'Name', 'Brand', 'Price', 'Currency', 'Stock', 'Released', 'Size']);
    sheet.addRow([4006381333931, { richText: [{ text: 'Ballpoint ', font: { bold: true } }, { text: 'pen' }] }, 'Stabilo',
      19.99, 'EUR', 12, new Date(Date.UTC(2026, 4, 14)), null]);
    sheet.addRow(['0036000291452', 'Tissues', 'Stabilo', 1.5, 'eur', { formula: 'F2*2', result: 24 }, null, 'XL']);
    sheet.getCell('D3').numFmt = '0.00';
  });
}

describe('xlsx import', () => {
  it('imports the chosen sheet of an Excel-like workbook sent raw, cells read as typed', async () => {
    const account = await ctx.createAccount();
    const job = await importWorkbook(ctx, account.key, await productWorkbook(), { sheet: 'Products' });
    expect(job).toMatchObject({ status: 'completed', options: { format: 'xlsx', sheet: 'Products' } });
    expect(job.progress).toMatchObject({ rows_processed: 2, rows_created: 2, rows_failed: 0 });
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ updated_at: _, ...product }) => product)).toEqual([
      {
        ean: '0036000291452', name: 'Tissues', brand: 'Stabilo', category: null, description: null, price: '1.50',
        currency: 'EUR', stock: 24, image_url: null, attributes: { Size: 'XL' },
      },
      {
        ean: '4006381333931', name: 'Ballpoint pen', brand: 'Stabilo', category: null, description: null, price: '19.99',
        currency: 'EUR', stock: 12, image_url: null, attributes: { Released: '2026-05-14' },
      },
    ]);
  });

  it('stores a cell formatted as minutes and seconds (mm:ss) as the time it shows, not a date', async () => {
    const account = await ctx.createAccount();
    const text = (value: string) => `<c t="inlineStr"><is><t>${value}</t></is></c>`;
    // 0.0215277… of a day is 31 minutes; built-in formats 45 (mm:ss) and 47 (mm:ss.0).
    const rows = `<row>${text('ean')}${text('name')}${text('Duration')}${text('Lap')}</row>` +
      `<row><c><v>4006381333931</v></c>${text('Timer')}<c s="1"><v>0.021527777777777778</v></c><c s="2"><v>0.021527777777777778</v></c></row>`;
    const workbook = zipOf(handWrittenWorkbook({
      sheets: [{ name: 'Products', rows }],
      styles: '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="45"/><xf numFmtId="47"/></cellXfs>',
    }));
    expect(await importWorkbook(ctx, account.key, workbook)).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.attributes)).toEqual([{ Duration: '00:31:00', Lap: '00:31:00' }]);
  });

  it.each([
    ['a .xlsx file name', { filename: 'catalog.XLSX', contentType: 'application/octet-stream' }],
    ['the xlsx content type', { filename: 'catalog', contentType: XLSX_MEDIA_TYPE }],
  ])('imports the first sheet of a workbook sent as multipart with %s', async (_label, as) => {
    const account = await ctx.createAccount();
    const workbook = await excelWorkbook((book) => {
      book.addWorksheet('Sheet1').addRows([['ean', 'name'], [4006381333931, 'Pen']]);
      book.addWorksheet('Sheet2').addRows([['other'], ['x']]);
    });
    const job = await importWorkbook(ctx, account.key, workbook, {}, as);
    expect(job).toMatchObject({ status: 'completed', options: { format: 'xlsx' } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean)).toEqual(['4006381333931']);
  });

  it.each([
    ['as text/csv', 'small', 'raw'],
    ['as text/csv', 'stored (past 64 KiB)', 'raw'],
    ['as multipart data.csv', 'small', { filename: 'data.csv', contentType: 'text/csv' }],
  ] as const)('reads a workbook sent %s (%s) as a workbook by its zip signature, and its options say so', async (_how, size, as) => {
    const account = await ctx.createAccount();
    const parts = handWrittenWorkbook({
      sheets: [{ name: 'S', rows: '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row><row><c><v>4006381333931</v></c><c t="inlineStr"><is><t>Pen</t></is></c></row>' }],
    });
    // A member the reader skips, stored: the upload is kept in the file store, not with its job row.
    if (size !== 'small') parts.push({ path: 'docProps/thumbnail.jpeg', content: randomBytes(80 * 1024) });
    const workbook = zipOf(parts, { stored: true });
    const response = as === 'raw'
      ? await ctx.upload(account.key, workbook, {}, { 'content-type': 'text/csv' })
      : await uploadWorkbook(ctx, account.key, workbook, {}, as);
    expect(response.statusCode).toBe(202);
    const job = await ctx.waitForJob(account.key, response.json<{ id: string }>().id);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 }, options: { format: 'xlsx' } });
  });

  it('keeps a CSV upload\'s options without a format', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n');
    expect(job.status).toBe('completed');
    expect(job.options).not.toHaveProperty('format');
  });

  it('reports bad rows at their data row (header row 0) and gives them back in errors.csv as CSV', async () => {
    const account = await ctx.createAccount();
    // Excel's member order (sheet before shared strings), inline strings, a skipped empty row.
    const rows =
      '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="inlineStr"><is><t>Weight</t></is></c></row>' +
      '<row r="2"><c r="A2"><v>4006381333931</v></c><c r="B2" t="s"><v>2</v></c><c r="C2"><v>2.5</v></c></row>' +
      '<row r="4"><c r="A4"><v>4006381333932</v></c><c r="B4" t="inlineStr"><is><r><t>Bad </t></r><r><t>check digit</t></r></is></c></row>' +
      '<row r="5"><c r="A5"><v>96385074</v></c><c r="C5" s="1"><v>3</v></c></row>';
    const workbook = zipOf(handWrittenWorkbook({
      sheets: [{ name: 'Export', rows }],
      sharedStrings: ['<si><t>ean</t></si>', '<si><t xml:space="preserve"> NAME </t></si>', '<si><t>Pen</t></si>'],
      styles: '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="2"/></cellXfs>',
    }));
    const job = await importWorkbook(ctx, account.key, workbook, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 3, rows_created: 1, rows_failed: 2 } });
    const report = await reportOf(ctx, account.key, job.id);
    expect(report.map((entry) => [entry.row, entry.ean, entry.field, entry.code])).toEqual([
      [2, '4006381333932', 'ean', 'INVALID_CHECK_DIGIT'],
      [3, '96385074', 'name', 'REQUIRED'],
    ]);
    const csv = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`)).body;
    expect((parse(csv) as string[][]).map((record) => record.slice(0, 5))).toEqual([
      ['ean', ' NAME ', 'Weight', 'error_row', 'error_field'],
      ['4006381333932', 'Bad check digit', '', '2', 'ean'],
      ['96385074', '', '3.00', '3', 'name'],
    ]);
  });

  it('refuses each row whose cell decodes to a NUL (_x0000_), naming the field, and imports the others with on_error=skip', async () => {
    const account = await ctx.createAccount();
    const text = (value: string) => `<c t="inlineStr"><is><t>${value}</t></is></c>`;
    const row = (...cells: string[]) => `<row>${cells.join('')}</row>`;
    const rows = [
      row(text('ean'), text('name'), text('brand'), text('image_url'), text('Size'), text('Co_x0000_lor')),
      row(text('4006381333931'), '<c t="s"><v>0</v></c>'),
      row(text('0036000291452'), text('C_x0000_D')),
      row(text('96385074'), text('Pen'), text('Sta_x0000_bilo')),
      row(text('012345678905'), text('Pen'), '<c/>', text('https://example.com/a_x0000_.png')),
      row(text('00012345600012'), text('Pen'), '<c/>', '<c/>', text('M_x0000_')),
      row(text('4006381_x0000_333931'), text('Pen')),
      row(text('0012000161155'), text('Pen'), '<c/>', '<c/>', '<c/>', text('red')),
      row(text('4012345000016'), text('Good'), '<c/>', '<c/>', text('L')),
    ].join('');
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Products', rows }], sharedStrings: ['<si><t>A_x0000_B</t></si>'] }));
    const job = await importWorkbook(ctx, account.key, workbook, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 8, rows_created: 1, rows_failed: 7 } });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 1, ean: '4006381333931', field: 'name', code: 'INVALID_TEXT', message: 'The name must not hold a NUL character (\\u0000).' },
      { row: 2, ean: '0036000291452', field: 'name', code: 'INVALID_TEXT', message: 'The name must not hold a NUL character (\\u0000).' },
      { row: 3, ean: '96385074', field: 'brand', code: 'INVALID_TEXT', message: 'The brand must not hold a NUL character (\\u0000).' },
      { row: 4, ean: '012345678905', field: 'image_url', code: 'INVALID_URL', message: 'The image URL must not hold a NUL character (\\u0000).' },
      { row: 5, ean: '00012345600012', field: 'attributes.Size', code: 'INVALID_ATTRIBUTES', message: 'Attribute names and values must not hold a NUL character (\\u0000).' },
      // What the report quotes of the file has U+FFFD in place of the NUL.
      { row: 6, ean: '4006381\uFFFD333931', field: 'ean', code: 'INVALID_EAN', message: 'The EAN must be 8, 12, 13 or 14 digits.' },
      {
        row: 7, ean: '0012000161155', field: 'attributes', code: 'INVALID_ATTRIBUTES',
        message: "Attribute names and values must not hold a NUL character (\\u0000). (the column 'Co\uFFFDlor')",
      },
    ]);
    expect((await storedProducts(ctx, account.id)).map((product) => [product.ean, product.name, product.attributes])).toEqual([
      ['4012345000016', 'Good', { Size: 'L' }],
    ]);
    const errors = await ctx.get(account.key, `/v1/jobs/${job.id}/errors.csv`);
    expect(errors.statusCode).toBe(200);
    expect((parse(errors.body) as string[][])[0]!.slice(0, 6)).toEqual(['ean', 'name', 'brand', 'image_url', 'Size', 'Co\uFFFDlor']);
  });

  it('fails the import naming the sheets when the chosen sheet does not exist', async () => {
    const account = await ctx.createAccount();
    const job = await importWorkbook(ctx, account.key, await productWorkbook(), { sheet: 'Prices' });
    expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    expect(job.detail).toContain("The workbook has no sheet 'Prices'; its sheets are 'Notes', 'Products'.");
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 0, ean: null, field: null, code: 'UNKNOWN_SHEET', message: "The workbook has no sheet 'Prices'; its sheets are 'Notes', 'Products'." },
    ]);
  });

  it('imports the first visible sheet when none is chosen, not a hidden one before it', async () => {
    const account = await ctx.createAccount();
    const sheet = (name: string, ean: string, state?: string) => ({
      name, state,
      rows: `<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row><row><c t="inlineStr"><is><t>${ean}</t></is></c><c t="inlineStr"><is><t>${name}</t></is></c></row>`,
    });
    const workbook = zipOf(handWrittenWorkbook({ sheets: [sheet('Hidden', '96385074', 'hidden'), sheet('Products', '4006381333931'), sheet('Other', '0036000291452')] }));
    expect(await importWorkbook(ctx, account.key, workbook)).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.name)).toEqual(['Products']);
    expect(await importWorkbook(ctx, account.key, workbook, { sheet: '1' })).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.name)).toEqual(['Products', 'Hidden']);
  });

  it('imports the first worksheet after a chart sheet, and says a chart sheet chosen by name is not a worksheet', async () => {
    const account = await ctx.createAccount();
    const rows = '<row><c t="inlineStr"><is><t>ean</t></is></c><c t="inlineStr"><is><t>name</t></is></c></row>' +
      '<row><c><v>4006381333931</v></c><c t="inlineStr"><is><t>Pen</t></is></c></row>';
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'Chart1', rows: '', chart: true }, { name: 'Products', rows }] }));
    expect(await importWorkbook(ctx, account.key, workbook)).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.name)).toEqual(['Pen']);
    const chart = await importWorkbook(ctx, account.key, workbook, { sheet: 'Chart1' });
    expect(chart).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    expect(await reportOf(ctx, account.key, chart.id)).toEqual([{
      row: 0, ean: null, field: null, code: 'UNKNOWN_SHEET',
      message: "The sheet 'Chart1' is a chart, not a worksheet: it has no rows to import. The workbook's worksheets are 'Products'.",
    }]);
  });

  it('fails a workbook whose cell refers to a shared string it does not have, naming the cell', async () => {
    const account = await ctx.createAccount();
    const rows = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
      '<row r="2"><c r="A2"><v>4006381333931</v></c><c r="B2" t="s"><v>2</v></c></row>' +
      '<row r="3"><c r="A3"><v>4006381333948</v></c><c r="B3" t="s"><v>99</v></c></row>';
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }], sharedStrings: ['<si><t>ean</t></si>', '<si><t>name</t></si>', '<si><t>Pen</t></si>'] }));
    const job = await importWorkbook(ctx, account.key, workbook);
    expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{
      row: 2, ean: null, field: null, code: 'INVALID_XLSX',
      message: "Row 2 has a cell (B3) that refers to shared string '99', which the workbook does not have (it has 3 shared strings).",
    }]);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('fails a workbook that inflates past IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES, however small it claims to be', async () => {
    const account = await ctx.createAccount();
    const rows = '<row><c t="inlineStr"><is><t>ean</t></is></c></row>' + '<row><c><v>4006381333931</v></c></row>'.repeat(80_000);
    const parts = handWrittenWorkbook({ sheets: [{ name: 'Bomb', rows }] }).map((part) => ({ ...part, declaredSize: 100 }));
    const workbook = zipOf(parts);
    expect(workbook.length).toBeLessThan(64 * 1024);
    const job = await importWorkbook(ctx, account.key, workbook);
    expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED', progress: { rows_processed: 0 } });
    expect(job.detail).toContain(`The workbook inflates to more than ${2 << 20} bytes, the limit (IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES).`);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('fails a row wider than IMPORT_MAX_RECORD_BYTES, as for a CSV record, at its row', async () => {
    const account = await ctx.createAccount();
    const workbook = await excelWorkbook((book) =>
      book.addWorksheet('S').addRows([['ean', 'name', 'description'], [4006381333931, 'Pen', 'ok'], [4006381333948, 'Ink', 'x'.repeat(5000)]]),
    );
    const job = await importWorkbook(ctx, account.key, workbook);
    expect(job.status).toBe('failed');
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 2, ean: null, field: null, code: 'RECORD_TOO_LARGE', message: 'Row 2 is larger than the limit of 4096 bytes (IMPORT_MAX_RECORD_BYTES).' },
    ]);
  });

  it('fails a file sent as a workbook that is not one', async () => {
    const account = await ctx.createAccount();
    const job = await importWorkbook(ctx, account.key, Buffer.from(toCsv([['ean', 'name'], ['4006381333931', 'Pen']])));
    expect(job.status).toBe('failed');
    expect(job.detail).toContain('The file was sent as an .xlsx workbook but is not one (no zip archive).');
  });

  it('answers 415 naming the accepted media types for another body type', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, Buffer.from('x'), {}, { 'content-type': 'application/vnd.ms-excel' });
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toContain(`an .xlsx workbook as ${XLSX_MEDIA_TYPE}`);
  });
});
