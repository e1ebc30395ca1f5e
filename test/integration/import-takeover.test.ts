import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/workers/import/run-import.js';
import {
  catalogSnapshot,
  importDeps,
  jobRow,
  productsCsv,
  recoveryEan,
  spawnWorker,
  waitFor,
  type WorkerChild,
} from '../support/recovery-support.js';
import { capturedLogs } from '../support/captured-logs.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A worker stopped (SIGSTOP, a frozen VM) in the middle of an import keeps its PostgreSQL session
 * open, idle in its transaction and holding the job's advisory lock, until
 * WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS (10 min). Here a second session of the test plays that
 * stopped run: it holds the job's lock (and a product of the file, uncommitted) in an open
 * transaction, and the job's claim ran out without being released. The last tests stop a real
 * worker process (SIGSTOP) at a known point: half-way through the file, and in the import's final
 * transaction, which holds the job's row.
 */

const ROWS = 20_000;
/** Short leases, so a stopped worker loses its job within seconds. */
const LEASES = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '2000' };

let ctx: TestContext;
const logs = capturedLogs();

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: LEASES, logger: logs.logger });
});
afterAll(async () => ctx?.close());

/** A session of its own (not the pool's), holding job `jobId`'s lock and an uncommitted product in an open transaction. */
async function stoppedRunSession(jobId: string, accountId: string): Promise<{ session: pg.Client; pid: number }> {
  const session = new pg.Client({ connectionString: ctx.config.DATABASE_URL });
  // Ended by the worker: the error then also comes as an event, which must not go unhandled.
  session.on('error', () => {});
  await session.connect();
  await session.query('BEGIN');
  await session.query(`SELECT pg_advisory_xact_lock(hashtextextended('import:' || $1, 0))`, [jobId]);
  await session.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'written by the stopped run')`, [accountId, recoveryEan(1)]);
  const { rows } = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { session, pid: rows[0]!.pid };
}

/** The log lines of the in-process workers so far. */

/** Uploads the file; no worker runs yet, so the job waits in its queue. */
async function uploadFile(key: string, rows = ROWS): Promise<string> {
  const response = await ctx.upload(key, productsCsv(1, rows, 'Taken'));
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('a job taken over from a run whose worker stopped', () => {
  it("ends the stopped run's session that holds the job's lock, and completes with exact counts well before the idle-in-transaction timeout", async () => {
    const account = await ctx.createAccount();
    const id = await uploadFile(account.key);
    const stopped = await stoppedRunSession(id, account.id);
    // The stopped run's claim ran out 1 s ago and was never released.
    await ctx.db.query(`UPDATE jobs SET run_claim_token = $2, run_claimed_until = now() - interval '1 second' WHERE id = $1`, [id, randomUUID()]);
    const startedAt = Date.now();
    const workers = ctx.startWorkers();
    try {
      const job = await ctx.waitForJob(account.key, id, 60_000);
      expect(Date.now() - startedAt).toBeLessThan(60_000);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_succeeded: ROWS, rows_created: ROWS, rows_updated: 0, rows_failed: 0 });
      const catalog = await catalogSnapshot(ctx.db, account.id);
      expect(catalog).toMatchObject({ count: ROWS, distinctEans: ROWS });
      const first = await ctx.db.query<{ name: string }>('SELECT name FROM products WHERE account_id = $1 AND ean = $2', [account.id, recoveryEan(1)]);
      expect(first.rows).toEqual([{ name: 'Taken 1' }]);
      // The stopped run's transaction can never commit: its session is gone.
      await expect(stopped.session.query('COMMIT')).rejects.toThrow();
      expect(logs.lines().find((line) => line.level === 40 && line.holderPid === stopped.pid)).toMatchObject({ jobId: id, ended: true });
    } finally {
      await stopped.session.end().catch(() => {});
      await workers.close();
      ctx.workers = null;
    }
  }, 90_000);

  it("waits for another attempt's transaction, without ending its session, when the run did not take the job over", async () => {
    const account = await ctx.createAccount();
    const id = await uploadFile(account.key);
    const other = await stoppedRunSession(id, account.id);
    const token = randomUUID();
    await ctx.db.query(`UPDATE jobs SET run_claim_token = $2, run_claimed_until = now() + interval '1 minute' WHERE id = $1`, [id, token]);
    try {
      const attempt = runImport(importDeps(ctx), id, undefined, { token, tookOver: false });
      await waitFor('the attempt to wait for the job lock', async () => {
        const { rows } = await ctx.db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [other.pid]);
        return rows.length > 0 ? true : undefined;
      }, 20_000);
      expect((await other.session.query<{ alive: number }>('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
      await other.session.query('ROLLBACK');
      expect(await attempt).toMatchObject({ status: 'completed', counts: { rowsCreated: ROWS } });
    } finally {
      await other.session.end().catch(() => {});
    }
  }, 60_000);

  it('writes nothing in a run whose claim another run has taken over: its final commit is refused', async () => {
    const account = await ctx.createAccount();
    const id = await uploadFile(account.key);
    // The run's claim ran out while its worker was stopped, and another delivery took it.
    await ctx.db.query(`UPDATE jobs SET run_claim_token = $2, run_claimed_until = now() + interval '1 minute' WHERE id = $1`, [id, randomUUID()]);
    expect(await runImport(importDeps(ctx), id, undefined, { token: randomUUID(), tookOver: false })).toBeNull();
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing' });
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(0);
  }, 60_000);

  it('completes, with exact counts, the import of a worker process stopped with SIGSTOP half-way, which changes nothing once it goes on', async () => {
    const rows = 40_000;
    const account = await ctx.createAccount();
    // The worker's import reaches the product half-way through the file and waits for it there.
    const hold = { sql: `INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'held')`, params: [account.id, recoveryEan(rows / 2)] };
    await expectTakeoverOfStoppedWorker(account, rows, hold);
  }, 120_000);

  it("completes the import of a worker process stopped with SIGSTOP in the import's final transaction, which holds the job's row", async () => {
    const rows = 20_000;
    const account = await ctx.createAccount();
    // The import's commit marks the account's product search as behind (product_search_backlog),
    // after it has locked the job's row: the worker stops there, with every row written.
    const hold = { sql: `INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())`, params: [account.id] };
    await expectTakeoverOfStoppedWorker(account, rows, hold, async (jobId) => {
      const { rows: unlocked } = await ctx.db.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED', [jobId]);
      expect(unlocked, "the stopped worker's session holds the job's row").toEqual([]);
    });
  }, 120_000);
});

/** A write of the test's, in a transaction left open, that a worker's import reaches and waits for. */
interface HeldWrite {
  sql: string;
  params: unknown[];
}

/**
 * Runs the import of `rows` products in a worker process and stops it with SIGSTOP once its import
 * waits for `hold`; `hold` is then rolled back, so the stopped worker's session ends its statement
 * and stays idle in its transaction, as a worker stopped at that point leaves it. `whileStopped`
 * checks that state. Then the in-process workers take the job over: the job completes with exact
 * counts long before WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS, the stopped worker's session having
 * been ended; and once the worker goes on it changes nothing.
 */
async function expectTakeoverOfStoppedWorker(
  account: { id: string; key: string },
  rows: number,
  hold: HeldWrite,
  whileStopped?: (jobId: string) => Promise<void>,
): Promise<void> {
  const stopped = spawnWorker({ ...ctx.env, LOG_LEVEL: 'info' });
  let workers: ReturnType<TestContext['startWorkers']> | null = null;
  try {
    const { id, sessionPid } = await stopWorkerAtHeldWrite(stopped, account.key, rows, hold);
    await whileStopped?.(id);
    workers = ctx.startWorkers();
    const job = await ctx.waitForJob(account.key, id, 60_000);
    expect(job, stopped.output()).toMatchObject({ status: 'completed', error_code: null });
    expect(job.progress).toMatchObject({ rows_total: rows, rows_succeeded: rows, rows_created: rows, rows_failed: 0 });
    expect(logs.lines().find((line) => line.level === 40 && line.jobId === id && line.holderPid === sessionPid)).toMatchObject({ ended: true });
    // The stopped worker goes on: its session is gone, and it writes nothing more.
    stopped.process.kill('SIGCONT');
    await waitFor('the resumed worker to find its session ended', async () => (/connection error|terminat/i.test(stopped.output()) ? true : undefined), 20_000);
    expect((await ctx.get(account.key, `/v1/jobs/${id}`)).json()).toMatchObject({ status: 'completed', progress: job.progress });
    expect(await catalogSnapshot(ctx.db, account.id)).toMatchObject({ count: rows, distinctEans: rows });
  } finally {
    stopped.process.kill('SIGCONT');
    stopped.process.kill('SIGKILL');
    await stopped.exited;
    await workers?.close();
    ctx.workers = null;
  }
}

/**
 * Uploads the file, waits for the worker process's import to wait for `hold`, stops the worker
 * (SIGSTOP) and rolls `hold` back; returns once the worker's session, its statement done, is idle
 * in its transaction.
 */
async function stopWorkerAtHeldWrite(worker: WorkerChild, key: string, rows: number, hold: HeldWrite): Promise<{ id: string; sessionPid: number }> {
  const holder = new pg.Client({ connectionString: ctx.config.DATABASE_URL });
  await holder.connect();
  let held: { id: string; sessionPid: number };
  try {
    await holder.query('BEGIN');
    await holder.query(hold.sql, hold.params);
    const { rows: [holderRow] } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const id = await uploadFile(key, rows);
    const sessionPid = await waitFor('the worker process to wait for the held write', async () => {
      const waiting = await ctx.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [holderRow!.pid]);
      return waiting.rows[0]?.pid;
    }, 60_000);
    worker.process.kill('SIGSTOP');
    held = { id, sessionPid };
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end();
  }
  await waitFor("the stopped worker's session to be idle in its transaction", async () => {
    const { rows: [session] } = await ctx.db.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [held.sessionPid]);
    return session?.state === 'idle in transaction' ? true : undefined;
  }, 20_000);
  return held;
}
