import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ean13 } from '../support/csv.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { capturedLogs } from '../support/captured-logs.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** A worker's log line of a failed attempt names the job's account, as every log line of a job does. */
let ctx: TestContext;
const logs = capturedLogs();

beforeAll(async () => {
  ctx = await createTestContext({ env: { JOB_ATTEMPTS: '1' }, logger: logs.logger });
});
afterAll(async () => ctx?.close());

it("logs 'job attempt failed' with the job id, its account id, its type and the attempt", async () => {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
  // A file where the export folder should be: the attempt fails to create its file (an I/O failure).
  await writeFile(join(ctx.config.DATA_DIR, 'exports'), 'not a folder');

  const job = await runExportJob(ctx, account.key, { format: 'csv' });

  expect(job).toMatchObject({ status: 'failed', error_code: 'EXPORT_FAILED' });
  const lines = logs.lines();
  expect(lines.filter((line) => line.msg === 'job attempt failed')).toEqual([
    expect.objectContaining({ level: 50, jobId: job.id, accountId: account.id, type: 'export', attempt: 1 }),
  ]);
});
