import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let key: string;

beforeAll(async () => {
  ctx = await createTestContext();
  key = (await ctx.createAccount()).key;
});
afterAll(async () => ctx?.close());

describe('import', () => {
  it('imports valid rows and shows them on the product lookup', async () => {
    const job = await ctx.importCsv(key, 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n');
    expect(job.status).toBe('completed');
    expect(job.progress.rows_created).toBe(1);
    const product = await ctx.get(key, '/v1/products/4006381333931');
    expect(product.statusCode).toBe(200);
    expect(product.json()).toMatchObject({ name: 'Pen', price: '1.50', currency: 'EUR' });
  });
});
