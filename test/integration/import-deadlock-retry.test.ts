import { afterAll, beforeAll, expect, it } from 'vitest';
import { untilQueueReady } from '../support/csv.js';
import { capturedLogs } from '../support/captured-logs.js';
import { jobRow, productsCsv, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An import that PostgreSQL picks as the victim of a deadlock with another transaction writing the
 * same products (another import of the account, an enrichment, a PATCH) is run again soon, without
 * using up an attempt: with one attempt allowed, it still completes.
 */
let ctx: TestContext;
const logs = capturedLogs();

beforeAll(async () => {
  ctx = await createTestContext({ env: { JOB_ATTEMPTS: '1' }, logger: logs.logger });
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const ROWS = 10;

it('runs an import that was a deadlock victim again without using up an attempt, and completes it', async () => {
  const account = await ctx.createAccount();
  expect((await ctx.importCsv(account.key, productsCsv(1, ROWS, 'Stored'))).progress).toMatchObject({ rows_created: ROWS });

  // Another transaction holds the file's last product (highest EAN, last in the file and stored
  // last), so the import locks every other product of its one chunk before it waits for that one;
  // then the other transaction asks for the first: a deadlock. Its own check waits a minute, so
  // PostgreSQL's check in the import (after deadlock_timeout, 1 s) finds it and ends the import's.
  const other = await ctx.db.connect();
  let id: string;
  try {
    await other.query('BEGIN');
    await other.query(`SET LOCAL deadlock_timeout = '60s'`);
    await other.query('UPDATE products SET stock = stock WHERE account_id = $1 AND ean = $2', [account.id, recoveryEan(ROWS)]);
    const { rows } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const response = await ctx.upload(account.key, productsCsv(1, ROWS, 'Renamed'));
    expect(response.statusCode).toBe(202);
    id = response.json<{ id: string }>().id;
    await waitFor('the import to wait for the held product', async () => {
      const waiting = await ctx.db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [rows[0]!.pid]);
      return waiting.rows.length > 0 ? true : undefined;
    });
    // Waits for the import's lock on the first product until PostgreSQL ends the import's transaction.
    await other.query('UPDATE products SET stock = stock WHERE account_id = $1 AND ean = $2', [account.id, recoveryEan(1)]);
    await other.query('COMMIT');
  } finally {
    await other.query('ROLLBACK').catch(() => {});
    other.release();
  }

  const job = await ctx.waitForJob(account.key, id);
  expect(job.status, job.detail ?? '').toBe('completed');
  expect(job.progress).toMatchObject({ rows_processed: ROWS, rows_failed: 0, rows_created: 0, rows_updated: ROWS, rows_unchanged: 0 });
  // Two runs of the row (the victim's and the one that completed); of BullMQ's, one attempt (the
  // one that completed: BullMQ counts it once it has ended it, a little after the row) with one
  // conflict run for free.
  expect((await jobRow(ctx.db, id)).attempts).toBe(2);
  const queue = ctx.queues.queue('import');
  await waitFor('BullMQ to end the job', async () => ((await queue.getJobState(id)) === 'completed' ? true : undefined));
  expect((await queue.getJob(id))).toMatchObject({ attemptsMade: 1, data: { conflicts: 1 } });
  const { rows } = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM products WHERE account_id = $1 AND name LIKE 'Renamed %'`, [
    account.id,
  ]);
  expect(rows[0]!.n).toBe(ROWS);
  const lines = logs.lines();
  expect(lines.filter((line) => line.msg === "deadlock with another job's writes; the job runs again")).toEqual([
    expect.objectContaining({ level: 40, jobId: id, accountId: account.id, type: 'import' }),
  ]);
  expect(lines.filter((line) => line.msg === 'job attempt failed')).toEqual([]);
});
