import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedProducts, untilQueueReady } from '../support/csv.js';
import { downloadResult, parseCsv, runExportJob, seedProducts } from '../support/exports.js';
import { sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Releases before attribute names were stored in NFC kept them as sent: migration 024 puts the
// names they stored in NFC, so that the service finds them (README: Products API).

const GROESSE = 'Größe';
const GROESSE_NFD = 'Gro\u0308ße';
const UPDATED_AT = '2026-01-05T10:00:00.000Z';

describe('migration 024', () => {
  let ctx: TestContext;
  let account: { id: string; key: string };
  let untouched: string;
  const rowVersion = async (ean: string) =>
    (await ctx.db.query<{ xmin: string }>('SELECT xmin::text FROM products WHERE account_id = $1 AND ean = $2', [account.id, ean])).rows[0]!.xmin;

  beforeAll(async () => {
    ctx = await createTestContext();
    await untilQueueReady(ctx);
    account = await ctx.createAccount();
    // As the previous release stored them: names as sent (the migration already ran at start).
    await seedProducts(ctx, account.id, [
      { ean: '4006381333931', name: 'Pen', attributes: { [GROESSE_NFD]: 'XL', color: 'blue' }, updated_at: UPDATED_AT },
      { ean: '4006381333948', name: 'Ink', attributes: { [GROESSE_NFD]: 'L', [GROESSE]: 'M', 'E\u0301tat': 'neuf' }, updated_at: UPDATED_AT },
      { ean: '4006381333955', name: 'Pad', attributes: { color: 'red' }, updated_at: UPDATED_AT },
    ]);
    const { rows } = await ctx.db.query<{ ean: string; keys: string[] }>(
      'SELECT ean, array(SELECT jsonb_object_keys(attributes)) AS keys FROM products WHERE account_id = $1 ORDER BY ean',
      [account.id],
    );
    expect(rows[0]!.keys).toContain(GROESSE_NFD);
    untouched = await rowVersion('4006381333955');
    await ctx.db.query(await readFile(new URL('../../migrations/024_attribute_names_nfc.sql', import.meta.url), 'utf8'));
  });
  afterAll(async () => ctx?.close());

  it('stores the names in NFC, keeping the value of the composed name where a product had both, and updated_at', async () => {
    const products = await storedProducts(ctx, account.id);
    expect(products.map(({ ean, attributes }) => [ean, attributes])).toEqual([
      ['4006381333931', { [GROESSE]: 'XL', color: 'blue' }],
      ['4006381333948', { [GROESSE]: 'M', État: 'neuf' }],
      ['4006381333955', { color: 'red' }],
    ]);
    for (const product of products) expect(product.updated_at.toISOString()).toBe(UPDATED_AT);
    // A product whose names all were in NFC is not written.
    expect(await rowVersion('4006381333955')).toBe(untouched);
  });

  it("exports the value under a mapping's decomposed attributes.<key>, as the previous release did", async () => {
    const job = await runExportJob(ctx, account.key, { format: 'csv', columns: { EAN: 'ean', Size: `attributes.${GROESSE_NFD}` } });
    expect(job.status, job.detail ?? '').toBe('completed');
    const [header, ...rows] = parseCsv((await downloadResult(ctx, account.key, job.id)).text);
    expect(header).toEqual(['EAN', 'Size']);
    expect(rows.sort()).toEqual([
      ['4006381333931', 'XL'],
      ['4006381333948', 'M'],
      ['4006381333955', ''],
    ]);
  });

  it('PATCHes the one name, takes back a GET as a PUT, and removes it with null', async () => {
    const url = '/v1/products/4006381333931';
    const patched = await sendJson(ctx.app, account.key, 'PATCH', url, { attributes: { [GROESSE_NFD]: 'L' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().attributes).toEqual({ [GROESSE]: 'L', color: 'blue' });
    const got = (await ctx.get(account.key, url)).json<{ ean: string; name: string; attributes: object }>();
    const put = await sendJson(ctx.app, account.key, 'PUT', url, { ean: got.ean, name: got.name, attributes: got.attributes });
    expect(put.statusCode, put.body).toBe(200);
    const removed = await sendJson(ctx.app, account.key, 'PATCH', url, { attributes: { [GROESSE_NFD]: null } });
    expect(removed.json().attributes).toEqual({ color: 'blue' });
  });

  it('imports back a CSV export unchanged, twice', async () => {
    for (const round of [1, 2]) {
      const exported = await runExportJob(ctx, account.key, { format: 'csv', fields: ['ean', 'name', 'attributes'] });
      const text = (await downloadResult(ctx, account.key, exported.id)).text;
      const job = await ctx.importCsv(account.key, text);
      expect(job, `round ${round}`).toMatchObject({ status: 'completed', progress: { rows_failed: 0, rows_unchanged: 3 } });
    }
    const products = await storedProducts(ctx, account.id);
    expect(products.find((product) => product.ean === '4006381333948')?.attributes).toEqual({ [GROESSE]: 'M', État: 'neuf' });
  });
});
