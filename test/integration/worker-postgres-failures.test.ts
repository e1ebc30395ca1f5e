import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, workerSessionLimits } from '../../src/shared/db/pool.js';
import { importOptionsSchema } from '../../src/shared/jobs/import-options.js';
import { createLogger } from '../../src/shared/logger.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import { ImportWriter } from '../../src/workers/import/import-writer.js';
import { startWorkers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/recovery-support.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A worker whose PostgreSQL goes away: nothing it was given may be left `processing` for good,
 * and nothing it held may stay held. One attempt per job, so an outage outlasts its attempts.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { JOB_ATTEMPTS: '1', RECONCILE_INTERVAL_MS: '1000' } });
});
afterAll(async () => {
  await ctx?.close();
});

async function queuedImport(key: string): Promise<string> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Ballpoint pen\n');
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('a worker and a PostgreSQL outage', () => {
  it('fails a job whose attempts ran out while PostgreSQL was down once it is back, and a retry imports it', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    const database = new URL(ctx.config.DATABASE_URL);
    const proxy = await startTcpProxy(Number(database.port || 5432));
    database.host = new URL(proxy.url).host;
    const workerDb = createPool(database.toString(), 6, workerSessionLimits(ctx.config));
    const connection = createWorkerConnection(ctx.config);
    proxy.setDown(true);
    const workers = startWorkers({ db: workerDb, uploads: ctx.store, logger: createLogger('silent'), config: ctx.config, connection });
    try {
      // The attempt fails, and so does the worker's write of the failure.
      await waitFor('the attempt to fail', async () => ((await ctx.queues.queue('import').getJobState(id)) === 'failed' ? true : undefined), 20_000, 50);
      expect((await ctx.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({ status: 'processing' });

      proxy.setDown(false);
      const failed = await ctx.waitForJob(account.key, id, 20_000);
      expect(failed).toMatchObject({
        status: 'failed',
        error_code: 'IMPORT_FAILED',
        detail: 'The import could not be completed after 1 attempt because of an internal error; no rows were imported. Retry it later.',
      });

      const retry = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': account.key } });
      expect(retry.statusCode, retry.body).toBe(202);
      expect(await ctx.waitForJob(account.key, id, 20_000)).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    } finally {
      await workers.close();
      connection.disconnect();
      await workerDb.end();
      await proxy.close();
    }
  });

  it('an import attempt that cannot get its second connection gives its transaction and the job lock back', async () => {
    const account = await ctx.createAccount();
    const id = await queuedImport(account.key);
    // One connection, held by the attempt's transaction: the report's connection cannot be had.
    const db = createPool(ctx.config.DATABASE_URL, 1, { connectTimeoutMs: 300, statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: 600_000 });
    try {
      const options = importOptionsSchema.parse({ mode: 'upsert', on_error: 'abort', delimiter: ',', dry_run: false });
      await expect(
        ImportWriter.begin({ db, jobId: id, accountId: account.id, options, reportTable: 'import_staging.report_test', fileBytes: 100 }),
      ).rejects.toThrow(/timeout/);
      // The pool has its connection back, and no session is left in the transaction with the lock.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      const { rows } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
         WHERE l.locktype = 'advisory' AND a.datname = current_database()`,
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await db.end();
    }
  });
});
