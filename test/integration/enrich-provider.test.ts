import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { FakeProvider } from '../support/fake-provider.js';
import { recoveryEan } from '../support/recovery-support.js';
import { untilSearchCaughtUp } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Enrichment against a real HTTP server playing the lookup provider: filling rules, and each
 * branch of the provider's contract (404, 4xx, 429 with Retry-After, 429 quota, 5xx, slow answers).
 */
const PROVIDER_KEY = 'provider-secret';
let ctx: TestContext;
let provider: FakeProvider;
let account: { id: string; key: string };
let next = 0;

beforeAll(async () => {
  provider = await FakeProvider.start({ apiKey: PROVIDER_KEY });
  ctx = await createTestContext({
    env: {
      ENRICH_PROVIDER_URL: provider.url,
      ENRICH_PROVIDER_KEY: PROVIDER_KEY,
      ENRICH_PROVIDER_BACKOFF_MS: '20',
      ENRICH_PROVIDER_TIMEOUT_MS: '400',
      ENRICH_LOOKUP_CONCURRENCY: '2',
    },
  });
  account = await ctx.createAccount();
});
afterAll(async () => {
  await ctx?.close();
  await provider?.close();
});
beforeEach(() => provider.reset());

/** `count` new products (fresh EANs) imported with the given CSV columns after ean. */
async function seed(count: number, row: (n: number) => string, header = 'name,brand,category'): Promise<[string, ...string[]]> {
  const eans = Array.from({ length: count }, () => recoveryEan(++next));
  const csv = [`ean,${header}`, ...eans.map((ean, i) => `${ean},${row(i)}`)].join('\n');
  const job = await ctx.importCsv(account.key, csv);
  expect(job.status, JSON.stringify(job)).toBe('completed');
  return eans as [string, ...string[]];
}

async function enrich(body: Record<string, unknown>): Promise<JobResource> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/enrichments',
    headers: { 'x-api-key': account.key },
    payload: body,
  });
  expect(response.statusCode, response.body).toBe(202);
  expect(response.headers.location).toBe(`/v1/jobs/${response.json<{ id: string }>().id}`);
  return ctx.waitForJob(account.key, response.json<{ id: string }>().id, 60_000);
}

async function errorsOf(id: string) {
  return (await ctx.get(account.key, `/v1/jobs/${id}/errors?limit=500`)).json<{
    data: Array<{ row: number; ean: string; field: string | null; code: string; message: string }>;
  }>().data;
}

async function stored(ean: string) {
  const { rows } = await ctx.db.query(
    `SELECT name, brand, category, description, image_url, attributes, gtin14, ean_check_digit_valid, gs1_prefix,
            gs1_prefix_country, name_normalized, brand_normalized, updated_at
     FROM products WHERE account_id = $1 AND ean = $2`,
    [account.id, ean],
  );
  return rows[0];
}

describe('filling the catalog from the provider', () => {
  it('fills only empty fields, never touches a field the provider does not return, and bumps updated_at of changed products', async () => {
    const [empty, full] = await seed(2, (i) => (i === 0 ? ' Pen  ,,' : 'Pencil,Stabilo,Office'));
    const before = await stored(empty);
    provider.products.set(empty, { title: 'Ballpoint pen', brand: 'Stabilo', category: ['Office', 'Pens'], images: ['https://img.example/p.jpg'] });
    provider.products.set(full!, { name: 'Other name', brand: 'Other brand', description: 'Grey pencil' });

    const job = await enrich({ eans: [empty, full] });

    expect(job).toMatchObject({ status: 'completed', error_code: null, detail: null });
    expect(job.progress).toMatchObject({ rows_total: 2, rows_processed: 2, rows_succeeded: 2, rows_unchanged: 0, rows_failed: 0 });
    const filled = await stored(empty);
    expect(filled).toMatchObject({
      name: ' Pen  ', // a name always has a value: kept
      brand: 'Stabilo',
      category: 'Office > Pens',
      description: null, // not returned: untouched
      image_url: 'https://img.example/p.jpg',
      gtin14: `0${empty}`,
      ean_check_digit_valid: true,
      gs1_prefix: '210',
      gs1_prefix_country: 'Restricted distribution',
      name_normalized: 'pen',
      brand_normalized: 'stabilo',
    });
    expect(filled.updated_at.getTime()).toBeGreaterThan(before.updated_at.getTime());
    expect(await stored(full!)).toMatchObject({ name: 'Pencil', brand: 'Stabilo', category: 'Office', description: 'Grey pencil' });
    expect(provider.calls.every((call) => call.apiKey === PROVIDER_KEY)).toBe(true);
  });

  it('overwrite: true replaces filled fields with what the provider returns', async () => {
    const [ean] = await seed(1, () => 'Old name,Old brand,Old category');
    provider.products.set(ean!, { name: 'New name', brand: 'New brand', attributes: { color: 'blue' } });

    const job = await enrich({ eans: [ean], overwrite: true });

    expect(job.progress).toMatchObject({ rows_succeeded: 1, rows_failed: 0 });
    expect(await stored(ean!)).toMatchObject({ name: 'New name', brand: 'New brand', category: 'Old category', attributes: { color: 'blue' } });
    // Listed by its new name and brand through product_search, and never by the old ones.
    await untilSearchCaughtUp(ctx, account.id);
    const { rows } = await ctx.db.query('SELECT name, brand, category FROM product_search WHERE account_id = $1 AND ean = $2', [account.id, ean]);
    expect(rows).toEqual([{ name: 'New name', brand: 'New brand', category: 'Old category' }]);
    const list = async (query: string) =>
      (await ctx.get(account.key, `/v1/products?${query}`)).json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean);
    expect(await list('brand=New%20brand&q=new%20name')).toEqual([ean]);
    expect(await list('brand=Old%20brand')).toEqual([]);
  });

  it('counts a product whose data the provider does not change as unchanged and leaves its updated_at', async () => {
    const [ean] = await seed(1, () => 'Pen,Stabilo,');
    provider.products.set(ean!, { name: 'Pen', brand: 'Stabilo' });
    const first = await enrich({ eans: [ean] });
    expect(first.progress).toMatchObject({ rows_succeeded: 0, rows_unchanged: 1 });
    const before = await stored(ean!);
    const second = await enrich({ eans: [ean] });
    expect(second.progress).toMatchObject({ rows_succeeded: 0, rows_unchanged: 1 });
    expect((await stored(ean!)).updated_at).toEqual(before.updated_at);
  });

  it('reports listed EANs that are malformed or not in the catalog', async () => {
    const [known] = await seed(1, () => 'Pen,,');
    provider.products.set(known!, { brand: 'Stabilo' });
    const job = await enrich({ eans: ['12345', recoveryEan(999_999), known] });
    expect(job.progress).toMatchObject({ rows_total: 3, rows_processed: 3, rows_succeeded: 1, rows_failed: 2 });
    expect(await errorsOf(job.id)).toEqual([
      { row: 1, ean: '12345', field: null, code: 'INVALID_EAN', message: 'The EAN must be 8, 12, 13 or 14 digits.' },
      { row: 2, ean: recoveryEan(999_999), field: null, code: 'NOT_FOUND', message: 'No product with this EAN in the catalog.' },
    ]);
    expect(provider.calls.map((call) => call.ean)).toEqual([known]);
  });
});

describe('provider attributes and the limit of 1,000 names', () => {
  const named = (prefix: string, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `v${i}`]));
  const withAttributes = async (ean: string, attributes: Record<string, string>) =>
    ctx.db.query('UPDATE products SET attributes = $3 WHERE account_id = $1 AND ean = $2', [account.id, ean, JSON.stringify(attributes)]);

  it('adds no new name to a product they would take past 1,000, fills its other fields and fails nothing', async () => {
    const [full, small] = await seed(2, () => 'Pen,,');
    await withAttributes(full, named('a', 995));
    await withAttributes(small!, { color: 'red' });
    const offered = named('p', 20);
    provider.products.set(full, { brand: 'Stabilo', attributes: { ...offered, a0: 'other' } });
    provider.products.set(small!, { brand: 'Stabilo', attributes: offered });

    const job = await enrich({ eans: [full, small] });

    expect(job).toMatchObject({ status: 'completed', error_code: null });
    expect(job.progress).toMatchObject({ rows_succeeded: 2, rows_failed: 0 });
    expect(await errorsOf(job.id)).toEqual([]);
    expect(await stored(full)).toMatchObject({ brand: 'Stabilo' });
    expect((await stored(full)).attributes).toEqual(named('a', 995));
    expect(await stored(small!)).toMatchObject({ brand: 'Stabilo' });
    expect((await stored(small!)).attributes).toEqual({ color: 'red', ...offered });
    // The product still PUTs back as GET returns it.
    const product = (await ctx.get(account.key, `/v1/products/${full}`)).json<Record<string, unknown>>();
    const put = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/products/${full}`,
      headers: { 'x-api-key': account.key },
      payload: { name: product.name, attributes: product.attributes },
    });
    expect(put.statusCode, put.body).toBe(200);
  });

  it('takes a provider name written with decomposed accents as the product’s name in NFC, not as a second one', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    await withAttributes(ean, { Größe: 'M' });
    provider.products.set(ean, { attributes: { 'Gro\u0308ße': 'L', 'E\u0301tat': 'neuf' } });

    await enrich({ eans: [ean] });

    expect((await stored(ean)).attributes).toEqual({ Größe: 'M', État: 'neuf' });
  });

  it('leaves out a provider attribute whose number would be stored changed, and takes the others', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    const raw = '{"products":[{"brand":"Stabilo","attributes":{"sku":12345678901234567890,"tiny":1e-400,"weight_g":1.50,"note":"1e400"}}]}';
    provider.script(ean, { status: 200, raw, contentType: 'application/json' });

    await enrich({ eans: [ean] });

    expect(await stored(ean)).toMatchObject({ brand: 'Stabilo' });
    expect((await stored(ean)).attributes).toEqual({ weight_g: 1.5, note: '1e400' });
  });

  it('overwrite: true still replaces the values of names the product has', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    await withAttributes(ean, named('a', 1000));
    provider.products.set(ean, { attributes: { a0: 'replaced', extra: 'x' } });

    const job = await enrich({ eans: [ean], overwrite: true });

    expect(job.progress).toMatchObject({ rows_succeeded: 1, rows_failed: 0 });
    expect((await stored(ean)).attributes).toEqual({ ...named('a', 1000), a0: 'replaced' });
  });
});

describe("the provider's contract", () => {
  it('404: NOT_FOUND_AT_PROVIDER for that product, without a retry', async () => {
    const [missing, found] = await seed(2, () => 'Pen,,');
    provider.products.set(found!, { brand: 'Stabilo' });
    const job = await enrich({ eans: [missing, found] });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_failed: 1 } });
    expect(job.detail).toBe(`1 of 2 products were not fully enriched. See /v1/jobs/${job.id}/errors.`);
    expect(await errorsOf(job.id)).toEqual([
      { row: 1, ean: missing, field: null, code: 'NOT_FOUND_AT_PROVIDER', message: 'The lookup provider has no product with this EAN.' },
    ]);
    expect(provider.calls.filter((call) => call.ean === missing)).toHaveLength(1);
  });

  it('401: stops calling the provider and fails the job with ENRICHMENT_FAILED quoting the provider', async () => {
    const eans = await seed(20, () => 'Pen,,');
    for (const ean of eans) provider.products.set(ean, { brand: 'Stabilo' });
    provider.script(eans[0]!, { status: 401, error: 'API key expired' });

    const job = await enrich({ eans });

    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED' });
    expect(job.detail).toBe(
      'The lookup provider refused the request (HTTP 401: "API key expired"). Enrichment stopped after 0 of 20 products; ' +
        'the products enriched before keep their changes.',
    );
    // Lookups in flight when the refusal came (at most the job's concurrency) end; no more start.
    expect(provider.count()).toBeLessThanOrEqual(2);
    expect(await stored(eans[5]!)).toMatchObject({ brand: null });
  });

  it('403 suspended: the same, with the provider’s own words', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    provider.script(ean!, { status: 403, error: 'Account suspended' });
    const job = await enrich({ eans: [ean] });
    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED' });
    expect(job.detail).toContain('(HTTP 403: "Account suspended")');
    expect(provider.count()).toBe(1);
  });

  it('429 with Retry-After: waits exactly that long, then goes on without using up an attempt', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    provider.products.set(ean!, { brand: 'Stabilo' });
    // Four 5xx answers use up four of the five attempts: were a 429 to count as one, the lookup
    // would end PROVIDER_ERROR instead of succeeding.
    const serverError = { status: 500 } as const;
    const tooMany = { status: 429, retryAfterSeconds: 1 } as const;
    provider.script(ean!, serverError, serverError, serverError, serverError, tooMany, tooMany);

    const job = await enrich({ eans: [ean] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_failed: 0 } });
    const times = provider.calls.map((call) => call.at);
    expect(provider.calls.map((call) => call.status)).toEqual([500, 500, 500, 500, 429, 429, 200]);
    for (const gap of [times[5]! - times[4]!, times[6]! - times[5]!]) {
      expect(gap).toBeGreaterThanOrEqual(990);
      expect(gap).toBeLessThan(1_500);
    }
  });

  it('429 with a Retry-After it cannot read: a per-minute limit all the same, waited out a second and called again', async () => {
    const [limited, other] = await seed(2, () => 'Pen,,');
    provider.products.set(limited, { brand: 'Stabilo' });
    provider.products.set(other!, { brand: 'Staedtler' });
    provider.script(limited, { status: 429, retryAfter: 'abc' });

    const job = await enrich({ eans: [limited, other] });

    expect(job).toMatchObject({ status: 'completed', error_code: null, detail: null, progress: { rows_succeeded: 2, rows_failed: 0 } });
    expect(await stored(limited)).toMatchObject({ brand: 'Stabilo' });
    const calls = provider.calls.filter((call) => call.ean === limited);
    expect(calls.map((call) => call.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('429 with Retry-After whose body is the quota’s {error, limit, tier}: the monthly quota', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    provider.products.set(ean, { brand: 'Stabilo' });
    provider.script(ean, { status: 429, retryAfter: '86400', quota: { limit: 1000, tier: 'FREE' } });

    const job = await enrich({ eans: [ean] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 0, rows_failed: 1 } });
    expect(job.detail).toContain(`The lookup provider's monthly quota is exceeded: "Monthly quota exceeded." (limit 1000, tier FREE).`);
    expect(provider.count()).toBe(1);
  });

  it('429 monthly quota: stops calling, derives every product, marks the rest PROVIDER_QUOTA_EXCEEDED and completes', async () => {
    const eans = await seed(6, () => 'Pen,,');
    for (const ean of eans) provider.products.set(ean, { brand: 'Stabilo' });
    provider.script(eans[2]!, { status: 429, quota: { limit: 1000, tier: 'FREE' } });

    const job = await enrich({ eans });

    expect(job).toMatchObject({ status: 'completed', error_code: null, progress: { rows_total: 6, rows_processed: 6 } });
    expect(job.detail).toContain(`The lookup provider's monthly quota is exceeded: "Monthly quota exceeded." (limit 1000, tier FREE).`);
    const errors = await errorsOf(job.id);
    expect(errors.map((error) => error.code)).toEqual(errors.map(() => 'PROVIDER_QUOTA_EXCEEDED'));
    expect(errors.map((error) => error.row)).toContain(3);
    expect(job.progress.rows_failed).toBe(errors.length);
    expect(job.progress.rows_succeeded + job.progress.rows_failed).toBe(6);
    // Only lookups already in flight when the quota answer came were made after it.
    const quotaAt = provider.calls.find((call) => call.status === 429)!.at;
    expect(provider.calls.filter((call) => call.at > quotaAt).length).toBeLessThanOrEqual(1);
    for (const ean of eans) expect(await stored(ean)).toMatchObject({ gtin14: `0${ean}`, ean_check_digit_valid: true });
  });

  // A lookup whose first answer comes after the other's quota or refusal, and asks for a retry.
  const waitingLookups = [
    ['a back-off after a 5xx', [{ status: 500, delayMs: 200 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }]],
    ['a Retry-After wait', [{ status: 429, retryAfterSeconds: 1, delayMs: 200 }]],
  ] as const;

  it.each(waitingLookups)('429 monthly quota: a lookup waiting in %s calls no more and is reported PROVIDER_QUOTA_EXCEEDED', async (_, answers) => {
    const [waiting, quota] = await seed(2, () => 'Pen,,');
    provider.products.set(waiting, { brand: 'Stabilo' });
    provider.script(waiting, ...answers);
    provider.script(quota!, { status: 429, quota: { limit: 1000, tier: 'FREE' } });

    const job = await enrich({ eans: [waiting, quota], overwrite: true });

    // The waiting lookup's first call may reach the provider after the quota answer left it (the
    // worker reads that answer later); what must not come is a call after its wait.
    expect(provider.calls.filter((call) => call.ean === quota)).toHaveLength(1);
    expect(provider.calls.filter((call) => call.ean === waiting).length).toBeLessThanOrEqual(1);
    expect(job).toMatchObject({
      status: 'completed',
      error_code: null,
      progress: { rows_total: 2, rows_processed: 2, rows_succeeded: 0, rows_unchanged: 0, rows_failed: 2 },
    });
    expect(job.detail).toContain(`The lookup provider's monthly quota is exceeded: "Monthly quota exceeded." (limit 1000, tier FREE).`);
    const notLookedUp = "Not looked up: the lookup provider's monthly quota is used up.";
    expect(await errorsOf(job.id)).toEqual([
      { row: 1, ean: waiting, field: null, code: 'PROVIDER_QUOTA_EXCEEDED', message: notLookedUp },
      { row: 2, ean: quota, field: null, code: 'PROVIDER_QUOTA_EXCEEDED', message: notLookedUp },
    ]);
    expect(await stored(waiting)).toMatchObject({ brand: null, gtin14: `0${waiting}` });
  });

  it.each(waitingLookups)('401: a lookup waiting in %s calls no more, during the job or after it failed', async (_, answers) => {
    const [waiting, refused] = await seed(2, () => 'Pen,,');
    provider.products.set(waiting, { brand: 'Stabilo' });
    provider.script(waiting, ...answers);
    provider.script(refused!, { status: 401, error: 'API key expired' });

    const job = await enrich({ eans: [waiting, refused], overwrite: true });
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // As above: at most the waiting lookup's first call, never one after its wait.
    expect(provider.calls.filter((call) => call.ean === refused)).toHaveLength(1);
    expect(provider.calls.filter((call) => call.ean === waiting).length).toBeLessThanOrEqual(1);
    expect(job).toMatchObject({ status: 'failed', error_code: 'ENRICHMENT_FAILED', progress: { rows_processed: 0, rows_failed: 0 } });
    expect(job.detail).toContain('(HTTP 401: "API key expired")');
    expect(await stored(waiting)).toMatchObject({ brand: null });
  });

  it('5xx then 200: retried with growing back-off until it answers', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    provider.products.set(ean!, { brand: 'Stabilo' });
    provider.script(ean!, { status: 500 }, { status: 503 }, { status: 502 });

    const job = await enrich({ eans: [ean] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1 } });
    expect(provider.calls.map((call) => call.status)).toEqual([500, 503, 502, 200]);
    const gaps = provider.calls.slice(1).map((call, i) => call.at - provider.calls[i]!.at);
    // Base 20 ms: 20, 40, 80 ms, each ±25%.
    expect(gaps[0]).toBeGreaterThanOrEqual(14);
    expect(gaps[2]).toBeGreaterThanOrEqual(59);
    expect(gaps[2]! / gaps[0]!).toBeGreaterThan(2);
  });

  it('dropped connections: retried like a 5xx until the provider answers', async () => {
    const [ean] = await seed(1, () => 'Pen,,');
    provider.products.set(ean!, { brand: 'Stabilo' });
    provider.script(ean!, { status: 0 }, { status: 0 });

    const job = await enrich({ eans: [ean] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_failed: 0 } });
    expect(provider.calls.map((call) => call.status)).toEqual([0, 0, 200]);
    expect(await stored(ean!)).toMatchObject({ brand: 'Stabilo' });
  });

  it('5xx on all 5 attempts: PROVIDER_ERROR for that product, the others go on', async () => {
    const [broken, fine] = await seed(2, () => 'Pen,,');
    provider.products.set(broken!, { brand: 'Stabilo' });
    provider.products.set(fine!, { brand: 'Stabilo' });
    provider.script(broken!, ...Array.from({ length: 6 }, () => ({ status: 500 as const })));

    const job = await enrich({ eans: [broken, fine] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1, rows_failed: 1 } });
    expect(provider.calls.filter((call) => call.ean === broken)).toHaveLength(5);
    expect(await errorsOf(job.id)).toEqual([
      expect.objectContaining({ row: 1, ean: broken, code: 'PROVIDER_ERROR' }),
    ]);
  });

  it('a slow answer past the timeout is retried; a slow one within it is used', async () => {
    const [late, slow] = await seed(2, () => 'Pen,,');
    provider.products.set(late!, { brand: 'Late' });
    provider.products.set(slow!, { brand: 'Slow' });
    provider.script(late!, { status: 200, body: { brand: 'Too late' }, delayMs: 1_000 });
    provider.script(slow!, { status: 200, body: { brand: 'Slow' }, delayMs: 200 });

    const job = await enrich({ eans: [late, slow] });

    expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 2, rows_failed: 0 } });
    expect(await stored(late!)).toMatchObject({ brand: 'Late' });
    expect(await stored(slow!)).toMatchObject({ brand: 'Slow' });
    expect(provider.calls.filter((call) => call.ean === late)).toHaveLength(2);
    expect(provider.calls.filter((call) => call.ean === slow)).toHaveLength(1);
  });

  it('times a slow answer out while the garbage collector runs', async () => {
    const [late] = await seed(1, () => 'Pen,,');
    provider.products.set(late, { brand: 'Late' });
    provider.script(late, { status: 200, body: { brand: 'Too late' }, delayMs: 3_000 });
    // Full collections every 20 ms, as a busy worker has them: the call's timeout must still fire.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collecting = setInterval(gc, 20);
    try {
      const job = await enrich({ eans: [late] });
      expect(job).toMatchObject({ status: 'completed', progress: { rows_succeeded: 1 } });
    } finally {
      clearInterval(collecting);
    }
    expect(await stored(late)).toMatchObject({ brand: 'Late' });
    const calls = provider.calls.filter((call) => call.ean === late);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(2_000);
  });
});

describe('progress', () => {
  it('moves about once a second while a page of 200 products is looked up, and ends on exact counts', { timeout: 60_000 }, async () => {
    const eans = await seed(260, () => 'Pen,,');
    // About 50 answers a second (2 lookups in flight, 40 ms each): the first page takes some 4 s.
    eans.forEach((ean, n) => {
      if (n % 26 === 0) provider.script(ean, { status: 404, delayMs: 40 });
      else provider.script(ean, { status: 200, body: { brand: 'Stabilo' }, delayMs: 40 });
    });
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: { eans } });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<{ id: string }>().id;

    const seen: JobResource['progress'][] = [];
    let job: JobResource;
    for (;;) {
      job = (await ctx.get(account.key, `/v1/jobs/${id}`)).json<JobResource>();
      if (job.status !== 'processing') break;
      seen.push(job.progress);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const processed = seen.map((progress) => progress.rows_processed);
    // Seen strictly inside the first page, more than once, and never going back.
    expect(new Set(processed.filter((count) => count > 0 && count < 200)).size).toBeGreaterThanOrEqual(2);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    // The outcomes known so far add up to the products processed so far.
    for (const progress of seen) {
      expect(progress.rows_succeeded + progress.rows_unchanged + progress.rows_failed).toBe(progress.rows_processed);
    }
    expect(job).toMatchObject({ status: 'completed' });
    expect(job.progress).toMatchObject({
      rows_total: 260, rows_processed: 260, rows_succeeded: 250, rows_updated: 250, rows_unchanged: 0, rows_failed: 10,
    });
    expect(await errorsOf(id)).toHaveLength(10);
    expect(provider.count()).toBe(260);
  });
});
