import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };
let stranger: { id: string; key: string };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const CSV = [
  'ean,name,brand,category,description,price,currency,stock,image_url,Color,weight_g',
  '4006381333931,Ballpoint pen,Acme,Office,"Blue ink, medium tip",1.50,EUR,12,https://img.example.com/pen.jpg,blue,12',
  '96385074,Notebook,,,,2.5000,usd,0,,,',
  '036000291452,Stapler,Acme,Office,,3,EUR,,http://img.example.com/stapler.png,,',
  '',
].join('\n');

beforeAll(async () => {
  ctx = await createTestContext();
  owner = await ctx.createAccount();
  stranger = await ctx.createAccount();
  const job = await ctx.importCsv(owner.key, CSV);
  if (job.status !== 'completed') throw new Error(`setup import did not complete: ${JSON.stringify(job)}`);
});
afterAll(async () => ctx?.close());

function expectNotFound(response: Awaited<ReturnType<TestContext['get']>>): void {
  expect(response.statusCode, response.body).toBe(404);
  const body = response.json();
  expect(body).toMatchObject({ error: 'Product not found', detail: 'Product not found', error_code: 'NOT_FOUND' });
}

describe('GET /v1/products/{ean}', () => {
  it('returns an imported product with all its fields', async () => {
    const response = await ctx.get(owner.key, '/v1/products/4006381333931');
    expect(response.statusCode).toBe(200);
    const product = response.json();
    expect(product).toEqual({
      ean: '4006381333931',
      name: 'Ballpoint pen',
      brand: 'Acme',
      category: 'Office',
      description: 'Blue ink, medium tip',
      price: '1.50',
      currency: 'EUR',
      stock: 12,
      image_url: 'https://img.example.com/pen.jpg',
      attributes: { Color: 'blue', weight_g: '12' },
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
      derived: null,
    });
  });

  it('returns the price as a string with the scale it was given', async () => {
    expect((await ctx.get(owner.key, '/v1/products/96385074')).json().price).toBe('2.5000');
    expect((await ctx.get(owner.key, '/v1/products/036000291452')).json().price).toBe('3');
  });

  it('returns unset fields as null and empty attributes as {}', async () => {
    const product = (await ctx.get(owner.key, '/v1/products/96385074')).json();
    expect(product).toMatchObject({
      ean: '96385074',
      name: 'Notebook',
      brand: null,
      category: null,
      description: null,
      currency: 'USD',
      stock: 0,
      image_url: null,
      attributes: {},
    });
    expect((await ctx.get(owner.key, '/v1/products/036000291452')).json().stock).toBeNull();
  });

  it('answers 404 "Product not found" for an EAN not in the catalog', async () => {
    expectNotFound(await ctx.get(owner.key, '/v1/products/5901234123457'));
  });

  it('matches the EAN exactly, without check-digit validation: invalid EANs are 404, not 400', async () => {
    for (const ean of ['4006381333932', '123', 'abc', '04006381333931', '4006381333931 ', '%204006381333931', '40063813339310']) {
      expectNotFound(await ctx.get(owner.key, `/v1/products/${encodeURIComponent(ean)}`));
    }
  });

  it('answers 404 for an EAN in another account’s catalog', async () => {
    expectNotFound(await ctx.get(stranger.key, '/v1/products/4006381333931'));
  });

  it('needs the products:read scope', async () => {
    await ctx.db.query("UPDATE api_keys SET scopes = '{jobs:read}' WHERE account_id = $1", [stranger.id]);
    const response = await ctx.get(stranger.key, '/v1/products/4006381333931');
    expect(response.statusCode).toBe(403);
    expect(response.json().error).toContain('products:read');
  });
});
