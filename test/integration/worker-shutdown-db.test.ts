import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_CLOSE_MARGIN_MS } from '../../src/workers/start-workers.js';
import { spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * SIGTERM ends a ROLE=worker process within SHUTDOWN_GRACE_MS and a margin even when a job it
 * could not stop still holds a PostgreSQL connection: here the job waits for a lock on its row.
 */
const GRACE_MS = 1_000;
let ctx: TestContext;
let worker: WorkerChild | undefined;
let holder: PoolClient | undefined;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { SHUTDOWN_GRACE_MS: String(GRACE_MS) } });
});
afterAll(async () => {
  if (holder) {
    await holder.query('ROLLBACK');
    holder.release();
  }
  if (worker && worker.process.exitCode === null && worker.process.signalCode === null) {
    worker.process.kill('SIGKILL');
    await worker.exited;
  }
  await ctx?.close();
});

describe('a worker process told to stop while a job holds a PostgreSQL connection', () => {
  it('exits within SHUTDOWN_GRACE_MS and a margin', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n');
    expect(response.statusCode).toBe(202);
    const jobId = response.json<{ id: string }>().id;
    holder = await ctx.db.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE', [jobId]);
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');

    const child = spawnWorker({ ...ctx.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    worker = child;
    await waitFor('the job to wait for its locked row', async () => {
      if (child.process.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
      const waiting = await ctx.db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [rows[0]!.pid]);
      return waiting.rowCount ? true : undefined;
    }, 60_000, 200);

    child.process.kill('SIGTERM');
    const bound = GRACE_MS + WORKER_CLOSE_MARGIN_MS + 8_000;
    const outcome = await Promise.race([
      child.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), bound)),
    ]);
    expect(outcome, child.output()).toBe('exit 0');
    expect(child.output()).toContain('workers did not close in time');
  }, 90_000);
});
