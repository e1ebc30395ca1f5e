import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Header matching, delimiters, encodings and CSV quoting of imports (API.md §4 "Import rules").

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

describe('import header', () => {
  it('matches column names case-insensitively after trimming', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, ' EAN ,Name,  BRAND\t,Price,CURRENCY\n4006381333931,Pen,Acme,1.50,EUR\n');
    expect(job.status).toBe('completed');
    expect(job.progress.rows_created).toBe(1);
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ ean: '4006381333931', name: 'Pen', brand: 'Acme', price: '1.50', currency: 'EUR' });
    expect(product!.attributes).toEqual({});
  });

  it('stores unknown columns as string attributes under their trimmed names', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name, Color ,weight_g,organic\n96385074,Ink,blue,42,true\n');
    expect(job.status).toBe('completed');
    const [product] = await storedProducts(ctx, account.id);
    expect(product!.attributes).toEqual({ Color: 'blue', weight_g: '42', organic: 'true' });
    const lookup = await ctx.get(account.key, '/v1/products/96385074');
    expect(lookup.json()).toMatchObject({ attributes: { Color: 'blue', weight_g: '42', organic: 'true' } });
  });

  it('leaves an attribute out when its cell is empty', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, 'ean,name,color,size\n96385074,Ink,,M\n');
    const [product] = await storedProducts(ctx, account.id);
    expect(product!.attributes).toEqual({ size: 'M' });
  });

  it.each([
    ['ean', 'name,brand\nPen,Acme\n'],
    ['name', 'ean,brand\n4006381333931,Acme\n'],
  ])("fails the import with IMPORT_FAILED when the '%s' column is missing", async (column, csv) => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('failed');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toContain(`missing the required column '${column}'`);
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      { row: 0, ean: null, field: null, code: 'MISSING_COLUMN', message: `The header is missing the required column '${column}'.` },
    ]);
    expect(await storedProducts(ctx, account.id)).toEqual([]);
  });

  it('names both columns when ean and name are missing', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'brand,price\nAcme,1\n');
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toContain("missing the required columns 'ean' and 'name'");
  });

  it('needs only the ean column with mode=update', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, 'ean,name,stock\n4006381333931,Pen,1\n');
    const job = await ctx.importCsv(account.key, 'ean,stock\n4006381333931,7\n', { mode: 'update' });
    expect(job.status).toBe('completed');
    expect(job.progress.rows_updated).toBe(1);
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ name: 'Pen', stock: 7 });
  });

  it('still needs the name column with mode=create', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,stock\n4006381333931,7\n', { mode: 'create' });
    expect(job.error_code).toBe('IMPORT_FAILED');
    expect(job.detail).toContain("'name'");
  });

  it('ignores the error_row, error_field, error_code and error_message columns', async () => {
    const account = await ctx.createAccount();
    const csv = 'ean,name,error_row,Error_Field,error_code,error_message\n96385074,Ink,3,ean,INVALID_EAN,bad\n';
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ ean: '96385074', name: 'Ink' });
    expect(product!.attributes).toEqual({});
  });
});

describe('import delimiters', () => {
  it.each([
    ['comma', ','],
    ['semicolon', ';'],
    ['tab', '\t'],
  ])('detects a %s-separated file', async (_label, delimiter) => {
    const account = await ctx.createAccount();
    const csv = toCsv(
      [
        ['ean', 'name', 'price', 'currency'],
        ['4006381333931', 'Pen, blue; fine', '1.50', 'EUR'],
        ['96385074', 'Ink', '2', 'USD'],
      ],
      delimiter,
    );
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    expect(job.progress.rows_created).toBe(2);
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => [product.ean, product.name, product.price])).toEqual([
      ['4006381333931', 'Pen, blue; fine', '1.50'],
      ['96385074', 'Ink', '2'],
    ]);
  });

  it('uses delimiter=; when given, even where detection would pick a comma', async () => {
    const account = await ctx.createAccount();
    // The header has as many commas as semicolons: detection alone would split on commas.
    const csv = 'ean;name;tags,x,y\n4006381333931;Pen;a,b,c\n';
    const detected = await ctx.importCsv(account.key, csv);
    expect(detected.error_code).toBe('IMPORT_FAILED');

    const job = await ctx.importCsv(account.key, csv, { delimiter: ';' });
    expect(job.status).toBe('completed');
    expect(job.options).toMatchObject({ delimiter: ';' });
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ name: 'Pen', attributes: { 'tags,x,y': 'a,b,c' } });
  });

  it('uses delimiter=tab when given', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean\tname\n4006381333931\tPen, blue\n', { delimiter: 'tab' });
    expect(job.status).toBe('completed');
    const [product] = await storedProducts(ctx, account.id);
    expect(product!.name).toBe('Pen, blue');
  });

  it('answers 400 BAD_REQUEST naming the parameter for an unknown delimiter, creating no job', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean|name\n4006381333931|Pen\n', { delimiter: '|' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(response.json<{ error: string }>().error).toContain('delimiter');
    const jobs = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [account.id]);
    expect(jobs.rowCount).toBe(0);
  });
});

describe('import encoding and quoting', () => {
  it('matches the header of a UTF-8 file that starts with a BOM', async () => {
    const account = await ctx.createAccount();
    const csv = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('ean;name\n4006381333931;Pen\n')]);
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ ean: '4006381333931', name: 'Pen' });
    expect(product!.attributes).toEqual({});
  });

  it('keeps non-ASCII text exactly', async () => {
    const account = await ctx.createAccount();
    const csv = toCsv([
      ['ean', 'name', 'brand', 'Herkunft'],
      ['4006381333931', 'Crème brûlée', 'Pâtisserie Ōsaka', 'Österreich'],
      ['96385074', '日本のお茶 🍵', '伊藤園', '日本'],
    ]);
    const job = await ctx.importCsv(account.key, Buffer.from(csv, 'utf8'));
    expect(job.status).toBe('completed');
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => [product.name, product.brand, product.attributes])).toEqual([
      ['Crème brûlée', 'Pâtisserie Ōsaka', { Herkunft: 'Österreich' }],
      ['日本のお茶 🍵', '伊藤園', { Herkunft: '日本' }],
    ]);
  });

  it('reads quoted fields with line breaks, delimiters and doubled quotes', async () => {
    const account = await ctx.createAccount();
    const csv =
      'ean,name,description\n' +
      '4006381333931,"Pen, ""Pro"" edition","Line one\nLine two, with a comma\r\nLine ""three"""\n' +
      '96385074,Ink,plain\n';
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('completed');
    expect(job.progress.rows_created).toBe(2);
    const products = await storedProducts(ctx, account.id);
    expect(products[0]).toMatchObject({
      name: 'Pen, "Pro" edition',
      description: 'Line one\nLine two, with a comma\r\nLine "three"',
    });
    expect(products[1]).toMatchObject({ name: 'Ink', description: 'plain' });
  });

  it('counts a record with quoted line breaks as one row in the report', async () => {
    const account = await ctx.createAccount();
    const csv = 'ean,name,description\n4006381333931,Pen,"a\nb\nc"\n96385075,Ink,x\n';
    const job = await ctx.importCsv(account.key, csv);
    expect(job.status).toBe('failed');
    const report = await reportOf(ctx, account.key, job.id);
    expect(report).toEqual([
      { row: 2, ean: '96385075', field: 'ean', code: 'INVALID_CHECK_DIGIT', message: 'The EAN check digit is invalid.' },
    ]);
  });

  it('accepts CRLF line endings', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\r\n4006381333931,Pen\r\n96385074,Ink\r\n');
    expect(job.status).toBe('completed');
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => product.name)).toEqual(['Pen', 'Ink']);
  });

  it("skips rows of empty cells, as Excel writes a sheet's empty rows, like blank lines", async () => {
    const account = await ctx.createAccount();
    const csv = 'ean;name;stock\r\n4006381333931;Pen;5\r\n;;\r\n"";"";\r\n ; ;\t\r\n96385074;Ink;x\r\n;;\r\n';
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_total: 2, rows_created: 1, rows_failed: 1 } });
    expect((await reportOf(ctx, account.key, job.id)).map((problem) => [problem.row, problem.code])).toEqual([[2, 'INVALID_STOCK']]);
    expect((await storedProducts(ctx, account.id)).map((product) => product.name)).toEqual(['Pen']);
  });

  it('accepts a file that mixes LF and CRLF line endings, blank CRLF lines included', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\r\n\r\n96385074,Ink\n');
    expect(job.status).toBe('completed');
    expect(job.progress.rows_total).toBe(2);
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => product.name)).toEqual(['Pen', 'Ink']);
  });
});
