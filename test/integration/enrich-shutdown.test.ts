import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { jobRow, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An enrichment running when its worker shuts down settles the lookups it has under way and goes
 * back to the queue; the worker that takes it over looks up only the products not settled, so the
 * provider is asked about each product once.
 */
const PRODUCTS = 600;

interface Setup {
  ctx: TestContext;
  provider: FakeProvider;
  account: { id: string; key: string };
  eans: string[];
}

async function setUp(env: Record<string, string>, first: number): Promise<Setup> {
  // Slow answers keep lookups under way whenever the shutdown comes.
  const provider = await FakeProvider.start({ delayMs: 50 });
  const ctx = await createTestContext({ env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_LOOKUP_CONCURRENCY: '4', ...env } });
  const account = await ctx.createAccount();
  const eans = Array.from({ length: PRODUCTS }, (_, n) => recoveryEan(first + n));
  const job = await ctx.importCsv(account.key, ['ean,name', ...eans.map((ean) => `${ean},Product`)].join('\n'));
  expect(job.status).toBe('completed');
  for (const ean of eans) provider.products.set(ean, { brand: 'Brand' });
  return { ctx, provider, account, eans };
}

async function startEnrichment({ ctx, account, eans }: Setup): Promise<string> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: { eans } });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

/** Restarts the workers and waits for the job handed back to them to complete. */
async function finishElsewhere({ ctx, account }: Setup, id: string): Promise<JobResource> {
  ctx.startWorkers();
  return waitFor('the enrichment to complete', async () => {
    const job = (await ctx.get(account.key, `/v1/jobs/${id}`)).json<JobResource>();
    return job.status === 'completed' || job.status === 'failed' ? job : undefined;
  }, 60_000);
}

/** The EANs the provider was asked about more than once. */
function lookedUpTwice(provider: FakeProvider): string[] {
  const calls = new Map<string, number>();
  for (const call of provider.calls) calls.set(call.ean, (calls.get(call.ean) ?? 0) + 1);
  return [...calls].filter(([, count]) => count > 1).map(([ean]) => ean);
}

function expectEnrichedOnce(setup: Setup, done: JobResource): void {
  expect(done.status).toBe('completed');
  expect(done.progress).toMatchObject({ rows_total: PRODUCTS, rows_processed: PRODUCTS, rows_updated: PRODUCTS, rows_failed: 0 });
  expect(lookedUpTwice(setup.provider)).toEqual([]);
  expect(new Set(setup.provider.calls.map((call) => call.ean))).toEqual(new Set(setup.eans));
}

describe('a grace shorter than a lookup may take', () => {
  let setup: Setup;
  beforeAll(async () => {
    // SHUTDOWN_GRACE_MS is under ENRICH_PROVIDER_TIMEOUT_MS (10 s): lookups stop being started at once.
    setup = await setUp({ SHUTDOWN_GRACE_MS: '500' }, 1);
  });
  afterAll(async () => {
    await setup?.ctx.close();
    await setup?.provider.close();
  });

  it('shut down mid-page: the lookups under way are settled and no product is looked up twice', { timeout: 90_000 }, async () => {
    const { ctx, provider } = setup;
    const id = await startEnrichment(setup);
    // Half-way through the second page (200 products a page): the first one is settled.
    await waitFor('the enrichment to be mid-page', async () => (provider.count() >= 300 ? true : undefined));
    await ctx.workers!.close();

    const handedBack = await jobRow(ctx.db, id);
    expect(handedBack).toMatchObject({ status: 'processing', phase: 'queued' });
    const queued = (await ctx.queues.queue('enrichment').getJob(id))!;
    expect(['delayed', 'waiting']).toContain(await queued.getState());
    expect(queued.attemptsMade).toBe(0);
    // The lookups the first worker made are all settled: the job's position is past every one.
    expect(handedBack.rows_processed).toBe(provider.count());
    expect(handedBack.rows_processed).toBeLessThan(PRODUCTS);

    // Every count the job row shows from now on: the attempt that takes over resumes from the
    // settled products, so it never shows them undone (no total, or fewer processed).
    await ctx.db.query(`CREATE TABLE shown_counts (rows_total int, rows_processed int)`);
    await ctx.db.query(`CREATE FUNCTION record_counts() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO shown_counts VALUES (NEW.rows_total, NEW.rows_processed); RETURN NEW; END $$`);
    await ctx.db.query(`CREATE TRIGGER record_counts AFTER UPDATE ON jobs FOR EACH ROW WHEN (NEW.id = '${id}') EXECUTE FUNCTION record_counts()`);
    expectEnrichedOnce(setup, await finishElsewhere(setup, id));
    const { rows: shown } = await ctx.db.query<{ rows_total: number | null; rows_processed: number }>('SELECT * FROM shown_counts');
    expect(shown.length).toBeGreaterThan(1);
    expect(shown.filter((counts) => counts.rows_total !== PRODUCTS || counts.rows_processed < handedBack.rows_processed)).toEqual([]);
  });
});

describe('a grace longer than a lookup may take', () => {
  let setup: Setup;
  beforeAll(async () => {
    // Lookups stop being started ENRICH_PROVIDER_TIMEOUT_MS (500 ms) and a page's settling (2 s) before the grace ends.
    setup = await setUp({ SHUTDOWN_GRACE_MS: '4000', ENRICH_PROVIDER_TIMEOUT_MS: '500' }, 10_001);
  });
  afterAll(async () => {
    await setup?.ctx.close();
    await setup?.provider.close();
  });

  it('keeps enriching into the grace, then hands back before it ends, each product looked up once', { timeout: 90_000 }, async () => {
    const { ctx, provider } = setup;
    const id = await startEnrichment(setup);
    await waitFor('the enrichment to be mid-page', async () => (provider.count() >= 300 ? true : undefined));
    const callsAtShutdown = provider.count();
    const startedAt = Date.now();
    await ctx.workers!.close();
    const closedInMs = Date.now() - startedAt;

    expect(provider.count()).toBeGreaterThan(callsAtShutdown + 10);
    expect(closedInMs).toBeLessThan(4000);
    const handedBack = await jobRow(ctx.db, id);
    expect(handedBack).toMatchObject({ status: 'processing', phase: 'queued' });
    expect(handedBack.rows_processed).toBe(provider.count());

    expectEnrichedOnce(setup, await finishElsewhere(setup, id));
  });
});
