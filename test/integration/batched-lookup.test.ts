import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JOB_COLUMNS, jobRowQuery } from '../../src/shared/jobs/job-columns.js';
import { jobFinder } from '../../src/shared/jobs/job-queries.js';
import { toJobResource, type JobRow } from '../../src/shared/jobs/job-row.js';
import { PRODUCT_COLUMNS, productFinder, type ProductResource } from '../../src/shared/product/product-queries.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };
let other: { id: string; key: string };
let ownerJob: string;
let otherJob: string;

const csv = (...rows: string[]) => ['ean,name,price,currency', ...rows.map((row) => `${row},EUR`), ''].join('\n');

beforeAll(async () => {
  ctx = await createTestContext();
  owner = await ctx.createAccount();
  other = await ctx.createAccount();
  // One EAN in both catalogs under different names, one in each catalog only.
  ownerJob = (await ctx.importCsv(owner.key, csv('4006381333931,Owner pen,1.50', '96385074,Owner notebook,2.50'))).id;
  otherJob = (await ctx.importCsv(other.key, csv('4006381333931,Other pen,9.90', '036000291452,Other stapler,3'))).id;
});
afterAll(async () => ctx?.close());

describe('lookups that arrive together', () => {
  it('answers each of many concurrent product requests of two accounts from its own catalog', async () => {
    const asked = [
      { key: owner.key, ean: '4006381333931', name: 'Owner pen' },
      { key: other.key, ean: '4006381333931', name: 'Other pen' },
      { key: owner.key, ean: '96385074', name: 'Owner notebook' },
      { key: other.key, ean: '96385074', name: null },
      { key: owner.key, ean: '036000291452', name: null },
      { key: other.key, ean: '036000291452', name: 'Other stapler' },
      { key: owner.key, ean: 'not-an-ean', name: null },
    ];
    const requests = Array.from({ length: 5 }, () => asked).flat();
    const responses = await Promise.all(requests.map(({ key, ean }) => ctx.get(key, `/v1/products/${ean}`)));
    responses.forEach((response, index) => {
      const { ean, name } = requests[index]!;
      if (name === null) {
        expect(response.statusCode, `${index}: ${ean}`).toBe(404);
      } else {
        expect(response.statusCode, `${index}: ${ean}`).toBe(200);
        expect(response.json()).toMatchObject({ ean, name });
      }
    });
  });

  it('answers a NUL in a path EAN with 404 and in a read query with 400, and answers the lookups that arrive with it', async () => {
    const urls = ['/v1/products/%00', '/v1/products/4006381333931', '/v1/products/40063%0081333931', '/v1/products?q=pen%00', '/v1/products/96385074'];
    const responses = await Promise.all(urls.map((url) => ctx.get(owner.key, url)));
    expect(responses.map((response) => response.statusCode)).toEqual([404, 200, 404, 400, 200]);
    expect(responses[0]!.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'Product not found' });
    expect(responses[3]!.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: 'A query parameter holds a NUL character (%00), which no parameter may hold.' });
    const send = (method: 'PATCH' | 'DELETE', url: string) =>
      ctx.app.inject({ method, url, headers: { 'x-api-key': owner.key, ...(method === 'PATCH' && { 'content-type': 'application/json' }) }, payload: method === 'PATCH' ? '{"name":"x"}' : undefined });
    expect((await send('PATCH', '/v1/products/%00')).statusCode).toBe(404);
    expect((await send('DELETE', '/v1/products/9638%005074')).statusCode).toBe(404);
    // A route that reads no query string ignores it, NUL or not.
    expect((await ctx.get(owner.key, `/v1/jobs/${ownerJob}?x=%00`)).statusCode).toBe(200);
    const product = await ctx.get(owner.key, '/v1/products/96385074');
    expect(product.statusCode).toBe(200);
    expect(product.json()).not.toHaveProperty('n');
  });

  it("answers concurrent job requests with the account's own jobs and 404 for another's", async () => {
    const requests = Array.from({ length: 10 }, (_, index) => ({ key: index % 2 ? owner.key : other.key, id: index % 3 ? ownerJob : otherJob }));
    const responses = await Promise.all(requests.map(({ key, id }) => ctx.get(key, `/v1/jobs/${id}`)));
    responses.forEach((response, index) => {
      const { key, id } = requests[index]!;
      const own = (key === owner.key) === (id === ownerJob);
      expect(response.statusCode, `request ${index}`).toBe(own ? 200 : 404);
      if (own) expect(response.json()).toMatchObject({ id, status: 'completed' });
      // The row's lookup position (`n`) stays out of the answer.
      if (own) expect(response.json()).not.toHaveProperty('n');
    });
  });

  it('sends one query for the lookups of one turn and a new one for later lookups', async () => {
    const findProduct = productFinder(ctx.db);
    const findJob = jobFinder(ctx.db);
    const queries = vi.spyOn(ctx.db, 'query');
    try {
      const products = await Promise.all([
        findProduct(owner.id, '4006381333931'),
        findProduct(other.id, '4006381333931'),
        findProduct(owner.id, '4006381333931'),
        findProduct(other.id, '96385074'),
      ]);
      expect(products.map((product) => product?.name ?? null)).toEqual(['Owner pen', 'Other pen', 'Owner pen', null]);
      // Only the lookups' own statements: the pool also serves the context's background work.
      const lookups = () => queries.mock.calls.map(([query]) => (query as { name?: string }).name).filter((name) => name === 'find-products' || name === 'find-jobs');
      expect(lookups()).toEqual(['find-products']);
      expect((await findJob(other.id, ownerJob))).toBeNull();
      expect((await findJob(owner.id, ownerJob))?.id).toBe(ownerJob);
      expect(lookups()).toEqual(['find-products', 'find-jobs', 'find-jobs']);
    } finally {
      queries.mockRestore();
    }
  });

  it("answers a job's timestamps to the millisecond in UTC, whatever the session's time zone", async () => {
    await ctx.db.query(
      `UPDATE jobs SET created_at = '2026-12-05 22:09:47.123456+00', started_at = '2026-12-05 22:09:48+00',
         finished_at = '2026-12-05 22:09:49.5+00' WHERE id = $1`,
      [ownerJob],
    );
    const times = { created_at: '2026-12-05T22:09:47.123Z', started_at: '2026-12-05T22:09:48.000Z', finished_at: '2026-12-05T22:09:49.500Z' };
    // The job was polled just before, so this process may answer from its job cache until the
    // change's announcement arrives (a millisecond or so after the commit).
    await vi.waitFor(async () => expect((await ctx.get(owner.key, `/v1/jobs/${ownerJob}`)).json()).toMatchObject(times));
    expect((await ctx.db.query('SHOW TimeZone')).rows[0]).toEqual({ TimeZone: 'UTC' });
    // A session that prints timestamps in another zone (a pool behind a proxy that drops the options).
    const elsewhere = new pg.Pool({ connectionString: ctx.config.DATABASE_URL, max: 1, options: '-c TimeZone=Asia/Kolkata' });
    try {
      const job = await jobFinder(elsewhere)(owner.id, ownerJob);
      expect(job?.created_at).toBe('2026-12-06 03:39:47.123456+05:30');
      expect(toJobResource(job!)).toMatchObject(times);
    } finally {
      await elsewhere.end();
    }
  });

  it('reads a polled job with every value the row holds, as a query of its columns does', async () => {
    await ctx.db.query(
      `UPDATE jobs SET status = 'failed', phase = 'done', error_code = 'IMPORT_FAILED',
         detail = $2, options = options || $3::jsonb, rows_total = 9007199254740991, rows_processed = 2, rows_succeeded = 1,
         rows_failed = 1, rows_created = 1, rows_updated = 0, rows_unchanged = 0, input_bytes = 4294967296, attempts = 3,
         started_at = '2026-12-05 22:09:48.000001+00', finished_at = '2026-12-05 22:09:49.999999+00',
         result_path = 'exports/2026-12-05/x.csv', result_bytes = 123456789012, schedule_id = $4
       WHERE id = $1`,
      [ownerJob, 'Row 2: "quoted", a back\\slash,\na new line, a tab\t, Größe ✓ and 💡', JSON.stringify({ columns: { 'Größe "eu"': 'attributes.size' }, nested: [1, 2.5, null, { deep: true }] }), randomUUID()],
    );
    const { rows } = await ctx.db.query<JobRow>(jobRowQuery(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1)`, [[ownerJob, otherJob]]));
    const findJob = jobFinder(ctx.db);
    for (const [account, id] of [[owner.id, ownerJob], [other.id, otherJob]] as const) {
      const byColumns = rows.find((row) => row.id === id)!;
      const polled = await findJob(account, id);
      expect(polled).toEqual(byColumns);
      expect(Object.keys(polled!)).toEqual(Object.keys(byColumns));
    }
    expect(await findJob(owner.id, otherJob)).toBeNull();
  });

  it('reads a product with every value the row holds, as a query of its columns does', async () => {
    await ctx.db.query(
      `UPDATE products SET brand = 'Stabilo', category = 'Pens', description = $2, price = 1234567.50, stock = 2147483647,
         image_url = 'https://example.com/pen.png', attributes = $3::jsonb, derived_at = '2026-12-05 22:09:47.123456+00',
         gtin14 = '04006381333931', ean_check_digit_valid = true, gs1_prefix = '400', gs1_prefix_country = 'Germany'
       WHERE account_id = $1 AND ean = '4006381333931'`,
      [owner.id, 'A "pen",\nwith a back\\slash, Größe ✓ and 💡', JSON.stringify({ color: 'blue', weight: 1.5, count: 3, refill: false, 'Größe': 'M' })],
    );
    const findProduct = productFinder(ctx.db);
    for (const [account, ean] of [[owner.id, '4006381333931'], [owner.id, '96385074'], [other.id, '036000291452']] as const) {
      const { rows } = await ctx.db.query<ProductResource>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE account_id = $1 AND ean = $2`, [account, ean]);
      const found = await findProduct(account, ean);
      expect(found).toEqual(rows[0]);
      expect(Object.keys(found!)).toEqual(Object.keys(rows[0]!));
    }
    expect((await findProduct(owner.id, '4006381333931'))?.derived).toEqual({
      gtin14: '04006381333931', check_digit_valid: true, gs1_prefix: '400', gs1_prefix_country: 'Germany', derived_at: '2026-12-05T22:09:47.123Z',
    });
    expect(await findProduct(owner.id, '036000291452')).toBeNull();
  });
});
