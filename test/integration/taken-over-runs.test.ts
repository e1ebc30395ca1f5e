import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { runEnrichment } from '../../src/workers/enrich/run-enrichment.js';
import { runExport } from '../../src/workers/export/run-export.js';
import { ean13 } from '../support/csv.js';
import { requestExport, seedProducts } from '../support/exports.js';
import { jobRow } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Exports and enrichments take no advisory lock that a stopped worker's session could hold; like
 * an import's commit, their writes are refused to a run whose claim another run has taken over (its
 * worker was stopped past its lease), so a stopped worker that goes on writes nothing twice. The
 * tests run the processors as the worker would, with the run's claim token; no workers run.
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
});
