import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, reportOf, storedProducts, untilQueueReady } from '../support/csv.js';
import { multipartBody } from '../support/multipart.js';
import { sendJson } from '../support/products.js';
import { storedUploads } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { uploadWorkbook } from '../support/xlsx.js';

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

  // Windows-1252's “ ” € – ™ are bytes 0x80–0xBF, which UTF-8 only has inside a character: the
  // message names that byte and its cell, not the character or the comma in front of it.
  it.each([
    ['after a space', Buffer.from('ean,name\n4006381000048,ab \x93Q\x94\n', 'latin1'), "byte 0x93 on line 2, column 18 (row 1, in column 'name')"],
    ['first in its cell', Buffer.from('ean,name\n4006381000048,\x93Q\x94\n', 'latin1'), "byte 0x93 on line 2, column 15 (row 1, in column 'name')"],
    ['a lead byte (é)', Buffer.from('ean,name\n4006381000048,caf\xe9\n', 'latin1'), "byte 0xE9 on line 2, column 18 (row 1, in column 'name')"],
  ])('fails a Windows-1252 file sent without encoding with INVALID_UTF8 naming the bad byte %s, its column and cell', async (_label, csv, where) => {
    const account = await ctx.createAccount();
    const { job, report } = await failedWith(account.key, csv);
    const message =
      `The file is not valid UTF-8: ${where}. ` +
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

  it('reads encoding=iso-8859-1 as windows-1252, as browsers do, so the € and quotes of a Windows file are kept', async () => {
    const account = await ctx.createAccount();
    const file = Buffer.concat([Buffer.from('ean,name\n4006381333931,'), Buffer.from([0x80, 0x93, 0x94]), Buffer.from('\n')]);
    const job = await ctx.importCsv(account.key, file, { encoding: 'iso-8859-1' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 }, options: { encoding: 'iso-8859-1' } });
    expect((await storedProducts(ctx, account.id))[0]).toMatchObject({ ean: '4006381333931', name: '€“”' });
  });

  it.each(['utf-16be', 'utf-16le'] as const)(
    'keeps an emoji of a %s file whose two halves fall in two chunks of the read (256 KiB)',
    async (encoding) => {
      const account = await ctx.createAccount();
      // Excel's "Unicode text": a BOM and tabs. Filler rows put the 😀 of the last row's name at
      // byte 262142, so the first half of its surrogate pair ends the first 256 KiB chunk.
      const filler = Array.from({ length: 6240 }, (_unused, n) => `${ean13(n)}\tFiller\n`).join('');
      const before = `ean\tname\n${filler}4006381333931\tSmile `;
      const head = iconv.encode(before + 'x'.repeat((262142 - iconv.encode(before, encoding, { addBOM: true }).length) / 2), encoding, { addBOM: true });
      expect(head.length).toBe(262142);
      const file = Buffer.concat([head, iconv.encode('😀 please\n', encoding)]);
      const job = await ctx.importCsv(account.key, file);
      expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 6241 } });
      const product = await ctx.get(account.key, '/v1/products/4006381333931');
      expect(product.json<{ name: string }>().name).toMatch(/^Smile x+😀 please$/);
    },
  );

  it.each(['windows-1252', 'iso-8859-1', 'utf-16le', 'utf-16be'])(
    'reads a UTF-8 file with its BOM (a report given back) as UTF-8 whatever encoding=%s says',
    async (encoding) => {
      const account = await ctx.createAccount();
      const job = await ctx.importCsv(account.key, '\uFEFFean;name\n4006381333931;Crème brûlée\n', { encoding });
      expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
      expect((await storedProducts(ctx, account.id))[0]).toMatchObject({ ean: '4006381333931', name: 'Crème brûlée' });
    },
  );

  it('refuses an unknown encoding with 400 naming the parameter', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean,name\n', { encoding: 'latin-2' });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ error: string }>().error).toContain('encoding');
  });
});

describe('the charset of the Content-Type', () => {
  /** Uploads `file` labelled `contentType`, raw or as the multipart `file` part, and waits for its job. */
  async function importLabelled(key: string, file: Buffer, contentType: string, query: Record<string, string> = {}, as: 'raw' | 'part' = 'raw') {
    const form = multipartBody([{ name: 'file', filename: 'products.csv', contentType, content: file }]);
    const response =
      as === 'raw'
        ? await ctx.upload(key, file, query, { 'content-type': contentType })
        : await ctx.upload(key, form.body, query, { 'content-type': form.contentType });
    expect(response.statusCode, response.body).toBe(202);
    return ctx.waitForJob(key, response.json<{ id: string }>().id);
  }

  const productName = async (key: string, ean: string) => (await ctx.get(key, `/v1/products/${ean}`)).json<{ name: string }>().name;

  it('reads a raw Windows-1252 file labelled text/csv; charset=windows-1252, and shows the encoding in the options', async () => {
    const account = await ctx.createAccount();
    const job = await importLabelled(account.key, EXCEL_DE, 'text/csv; charset=windows-1252', { decimal_separator: ',' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    expect(job.options).toMatchObject({ encoding: 'windows-1252' });
    expect(await productName(account.key, '4006381333931')).toBe('Crème brûlée');
    expect(await productName(account.key, '5901234123457')).toBe('Größe M – Hemd');
  });

  it('reads the file part of a multipart upload in the charset of its own Content-Type', async () => {
    const account = await ctx.createAccount();
    const job = await importLabelled(account.key, EXCEL_DE, 'text/csv; charset=cp1252', { decimal_separator: ',' }, 'part');
    expect(job).toMatchObject({ status: 'completed', options: { encoding: 'windows-1252' } });
    expect(await productName(account.key, '5901234123457')).toBe('Größe M – Hemd');
  });

  it.each([
    ['utf-16le without its BOM', 'application/csv; charset=utf-16le', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'utf-16le'), 'utf-16le'],
    ['UTF-16 without a BOM, as little-endian', 'text/csv;charset=UTF-16', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'utf-16le'), 'utf-16le'],
    ['UTF-16 whose BOM says big-endian', 'text/csv; charset=utf-16', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'utf-16be', { addBOM: true }), 'utf-16le'],
    ['a quoted alias of ISO-8859-1', 'text/csv; charset="Latin1"', () => iconv.encode('ean,name\n4006381333931,Éclair\n', 'iso-8859-1'), 'iso-8859-1'],
    ['US-ASCII, as UTF-8', 'text/csv; charset=us-ascii', () => Buffer.from('ean,name\n4006381333931,Éclair\n'), 'utf-8'],
  ])('reads a file labelled with %s', async (_label, contentType, file, encoding) => {
    const account = await ctx.createAccount();
    const job = await importLabelled(account.key, file(), contentType);
    expect(job).toMatchObject({ status: 'completed', options: { encoding } });
    expect(await productName(account.key, '4006381333931')).toBe('Éclair');
  });

  it.each(['ISO-8859-1', 'latin1', 'l1', 'iso_8859-1'])(
    'reads a file labelled charset=%s as windows-1252, keeping the label in the options',
    async (charset) => {
      const account = await ctx.createAccount();
      const job = await importLabelled(account.key, iconv.encode('ean,name\n4006381333931,5 € – “Pen”™\n', 'windows-1252'), `text/csv; charset=${charset}`);
      expect(job).toMatchObject({ status: 'completed', options: { encoding: 'iso-8859-1' } });
      expect(await productName(account.key, '4006381333931')).toBe('5 € – “Pen”™');
    },
  );

  it('lets the encoding parameter, then a profile, win over the charset', async () => {
    const account = await ctx.createAccount();
    const utf8 = Buffer.from('ean,name\n4006381333931,Crème\n');
    const byQuery = await importLabelled(account.key, utf8, 'text/csv; charset=windows-1252', { encoding: 'utf-8' });
    expect(byQuery).toMatchObject({ status: 'completed', options: { encoding: 'utf-8' } });
    expect(await productName(account.key, '4006381333931')).toBe('Crème');

    const profile = await sendJson(ctx.app, account.key, 'POST', '/v1/import-profiles', { name: 'Latin', encoding: 'iso-8859-1' });
    expect(profile.statusCode, profile.body).toBe(201);
    const latin1 = iconv.encode('ean,name\n4006381333931,Éclair\n', 'iso-8859-1');
    const byProfile = await importLabelled(account.key, latin1, 'text/csv; charset=utf-8', { profile: 'Latin' }, 'part');
    expect(byProfile).toMatchObject({ status: 'completed', options: { encoding: 'iso-8859-1' } });
    expect(await productName(account.key, '4006381333931')).toBe('Éclair');
  });

  it.each(['raw', 'part'] as const)('refuses an unknown charset (%s) with 415 naming it and the supported ones, keeping nothing', async (as) => {
    const account = await ctx.createAccount();
    const file = iconv.encode('ean,name\n4006381333931,Pen\n', 'shift_jis');
    const form = multipartBody([{ name: 'file', filename: 'products.csv', contentType: 'text/csv; charset=Shift_JIS', content: file }]);
    const uploadsBefore = await storedUploads(ctx.db, ctx.uploads.root);
    const response =
      as === 'raw'
        ? await ctx.upload(account.key, file, { encoding: 'utf-8' }, { 'content-type': 'text/csv; charset=Shift_JIS' })
        : await ctx.upload(account.key, form.body, {}, { 'content-type': form.contentType });
    expect(response.statusCode, response.body).toBe(415);
    expect(response.json()).toMatchObject({
      error_code: 'UNSUPPORTED_MEDIA_TYPE',
      error:
        "Unsupported charset 'Shift_JIS' in the Content-Type: a CSV file can be read as utf-8, us-ascii, windows-1252, iso-8859-1, utf-16, utf-16le or utf-16be. " +
        'Save the file as UTF-8 and send it with charset=utf-8.',
    });
    expect((await ctx.get(account.key, '/v1/jobs')).json<{ data: unknown[] }>().data).toEqual([]);
    expect(await storedUploads(ctx.db, ctx.uploads.root)).toEqual(uploadsBefore);
  });

  it("ignores the charset of an .xlsx workbook's content type", async () => {
    const account = await ctx.createAccount();
    const response = await uploadWorkbook(ctx, account.key, Buffer.from('not read before the job runs'), {}, {
      filename: 'products.xlsx',
      contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; charset=shift_jis',
    });
    expect(response.statusCode, response.body).toBe(202);
    const job = await ctx.waitForJob(account.key, response.json<{ id: string }>().id);
    expect(job.options).toMatchObject({ format: 'xlsx', encoding: null });
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

  it('reads an EAN written in Excel\'s ="digits" notation as its digits, and says such a cell must be quoted as a whole', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n"=""0614141000036""",Pen\n');
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean)).toEqual(['0614141000036']);
    const { report } = await failedWith(account.key, 'ean,name\n="0614141000036",Pen\n');
    expect(report).toEqual([
      {
        row: 1, ean: null, field: null, code: 'INVALID_QUOTE',
        message: 'Misplaced quote on line 2 (row 1): a field containing quotes must be quoted, with inner quotes doubled (""). ' +
          'A cell written ="…" (Excel\'s notation for text such as leading zeros) must be quoted as a whole: "=""0614141000036""".',
      },
    ]);
  });

  it('imports a fixed errors.csv of a file whose EANs were written ="digits"', async () => {
    const account = await ctx.createAccount();
    const first = await ctx.importCsv(account.key, 'ean,name\n"=""4006381333931""",\n"=""0012345678905""",Fine\n', { on_error: 'skip' });
    expect(first).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 1 } });
    const report = (await ctx.get(account.key, `/v1/jobs/${first.id}/errors.csv`)).body;
    expect(report).toContain(`"'=""4006381333931"""`);
    const fixed = await ctx.importCsv(account.key, report.replace(`"'=""4006381333931""",`, `"'=""4006381333931""",Pen`));
    expect(fixed).toMatchObject({ status: 'completed', progress: { rows_created: 1, rows_failed: 0 } });
    expect((await storedProducts(ctx, account.id)).map((product) => product.ean).sort()).toEqual(['0012345678905', '4006381333931']);
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
