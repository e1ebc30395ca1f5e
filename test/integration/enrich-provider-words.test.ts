import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { recoveryEan } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The provider's own words (its `error`, its quota's `tier`) are quoted in the job's detail, its
// error report and the log: text PostgreSQL cannot store is replaced, and a megabyte of words is
// cut, so that the job ends as the provider's answer says and its reads stay small.

const PROVIDER_KEY = 'provider-secret';
let next = 70_000;
let ctx: TestContext;
let provider: FakeProvider;
let account: { id: string; key: string };

beforeAll(async () => {
  provider = await FakeProvider.start({ apiKey: PROVIDER_KEY });
  ctx = await createTestContext({
    env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_PROVIDER_KEY: PROVIDER_KEY, ENRICH_PROVIDER_BACKOFF_MS: '20', ENRICH_LOOKUP_CONCURRENCY: '2' },
  });
  account = await ctx.createAccount();
});
afterAll(async () => {
  await ctx?.close();
  await provider?.close();
});
beforeEach(() => provider.reset());

async function seed(count: number): Promise<string[]> {
  const eans = Array.from({ length: count }, () => recoveryEan(++next));
  const job = await ctx.importCsv(account.key, ['ean,name', ...eans.map((ean) => `${ean},Pen`)].join('\n'));
  expect(job.status).toBe('completed');
  return eans;
}

async function enrich(eans: string[]): Promise<JobResource> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: { eans } });
  expect(response.statusCode, response.body).toBe(202);
  return ctx.waitForJob(account.key, response.json<{ id: string }>().id, 60_000);
}

const errorsOf = async (id: string) =>
  (await ctx.get(account.key, `/v1/jobs/${id}/errors`)).json<{ data: Array<{ ean: string; code: string; message: string }> }>().data;

const five = <T>(answer: T) => [answer, answer, answer, answer, answer];

describe('provider words PostgreSQL cannot store', () => {
  it('reports a 5xx whose error holds a NUL or a lone surrogate PROVIDER_ERROR, the character replaced', async () => {
    const [nul, surrogate] = await seed(2);
    provider.script(nul!, ...five({ status: 503, json: { error: 'upstream\u0000down' } }));
    provider.script(surrogate!, ...five({ status: 503, json: { error: 'upstream\ud800down' } }));

    const job = await enrich([nul!, surrogate!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_failed: 2 } });
    expect(await errorsOf(job.id)).toEqual([
      expect.objectContaining({ ean: nul, code: 'PROVIDER_ERROR', message: expect.stringContaining('HTTP 503: upstream\uFFFDdown') }),
      expect.objectContaining({ ean: surrogate, code: 'PROVIDER_ERROR', message: expect.stringContaining('HTTP 503: upstream\uFFFDdown') }),
    ]);
    expect(provider.count()).toBe(10);
  });

  it('fails the job with ENRICHMENT_FAILED quoting a 403 whose error holds a NUL', async () => {
    const [ean] = await seed(1);
    provider.script(ean!, { status: 403, json: { error: 'suspended\u0000account' } });

    const job = await enrich([ean!]);

    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED' });
    expect(job.detail).toContain('(HTTP 403: "suspended\uFFFDaccount")');
  });

  it('completes with PROVIDER_QUOTA_EXCEEDED on a quota 429 whose error and tier hold a NUL', async () => {
    const [ean] = await seed(1);
    provider.script(ean!, { status: 429, json: { error: 'quota\u0000used', limit: 10, tier: 'free\u0000tier' } });

    const job = await enrich([ean!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_failed: 1 } });
    expect(job.detail).toContain('"quota\uFFFDused" (limit 10, tier free\uFFFDtier)');
    expect(await errorsOf(job.id)).toEqual([expect.objectContaining({ code: 'PROVIDER_QUOTA_EXCEEDED' })]);
  });
});

describe('provider words of a megabyte', () => {
  // Answers of up to 1 MiB are read: a million characters, or twice half a million.
  const megabyte = (letter: string) => letter.repeat(1_000_000);
  const half = (letter: string) => letter.repeat(500_000);

  it('quotes 200 characters of a 5xx error, a refusal and a quota error and tier', async () => {
    const [failing, quota, refused] = await seed(3);
    provider.script(failing!, ...five({ status: 500, json: { error: megabyte('E') } }));
    const failed = await enrich([failing!]);
    expect((await errorsOf(failed.id))[0]!.message).toContain(`HTTP 500: ${'E'.repeat(200)}…)`);

    // A quota answer stops the retries of the other lookups: this one is alone in its job.
    provider.script(quota!, { status: 429, json: { error: half('Q'), limit: 10, tier: half('T') } });
    const completed = await enrich([quota!]);
    expect(completed.detail).toContain(`"${'Q'.repeat(200)}…" (limit 10, tier ${'T'.repeat(200)}…)`);
    expect(completed.detail!.length).toBeLessThan(1_000);

    provider.script(refused!, { status: 403, json: { error: megabyte('R') } });
    const stopped = await enrich([refused!]);
    expect(stopped.detail).toContain(`(HTTP 403: "${'R'.repeat(200)}…")`);
    expect(stopped.detail!.length).toBeLessThan(1_000);
  });
});
