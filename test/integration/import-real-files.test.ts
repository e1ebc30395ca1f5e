import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportOf, storedProducts, untilQueueReady } from '../support/csv.js';
import { downloadResult, requestExport, runExportJob } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Files shaped like the ones merchandisers send, read through saved import profiles.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const fixture = (name: string) => readFile(new URL(`../fixtures/imports/${name}`, import.meta.url));

async function createProfile(key: string, profile: Record<string, unknown>): Promise<string> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/import-profiles', headers: { 'x-api-key': key }, payload: profile });
  if (response.statusCode !== 201) throw new Error(`profile: ${response.statusCode} ${response.body}`);
  return response.json<{ id: string }>().id;
}

const SHOPIFY_COLUMNS = {
  // Matched like the import's own headers: case-insensitively after trimming.
  'variant barcode': 'ean',
  Title: 'name',
  Vendor: 'brand',
  Type: 'category',
  'Body (HTML)': 'description',
  'Variant Inventory Qty': 'stock',
  'Image Src': 'image_url',
  'Variant SKU': 'attributes.sku',
  'Variant Price': 'attributes.shopify_price',
  ...Object.fromEntries(
    ['Handle', 'Product Category', 'Tags', 'Published', 'Option1 Name', 'Option1 Value', 'Variant Grams', 'Variant Inventory Tracker',
      'Variant Inventory Policy', 'Variant Fulfillment Service', 'Variant Compare At Price', 'Variant Requires Shipping',
      'Variant Taxable', 'Image Position', 'Image Alt Text', 'Gift Card', 'Status'].map((header) => [header, 'ignore']),
  ),
};

const AKENEO_COLUMNS = {
  UGC_ean: 'ean', 'name-de_DE': 'name', UGC_brand: 'brand', UGC_price: 'price', UGC_currency: 'currency',
  UGC_color: 'attributes.color', 'description-de_DE': 'description', categories: 'category', sku: 'attributes.sku',
  enabled: 'ignore', family: 'ignore',
};

describe('imports of real-shaped files', () => {
  it("imports a Shopify product template by profile name, Excel's ' removed from Variant Barcode", async () => {
    const account = await ctx.createAccount();
    const id = await createProfile(account.key, { name: 'Shopify', columns: SHOPIFY_COLUMNS });
    const job = await ctx.importCsv(account.key, await fixture('shopify-products.csv'), { profile: 'shopify' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 3 } });
    expect(job.options).toMatchObject({ profile: { id, name: 'Shopify' }, columns: SHOPIFY_COLUMNS, mode: 'upsert', on_error: 'abort' });
    const products = await storedProducts(ctx, account.id);
    expect(products.map((product) => product.ean)).toEqual(['012000161155', '4006381333931', '5901234123457']);
    expect(products[1]).toMatchObject({
      name: 'Ballpoint Pen',
      brand: 'Acme',
      category: 'Pens',
      description: '<p>Blue ink, medium tip</p>',
      stock: 140,
      image_url: 'https://cdn.shopify.com/s/files/1/0001/pen.jpg',
      attributes: { sku: 'PEN-001', shopify_price: '1.50' },
    });
  });

  it('imports an Akeneo export (;, decimal commas, UGC_ean) by profile id', async () => {
    const account = await ctx.createAccount();
    const id = await createProfile(account.key, { name: 'Akeneo', columns: AKENEO_COLUMNS, decimal_separator: ',' });
    const job = await ctx.importCsv(account.key, await fixture('akeneo-products.csv'), { profile: id });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 3 } });
    expect(job.options).toMatchObject({ profile: { id, name: 'Akeneo' }, decimal_separator: ',', delimiter: null });
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ ean, price, currency }) => [ean, price, currency])).toEqual([
      ['4006381333931', '1.50', 'EUR'],
      ['5901234123457', '3.20', 'EUR'],
      ['96385074', '12.00', 'EUR'],
    ]);
    expect(products[0]).toMatchObject({
      name: 'Kugelschreiber blau',
      description: 'Mittelstarke Mine; nachfüllbar',
      category: 'office_pens',
      attributes: { color: 'blau', sku: 'PEN-001' },
    });
  });

  it('imports an Open Food Facts export (tab, code) and tells which 11-digit UPCs lost their leading zero', async () => {
    const account = await ctx.createAccount();
    await createProfile(account.key, {
      name: 'OFF',
      columns: { code: 'ean', product_name: 'name', brands: 'brand', categories: 'category', url: 'ignore' },
      on_error: 'abort',
    });
    // The query parameter beside the profile wins over its on_error.
    const job = await ctx.importCsv(account.key, await fixture('off-products.tsv'), { profile: 'OFF', on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 2, rows_failed: 2 } });
    expect(job.options).toMatchObject({ on_error: 'skip', profile: { name: 'OFF' } });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([
      {
        row: 2,
        ean: '12000161155',
        field: 'ean',
        code: 'INVALID_EAN',
        message:
          "The EAN '12000161155' has 11 digits: a leading zero was probably lost (Excel drops it from numbers). " +
          "The padded EAN '012000161155' has a valid check digit: write that, and format the EAN column as Text before exporting.",
      },
      expect.objectContaining({ row: 4, ean: '49000000443', code: 'INVALID_EAN', message: expect.stringContaining("'049000000443'") }),
    ]);
    const products = await storedProducts(ctx, account.id);
    expect(products[0]).toMatchObject({
      ean: '3017620422003',
      name: 'Nutella',
      brand: 'Ferrero',
      attributes: { quantity: '400 g', countries_en: 'France', nutriscore_grade: 'e' },
    });
  });

  it("matches headers written with decomposed umlauts (NFD, as macOS writes) to the profile's, and names attributes in NFC", async () => {
    const account = await ctx.createAccount();
    const nfc = (text: string) => text.normalize('NFC');
    const nfd = (text: string) => text.normalize('NFD');
    await createProfile(account.key, { name: 'Mac', columns: { [nfc('Größe')]: 'attributes.size', [nfc('Währung')]: 'currency' } });
    const header = ['ean', 'name', 'price', nfd('Währung'), nfd('Größe'), nfd('Qualität')];
    expect(header[3]).not.toBe(nfc('Währung'));
    const job = await ctx.importCsv(account.key, `${header.join(',')}\n4006381333931,Pen,1.50,EUR,XL,A\n`, { profile: 'Mac' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    // The same attribute header in NFC, without the profile: the same attribute, not a second one.
    const again = await ctx.importCsv(account.key, `ean,name,${nfc('Qualität')}\n4006381333931,Pen,B\n`);
    expect(again).toMatchObject({ status: 'completed', progress: { rows_updated: 1 } });
    const [product] = await storedProducts(ctx, account.id);
    expect(product).toMatchObject({ price: '1.50', currency: 'EUR' });
    expect(product!.attributes).toEqual({ size: 'XL', [nfc('Qualität')]: 'B' });
  });

  it('fails with MISSING_COLUMN naming the mapping when it leaves ean unmapped', async () => {
    const account = await ctx.createAccount();
    await createProfile(account.key, { name: 'Partner', columns: { 'EAN Code': 'ean', Artikelname: 'name' } });
    const job = await ctx.importCsv(account.key, 'Barcode,Artikelname\n4006381333931,Kuli\n', { profile: 'Partner' });
    const message =
      "The header is missing the required column 'ean': the column mapping of profile 'Partner' maps 'EAN Code' → ean, " +
      "but the file has no such header. The file's header: 'Barcode', 'Artikelname'.";
    expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    expect(await reportOf(ctx, account.key, job.id)).toEqual([{ row: 0, ean: null, field: null, code: 'MISSING_COLUMN', message }]);
  });

  it("exports in a partner's format with the profile's columns, and that file imports back unchanged", async () => {
    const account = await ctx.createAccount();
    await createProfile(account.key, { name: 'Akeneo', columns: AKENEO_COLUMNS, decimal_separator: ',' });
    await ctx.importCsv(account.key, await fixture('akeneo-products.csv'), { profile: 'Akeneo' });
    const exported = await runExportJob(ctx, account.key, {
      format: 'csv',
      columns: AKENEO_COLUMNS,
      fields: ['sku', 'UGC_ean', 'name-de_DE', 'UGC_price', 'UGC_currency', 'UGC_color', 'brand'],
      decimal_separator: ',',
    });
    expect(exported.status).toBe('completed');
    const { text } = await downloadResult(ctx, account.key, exported.id);
    const lines = text.trimEnd().split('\n');
    // `brand` is an export field: headed by the header the mapping gives it.
    expect(lines[0]).toBe('sku,UGC_ean,name-de_DE,UGC_price,UGC_currency,UGC_color,UGC_brand');
    expect(lines).toContain('PEN-001,4006381333931,Kugelschreiber blau,"1,50",EUR,blau,Acme');
    const again = await ctx.importCsv(account.key, text, { profile: 'Akeneo' });
    expect(again).toMatchObject({ status: 'completed', progress: { rows_unchanged: 3 } });
  });

  it('refuses columns on an NDJSON export and a field that neither the export nor columns knows', async () => {
    const account = await ctx.createAccount();
    const ndjson = await requestExport(ctx, account.key, { format: 'ndjson', columns: { EAN: 'ean' } });
    expect(ndjson.statusCode).toBe(400);
    expect(ndjson.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'columns', message: 'columns is for CSV: it needs format csv.' }] });
    const unknown = await requestExport(ctx, account.key, { format: 'csv', columns: { EAN: 'ean' }, fields: ['EAN', 'Titel'] });
    expect(unknown.json<{ error: string }>().error).toBe(
      "Unknown field 'Titel': expected one of ean, name, brand, category, description, price, currency, stock, image_url, attributes, created_at, updated_at, or a header named in columns.",
    );
  });

  it('refuses a field that names a header mapped to ignore, whatever the header says, for an export and a schedule alike', async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, 'ean,name\n4006381333931,Pen\n');
    const header = "(SELECT string_agg(email, '|') FROM accounts)";
    const body = { format: 'csv', columns: { [header]: 'ignore', EAN: 'ean' }, fields: ['EAN', header] };
    const message = `The header '${header}' is mapped to ignore in columns: it has no value to export.`;
    const exported = await requestExport(ctx, account.key, body);
    expect(exported.statusCode).toBe(400);
    expect(exported.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'fields', message }] });
    const scheduled = await ctx.app.inject({ method: 'POST', url: '/v1/export-schedules', headers: { 'x-api-key': account.key }, payload: { cron: '0 3 * * *', export: body } });
    expect(scheduled.statusCode).toBe(400);
    expect(scheduled.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'export.fields', message }] });
    const nothing = await requestExport(ctx, account.key, { format: 'csv', columns: { Skip: 'ignore' } });
    expect(nothing.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      errors: [{ field: 'columns', message: 'columns maps every header to ignore: it must name at least one column to export.' }],
    });
  });
});
