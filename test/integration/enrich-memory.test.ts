import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { recoveryEan, spawnReadyWorker, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A page of 200 products whose provider answers are each just under the 1 MiB read: held all
// together they would take 200 MB. The worker, with the 128 MB heap `npm start` gives it,
// settles the page in parts and stays up.

const PROVIDER_KEY = 'provider-secret';
let ctx: TestContext;
let provider: FakeProvider;
let worker: WorkerChild;
let stopWorker: (() => Promise<void>) | undefined;
let next = 90_000;

beforeAll(async () => {
  provider = await FakeProvider.start({ apiKey: PROVIDER_KEY });
  ctx = await createTestContext({
    workers: false,
    env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_PROVIDER_KEY: PROVIDER_KEY, ENRICH_PROVIDER_BACKOFF_MS: '1' },
  });
  ({ worker, stop: stopWorker } = await spawnReadyWorker(ctx.env, 128));
}, 90_000);
afterAll(async () => {
  await stopWorker?.();
  await ctx?.close();
  await provider?.close();
});

/** Imports `count` products for a new account and enriches them on the worker process; fails at once if the worker dies. */
async function enrichOnWorker(count: number, answer: (ean: string) => void): Promise<{ job: JobResource; key: string; eans: string[] }> {
  provider.reset();
  const account = await ctx.createAccount();
  const eans = Array.from({ length: count }, () => recoveryEan(++next));
  const died = worker.exited.then((how) => {
    throw new Error(`the worker died (${how}): ${worker.output()}`);
  });
  const imported = await Promise.race([ctx.importCsv(account.key, ['ean,name', ...eans.map((ean) => `${ean},Pen`)].join('\n')), died]);
  expect(imported.status).toBe('completed');
  eans.forEach(answer);
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: { eans } });
  expect(response.statusCode, response.body).toBe(202);
  const job = await Promise.race([ctx.waitForJob(account.key, response.json<{ id: string }>().id, 120_000), died]);
  return { job, key: account.key, eans };
}

describe('a page of answers of nearly 1 MiB each, on a worker with a 128 MB heap', () => {
  it('enriches 200 products whose attributes take 900 KB each, and the worker stays up', async () => {
    // One object for every product: the stand-in provider holds 900 KB, not 180 MB.
    const attributes = Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`a${i}`, String(i % 10).repeat(10_000)]));
    const { job, eans } = await enrichOnWorker(200, (ean) => provider.products.set(ean, { brand: 'Big', attributes }));

    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 200, rows_succeeded: 200, rows_failed: 0 } });
    expect(provider.count()).toBe(200);
    const { rows } = await ctx.db.query<{ names: number }>(
      "SELECT count(*)::int AS names FROM products, jsonb_object_keys(attributes) WHERE ean = ANY($1) AND brand = 'Big'",
      [eans],
    );
    expect(rows[0]!.names).toBe(200 * 90);
    expect(worker.process.exitCode).toBeNull();
  }, 150_000);

  it('reports 200 products whose 5xx answers carry an error of a megabyte PROVIDER_ERROR, and the worker stays up', async () => {
    const error = 'E'.repeat(1_000_000);
    const answer = { status: 500, json: { error }, text: JSON.stringify({ error }) };
    const { job } = await enrichOnWorker(200, (ean) => provider.script(ean, answer, answer, answer, answer, answer));

    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 200, rows_failed: 200 } });
    expect(worker.process.exitCode).toBeNull();
  }, 150_000);
});
