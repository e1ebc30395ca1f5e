import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { ean13, untilQueueReady } from '../support/csv.js';
import { downloadResult, runExportJob, seedProducts } from '../support/exports.js';
import { filesUnder } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// EXPORT_STORAGE_BYTES_PER_ACCOUNT: an export that would take an account's stored export files
// past the limit fails with EXPORT_FAILED; earlier results are never removed to make room.

const LIMIT = 10_000;
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { EXPORT_STORAGE_BYTES_PER_ACCOUNT: String(LIMIT) } });
  await untilQueueReady(ctx);
});
afterAll(async () => {
  await ctx?.close();
});

/** An account whose CSV export is about 4 KB, so that two fit under the limit and three do not. */
async function accountWithCatalog(): Promise<{ id: string; key: string }> {
  const account = await ctx.createAccount();
  const products = Array.from({ length: 80 }, (_, index) => ({ ean: ean13(index + 1), name: `Product number ${index + 1}` }));
  await seedProducts(ctx, account.id, products);
  return account;
}

const exportFiles = async () => (await filesUnder(ctx.config.DATA_DIR)).filter((file) => file.includes('export'));

describe('the stored export bytes of an account', () => {
  it('fail the export that would go past the limit, keep every earlier result, and let the job be retried once space is free', async () => {
    const account = await accountWithCatalog();
    const first = await runExportJob(ctx, account.key, { format: 'csv' });
    const second = await runExportJob(ctx, account.key, { format: 'csv' });
    const firstText = (await downloadResult(ctx, account.key, first.id)).text;
    expect([first.status, second.status]).toEqual(['completed', 'completed']);
    expect(firstText.length).toBeGreaterThan(LIMIT / 3);
    expect(firstText.length).toBeLessThanOrEqual(LIMIT / 2);
    const filesBefore = await exportFiles();
    expect(filesBefore).toHaveLength(2);

    const third = await runExportJob(ctx, account.key, { format: 'csv' });

    expect(third).toMatchObject({ status: 'failed', error_code: 'EXPORT_FAILED', links: { result: null } });
    expect(third.detail).toBe(
      `This export (${firstText.length} bytes) and the account's stored export files (${2 * firstText.length} bytes) would exceed ` +
        `its limit of ${LIMIT} bytes, so the file was not kept. Existing results are kept; each is removed 7 days after its ` +
        'export finished. Retry this job once space is free.',
    );
    expect((await downloadResult(ctx, account.key, first.id)).text).toBe(firstText);
    expect((await downloadResult(ctx, account.key, second.id)).text).toBe(firstText);
    expect(await exportFiles()).toEqual(filesBefore);

    // Another account has its own budget.
    const other = await accountWithCatalog();
    expect((await runExportJob(ctx, other.key, { format: 'csv' })).status).toBe('completed');

    // Once the retention has removed the older results, the failed export runs on a retry.
    const inEightDays = new Date(Date.now() + 8 * 24 * 3600 * 1000);
    await cleanupOnce({ db: ctx.db, uploads: ctx.uploads, uploadRetentionDays: 7, exportRetentionDays: 7, now: () => inEightDays });
    const retry = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${third.id}/retry`, headers: { 'x-api-key': account.key } });
    expect(retry.statusCode).toBe(202);
    const retried = await ctx.waitForJob(account.key, third.id);
    expect(retried.status).toBe('completed');
    expect((await downloadResult(ctx, account.key, third.id)).text).toBe(firstText);
  });

  it('do not run an export at all while the stored files already fill the limit', async () => {
    const account = await accountWithCatalog();
    // The state of an account whose earlier exports fill its limit exactly.
    await ctx.db.query(
      `INSERT INTO jobs (id, account_id, type, status, phase, result_path, result_bytes, finished_at)
       VALUES ($1, $2, 'export', 'completed', 'done', 'exports/earlier.csv', $3, now())`,
      [randomUUID(), account.id, LIMIT],
    );

    const refused = await runExportJob(ctx, account.key, { format: 'ndjson' });

    expect(refused).toMatchObject({ status: 'failed', error_code: 'EXPORT_FAILED', progress: { rows_processed: 0 } });
    expect(refused.detail).toMatch(/^The account's stored export files \(10000 bytes\) fill its limit of 10000 bytes, so the export was not run\./);
  });
});
