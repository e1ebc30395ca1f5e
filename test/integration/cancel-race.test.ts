import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { jobRow, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** A service whose workers never start, so a job stays queued until a test ends it. */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const VALID_CSV = 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n';

/** A session of the test database in an open transaction, with its backend's pid. */
async function session(): Promise<{ client: PoolClient; pid: number }> {
  const client = await ctx.db.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, pid: rows[0]!.pid };
}

/** Waits until a statement of the session `pid` waits for a lock. */
async function untilWaiting(pid: number, what: string): Promise<void> {
  await waitFor(what, async () => {
    const { rows } = await ctx.db.query<{ waiting: boolean }>('SELECT cardinality(pg_blocking_pids($1)) > 0 AS waiting', [pid]);
    return rows[0]!.waiting ? true : undefined;
  }, 10_000);
}

/** Waits until some session waits for a lock that the session `pid` holds. */
async function untilSomeoneWaitsFor(pid: number, what: string): Promise<void> {
  await waitFor(what, async () => {
    const { rows } = await ctx.db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid]);
    return rows.length > 0 ? true : undefined;
  }, 10_000);
}

describe('POST /v1/jobs/{id}/cancel racing another cancel and a retry', () => {
  it('cancels the run a retry started after the other cancel ended the job, instead of answering 200 processing', async () => {
    const account = await ctx.createAccount();
    const upload = await ctx.upload(account.key, VALID_CSV);
    expect(upload.statusCode, upload.body).toBe(202);
    const id = upload.json<{ id: string }>().id;

    // The other cancel: it ends the job, but has not committed when this cancel reads the job as
    // processing, so this cancel's UPDATE waits for it and then finds the job ended.
    const otherCancel = await session();
    const retry = await session();
    try {
      await otherCancel.client.query(
        `UPDATE jobs SET status = 'cancelled', phase = 'done', error_code = 'JOB_CANCELLED', finished_at = now() WHERE id = $1`,
        [id],
      );
      const cancelling = ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { authorization: `Bearer ${account.key}` } });
      await untilSomeoneWaitsFor(otherCancel.pid, "the cancel's UPDATE to wait for the other cancel");

      // The retry takes the jobs table as soon as this cancel's UPDATE is over, so whatever this
      // cancel reads next it reads after the retry has started the job's next run.
      const tableTaken = retry.client.query('LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
      await untilWaiting(retry.pid, 'the retry to queue for the jobs table');
      await otherCancel.client.query('COMMIT');
      await tableTaken;
      await retry.client.query(
        `UPDATE jobs SET status = 'processing', phase = 'queued', run_number = run_number + 1,
           error_code = NULL, detail = NULL, finished_at = NULL WHERE id = $1`,
        [id],
      );
      await retry.client.query('COMMIT');

      const response = await cancelling;
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json<JobResource>()).toMatchObject({ id, status: 'cancelled', phase: 'done', error_code: 'JOB_CANCELLED' });
      expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'cancelled', run_number: 2 });
      expect(await ctx.queues.queue('import').getJobState(id)).toBe('unknown');
    } finally {
      for (const { client } of [otherCancel, retry]) {
        await client.query('ROLLBACK').catch(() => {});
        client.release();
      }
    }
  });
});
