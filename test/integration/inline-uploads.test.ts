import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_UPLOAD_BYTES } from '../../src/shared/storage/inline-uploads.js';
import { ean13, storedProducts } from '../support/csv.js';
import { storedUploads } from '../support/stored-files.js';
import { deleteJobRow } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

/** A CSV of exactly `bytes` bytes of valid products (the last one's name fills it up), and their count. */
function csvOf(bytes: number): { csv: string; products: number } {
  let csv = 'ean,name\n';
  let products = 0;
  for (;;) {
    products += 1;
    const start = `${ean13(products)},Product `;
    const left = bytes - csv.length - start.length - 1;
    if (left <= 300) return { csv: `${csv}${start}${'n'.repeat(left)}\n`, products };
    csv += `${start}${products}\n`;
  }
}

const inputPathOf = async (id: string) =>
  (await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id])).rows[0]!.input_path;

const keptData = async (id: string) =>
  (await ctx.db.query<{ data: Buffer }>('SELECT data FROM inline_uploads WHERE job_id = $1', [id])).rows[0]?.data ?? null;

describe('small uploads kept with their job row', () => {
  it('keeps an upload of up to 64 KiB in PostgreSQL, byte for byte, and imports it; a larger one is a file', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const small = csvOf(INLINE_UPLOAD_BYTES);
    const smallJob = await ctx.importCsv(key, small.csv);
    expect(smallJob).toMatchObject({ status: 'completed', progress: { rows_created: small.products } });
    expect(await inputPathOf(smallJob.id)).toBe(`inline/${smallJob.id}`);
    expect(await keptData(smallJob.id)).toEqual(Buffer.from(small.csv));
    expect(existsSync(join(ctx.config.DATA_DIR, 'inline'))).toBe(false);

    const large = csvOf(INLINE_UPLOAD_BYTES + 1);
    const largeJob = await ctx.importCsv(key, large.csv);
    expect(largeJob).toMatchObject({ status: 'completed', progress: { rows_unchanged: small.products - 1, rows_updated: 1 } });
    const largePath = await inputPathOf(largeJob.id);
    expect(largePath).toMatch(/^uploads\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}\.csv$/);
    expect(await keptData(largeJob.id)).toBeNull();
    expect(await storedUploads(ctx.db, ctx.config.DATA_DIR)).toEqual(expect.arrayContaining([largePath, `inline/${smallJob.id}`]));
    expect(large.products).toBe(small.products);
    const last = (await storedProducts(ctx, accountId)).find((product) => product.ean === ean13(large.products))!;
    expect(large.csv.endsWith(`,${last.name}\n`)).toBe(true);
  });

  it('serves the rows of a kept upload as rows.csv, and sends it with a multipart body too', async () => {
    const { key } = await ctx.createAccount();
    const csv = 'ean,name\n4006381333931,Pen\n96385074,Ink\n';
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'products.csv');
    const request = new Request('http://localhost/', { method: 'POST', body: form });
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { 'x-api-key': key, 'content-type': request.headers.get('content-type')! },
      payload: Buffer.from(await request.arrayBuffer()),
    });
    expect(response.statusCode, response.body).toBe(202);
    const { id } = response.json<{ id: string }>();
    await ctx.waitForJob(key, id);
    expect(await keptData(id)).toEqual(Buffer.from(csv));
    const rows = await ctx.get(key, `/v1/jobs/${id}/rows.csv`);
    expect(rows.statusCode, rows.body).toBe(200);
    expect(rows.body).toContain('4006381333931');
    expect(rows.body).toContain('96385074');
  });

  it('keeps nothing for a request an earlier job answers, and removes the upload with its job', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const headers = { 'idempotency-key': `inline-${accountId}` };
    const csv = 'ean,name\n4006381333931,Pen\n';
    const [first, second] = await Promise.all([ctx.upload(key, csv, {}, headers), ctx.upload(key, csv, {}, headers)]);
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    const { id } = first.json<{ id: string }>();
    expect(second.json<{ id: string }>().id).toBe(id);
    const { rows } = await ctx.db.query('SELECT job_id FROM inline_uploads JOIN jobs ON jobs.id = job_id WHERE account_id = $1', [accountId]);
    expect(rows).toEqual([{ job_id: id }]);
    await ctx.waitForJob(key, id);
    // A removed job takes its upload along.
    await deleteJobRow(ctx.db, id);
    expect(await keptData(id)).toBeNull();
  });
});
