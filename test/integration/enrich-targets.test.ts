import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { jobRow, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A whole-catalog or filter enrichment covers the catalog as it was when the job started (README
 * "Enrichment"): its products do not change while it runs, and each of them gets one outcome.
 */
let ctx: TestContext;
let provider: FakeProvider;

beforeAll(async () => {
  // Slow answers: a page of 200 products takes seconds, so the catalog can change mid-job.
  provider = await FakeProvider.start({ delayMs: 150 });
  ctx = await createTestContext({ env: { ENRICH_PROVIDER_URL: provider.url } });
});
afterAll(async () => {
  await ctx?.close();
  await provider?.close();
});
beforeEach(() => provider.reset());

/** A new account with `count` products (EANs in EAN order), `brand(n)` as their brand; the provider knows a category for each. */
async function catalog(count: number, brand: (n: number) => string = () => '') {
  const account = await ctx.createAccount();
  const eans = Array.from({ length: count }, (_, n) => recoveryEan(n));
  const csv = ['ean,name,brand', ...eans.map((ean, n) => `${ean},Product ${n},${brand(n)}`)].join('\n');
  expect((await ctx.importCsv(account.key, csv)).status).toBe('completed');
  for (const ean of eans) provider.products.set(ean, { category: 'Pens' });
  return { account, eans };
}

async function startEnrichment(key: string, body: Record<string, unknown>): Promise<string> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': key }, payload: body });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** Waits until the job has called the provider: it has taken its products and is on its first page. */
const lookingUp = () => waitFor('the first lookups', async () => (provider.count() > 0 ? true : undefined));

/** The job's counts add up: every product has one outcome, counted once. */
function expectCountsAddUp(job: JobResource, total: number) {
  expect(job.progress).toMatchObject({ rows_total: total, rows_processed: total });
  expect(job.progress.rows_succeeded + job.progress.rows_unchanged + job.progress.rows_failed).toBe(total);
}

it('reports a product deleted while the catalog enrichment runs as NOT_FOUND, and counts it', { timeout: 60_000 }, async () => {
  const { account, eans } = await catalog(300);
  const id = await startEnrichment(account.key, {});
  await lookingUp();
  const deleted = eans[249]!;
  const response = await ctx.app.inject({ method: 'DELETE', url: `/v1/products/${deleted}`, headers: { 'x-api-key': account.key } });
  expect(response.statusCode, response.body).toBe(204);

  const job = await ctx.waitForJob(account.key, id, 60_000);
  expect(job.status).toBe('completed');
  expectCountsAddUp(job, 300);
  expect(job.progress).toMatchObject({ rows_succeeded: 299, rows_unchanged: 0, rows_failed: 1 });
  expect(job.detail).toBe(`1 of 300 products were not fully enriched. See /v1/jobs/${id}/errors.`);
  const errors = await ctx.get(account.key, `/v1/jobs/${id}/errors`);
  // As an `eans` list reports an EAN the catalog does not have.
  expect(errors.json().data).toEqual([
    { row: 250, ean: deleted, field: null, code: 'NOT_FOUND', message: 'No product with this EAN in the catalog.' },
  ]);
  expect(provider.calls.some((call) => call.ean === deleted)).toBe(false);
  const { rows } = await ctx.db.query('SELECT 1 FROM enrichment_targets WHERE job_id = $1', [id]);
  expect(rows).toEqual([]);
});

it('keeps to the products that matched the filter when it started, whatever is changed meanwhile', { timeout: 60_000 }, async () => {
  // 296 of brand Stabilo, then 4 of another brand, the last EANs (on the job's second page).
  const { account, eans } = await catalog(300, (n) => (n < 296 ? 'Stabilo' : 'Pelikan'));
  const id = await startEnrichment(account.key, { filter: { brand: 'Stabilo' } });
  await lookingUp();
  const joined = eans.slice(296, 299);
  for (const ean of joined) {
    const response = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/products/${ean}`,
      headers: { 'x-api-key': account.key },
      payload: { brand: 'Stabilo' },
    });
    expect(response.statusCode, response.body).toBe(200);
  }

  const job = await ctx.waitForJob(account.key, id, 60_000);
  expect(job.status).toBe('completed');
  expectCountsAddUp(job, 296);
  expect(job.progress).toMatchObject({ rows_succeeded: 296, rows_failed: 0 });
  expect(provider.count()).toBe(296);
  expect(provider.calls.some((call) => joined.includes(call.ean))).toBe(false);
});

/** The EANs the provider was asked about more than once. */
function lookedUpTwice(): string[] {
  const calls = new Map<string, number>();
  for (const call of provider.calls) calls.set(call.ean, (calls.get(call.ean) ?? 0) + 1);
  return [...calls].filter(([, count]) => count > 1).map(([ean]) => ean);
}

/** Runs `meanwhile` with the workers stopped (jobs stay queued), then starts them again. */
async function withWorkersStopped(meanwhile: () => Promise<void>): Promise<void> {
  await ctx.workers!.close();
  try {
    await meanwhile();
  } finally {
    ctx.startWorkers();
  }
}

it('resumes a catalog enrichment handed back at shutdown with the products it took when it started', { timeout: 90_000 }, async () => {
  const { account, eans } = await catalog(300);
  const id = await startEnrichment(account.key, {});
  // On the second page: the first is settled, the rest goes back to the queue.
  await waitFor('the second page', async () => (provider.count() >= 250 ? true : undefined));
  const created = recoveryEan(300);
  await withWorkersStopped(async () => {
    expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing', phase: 'queued', rows_total: 300 });
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/products/${eans[299]}`, headers: { 'x-api-key': account.key } });
    expect(deleted.statusCode).toBe(204);
    const added = await ctx.app.inject({
      method: 'POST', url: '/v1/products', headers: { 'x-api-key': account.key }, payload: { ean: created, name: 'New' },
    });
    expect(added.statusCode, added.body).toBe(201);
  });

  const job = await ctx.waitForJob(account.key, id, 60_000);
  expect(job.status).toBe('completed');
  expectCountsAddUp(job, 300);
  expect(job.progress).toMatchObject({ rows_succeeded: 299, rows_failed: 1 });
  expect((await ctx.get(account.key, `/v1/jobs/${id}/errors`)).json().data).toMatchObject([{ row: 300, ean: eans[299], code: 'NOT_FOUND' }]);
  expect(lookedUpTwice()).toEqual([]);
  expect(new Set(provider.calls.map((call) => call.ean))).toEqual(new Set(eans.slice(0, 299)));
});

it('takes the rest of the catalog for an enrichment under way across the upgrade that added taken products', { timeout: 60_000 }, async () => {
  const { account, eans } = await catalog(3);
  let id = '';
  await withWorkersStopped(async () => {
    id = await startEnrichment(account.key, {});
    // What an attempt before migration 019 left: the first product settled, the total counted, nothing taken.
    await ctx.db.query(
      `INSERT INTO enrichment_checkpoints (job_id, position, last_ean, rows_total, rows_changed) VALUES ($1, 1, $2, 3, 1)`,
      [id, eans[0]],
    );
  });

  const job = await ctx.waitForJob(account.key, id, 30_000);
  expect(job.status).toBe('completed');
  expectCountsAddUp(job, 3);
  expect(job.progress).toMatchObject({ rows_succeeded: 3, rows_failed: 0 });
  expect(provider.calls.map((call) => call.ean)).toEqual(eans.slice(1));
});

it('resumes a retried enrichment after its last settled product, keeping what was settled', { timeout: 90_000 }, async () => {
  const { account, eans } = await catalog(300);
  const unknown = eans[10]!;
  provider.products.delete(unknown);
  const id = await startEnrichment(account.key, {});
  // The first page (200 products) settled, the second one being looked up.
  const written = async () =>
    (await ctx.db.query<{ count: number }>(`SELECT count(*)::int AS count FROM products WHERE account_id = $1 AND category = 'Pens'`, [account.id]))
      .rows[0]!.count;
  await waitFor('the first page to be settled', async () => ((await written()) >= 199 ? true : undefined));
  const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
  expect(cancel.json()).toMatchObject({ status: 'cancelled' });
  const settled = (await jobRow(ctx.db, id)).rows_processed;
  expect(settled).toBe(200);
  await waitFor('the delivery to end', async () => ((await ctx.queues.queue('enrichment').getJobState(id)) === 'failed' ? true : undefined));
  provider.reset();

  const retry = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': account.key } });
  expect(retry.statusCode, retry.body).toBe(202);
  // The settled products' counts show at once, as a job handed back shows them.
  const resumed = (await ctx.get(account.key, `/v1/jobs/${id}`)).json<JobResource>();
  expect(resumed.progress).toMatchObject({ rows_total: 300, rows_failed: 1 });
  expect(resumed.progress.rows_processed).toBeGreaterThanOrEqual(200);
  const job = await ctx.waitForJob(account.key, id, 60_000);
  expect(job.status).toBe('completed');
  expectCountsAddUp(job, 300);
  expect(job.progress).toMatchObject({ rows_succeeded: 299, rows_updated: 299, rows_unchanged: 0, rows_failed: 1 });
  expect((await ctx.get(account.key, `/v1/jobs/${id}/errors`)).json().data).toMatchObject([{ row: 11, ean: unknown, code: 'NOT_FOUND_AT_PROVIDER' }]);
  // Only the products not settled before the cancel are looked up.
  expect(provider.calls.map((call) => call.ean).sort()).toEqual(eans.slice(200));
});
