import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeProvider } from '../support/fake-provider.js';
import { catalogSnapshot, jobRow, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** A running enrichment that is cancelled stops calling the provider and writes nothing more. */
let ctx: TestContext;
let provider: FakeProvider;

beforeAll(async () => {
  // Slow answers keep the job busy long enough to be cancelled mid-way.
  provider = await FakeProvider.start({ delayMs: 50 });
  ctx = await createTestContext({ env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_LOOKUP_CONCURRENCY: '2' } });
});
afterAll(async () => {
  await ctx?.close();
  await provider?.close();
});

it('cancelled mid-job: no more provider calls and no more writes', { timeout: 60_000 }, async () => {
  const account = await ctx.createAccount();
  const eans = Array.from({ length: 400 }, (_, n) => recoveryEan(n));
  const csv = ['ean,name', ...eans.map((ean) => `${ean},Product`)].join('\n');
  expect((await ctx.importCsv(account.key, csv)).status).toBe('completed');
  for (const ean of eans) provider.products.set(ean, { brand: 'Brand' });

  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: {} });
  const { id } = response.json<{ id: string }>();
  const enriched = async () =>
    (await ctx.db.query<{ count: number }>(`SELECT count(*)::int AS count FROM products WHERE account_id = $1 AND brand = 'Brand'`, [account.id]))
      .rows[0]!.count;
  // Past the first page of products (200), so some products are already written (the counts
  // move before, while the page is looked up).
  await waitFor('the enrichment to be mid-way', async () => ((await enriched()) > 0 ? true : undefined));

  const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
  expect(cancel.statusCode).toBe(200);
  expect(cancel.json()).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
  const callsAtCancel = provider.count();
  const catalogAtCancel = await catalogSnapshot(ctx.db, account.id);

  const queue = ctx.queues.queue('enrichment');
  await waitFor('the delivery to end', async () => ((await queue.getJobState(id)) === 'failed' ? true : undefined));
  // A call already on the wire when the cancel came may still arrive; nothing after it.
  expect(provider.count() - callsAtCancel).toBeLessThanOrEqual(2);
  const callsAfter = provider.count();
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(provider.count()).toBe(callsAfter);
  expect(await catalogSnapshot(ctx.db, account.id)).toEqual(catalogAtCancel);
  expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
  expect(await enriched()).toBeGreaterThan(0);
  expect(await enriched()).toBeLessThan(400);
});
