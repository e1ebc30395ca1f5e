import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ean13 } from '../support/csv.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** An export whose every attempt fails on I/O ends `failed` with EXPORT_FAILED (API.md §1). */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { JOB_ATTEMPTS: '2' } });
});
afterAll(async () => ctx?.close());

it('fails with EXPORT_FAILED and a detail, and offers no result, once its attempts are used up', { timeout: 60_000 }, async () => {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
  // A file where the export folder should be: every attempt fails to create its file.
  await writeFile(join(ctx.config.DATA_DIR, 'exports'), 'not a folder');

  const job = await runExportJob(ctx, account.key, { format: 'csv' });

  expect(job).toMatchObject({ type: 'export', status: 'failed', error_code: 'EXPORT_FAILED', links: { result: null } });
  expect(job.detail).toBe('The export could not be completed after 2 attempts because of an internal error. Retry it later.');
  const result = await ctx.get(account.key, `/v1/jobs/${job.id}/result`);
  expect(result.statusCode).toBe(404);
  expect(result.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'This export ended failed and has no result file.' });
});
