import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider, type FakeAnswer } from '../support/fake-provider.js';
import { jobRow, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A retried enrichment forgets a used-up monthly quota (README "Resumable"): the products the
 * quota left not looked up, reported PROVIDER_QUOTA_EXCEEDED, are looked up by the retry, each
 * counted once, although the ended run had settled them.
 */
let ctx: TestContext;
let provider: FakeProvider;

beforeAll(async () => {
  provider = await FakeProvider.start();
  ctx = await createTestContext({ env: { ENRICH_PROVIDER_URL: provider.url } });
});
afterAll(async () => {
  await ctx?.close();
  await provider?.close();
});
beforeEach(() => provider.reset());

const PRODUCTS = 600;
/** ENRICH_LOOKUP_CONCURRENCY's default: lookups already in flight when the quota answer came. */
const IN_FLIGHT = 8;
const QUOTA: FakeAnswer = { status: 429, quota: { limit: 1000, tier: 'FREE' } };
const FOUND: FakeAnswer = { status: 200, body: { category: 'Pens' } };
const QUOTA_MESSAGE = "Not looked up: the lookup provider's monthly quota is used up.";

/** A new account with `PRODUCTS` products (EANs in EAN order) lacking a category; the provider knows one for each. */
async function catalog() {
  const account = await ctx.createAccount();
  const eans = Array.from({ length: PRODUCTS }, (_, n) => recoveryEan(n));
  const csv = ['ean,name', ...eans.map((ean, n) => `${ean},Product ${n}`)].join('\n');
  expect((await ctx.importCsv(account.key, csv)).status).toBe('completed');
  for (const ean of eans) provider.products.set(ean, { category: 'Pens' });
  return { account, eans };
}

const post = (key: string, url: string, payload?: Record<string, unknown>) =>
  ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, ...(payload === undefined ? {} : { payload }) });

/** The job's whole report, page by page. */
async function report(key: string, id: string): Promise<Array<{ row: number; ean: string; code: string; message: string }>> {
  const entries = [];
  let cursor: string | null = null;
  do {
    const page = await ctx.get(key, `/v1/jobs/${id}/errors?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.statusCode, page.body).toBe(200);
    const body = page.json<{ data: Array<{ row: number; ean: string; code: string; message: string }>; next_cursor: string | null }>();
    entries.push(...body.data);
    cursor = body.next_cursor;
  } while (cursor);
  return entries;
}

/**
 * Holds a lock on the account's product `ean` until released: the page with that product waits
 * there to be settled, holding the job row's lock, so a cancel sent meanwhile lands just after
 * that page's settle, whatever the machine's speed.
 */
async function lockProduct(accountId: string, ean: string) {
  const holder = await ctx.db.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM products WHERE account_id = $1 AND ean = $2 FOR UPDATE', [accountId, ean]);
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  /** A session that waits for session `pid`, running a statement like `statement`. */
  const waitingOn = async (pid: number, statement = '%') =>
    (await ctx.db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) AND query LIKE $2',
      [pid, statement],
    )).rows[0]?.pid;
  let held = true;
  return {
    /** The session of the settle that waits for the product. */
    settle: () => waitFor('the settle to wait for the locked product', () => waitingOn(rows[0]!.pid), 60_000),
    waitingOn,
    release: async () => {
      if (!held) return;
      held = false;
      await holder.query('ROLLBACK');
      holder.release();
    },
  };
}

/** Cancels job `id` while the settle of the page with the locked product waits, so that page is settled first. */
async function cancelBehindSettle(key: string, id: string, locked: Awaited<ReturnType<typeof lockProduct>>) {
  try {
    const settle = await locked.settle();
    const cancel = post(key, `/v1/jobs/${id}/cancel`);
    // Not any other write to the job row (the run's own bookkeeping may wait there too).
    const cancelling = "%SET status = 'cancelled'%";
    await waitFor('the cancel to wait for the settle', async () => ((await locked.waitingOn(settle, cancelling)) ? true : undefined));
    await locked.release();
    expect((await cancel).json()).toMatchObject({ status: 'cancelled' });
  } finally {
    await locked.release();
  }
  // The run stops at its next step (failed, cancelled) or ends with its last page (completed, the job row cancelled).
  const ended = ['failed', 'completed'];
  await waitFor('the delivery to end', async () => (ended.includes(await ctx.queues.queue('enrichment').getJobState(id)) ? true : undefined));
}

/** Products of the account that still lack the provider's category. */
async function unfilled(accountId: string): Promise<string[]> {
  const { rows } = await ctx.db.query<{ ean: string }>(
    'SELECT ean FROM products WHERE account_id = $1 AND category IS NULL ORDER BY ean',
    [accountId],
  );
  return rows.map((row) => row.ean);
}

/** The job's counts add up: every product has one outcome, counted once, and none failed. */
function expectAllEnriched(job: JobResource) {
  expect(job.status).toBe('completed');
  expect(job.detail).toBeNull();
  expect(job.progress).toMatchObject({ rows_total: PRODUCTS, rows_processed: PRODUCTS, rows_failed: 0 });
  expect(job.progress.rows_succeeded + job.progress.rows_unchanged).toBe(PRODUCTS);
}

it('looks up on retry every product the monthly quota left, although the cancelled run had settled them', { timeout: 90_000 }, async () => {
  const { account, eans } = await catalog();
  // The quota is used up at the 251st call, on the second page; every later call gets its 429.
  provider.scriptNext(...Array<FakeAnswer>(250).fill(FOUND), ...Array<FakeAnswer>(PRODUCTS).fill(QUOTA));
  // The third and last page waits to be settled; the cancel comes right after it.
  const locked = await lockProduct(account.id, eans[450]!);
  const started = await post(account.key, '/v1/enrichments', {});
  expect(started.statusCode, started.body).toBe(202);
  const id = started.json<{ id: string }>().id;
  await cancelBehindSettle(account.key, id, locked);

  // Every product is settled: those after the quota answer are reported, not looked up.
  const cancelled = await jobRow(ctx.db, id);
  expect(cancelled).toMatchObject({ status: 'cancelled', rows_processed: PRODUCTS });
  const left = await report(account.key, id);
  expect(left.length).toBeGreaterThanOrEqual(PRODUCTS - 250 - IN_FLIGHT);
  expect(left.every((entry) => entry.code === 'PROVIDER_QUOTA_EXCEEDED' && entry.message === QUOTA_MESSAGE)).toBe(true);
  expect(cancelled.rows_failed).toBe(left.length);
  const firstLeft = left[0]!.row;
  expect(await unfilled(account.id)).toEqual(expect.arrayContaining(left.map((entry) => entry.ean)));

  // The quota renewed: the provider answers again.
  provider.reset();
  const retry = await post(account.key, `/v1/jobs/${id}/retry`);
  expect(retry.statusCode, retry.body).toBe(202);
  // The products before the first one the quota left keep their counts at once.
  const resumed = (await ctx.get(account.key, `/v1/jobs/${id}`)).json<JobResource>();
  expect(resumed.progress.rows_processed).toBeGreaterThanOrEqual(firstLeft - 1);
  expect(resumed.progress.rows_failed).toBe(0);
  const job = await ctx.waitForJob(account.key, id, 60_000);

  expectAllEnriched(job);
  expect(await unfilled(account.id)).toEqual([]);
  expect(await report(account.key, id)).toEqual([]);
  // The products the quota left are looked up, each once, and so are those whose lookups were in
  // flight after the first of them; none settled before it.
  const called = provider.calls.map((call) => call.ean);
  expect(new Set(called).size).toBe(called.length);
  expect(called).toEqual(expect.arrayContaining(left.map((entry) => entry.ean)));
  expect(called.length).toBeLessThanOrEqual(left.length + IN_FLIGHT - 1);
  expect(called.every((ean) => eans.indexOf(ean) >= firstLeft - 1)).toBe(true);
});

it('looks up on retry the products of a run that started with the quota an earlier attempt met', { timeout: 90_000 }, async () => {
  const { account, eans } = await catalog();
  const locked = await lockProduct(account.id, eans[300]!);
  await ctx.workers!.close();
  let id: string;
  try {
    const started = await post(account.key, '/v1/enrichments', {});
    expect(started.statusCode, started.body).toBe(202);
    id = started.json<{ id: string }>().id;
    // What an attempt handed back at shutdown right after the quota answer left: nothing settled,
    // the quota noted, so the next attempt reports every product without a call.
    await ctx.db.query(
      `INSERT INTO enrichment_checkpoints (job_id, rows_total, quota_detail) VALUES ($1, 0, '"Monthly quota exceeded." (limit 1000, tier FREE)')`,
      [id],
    );
  } finally {
    ctx.startWorkers();
  }
  await cancelBehindSettle(account.key, id, locked);
  expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'cancelled', rows_processed: 400, rows_failed: 400 });
  expect(provider.count()).toBe(0);

  const retry = await post(account.key, `/v1/jobs/${id}/retry`);
  expect(retry.statusCode, retry.body).toBe(202);
  const job = await ctx.waitForJob(account.key, id, 60_000);

  expectAllEnriched(job);
  expect(job.progress.rows_succeeded).toBe(PRODUCTS);
  expect(await unfilled(account.id)).toEqual([]);
  expect(await report(account.key, id)).toEqual([]);
  expect(provider.calls.map((call) => call.ean).sort()).toEqual(eans);
});
