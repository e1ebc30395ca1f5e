import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeProvider } from '../support/fake-provider.js';
import { recoveryEan, spawnWorker, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * ENRICH_PROVIDER_RATE_PER_MINUTE is one rate for all worker processes: two worker processes,
 * each running its own enrichment job at the same time, together stay within the provider's
 * per-minute limit and never get a 429.
 */
const RATE = 1_200;
const PER_JOB = 60;
let ctx: TestContext;
let provider: FakeProvider;
const children: WorkerChild[] = [];

beforeAll(async () => {
  provider = await FakeProvider.start({ rateLimit: { perMinute: RATE } });
  ctx = await createTestContext({
    workers: false,
    env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_PROVIDER_RATE_PER_MINUTE: String(RATE), WORKER_CONCURRENCY: '1' },
  });
});
afterAll(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await ctx?.close();
  await provider?.close();
});

it('two worker processes share the steady rate (combined calls within the limit, no 429) and the provider\'s Retry-After pauses', { timeout: 120_000 }, async () => {
  const accounts = [await ctx.createAccount(), await ctx.createAccount()];
  const eansOf: string[][] = [];
  for (const [index, account] of accounts.entries()) {
    const eans = Array.from({ length: PER_JOB }, (_, n) => recoveryEan(index * 1_000 + n));
    eansOf.push(eans);
    const csv = ['ean,name', ...eans.map((ean) => `${ean},Product`)].join('\n');
    ctx.startWorkers();
    expect((await ctx.importCsv(account.key, csv)).status).toBe('completed');
    await ctx.workers!.close();
    ctx.workers = null;
    for (const ean of eans) provider.products.set(ean, { brand: `Brand ${index}` });
  }

  children.push(spawnWorker({ ...ctx.env, LOG_LEVEL: 'warn' }), spawnWorker({ ...ctx.env, LOG_LEVEL: 'warn' }));
  const queue = ctx.queues.queue('enrichment');
  await waitFor('both worker processes to listen', async () => {
    for (const child of children) if (child.process.exitCode !== null) throw new Error(child.output());
    return (await queue.getWorkers()).length >= 2 ? true : undefined;
  }, 60_000, 100);

  const ids: string[] = [];
  for (const account of accounts) {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: {} });
    expect(response.statusCode).toBe(202);
    ids.push(response.json<{ id: string }>().id);
  }
  const jobs = await Promise.all(ids.map((id, index) => ctx.waitForJob(accounts[index]!.key, id, 60_000)));
  for (const job of jobs) expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: PER_JOB, rows_failed: 0 } });

  expect(provider.count(429)).toBe(0);
  const times = provider.calls.map((call) => call.at).sort((a, b) => a - b);
  expect(times).toHaveLength(2 * PER_JOB);
  // The provider's token bucket (one second of burst) answered no 429: no sustained excess. The
  // average over the run allows for arrival jitter at its ends (a late first call shortens it).
  const perMinute = ((times.length - 1) / (times.at(-1)! - times[0]!)) * 60_000;
  expect(perMinute).toBeLessThanOrEqual(RATE * 1.05);
  expect(perMinute).toBeGreaterThan(RATE * 0.85);
  // The two jobs ran at the same time (one per process), sharing the rate.
  const spans = eansOf.map((eans) => {
    const own = provider.calls.filter((call) => eans.includes(call.ean)).map((call) => call.at);
    return [Math.min(...own), Math.max(...own)] as const;
  });
  expect(spans[0]![0]).toBeLessThan(spans[1]![1]);
  expect(spans[1]![0]).toBeLessThan(spans[0]![1]);

  // A 429 with Retry-After seen by one process pauses both.
  provider.reset();
  provider.scriptNext({ status: 429, retryAfterSeconds: 1 });
  const again: string[] = [];
  for (const account of accounts) {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: {} });
    again.push(response.json<{ id: string }>().id);
  }
  const rerun = await Promise.all(again.map((id, index) => ctx.waitForJob(accounts[index]!.key, id, 60_000)));
  for (const job of rerun) expect(job).toMatchObject({ status: 'completed', progress: { rows_failed: 0 } });
  expect(provider.count(429)).toBe(1);
  const pausedAt = provider.calls.find((call) => call.status === 429)!.at;
  const during = provider.calls.filter((call) => call.at > pausedAt && call.at < pausedAt + 990);
  expect(during).toEqual([]);
  expect(provider.calls.filter((call) => call.status === 200)).toHaveLength(2 * PER_JOB);
});
