import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markRunTransaction, endStoppedRunSessions } from '../../src/shared/jobs/run-sessions.js';
import { createLogger } from '../../src/shared/logger.js';
import { runEnrichment } from '../../src/workers/enrich/run-enrichment.js';
import { runExport } from '../../src/workers/export/run-export.js';
import { ean13 } from '../support/csv.js';
import { requestExport, seedProducts } from '../support/exports.js';
import { jobRow, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Like an import's commit, the writes of exports and enrichments are refused to a run whose claim
 * another run has taken over (its worker was stopped past its lease), so a stopped worker that goes
 * on writes nothing twice. And a stopped run's transactions (marked as the run's) are ended by the
 * delivery that takes its job over, so none holds it up: the job's row in a final transaction, an
 * enrichment's checkpoint. The tests run the processors as the worker would, with the run's claim
 * token; workers run only where a test starts them.
 */

let ctx: TestContext;
const logger = createLogger('silent');

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

/** Gives the job's claim to the run with `token`, as withRunClaim does when a delivery claims it. */
async function claimFor(jobId: string, token: string): Promise<void> {
  await ctx.db.query(`UPDATE jobs SET run_claim_token = $2, run_claimed_until = now() + interval '1 minute' WHERE id = $1`, [jobId, token]);
}

/** The job's claim ran out 1 s ago, held by the run with `token`, which never released it (its worker stopped). */
async function claimRanOut(jobId: string, token: string): Promise<void> {
  await ctx.db.query(`UPDATE jobs SET run_claim_token = $2, run_claimed_until = now() - interval '1 second' WHERE id = $1`, [jobId, token]);
}

/** A session in a transaction marked as the run `token`'s, as that run's worker left it when it stopped. */
async function stoppedRunTransaction(token: string) {
  const session = await ctx.db.connect();
  await session.query('BEGIN');
  await markRunTransaction(session, token);
  return session;
}

async function accountWithProducts(): Promise<{ id: string; key: string }> {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [
    { ean: ean13(1), name: 'Pen' },
    { ean: ean13(2), name: 'Ink' },
  ]);
  return account;
}

describe('a run whose claim another run has taken over', () => {
  it('does not record its export file; the run holding the claim does', async () => {
    const account = await accountWithProducts();
    const response = await requestExport(ctx, account.key, { format: 'csv' });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;
    const stopped = randomUUID();
    await claimFor(id, randomUUID());
    expect(await runExport({ db: ctx.db, files: ctx.store, logger }, id, new AbortController().signal, stopped)).toBeNull();
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing', result_path: null });

    const current = randomUUID();
    await claimFor(id, current);
    expect(await runExport({ db: ctx.db, files: ctx.store, logger }, id, new AbortController().signal, current)).toMatchObject({
      status: 'completed',
      counts: { rowsTotal: 2 },
    });
  });

  it('settles no enrichment page; the run holding the claim enriches every product once', async () => {
    const account = await accountWithProducts();
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key } });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;
    const deps = { db: ctx.db, logger, provider: null, lookupConcurrency: 2 };
    const run = (token: string) => runEnrichment(deps, id, new AbortController().signal, new AbortController().signal, token);
    const derived = async () =>
      (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products WHERE account_id = $1 AND derived_at IS NOT NULL', [account.id])).rows[0]!.n;

    await claimFor(id, randomUUID());
    expect(await run(randomUUID())).toBeNull();
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing' });
    expect(await derived()).toBe(0);

    const current = randomUUID();
    await claimFor(id, current);
    expect(await run(current)).toMatchObject({ status: 'completed', counts: { rowsTotal: 2, rowsProcessed: 2, rowsFailed: 0 } });
    expect(await derived()).toBe(2);
  });

  it("is ended by the delivery taking over its export when its worker stopped in the final transaction, holding the job's row", async () => {
    const account = await accountWithProducts();
    const response = await requestExport(ctx, account.key, { format: 'csv' });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;
    const stopped = randomUUID();
    await claimRanOut(id, stopped);
    const session = await stoppedRunTransaction(stopped);
    await session.query('SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE', [id]);
    ctx.startWorkers();
    try {
      expect(await ctx.waitForJob(account.key, id, 30_000)).toMatchObject({ status: 'completed', progress: { rows_total: 2 } });
      await expect(session.query('SELECT 1')).rejects.toThrow();
    } finally {
      session.release(true);
      await ctx.workers?.close();
      ctx.workers = null;
    }
  });

  it("is ended, with the enrichment's checkpoint it holds, by the delivery taking its job over", async () => {
    const account = await accountWithProducts();
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key } });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;
    const deps = { db: ctx.db, logger, provider: null, lookupConcurrency: 2 };
    const stopped = randomUUID();
    await claimFor(id, stopped);
    // The run stops in the transaction that creates the job's checkpoint: here it waits there for
    // a checkpoint another session is writing, whose transaction stays open.
    const writer = await ctx.db.connect();
    await writer.query('BEGIN');
    await writer.query('INSERT INTO enrichment_checkpoints (job_id, rows_total) VALUES ($1, 0)', [id]);
    const { rows: [held] } = await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    try {
      const attempt = runEnrichment(deps, id, new AbortController().signal, new AbortController().signal, stopped);
      const runPid = await waitFor('the run to wait in its checkpoint transaction', async () => {
        const { rows } = await ctx.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [held!.pid]);
        return rows[0]?.pid;
      });
      await claimRanOut(id, stopped);
      expect(await endStoppedRunSessions(ctx.db, id)).toEqual([{ pid: runPid, ended: true }]);
      await expect(attempt).rejects.toThrow();
    } finally {
      await writer.query('ROLLBACK');
      writer.release();
    }
    const current = randomUUID();
    await claimFor(id, current);
    const run = runEnrichment(deps, id, new AbortController().signal, new AbortController().signal, current);
    expect(await run).toMatchObject({ status: 'completed', counts: { rowsTotal: 2, rowsProcessed: 2, rowsFailed: 0 } });
  });
});
