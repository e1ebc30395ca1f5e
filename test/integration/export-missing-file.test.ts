import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ean13 } from '../support/csv.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { capturedLogs } from '../support/captured-logs.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An export's file that is gone from storage while its retention still keeps it (a worker writing
 * to another DATA_DIR than the API reads, a store that lost data) is not blamed on the retention.
 */
let ctx: TestContext;
const logs = capturedLogs();

beforeAll(async () => {
  ctx = await createTestContext({ env: { EXPORT_RETENTION_DAYS: '7' }, logger: logs.logger });
});
afterAll(async () => ctx?.close());

it('answers 404 saying the file is missing from storage, and logs it at error, when the file went before its retention ended', async () => {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
  const job = await runExportJob(ctx, account.key, { format: 'csv' });
  expect(job.links.result).toBe(`/v1/jobs/${job.id}/result`);
  const { rows } = await ctx.db.query<{ result_path: string }>('SELECT result_path FROM jobs WHERE id = $1', [job.id]);
  const path = rows[0]!.result_path;
  await rm(join(ctx.config.DATA_DIR, path));

  const missing = await ctx.get(account.key, `/v1/jobs/${job.id}/result`);
  expect(missing.statusCode).toBe(404);
  expect(missing.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'The export file is missing from storage; start a new export.' });
  const lines = logs.lines();
  expect(lines.filter((line) => line.msg === 'export file missing from storage before its retention ended')).toEqual([
    expect.objectContaining({ level: 50, jobId: job.id, accountId: account.id, path }),
  ]);

  // Past EXPORT_RETENTION_DAYS, a file not found is the retention's doing (removed, its path not yet forgotten).
  await ctx.db.query("UPDATE jobs SET finished_at = finished_at - interval '7 days 1 minute' WHERE id = $1", [job.id]);
  const expired = await ctx.get(account.key, `/v1/jobs/${job.id}/result`);
  expect(expired.statusCode).toBe(404);
  expect(expired.json()).toMatchObject({
    error_code: 'NOT_FOUND',
    error: 'The export file is no longer available: export files are kept for a limited time.',
  });
});
