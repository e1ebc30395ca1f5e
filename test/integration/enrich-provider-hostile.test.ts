import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { loggerOptions } from '../../src/shared/logger.js';
import { recoveryEan } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A lookup provider whose answers are hostile or broken: values PostgreSQL cannot store, a
// Retry-After of 0, answers of megabytes, redirects to another host.

const PROVIDER_KEY = 'provider-secret';
let next = 50_000;

async function seed(ctx: TestContext, key: string, count: number): Promise<string[]> {
  const eans = Array.from({ length: count }, () => recoveryEan(++next));
  const job = await ctx.importCsv(key, ['ean,name', ...eans.map((ean) => `${ean},Pen`)].join('\n'));
  expect(job.status).toBe('completed');
  return eans;
}

async function enrich(ctx: TestContext, key: string, eans: string[]): Promise<JobResource> {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': key }, payload: { eans } });
  expect(response.statusCode, response.body).toBe(202);
  return ctx.waitForJob(key, response.json<{ id: string }>().id, 60_000);
}

describe('answers of a provider that misbehaves', () => {
  let ctx: TestContext;
  let provider: FakeProvider;
  let account: { id: string; key: string };
  /** The workers' warnings and errors, one JSON line each. */
  let logged = '';

  beforeAll(async () => {
    provider = await FakeProvider.start({ apiKey: PROVIDER_KEY });
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => {
      logged += chunk.toString();
    });
    ctx = await createTestContext({
      logger: pino(loggerOptions('warn'), sink),
      env: { ENRICH_PROVIDER_URL: provider.url, ENRICH_PROVIDER_KEY: PROVIDER_KEY, ENRICH_PROVIDER_BACKOFF_MS: '20', ENRICH_LOOKUP_CONCURRENCY: '2' },
    });
    account = await ctx.createAccount();
  });
  afterAll(async () => {
    await ctx?.close();
    await provider?.close();
  });
  beforeEach(() => provider.reset());

  const stored = async (ean: string) =>
    (await ctx.db.query('SELECT brand, category, attributes FROM products WHERE account_id = $1 AND ean = $2', [account.id, ean])).rows[0];

  it('leaves out the values PostgreSQL cannot store, and enriches the rest without retrying', async () => {
    const [nul, surrogate, fine] = await seed(ctx, account.key, 3);
    provider.products.set(nul!, { brand: 'Evil\u0000Brand', category: 'Pens' });
    provider.products.set(surrogate!, { attributes: { color: 'bad \ud800', size: 'M' } });
    provider.products.set(fine!, { brand: 'Stabilo' });

    const job = await enrich(ctx, account.key, [nul!, surrogate!, fine!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_failed: 0 } });
    expect(await stored(nul!)).toMatchObject({ brand: null, category: 'Pens' });
    expect(await stored(surrogate!)).toMatchObject({ attributes: { size: 'M' } });
    expect(await stored(fine!)).toMatchObject({ brand: 'Stabilo' });
    expect(provider.count()).toBe(3);
  });

  it('waits a second after a 429 whose Retry-After is 0 before it calls again', async () => {
    const [ean] = await seed(ctx, account.key, 1);
    provider.products.set(ean!, { brand: 'Stabilo' });
    provider.script(ean!, { status: 429, retryAfterSeconds: 0 }, { status: 429, retryAfterSeconds: 0 });

    const job = await enrich(ctx, account.key, [ean!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1 } });
    expect(provider.calls.map((call) => call.status)).toEqual([429, 429, 200]);
    const times = provider.calls.map((call) => call.at);
    for (const gap of [times[1]! - times[0]!, times[2]! - times[1]!]) expect(gap).toBeGreaterThanOrEqual(990);
  });

  it('fails the attempt of an answer over 1 MiB, and the product ends PROVIDER_ERROR', async () => {
    const [huge, fine] = await seed(ctx, account.key, 2);
    provider.products.set(huge!, { brand: 'Big', description: 'x'.repeat(2 * 1024 * 1024) });
    provider.products.set(fine!, { brand: 'Stabilo' });

    const job = await enrich(ctx, account.key, [huge!, fine!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_failed: 1 } });
    expect(provider.calls.filter((call) => call.ean === huge)).toHaveLength(5);
    expect(await stored(huge!)).toMatchObject({ brand: null });
    const errors = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors`)).json<{ data: Array<{ code: string; message: string }> }>().data;
    expect(errors).toEqual([expect.objectContaining({ code: 'PROVIDER_ERROR', message: expect.stringContaining('over 1048576 bytes') })]);
  });

  it('retries a 200 whose body is not a JSON object like a 5xx, then reports it PROVIDER_ERROR and logs it once', async () => {
    const [broken, html, array, empty, emptyList, later] = await seed(ctx, account.key, 6);
    const five = <T>(answer: T) => [answer, answer, answer, answer, answer];
    provider.script(broken!, ...five({ status: 200 as const, raw: '{"name": "x", ', contentType: 'application/json' }));
    provider.script(html!, ...five({ status: 200 as const, raw: '<html>hi</html>', contentType: 'text/html' }));
    provider.script(array!, ...five({ status: 200 as const, body: [1, 2] }));
    provider.script(empty!, ...five({ status: 200 as const, raw: '', contentType: 'application/json' }));
    // An object without a product in it is an answer: nothing to fill, and no retry.
    provider.script(emptyList!, { status: 200, body: { products: [] } });
    // A proxy's page once, then the product: the retry enriches it.
    provider.script(later!, { status: 200, raw: '<html>Bad gateway</html>', contentType: 'text/html; charset=utf-8' });
    provider.products.set(later!, { brand: 'Stabilo' });
    const logStart = logged.length;

    const job = await enrich(ctx, account.key, [broken!, html!, array!, empty!, emptyList!, later!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_unchanged: 1, rows_failed: 4 } });
    for (const ean of [broken, html, array, empty]) expect(provider.calls.filter((call) => call.ean === ean)).toHaveLength(5);
    expect(provider.calls.filter((call) => call.ean === emptyList)).toHaveLength(1);
    expect(await stored(later!)).toMatchObject({ brand: 'Stabilo' });
    const errors = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors`)).json<{ data: Array<{ ean: string; code: string; message: string }> }>().data;
    const notAnObject = (what: string) => `HTTP 200, but the answer is not a JSON object: it is ${what}`;
    expect(errors).toEqual([
      expect.objectContaining({ ean: broken, code: 'PROVIDER_ERROR', message: expect.stringContaining(notAnObject('not JSON (Content-Type application/json)')) }),
      expect.objectContaining({ ean: html, code: 'PROVIDER_ERROR', message: expect.stringContaining(notAnObject('not JSON (Content-Type text/html)')) }),
      expect.objectContaining({ ean: array, code: 'PROVIDER_ERROR', message: expect.stringContaining(notAnObject('a JSON array')) }),
      expect.objectContaining({ ean: empty, code: 'PROVIDER_ERROR', message: expect.stringContaining(notAnObject('empty')) }),
    ]);
    const warnings = logged.slice(logStart).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.jobId === job.id);
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, ean: expect.any(String), reason: expect.stringContaining('the answer is not a JSON object') }),
    ]);
  });

  it('keeps the answers a page got before a refusal: they are settled and counted before the job fails', async () => {
    const [answered, refused] = await seed(ctx, account.key, 2);
    provider.products.set(answered!, { brand: 'Stabilo' });
    // Two lookups in flight: the first is answered while the second waits for its refusal.
    provider.script(refused!, { status: 403, error: 'Account suspended.', delayMs: 300 });

    const job = await enrich(ctx, account.key, [answered!, refused!]);

    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED', progress: { rows_processed: 1, rows_succeeded: 1 } });
    expect(job.detail).toContain('Enrichment stopped after 1 of 2 products');
    expect(await stored(answered!)).toMatchObject({ brand: 'Stabilo' });
    expect(provider.calls.map((call) => call.ean)).toEqual([answered, refused]);
  });

  it('does not fill a product from an answer for another EAN: PROVIDER_ERROR, without a retry', async () => {
    const [asked, padded, numbered, other] = await seed(ctx, account.key, 4);
    provider.products.set(asked!, { ean: other, brand: 'Other' });
    // The same EAN as a GTIN-14, or as a JSON number, is the EAN asked for.
    provider.products.set(padded!, { product: { gtin: `0${padded}`, brand: 'Padded' } });
    provider.products.set(numbered!, { ean: Number(numbered), gtin: null, brand: 'Numbered' });

    const job = await enrich(ctx, account.key, [asked!, padded!, numbered!]);

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 2, rows_failed: 1 } });
    expect(await stored(asked!)).toMatchObject({ brand: null });
    expect(await stored(padded!)).toMatchObject({ brand: 'Padded' });
    expect(await stored(numbered!)).toMatchObject({ brand: 'Numbered' });
    const errors = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors`)).json<{ data: Array<{ ean: string; code: string; message: string }> }>().data;
    expect(errors).toEqual([
      expect.objectContaining({ ean: asked, code: 'PROVIDER_ERROR', message: `The lookup provider answered for another EAN (${other}); not enriched.` }),
    ]);
    expect(provider.count()).toBe(3);
  });

  it('quotes a refusal that names the provider key without the key, in the job and in the log', async () => {
    const [ean] = await seed(ctx, account.key, 1);
    provider.script(ean!, { status: 403, error: `Key ${PROVIDER_KEY} is not allowed on this plan.` });
    const logStart = logged.length;

    const job = await enrich(ctx, account.key, [ean!]);

    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED' });
    expect(job.detail).toContain('The lookup provider refused the request (HTTP 403: "Key [redacted] is not allowed on this plan.")');
    expect(logged.slice(logStart)).toContain('Key [redacted] is not allowed');
    expect(JSON.stringify(job)).not.toContain(PROVIDER_KEY);
    expect(logged.slice(logStart)).not.toContain(PROVIDER_KEY);
  });
});

describe('a provider that redirects', () => {
  let ctx: TestContext;
  let elsewhere: Server;
  let redirecting: Server;
  const keysElsewhere: Array<string | undefined> = [];

  beforeAll(async () => {
    elsewhere = createServer((request, response) => {
      keysElsewhere.push(request.headers['x-api-key'] as string | undefined);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"brand":"Elsewhere"}');
    });
    elsewhere.listen(0, '127.0.0.1');
    await once(elsewhere, 'listening');
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    redirecting = createServer((request, response) => response.writeHead(302, { location: `${target}${request.url}` }).end());
    redirecting.listen(0, '127.0.0.1');
    await once(redirecting, 'listening');
    ctx = await createTestContext({
      env: { ENRICH_PROVIDER_URL: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`, ENRICH_PROVIDER_KEY: PROVIDER_KEY },
    });
  });
  afterAll(async () => {
    await ctx?.close();
    for (const server of [elsewhere, redirecting]) {
      server?.closeAllConnections();
      server?.close();
    }
  });

  it('is not followed: the key goes nowhere else, and the job stops as on a refusal', async () => {
    const account = await ctx.createAccount();
    const eans = await seed(ctx, account.key, 1);

    const job = await enrich(ctx, account.key, eans);

    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED' });
    expect(job.detail).toContain('HTTP 302: a redirect, which is not followed');
    expect(keysElsewhere).toEqual([]);
  });
});
