import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { excelWorkbook, handWrittenWorkbook, importWorkbook, zipOf } from '../support/xlsx.js';

// .xlsx imports meet the CSV import's options: a profile's column mapping, decimal comma and
// sheet apply to workbook rows, query parameters beside it still win, and rows.csv of a failed
// workbook import gives every row of the sheet as CSV with its problems.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** A partner's export: a cover sheet first, then its products under its own headers. */
async function partnerWorkbook(): Promise<Buffer> {
  return excelWorkbook((book) => {
    book.addWorksheet('Cover').addRows([['EAN Code', 'Artikelname'], ['96385074', 'Cover sheet row']]);
    book.addWorksheet('Artikel').addRows([
      ['EAN Code', 'Artikelname', 'Preis', 'Währung', 'Farbe', 'Intern'],
      // A numeric cell (written with a point in the file) and a text cell with a decimal comma.
      [4006381333931, 'Kugelschreiber', 1.5, 'EUR', 'blau', 'x'],
      ['0036000291452', 'Taschentücher', '2,50', 'EUR', 'weiß', 'y'],
    ]);
  });
}

async function createProfile(key: string): Promise<{ id: string; name: string }> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/import-profiles',
    headers: { 'x-api-key': key },
    payload: {
      name: 'Partner XLSX',
      columns: { 'EAN Code': 'ean', Artikelname: 'name', Preis: 'price', Währung: 'currency', Farbe: 'attributes.color', Intern: 'ignore' },
      decimal_separator: ',',
      sheet: 'Artikel',
    },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string; name: string }>();
}

describe('xlsx import with profiles and rows.csv', () => {
  it('imports a workbook through a profile: its sheet, column mapping and decimal comma apply', async () => {
    const account = await ctx.createAccount();
    const profile = await createProfile(account.key);
    const job = await importWorkbook(ctx, account.key, await partnerWorkbook(), { profile: 'Partner XLSX' });
    expect(job).toMatchObject({
      status: 'completed',
      progress: { rows_processed: 2, rows_created: 2, rows_failed: 0 },
      options: { format: 'xlsx', sheet: 'Artikel', decimal_separator: ',', profile: { id: profile.id, name: 'Partner XLSX' } },
    });
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ ean, name, price, currency, attributes }) => ({ ean, name, price, currency, attributes }))).toEqual([
      { ean: '0036000291452', name: 'Taschentücher', price: '2.50', currency: 'EUR', attributes: { color: 'weiß' } },
      { ean: '4006381333931', name: 'Kugelschreiber', price: '1.5', currency: 'EUR', attributes: { color: 'blau' } },
    ]);
  });

  it('reads text cells with decimal_separator="," as a CSV\'s cells, numeric cells as the numbers they are', async () => {
    const account = await ctx.createAccount();
    const text = (value: string) => `<c t="inlineStr"><is><t>${value}</t></is></c>`;
    const row = (...cells: string[]) => `<row>${cells.join('')}</row>`;
    const rows = [
      row(text('ean'), text('name'), text('price'), text('currency')),
      row('<c><v>4006381333931</v></c>', text('Pen'), '<c><v>1.5</v></c>', text('EUR')),
      row(text('0036000291452'), text('Tissues'), '<c t="s"><v>0</v></c>', text('EUR')),
      row(text('96385074'), text('Eraser'), text('1.234'), text('EUR')),
      row(text('5901234123457'), text('Shirt'), text('1234567890123456,50'), text('EUR')),
    ].join('');
    const workbook = zipOf(handWrittenWorkbook({ sheets: [{ name: 'S', rows }], sharedStrings: ['<si><t>1.234</t></si>'] }));
    const job = await importWorkbook(ctx, account.key, workbook, { decimal_separator: ',', on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 4, rows_created: 1, rows_failed: 3 } });
    expect((await storedProducts(ctx, account.id)).map(({ ean, price }) => ({ ean, price }))).toEqual([{ ean: '4006381333931', price: '1.5' }]);
    const thousands = (cell: string) =>
      `The price '${cell}' has a thousands separator, which is not read with decimal_separator=",": write it without one, such as "1234,50".`;
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 2, ean: '0036000291452', field: 'price', code: 'INVALID_PRICE', message: thousands('1.234') },
      { row: 3, ean: '96385074', field: 'price', code: 'INVALID_PRICE', message: thousands('1.234') },
      {
        row: 4,
        ean: '5901234123457',
        field: 'price',
        code: 'INVALID_PRICE',
        message: 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9,99".',
      },
    ]);
  });

  it('lets the sheet query parameter win over the profile, by position', async () => {
    const account = await ctx.createAccount();
    await createProfile(account.key);
    const job = await importWorkbook(ctx, account.key, await partnerWorkbook(), { profile: 'Partner XLSX', sheet: '1' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 }, options: { sheet: '1' } });
    expect((await storedProducts(ctx, account.id)).map(({ ean, name }) => ({ ean, name }))).toEqual([
      { ean: '96385074', name: 'Cover sheet row' },
    ]);
  });

  it('gives rows.csv of a failed workbook import: every row of the sheet as CSV with its problems', async () => {
    const account = await ctx.createAccount();
    const workbook = await excelWorkbook((book) => {
      book.addWorksheet('Products').addRows([
        ['ean', 'name', 'price', 'currency'],
        [4006381333931, 'Pen', 1.5, 'EUR'],
        ['40063813339', 'Pencil', 2, 'EUR'],
        [96385074, 'Eraser', 0.99, 'EUR'],
      ]);
    });
    const job = await importWorkbook(ctx, account.key, workbook);
    expect(job).toMatchObject({ status: 'failed', options: { format: 'xlsx' }, links: { rows_csv: `/v1/jobs/${job.id}/rows.csv` } });
    const response = await ctx.get(account.key, job.links.rows_csv!);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    const records = parse(response.body) as string[][];
    expect(records.map((record) => record.slice(0, 7))).toEqual([
      ['ean', 'name', 'price', 'currency', 'error_row', 'error_field', 'error_code'],
      ['4006381333931', 'Pen', '1.5', 'EUR', '', '', ''],
      ['40063813339', 'Pencil', '2', 'EUR', '2', 'ean', 'INVALID_EAN'],
      ['96385074', 'Eraser', '0.99', 'EUR', '', '', ''],
    ]);
    // The fixed rows, sent back as CSV, import every row.
    const fixed = response.body.replace('40063813339,', '040063813339,');
    expect(await ctx.importCsv(account.key, fixed)).toMatchObject({ status: 'completed', progress: { rows_created: 3 } });
  });

  it("gives a workbook's rows.csv and errors.csv in the form its profile reads back as CSV: delimiter, BOM, decimal commas", async () => {
    const account = await ctx.createAccount();
    const profile = await ctx.app.inject({
      method: 'POST',
      url: '/v1/import-profiles',
      headers: { 'x-api-key': account.key },
      payload: {
        name: 'Partner',
        columns: { 'EAN Code': 'ean', Artikelname: 'name', Preis: 'price', Währung: 'currency' },
        delimiter: ';',
        encoding: 'windows-1252',
        decimal_separator: ',',
        sheet: 'Artikel',
      },
    });
    expect(profile.statusCode).toBe(201);
    const workbook = await excelWorkbook((book) => {
      book.addWorksheet('Cover').addRows([['EAN Code', 'Artikelname'], ['96385074', 'Cover sheet row']]);
      book.addWorksheet('Artikel').addRows([
        ['EAN Code', 'Artikelname', 'Preis', 'Währung'],
        [4006381333931, 'Kugelschreiber', 1.5, 'EUR'],
        ['0036000291452', 'Taschentücher', '2,50', 'EUR'],
        ['5901234123458', 'Heft', 3.25, 'EUR'],
      ]);
    });
    const job = await importWorkbook(ctx, account.key, workbook, { profile: 'Partner' });
    expect(job).toMatchObject({ status: 'failed', progress: { rows_failed: 1 } });
    const rows = (await ctx.get(account.key, job.links.rows_csv!)).body;
    // The profile's delimiter and a BOM (it says windows-1252); the sheet's numbers with a decimal comma.
    expect(rows).toBe(
      '\uFEFFEAN Code;Artikelname;Preis;Währung;error_row;error_field;error_code;error_message\n' +
        '4006381333931;Kugelschreiber;1,5;EUR;;;;\n' +
        '0036000291452;Taschentücher;2,50;EUR;;;;\n' +
        '5901234123458;Heft;3,25;EUR;3;ean;INVALID_CHECK_DIGIT;The EAN check digit is invalid.\n',
    );
    const errors = (await ctx.get(account.key, job.links.errors_csv)).body;
    expect(errors.split('\n')).toEqual([rows.split('\n')[0], rows.split('\n')[3], '']);
    // Both fixed reports, sent as CSV with the same profile (its sheet does not apply to CSV), import.
    for (const report of [errors, rows]) {
      const again = await ctx.importCsv(account.key, report.replace('5901234123458', '5901234123457'), { profile: 'Partner' });
      expect(again).toMatchObject({ status: 'completed', progress: { rows_failed: 0 } });
    }
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ ean, name, price }) => [ean, name, price])).toEqual([
      ['0036000291452', 'Taschentücher', '2.50'],
      ['4006381333931', 'Kugelschreiber', '1.5'],
      ['5901234123457', 'Heft', '3.25'],
    ]);
  });
});
