import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const HEADER = 'ean,name,brand,category,description,price,currency,stock,image_url,color';

/** The same product as a CSV row and as a JSON body (stock as text in one, a number in the other). */
const CASES = [
  {
    row: `${eanNumber(1)},Pen,Acme,Office,"Blue, fine",2.5000,usd,0,https://img.example.com/p.png,blue`,
    body: { ean: eanNumber(1), name: 'Pen', brand: 'Acme', category: 'Office', description: 'Blue, fine', price: '2.5000', currency: 'usd', stock: 0, image_url: 'https://img.example.com/p.png', attributes: { color: 'blue' } },
  },
  { row: `${eanNumber(2)},Bare,,,,,,,,`, body: { ean: eanNumber(2), name: 'Bare' } },
];
const INVALID = [
  { row: '4006381333932,Pen,,,,,,,,', body: { ean: '4006381333932', name: 'Pen' } },
  { row: `${eanNumber(3)},Pen,,,,1.5,,,,`, body: { ean: eanNumber(3), name: 'Pen', price: '1.5' } },
  { row: `${eanNumber(4)},Pen,,,,,,-1,,`, body: { ean: eanNumber(4), name: 'Pen', stock: -1 } },
  { row: `${eanNumber(5)},${'n'.repeat(501)},,,,,,,ftp://x,`, body: { ean: eanNumber(5), name: 'n'.repeat(501), image_url: 'ftp://x' } },
];

describe('one product schema for imports and the API', () => {
  it('stores a row that imports exactly like the same product POSTed', async () => {
    const importer = await ctx.createAccount();
    const poster = await ctx.createAccount();
    const job = await ctx.importCsv(importer.key, [HEADER, ...CASES.map((c) => c.row), ''].join('\n'));
    expect(job.status).toBe('completed');
    for (const { body } of CASES) {
      expect((await sendJson(ctx.app, poster.key, 'POST', '/v1/products', body)).statusCode).toBe(201);
      const imported = (await ctx.get(importer.key, `/v1/products/${body.ean}`)).json();
      const posted = (await ctx.get(poster.key, `/v1/products/${body.ean}`)).json();
      expect({ ...posted, created_at: null, updated_at: null }).toEqual({ ...imported, created_at: null, updated_at: null });
    }
  });

  it('refuses a row and the same body with the same field problems and messages', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, [HEADER, ...INVALID.map((c) => c.row), ''].join('\n'), { on_error: 'skip' });
    const report = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors`)).json<{
      data: Array<{ row: number; field: string; message: string }>;
    }>().data;
    for (const [index, { body }] of INVALID.entries()) {
      const response = await sendJson(ctx.app, account.key, 'POST', '/v1/products', body);
      expect(response.statusCode).toBe(422);
      const fromRow = report.filter((problem) => problem.row === index + 1).map(({ field, message }) => ({ field, message }));
      expect(response.json().errors, JSON.stringify(body)).toEqual(fromRow);
    }
  });
});
