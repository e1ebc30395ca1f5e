import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Encodings and the artefacts Excel and other tools leave in product files (API.md §7).

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { IMPORT_MAX_RECORD_BYTES: '2048' } });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

/** What German Excel writes for "CSV (Trennzeichen-getrennt)": sep= hint, ;, CRLF, decimal commas, Windows-1252. */
const EXCEL_DE = iconv.encode(
  "sep=;\r\nean;name;price;currency\r\n'4006381333931;Crème brûlée;1,50;EUR\r\n5901234123457;Größe M – Hemd;12,00;EUR\r\n",
  'windows-1252',
);

async function failedWith(key: string, csv: string | Buffer, query: Record<string, string> = {}) {
  const job = await ctx.importCsv(key, csv, query);
  expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
  return { job, report: await reportOf(ctx, key, job.id) };
}

describe('import encodings', () => {
  it('reads a Windows-1252 file from Excel with encoding=windows-1252 and decimal_separator=","', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, EXCEL_DE, { encoding: 'windows-1252', decimal_separator: ',' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    expect(job.options).toMatchObject({ encoding: 'windows-1252', decimal_separator: ',', delimiter: null });
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ ean, name, price }) => [ean, name, price])).toEqual([
      ['4006381333931', 'Crème brûlée', '1.50'],
      ['5901234123457', 'Größe M – Hemd', '12.00'],
    ]);
  });

  it('fails the same file without encoding with INVALID_UTF8 naming line, column, cell and byte, and what to do', async () => {
    const account = await ctx.createAccount();
    const { job, report } = await failedWith(account.key, EXCEL_DE, { decimal_separator: ',' });
    const message =
      "The file is not valid UTF-8: byte 0xE8 on line 3, column 18 (row 1, in column 'name'). " +
      "Save the file as UTF-8 (in Excel: 'CSV UTF-8'), or send encoding=windows-1252 if it was saved by Excel on Windows.";
    expect(job.detail).toBe(`${message} No rows were imported. See /v1/jobs/${job.id}/errors.`);
    expect(report).toEqual([{ row: 1, ean: null, field: null, code: 'INVALID_UTF8', message }]);
  });

  it.each([
    ['UTF-16LE with its BOM', () => iconv.encode('ean\tname\n4006381333931\tÉclair\n', 'utf-16le', { addBOM: true }), {}],
    ['UTF-16BE with its BOM', () => iconv.encode('ean;name\n4006381333931;Éclair\n', 'utf-16be', { addBOM: true }), {}],
    ['UTF-16LE without BOM, named', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'utf-16le'), { encoding: 'utf-16le' }],
    ['ISO-8859-1, named', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'iso-8859-1'), { encoding: 'iso-8859-1' }],
  ])('reads %s', async (_label, file, query) => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, file(), query);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id))[0]).toMatchObject({ ean: '4006381333931', name: 'Éclair' });
  });

  it('refuses an unknown encoding with 400 naming the parameter', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean,name\n', { encoding: 'latin-2' });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ error: string }>().error).toContain('encoding');
  });
});

describe('Excel and other-tool artefacts', () => {
  it("takes Excel's sep= line as the delimiter, not as the header, and counts rows after it", async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, 'sep=,\nean,name\n4006381333931,Pen\n96385075,Ink\n');
    expect(report).toEqual([
      { row: 2, ean: '96385075', field: 'ean', code: 'INVALID_CHECK_DIGIT', message: 'The EAN check digit is invalid.' },
    ]);
  });

  it('tells that Excel shortened an EAN written in scientific notation', async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, 'ean;name\n4,00638E+12;Pen\n', { decimal_separator: ',' });
    expect(report).toEqual([
      {
        row: 1,
        ean: '4,00638E+12',
        field: 'ean',
        code: 'INVALID_EAN',
        message:
          "The EAN '4,00638E+12' is in scientific notation: Excel shortened the number and its last digits are lost. " +
          'Format the EAN column as Text in Excel (and enter the full EANs again) before exporting the file.',
      },
    ]);
  });

  it('names the padded EAN of a 7-digit EAN-8 that lost its leading zero', async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, 'ean,name\n1234565,Pen\n');
    expect(report[0]).toMatchObject({ code: 'INVALID_EAN', message: expect.stringContaining("The padded EAN '01234565' has a valid check digit") });
  });

  it('refuses thousands separators with decimal_separator="," instead of guessing', async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, 'ean;name;price;currency\n4006381333931;Pen;1.234,50;EUR\n', { decimal_separator: ',' });
    expect(report).toEqual([
      {
        row: 1,
        ean: '4006381333931',
        field: 'price',
        code: 'INVALID_PRICE',
        message: `The price '1.234,50' has a thousands separator, which is not read with decimal_separator=",": write it without one, such as "1234,50".`,
      },
    ]);
  });

  it('gives the example of a price too long for the schema with a decimal comma under decimal_separator=","', async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, 'ean;name;price;currency\n4006381333931;Pen;1234567890123456,50;EUR\n', {
      decimal_separator: ',',
    });
    expect(report).toEqual([
      {
        row: 1,
        ean: '4006381333931',
        field: 'price',
        code: 'INVALID_PRICE',
        message: 'The price must be a decimal number of at least 0 with at most 4 decimal places, such as "9,99".',
      },
    ]);
  });

  it('reads a zip archive sent as text/csv as an .xlsx workbook, and says when it is not one', async () => {
    const account = await ctx.createAccount();
    const workbook = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]), Buffer.from('[Content_Types].xml'), Buffer.alloc(64)]);
    const { report } = await failedWith(account.key, workbook);
    expect(report).toEqual([
      expect.objectContaining({
        row: 0,
        code: 'INVALID_XLSX',
        message: expect.stringMatching(/^The file is not a readable \.xlsx workbook/),
      }),
    ]);
  });

  it('names the limit and its variable when a record is too large', async () => {
    const account = await ctx.createAccount();
    const { report } = await failedWith(account.key, `ean,name\n4006381333931,${'x'.repeat(3000)}\n`);
    expect(report[0]).toMatchObject({
      code: 'RECORD_TOO_LARGE',
      message: expect.stringContaining('larger than the limit of 2048 bytes (set by IMPORT_MAX_RECORD_BYTES)'),
    });
  });
});
