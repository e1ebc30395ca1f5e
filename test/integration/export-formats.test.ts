import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, storedProducts, toCsv, untilQueueReady } from '../support/csv.js';
import { csvRecords, downloadResult, parseCsv, requestExport, runExportJob, seedProducts } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// POST /v1/exports and GET /v1/jobs/{id}/result (API.md §4): formats, gzip, fields, filters,
// the CSV-injection defence and the round trip through the importer.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const PEN = ean13(1);
const INK = ean13(2);
const PAPER = ean13(3);

/** An account whose catalog holds Pen (with attributes), Ink and Paper. */
async function accountWithCatalog() {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [
    {
      ean: PEN, name: 'Pen', brand: 'Acme', category: 'Office', description: 'Blue, "smooth"\nink', price: '1.50',
      currency: 'EUR', stock: 10, image_url: 'https://example.com/pen.png', attributes: { color: 'blue', size: 'M' },
      updated_at: '2026-01-10T00:00:00Z',
    },
    { ean: INK, name: 'Ink', brand: 'Acme', category: 'Supplies', price: '2', currency: 'EUR', stock: 0, attributes: { color: 'black' }, updated_at: '2026-03-01T00:00:00Z' },
    { ean: PAPER, name: 'Paper', brand: 'Papyrus', category: 'Office', updated_at: '2026-03-02T00:00:00Z' },
  ]);
  return account;
}

describe('CSV export', () => {
  it('exports the import columns with the attributes as one JSON column, and serves the file as an attachment', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'csv' });
    expect(job).toMatchObject({ type: 'export', status: 'completed', error_code: null, schedule_id: null });
    expect(job.progress).toMatchObject({ rows_total: 3, rows_processed: 3, rows_succeeded: 3, rows_failed: 0 });
    expect(job.links.result).toBe(`/v1/jobs/${job.id}/result`);

    const { response, text } = await downloadResult(ctx, account.key, job.id);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    const date = job.finished_at!.slice(0, 10);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="catalog-${date}-${job.id}.csv"`);
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(text.slice(0, text.indexOf('\n'))).toBe('ean,name,brand,category,description,price,currency,stock,image_url,attributes');
    expect(csvRecords(text)).toEqual([
      { ean: PEN, name: 'Pen', brand: 'Acme', category: 'Office', description: 'Blue, "smooth"\nink', price: '1.50', currency: 'EUR', stock: '10', image_url: 'https://example.com/pen.png', attributes: '{"size": "M", "color": "blue"}' },
      { ean: INK, name: 'Ink', brand: 'Acme', category: 'Supplies', description: '', price: '2', currency: 'EUR', stock: '0', image_url: '', attributes: '{"color": "black"}' },
      { ean: PAPER, name: 'Paper', brand: 'Papyrus', category: 'Office', description: '', price: '', currency: '', stock: '', image_url: '', attributes: '{}' },
    ].sort((a, b) => (a.ean < b.ean ? -1 : 1)));
  });

  it('re-imports its own export with every row unchanged', async () => {
    const account = await ctx.createAccount();
    const imported = await ctx.importCsv(
      account.key,
      toCsv([
        ['ean', 'name', 'brand', 'description', 'price', 'currency', 'stock', 'color', 'note'],
        [PEN, '=HYPERLINK("http://evil.example","click")', 'Acme', 'Line one\r\nline two, "quoted"', '1.50', 'EUR', '10', '+1', '@SUM(1)'],
        [INK, 'Ink -2 pack', '-2', '\tTabbed', '0.1000', 'usd', '0', "'already quoted", "'=double"],
        [PAPER, '\rCarriage', '', '', '', '', '', '', ''],
      ]),
    );
    expect(imported.status).toBe('completed');
    const before = await storedProducts(ctx, account.id);

    const exported = await runExportJob(ctx, account.key, { format: 'csv' });
    const { text } = await downloadResult(ctx, account.key, exported.id);
    const reimported = await ctx.importCsv(account.key, text);

    expect(reimported.status).toBe('completed');
    expect(reimported.progress).toMatchObject({ rows_processed: 3, rows_unchanged: 3, rows_created: 0, rows_updated: 0, rows_failed: 0 });
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('re-imports an export with created_at and updated_at unchanged: the import ignores the columns of the fields it cannot write', async () => {
    const account = await accountWithCatalog();
    // An attribute named like a timestamp travels in the attributes column, and stays.
    await seedProducts(ctx, account.id, [{ ean: ean13(4), name: 'Stamp', attributes: { updated_at: 'by hand' }, updated_at: '2026-02-01T00:00:00Z' }]);
    const before = await storedProducts(ctx, account.id);

    const fields = ['ean', 'name', 'price', 'currency', 'attributes', 'created_at', 'updated_at'];
    const exported = await runExportJob(ctx, account.key, { format: 'csv', fields });
    const { text } = await downloadResult(ctx, account.key, exported.id);
    expect(text.slice(0, text.indexOf('\n'))).toBe(fields.join(','));
    const reimported = await ctx.importCsv(account.key, text);

    expect(reimported.status).toBe('completed');
    expect(reimported.progress).toMatchObject({ rows_processed: 4, rows_unchanged: 4, rows_created: 0, rows_updated: 0, rows_failed: 0 });
    // No attribute created_at or updated_at was added, and no updated_at moved.
    expect(await storedProducts(ctx, account.id)).toEqual(before);
  });

  it('ignores created_at and updated_at columns in any case, but for a header naming the attribute or mapped by a profile; reports keep them as uploaded', async () => {
    const account = await ctx.createAccount();
    const file = toCsv([
      ['ean', 'name', ' Updated_At ', 'CREATED_AT', 'attributes.created_at'],
      [PEN, 'Pen', '2020-01-01T00:00:00Z', '2019-01-01', 'spring'],
      [INK, '', '2020-01-02T00:00:00Z', '2019-01-02', ''],
    ]);
    const failed = await ctx.importCsv(account.key, file);
    expect(failed.status).toBe('failed');
    const errors = parseCsv((await ctx.get(account.key, `/v1/jobs/${failed.id}/errors.csv`)).body);
    expect(errors.map((record) => record.slice(0, 8))).toEqual([
      ['ean', 'name', ' Updated_At ', 'CREATED_AT', 'attributes.created_at', 'error_row', 'error_field', 'error_code'],
      [INK, '', '2020-01-02T00:00:00Z', '2019-01-02', '', '2', 'name', 'REQUIRED'],
    ]);
    const rows = parseCsv((await ctx.get(account.key, `/v1/jobs/${failed.id}/rows.csv`)).body);
    expect(rows.map((record) => record.slice(0, 5))).toEqual([
      ['ean', 'name', ' Updated_At ', 'CREATED_AT', 'attributes.created_at'],
      [PEN, 'Pen', '2020-01-01T00:00:00Z', '2019-01-01', 'spring'],
      [INK, '', '2020-01-02T00:00:00Z', '2019-01-02', ''],
    ]);

    const fixed = await ctx.importCsv(account.key, toCsv(rows.map((record) => (record[0] === INK ? [INK, 'Ink', ...record.slice(2)] : record))));
    expect(fixed).toMatchObject({ status: 'completed', progress: { rows_created: 2, rows_failed: 0 } });
    const stored = await storedProducts(ctx, account.id);
    expect(stored.map(({ ean, attributes }) => ({ ean, attributes }))).toEqual([
      { ean: PEN, attributes: { created_at: 'spring' } },
      { ean: INK, attributes: {} },
    ].sort((a, b) => (a.ean < b.ean ? -1 : 1)));
    for (const product of stored) expect(new Date(product.updated_at).getUTCFullYear()).toBeGreaterThan(2020);

    const profile = await ctx.app.inject({
      method: 'POST',
      url: '/v1/import-profiles',
      headers: { 'x-api-key': account.key },
      payload: { name: 'stamps', columns: { updated_at: 'attributes.updated_at' } },
    });
    expect(profile.statusCode, profile.body).toBe(201);
    const mapped = await ctx.importCsv(account.key, toCsv([['ean', 'name', 'Updated_At'], [PEN, 'Pen', '2020-01-01']]), { profile: 'stamps' });
    expect(mapped).toMatchObject({ status: 'completed', progress: { rows_updated: 1 } });
    expect((await ctx.get(account.key, `/v1/products/${PEN}`)).json()).toMatchObject({ attributes: { created_at: 'spring', updated_at: '2020-01-01' } });
  });

  it('re-imports a product written through the API with empty texts unchanged: the API stores them as null, as the import does', async () => {
    const account = await ctx.createAccount();
    const write = (method: 'PUT' | 'PATCH', body: object) =>
      ctx.app.inject({ method, url: `/v1/products/${PEN}`, headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload: body });
    expect((await write('PUT', { name: 'Pen', brand: '', description: '', category: 'Office' })).statusCode).toBe(201);
    const patched = await write('PATCH', { category: '' });
    expect(patched.json()).toMatchObject({ brand: null, category: null, description: null });

    const exported = await runExportJob(ctx, account.key, { format: 'csv' });
    const reimported = await ctx.importCsv(account.key, (await downloadResult(ctx, account.key, exported.id)).text);
    expect(reimported.progress).toMatchObject({ rows_unchanged: 1, rows_updated: 0 });
  });

  it('re-imports a product written through the API with spaces around its image URL unchanged: the API stores it trimmed, as the import does', async () => {
    const account = await ctx.createAccount();
    const send = (method: 'POST' | 'PUT' | 'PATCH', url: string, body: object) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': account.key, 'content-type': 'application/json' }, payload: body });
    const posted = await send('POST', '/v1/products', { ean: PEN, name: 'Pen', image_url: ' http://x.com/a' });
    expect(posted.statusCode, posted.body).toBe(201);
    expect(posted.json().image_url).toBe('http://x.com/a');
    const put = await send('PUT', `/v1/products/${INK}`, { name: 'Ink', image_url: 'http://x.com/b\t' });
    expect(put.statusCode, put.body).toBe(201);
    expect(put.json().image_url).toBe('http://x.com/b');
    expect((await send('PUT', `/v1/products/${PAPER}`, { name: 'Paper' })).statusCode).toBe(201);
    const patched = await send('PATCH', `/v1/products/${PAPER}`, { image_url: '\t https://x.com/c \u00a0' });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().image_url).toBe('https://x.com/c');
    const stored = await storedProducts(ctx, account.id);
    expect(stored.map((product) => product.image_url)).toEqual(['http://x.com/a', 'http://x.com/b', 'https://x.com/c']);

    const exported = await runExportJob(ctx, account.key, { format: 'csv' });
    const reimported = await ctx.importCsv(account.key, (await downloadResult(ctx, account.key, exported.id)).text);
    expect(reimported.progress).toMatchObject({ rows_processed: 3, rows_unchanged: 3, rows_updated: 0, rows_failed: 0 });
  });

  it("re-imports an export made with a profile's columns unchanged under that profile: headers holding ; or a tab, an attribute key written in NFD, stored in NFC", async () => {
    const account = await ctx.createAccount();
    const key = 'e\u0301tat';
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/products',
      headers: { 'x-api-key': account.key },
      payload: { ean: PEN, name: 'Pen', attributes: { [key]: 'neuf' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const columns = { 'EAN;GTIN': 'ean', 'Name\tDE': 'name', État: `attributes.${key}` };
    const profile = await ctx.app.inject({
      method: 'POST',
      url: '/v1/import-profiles',
      headers: { 'x-api-key': account.key },
      payload: { name: 'partner', columns },
    });
    expect(profile.statusCode, profile.body).toBe(201);
    const job = await runExportJob(ctx, account.key, { format: 'csv', columns });
    const { text } = await downloadResult(ctx, account.key, job.id);
    expect(text.split('\n')[0]).toBe('"EAN;GTIN","Name\tDE",État');
    const reimport = await ctx.importCsv(account.key, text, { profile: 'partner' });
    expect(reimport).toMatchObject({ status: 'completed', progress: { rows_unchanged: 1, rows_updated: 0 } });
    expect((await ctx.get(account.key, `/v1/products/${PEN}`)).json().attributes).toEqual({ [key.normalize('NFC')]: 'neuf' });
  });

  it('re-imports attributes with quotes, commas, newlines, unicode, numbers, booleans and formula characters unchanged', async () => {
    const account = await ctx.createAccount();
    const awkward = {
      quote: 'say "hi"', comma: 'a, b', newline: 'line one\nline two\r\nthree', unicode: 'Größe ✓ 日本 😀',
      integer: 42, decimal: -1.25, big: 12345678901, yes: true, no: false, formula: '=SUM(A1)', plus: '+1', at: '@x',
      tab: '\tin', empty: '', braces: '{"not": "nested"}', 'key with "quotes", commas': 'v', 'ключ': 'значение',
    };
    await seedProducts(ctx, account.id, [
      { ean: PEN, name: 'Pen', attributes: awkward },
      { ean: INK, name: 'Ink', attributes: { single: 'x' } },
      { ean: PAPER, name: 'Paper' },
    ]);
    const before = await storedProducts(ctx, account.id);

    const exported = await runExportJob(ctx, account.key, { format: 'csv' });
    const { text } = await downloadResult(ctx, account.key, exported.id);
    const pen = csvRecords(text).find((record) => record.ean === PEN)!;
    expect(JSON.parse(pen.attributes!)).toEqual(awkward);
    const reimported = await ctx.importCsv(account.key, text);

    expect(reimported.status).toBe('completed');
    expect(reimported.progress).toMatchObject({ rows_processed: 3, rows_unchanged: 3, rows_created: 0, rows_updated: 0, rows_failed: 0 });
    expect(await storedProducts(ctx, account.id)).toEqual(before);

    // Into an empty catalog the same file recreates the attributes with their types.
    const fresh = await ctx.createAccount();
    expect((await ctx.importCsv(fresh.key, text)).progress).toMatchObject({ rows_created: 3, rows_failed: 0 });
    const recreated = await storedProducts(ctx, fresh.id);
    expect(recreated.map((product) => product.attributes)).toEqual(before.map((product) => product.attributes));
  });

  it("prefixes text cells that start with = + - @ tab or CR with ', and leaves numbers and attributes alone", async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [
      { ean: PEN, name: '=HYPERLINK("http://evil.example","x")', brand: '+1', category: '@SUM(1)', description: '-2 in a name', price: '0', currency: 'EUR', stock: 0 },
      { ean: INK, name: '\tTab', brand: '\rReturn', category: 'Safe -2', description: "'=quoted already", attributes: { note: '=1+1', plain: "it's" } },
    ]);
    const job = await runExportJob(ctx, account.key, { format: 'csv' });
    const records = csvRecords((await downloadResult(ctx, account.key, job.id)).text);
    expect(records.find((record) => record.ean === PEN)).toMatchObject({
      name: `'=HYPERLINK("http://evil.example","x")`, brand: "'+1", category: "'@SUM(1)", description: "'-2 in a name", price: '0', stock: '0',
    });
    expect(records.find((record) => record.ean === INK)).toMatchObject({
      name: "'\tTab", brand: "'\rReturn", category: 'Safe -2', description: "''=quoted already",
      // A JSON object starts with {: no spreadsheet runs it, so the attributes cell is never prefixed.
      attributes: '{"note": "=1+1", "plain": "it\'s"}',
    });
  });

  it('exports only the requested fields, in the requested order', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'csv', fields: ['name', 'ean', 'price'] });
    const { text } = await downloadResult(ctx, account.key, job.id);
    expect(parseCsv(text)[0]).toEqual(['name', 'ean', 'price']);
    expect(csvRecords(text).map((record) => record.price)).toEqual(['1.50', '2', '']);
  });

  it('exports only the products matching the brand, category and updated_since filters', async () => {
    const account = await accountWithCatalog();
    const eansOf = async (filter: object) => {
      const job = await runExportJob(ctx, account.key, { format: 'csv', fields: ['ean'], filter });
      return csvRecords((await downloadResult(ctx, account.key, job.id)).text).map((record) => record.ean);
    };
    expect(await eansOf({ brand: 'Acme' })).toEqual([PEN, INK].sort());
    expect(await eansOf({ category: 'Office' })).toEqual([PEN, PAPER].sort());
    expect(await eansOf({ updated_since: '2026-03-01T00:00:00Z' })).toEqual([INK, PAPER].sort());
    expect(await eansOf({ brand: 'Acme', category: 'Office', updated_since: '2026-01-01T00:00:00+01:00' })).toEqual([PEN]);
    expect(await eansOf({ brand: 'Nobody' })).toEqual([]);
  });

  it('gzips the file when asked, served as application/gzip with a .csv.gz name', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'csv', gzip: true, fields: ['ean', 'name'] });
    const { response, text } = await downloadResult(ctx, account.key, job.id, true);
    expect(response.headers['content-type']).toBe('application/gzip');
    expect(response.headers['content-disposition']).toMatch(new RegExp(`filename="catalog-\\d{4}-\\d{2}-\\d{2}-${job.id}\\.csv\\.gz"$`));
    expect(response.headers['content-length']).toBe(String(response.rawPayload.length));
    expect(csvRecords(text).map((record) => record.name)).toEqual(['Pen', 'Ink', 'Paper']);
  });
});

describe('NDJSON export', () => {
  it('writes one JSON product per line, price as a string with its scale and attributes as an object', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'ndjson' });
    const { response, text } = await downloadResult(ctx, account.key, job.id);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    expect(response.headers['content-disposition']).toMatch(new RegExp(`filename="catalog-[\\d-]+-${job.id}\\.ndjson"$`));
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const pen = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((product) => product.ean === PEN);
    expect(pen).toEqual({
      ean: PEN, name: 'Pen', brand: 'Acme', category: 'Office', description: 'Blue, "smooth"\nink', price: '1.50',
      currency: 'EUR', stock: 10, image_url: 'https://example.com/pen.png', attributes: { color: 'blue', size: 'M' },
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updated_at: '2026-01-10T00:00:00.000Z',
    });
    expect(Object.keys(pen!)).toEqual(['ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url', 'attributes', 'created_at', 'updated_at']);
    // As README says: no spaces between the fields; attributes as PostgreSQL writes jsonb.
    const penLine = lines.find((line) => line.startsWith(`{"ean":"${PEN}",`));
    expect(penLine).toContain(`{"ean":"${PEN}","name":"Pen","brand":"Acme",`);
    expect(penLine).toContain('"attributes":{"size": "M", "color": "blue"},');
  });

  it('gzips NDJSON with fields and a filter', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'ndjson', gzip: true, fields: ['ean', 'attributes'], filter: { brand: 'Acme' } });
    const { response, text } = await downloadResult(ctx, account.key, job.id, true);
    expect(response.headers['content-disposition']).toMatch(/\.ndjson\.gz"$/);
    const products = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { ean: string });
    expect(products.sort((a, b) => (a.ean < b.ean ? -1 : 1))).toEqual(
      [{ ean: PEN, attributes: { color: 'blue', size: 'M' } }, { ean: INK, attributes: { color: 'black' } }].sort((a, b) => (a.ean < b.ean ? -1 : 1)),
    );
  });
});

describe('export requests', () => {
  it('answers 202 with a Location and {id, status}', async () => {
    const account = await ctx.createAccount();
    const response = await requestExport(ctx, account.key, { format: 'csv' });
    expect(response.statusCode).toBe(202);
    const body = response.json<{ id: string; status: string }>();
    expect(body.status).toBe('processing');
    expect(response.headers.location).toBe(`/v1/jobs/${body.id}`);
    await ctx.waitForJob(account.key, body.id);
  });

  it('refuses an unknown format with 400 BAD_REQUEST naming format, as the contract answers an unknown enum value', async () => {
    const account = await ctx.createAccount();
    const response = await requestExport(ctx, account.key, { format: 'xml' });
    expect(response.statusCode).toBe(400);
    const message = "Unknown format 'xml': expected csv or ndjson.";
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, detail: message, errors: [{ field: 'format', message }] });
    expect((await ctx.get(account.key, '/v1/jobs')).json()).toMatchObject({ data: [] });
  });

  it.each([
    [{ format: 'xlsx' }, 'format', "Unknown format 'xlsx': expected csv or ndjson."],
    [{}, 'format', 'The format field is required.'],
    [{ format: 'csv', fields: ['ean', 'colour'] }, 'fields', "Unknown field 'colour': expected one of ean, name, brand, category, description, price, currency, stock, image_url, attributes, created_at, updated_at."],
    [{ format: 'csv', fields: [] }, 'fields', 'fields must name at least one field.'],
    [{ format: 'csv', gzip: 'yes' }, 'gzip', 'gzip must be true or false.'],
    [{ format: 'csv', gzip: 'true' }, 'gzip', 'gzip must be true or false.'],
    [{ format: 'csv', filter: { updated_since: 'yesterday' } }, 'filter.updated_since', 'filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.'],
    [{ format: 'csv', colour: 'blue' }, 'colour', "Unknown key 'colour': expected one of format, gzip, fields, filter, callback_url, columns, decimal_separator, delimiter."],
    [{ format: 'csv', filter: { brand: 'Acme', sku: '1' } }, 'filter.sku', "Unknown key 'filter.sku': expected one of brand, category, updated_since."],
  ])('refuses %j with 400 BAD_REQUEST', async (body, field, message) => {
    const account = await ctx.createAccount();
    const response = await requestExport(ctx, account.key, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, detail: message, errors: [{ field, message }] });
  });

  it('returns the same job for a repeated Idempotency-Key, and 422 for the key with another request', async () => {
    const account = await ctx.createAccount();
    const first = await requestExport(ctx, account.key, { format: 'csv' }, { 'idempotency-key': 'nightly-1' });
    const again = await requestExport(ctx, account.key, { format: 'csv' }, { 'idempotency-key': 'nightly-1' });
    expect(again.json()).toEqual(first.json());
    const other = await requestExport(ctx, account.key, { format: 'ndjson' }, { 'idempotency-key': 'nightly-1' });
    expect(other.statusCode).toBe(422);
    await ctx.waitForJob(account.key, first.json<{ id: string }>().id);
  });

  it('refuses an Idempotency-Key over 255 characters with 400 BAD_REQUEST and starts no job', async () => {
    const account = await ctx.createAccount();
    const response = await requestExport(ctx, account.key, { format: 'csv' }, { 'idempotency-key': 'k'.repeat(256) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: "Invalid header 'Idempotency-Key': it must be at most 255 characters." });
    expect((await ctx.get(account.key, '/v1/jobs')).json()).toEqual({ data: [], next_cursor: null });
  });
});

describe('export results and tenancy', () => {
  it("exports only the caller's catalog, and another account gets 404 for the job and its result", async () => {
    const owner = await accountWithCatalog();
    const other = await ctx.createAccount();
    await seedProducts(ctx, other.id, [{ ean: ean13(99), name: 'Foreign' }]);
    const job = await runExportJob(ctx, owner.key, { format: 'csv', fields: ['ean'] });
    expect(csvRecords((await downloadResult(ctx, owner.key, job.id)).text).map((record) => record.ean)).toEqual([PEN, INK, PAPER].sort());

    for (const url of [`/v1/jobs/${job.id}`, `/v1/jobs/${job.id}/result`]) {
      const response = await ctx.get(other.key, url);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ error_code: 'NOT_FOUND' });
    }
  });

  it('answers 409 JOB_NOT_FINISHED while the export has not completed', async () => {
    const account = await ctx.createAccount();
    // Written straight to the table: a job row still processing, as a running export's is.
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, options) VALUES (gen_random_uuid(), $1, 'export', $2) RETURNING id`,
      [account.id, { format: 'csv', gzip: false, fields: ['ean'], filter: {} }],
    );
    const response = await ctx.get(account.key, `/v1/jobs/${rows[0]!.id}/result`);
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error_code: 'JOB_NOT_FINISHED' });
  });

  it('answers 404 for the result of an import job and of an unknown id, and shows no result link on imports', async () => {
    const account = await ctx.createAccount();
    const imported = await ctx.importCsv(account.key, toCsv([['ean', 'name'], [PEN, 'Pen']]));
    expect(imported.links.result).toBeNull();
    const ofImport = await ctx.get(account.key, `/v1/jobs/${imported.id}/result`);
    expect(ofImport.statusCode).toBe(404);
    // The job exists: the message says why it has no file, rather than that it is not there.
    expect(ofImport.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'This job is an import: only an export job has a result file.' });
    const unknown = await ctx.get(account.key, '/v1/jobs/00000000-0000-4000-8000-000000000000/result');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'Job not found.' });
    expect((await ctx.get(account.key, '/v1/jobs/not-a-uuid/result')).statusCode).toBe(404);
  });

  it('lists export jobs in GET /v1/jobs?type=export', async () => {
    const account = await accountWithCatalog();
    const job = await runExportJob(ctx, account.key, { format: 'ndjson' });
    const list = (await ctx.get(account.key, '/v1/jobs?type=export')).json<{ data: Array<{ id: string; links: { result: string | null } }> }>();
    expect(list.data.map((item) => item.id)).toEqual([job.id]);
    expect(list.data[0]!.links.result).toBe(`/v1/jobs/${job.id}/result`);
  });
});
