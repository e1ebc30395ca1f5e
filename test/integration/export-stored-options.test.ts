import { afterAll, beforeAll, expect, it } from 'vitest';
import { ean13 } from '../support/csv.js';
import { requestExport, seedProducts } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The worker builds an export's SQL from the options stored on its job row, which a schedule keeps
 * for every tick: it reads them again and runs nothing that is not an export field or an attribute.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

it('fails an export whose stored column source is not a field or an attribute with EXPORT_FAILED, and runs none of it', async () => {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
  const response = await requestExport(ctx, account.key, { format: 'csv', columns: { EAN: 'ean', Name: 'name' } });
  expect(response.statusCode).toBe(202);
  const { id } = response.json<{ id: string }>();
  // As a job stored before its source was checked would read.
  await ctx.db.query(`UPDATE jobs SET options = jsonb_set(options, '{columns,1,source}', to_jsonb($2::text)) WHERE id = $1`, [
    id,
    "(SELECT string_agg(email, '|') FROM accounts)",
  ]);
  ctx.startWorkers();

  const job = await ctx.waitForJob(account.key, id);
  expect(job).toMatchObject({ status: 'failed', error_code: 'EXPORT_FAILED', detail: 'The export options of this job are invalid.', links: { result: null } });
});

it('still serves the file of an export completed under the older rules, whose stored source no longer reads', async () => {
  if (!ctx.workers) ctx.startWorkers();
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(2), name: 'Ink' }]);
  const response = await requestExport(ctx, account.key, { format: 'csv', columns: { EAN: 'ean' } });
  const { id } = response.json<{ id: string }>();
  expect(await ctx.waitForJob(account.key, id)).toMatchObject({ status: 'completed' });
  await ctx.db.query(`UPDATE jobs SET options = jsonb_set(options, '{columns,0,source}', '"gtin14"') WHERE id = $1`, [id]);

  const result = await ctx.get(account.key, `/v1/jobs/${id}/result`);
  expect(result.statusCode, result.body).toBe(200);
  expect(result.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(result.body).toContain(ean13(2));
});
