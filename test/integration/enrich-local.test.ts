import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** Enrichment without a lookup provider: the local derivations, which products a job covers, and the request's validation. */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

function post(key: string, payload?: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': key, ...headers }, payload: payload as never });
}

async function enrich(key: string, payload?: unknown): Promise<JobResource> {
  const response = await post(key, payload);
  expect(response.statusCode, response.body).toBe(202);
  expect(response.json()).toEqual({ id: expect.any(String), status: 'processing' });
  return ctx.waitForJob(key, response.json<{ id: string }>().id);
}

async function insertProducts(accountId: string, products: Array<{ ean: string; name: string; brand?: string; category?: string }>) {
  for (const product of products) {
    await ctx.db.query('INSERT INTO products (account_id, ean, name, brand, category) VALUES ($1, $2, $3, $4, $5)', [
      accountId, product.ean, product.name, product.brand ?? null, product.category ?? null,
    ]);
  }
}

async function derived(accountId: string) {
  const { rows } = await ctx.db.query(
    `SELECT ean, name, brand, gtin14, ean_check_digit_valid AS valid, gs1_prefix AS prefix, gs1_prefix_country AS country,
            name_normalized, brand_normalized, derived_at IS NOT NULL AS derived
     FROM products WHERE account_id = $1 ORDER BY ean`,
    [accountId],
  );
  return rows;
}

describe('local derivations', () => {
  it('derives GTIN-14, check-digit validity, GS1 prefix country and normalised name and brand for the whole catalog', async () => {
    const account = await ctx.createAccount();
    await insertProducts(account.id, [
      { ean: '4006381333931', name: '  Ballpoint\u00a0 PEN ', brand: 'STABILO' },
      { ean: '4006381333932', name: 'Bad check digit', brand: 'Stabilo' },
      { ean: '036000291452', name: 'Tissues', brand: 'kleenex  ' },
      { ean: '96385074', name: 'Eight digits' },
      { ean: '20123451', name: 'In-store' },
      { ean: '9780306406157', name: 'A book' },
      { ean: '12345', name: 'Not a GTIN' },
    ]);

    const job = await enrich(account.key);

    expect(job).toMatchObject({
      type: 'enrichment',
      status: 'completed',
      detail: 'No lookup provider is configured (ENRICH_PROVIDER_URL): only the local derivations were made. ' +
        `2 products could not be enriched. See /v1/jobs/${job.id}/errors.`,
      progress: { rows_total: 7, rows_processed: 7, rows_succeeded: 0, rows_unchanged: 5, rows_failed: 2 },
      options: { eans: null, filter: null, overwrite: false },
    });
    const rows = await derived(account.id);
    expect(rows).toEqual([
      { ean: '036000291452', name: 'Tissues', brand: 'kleenex  ', gtin14: '00036000291452', valid: true, prefix: '003', country: 'United States', name_normalized: 'tissues', brand_normalized: 'kleenex', derived: true },
      { ean: '12345', name: 'Not a GTIN', brand: null, gtin14: null, valid: false, prefix: null, country: null, name_normalized: 'not a gtin', brand_normalized: null, derived: true },
      { ean: '20123451', name: 'In-store', brand: null, gtin14: '00000020123451', valid: true, prefix: '201', country: 'Restricted distribution', name_normalized: 'in-store', brand_normalized: null, derived: true },
      { ean: '4006381333931', name: '  Ballpoint\u00a0 PEN ', brand: 'STABILO', gtin14: '04006381333931', valid: true, prefix: '400', country: 'Germany', name_normalized: 'ballpoint pen', brand_normalized: 'stabilo', derived: true },
      { ean: '4006381333932', name: 'Bad check digit', brand: 'Stabilo', gtin14: '04006381333932', valid: false, prefix: '400', country: 'Germany', name_normalized: 'bad check digit', brand_normalized: 'stabilo', derived: true },
      { ean: '96385074', name: 'Eight digits', brand: null, gtin14: '00000096385074', valid: true, prefix: '963', country: 'GS1 Global Office (GTIN-8)', name_normalized: 'eight digits', brand_normalized: null, derived: true },
      { ean: '9780306406157', name: 'A book', brand: null, gtin14: '09780306406157', valid: true, prefix: '978', country: 'Bookland (ISBN)', name_normalized: 'a book', brand_normalized: null, derived: true },
    ]);
    const errors = (await ctx.get(account.key, `/v1/jobs/${job.id}/errors`)).json<{ data: unknown[] }>().data;
    expect(errors).toEqual([
      { row: 2, ean: '12345', field: null, code: 'INVALID_EAN', message: 'The EAN must be 8, 12, 13 or 14 digits.' },
      { row: 5, ean: '4006381333932', field: null, code: 'INVALID_EAN', message: 'The EAN check digit is invalid; it was not looked up.' },
    ]);
  });

  it('shows the derivations on the product resource once the product has been enriched', async () => {
    const account = await ctx.createAccount();
    await insertProducts(account.id, [{ ean: '4006381333931', name: 'Pen' }]);
    expect((await ctx.get(account.key, '/v1/products/4006381333931')).json().derived).toBeNull();
    await enrich(account.key);
    const product = (await ctx.get(account.key, '/v1/products/4006381333931')).json();
    expect(product.derived).toEqual({
      gtin14: '04006381333931',
      check_digit_valid: true,
      gs1_prefix: '400',
      gs1_prefix_country: 'Germany',
      derived_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it('derivations do not bump updated_at; a second run writes nothing', async () => {
    const account = await ctx.createAccount();
    await insertProducts(account.id, [{ ean: '4006381333931', name: 'Pen' }]);
    const before = (await ctx.db.query('SELECT updated_at FROM products WHERE account_id = $1', [account.id])).rows[0];
    await enrich(account.key);
    const after = (await ctx.db.query('SELECT updated_at, derived_at FROM products WHERE account_id = $1', [account.id])).rows[0];
    expect(after.updated_at).toEqual(before.updated_at);
    const again = await enrich(account.key);
    expect(again.progress).toMatchObject({ rows_unchanged: 1, rows_succeeded: 0 });
    const third = (await ctx.db.query('SELECT derived_at FROM products WHERE account_id = $1', [account.id])).rows[0];
    expect(third.derived_at).toEqual(after.derived_at);
  });

  it('a filter covers only the matching products of the account', async () => {
    const account = await ctx.createAccount();
    const other = await ctx.createAccount();
    await insertProducts(account.id, [
      { ean: '4006381333931', name: 'Pen', brand: 'Stabilo', category: 'Office' },
      { ean: '036000291452', name: 'Tissues', brand: 'Kleenex', category: 'Office' },
      { ean: '9780306406157', name: 'Book', brand: 'Stabilo', category: 'Books' },
    ]);
    await insertProducts(other.id, [{ ean: '4006381333931', name: 'Pen', brand: 'Stabilo', category: 'Office' }]);

    const job = await enrich(account.key, { filter: { brand: 'Stabilo', category: 'Office' } });

    expect(job.progress).toMatchObject({ rows_total: 1, rows_processed: 1 });
    expect((await derived(account.id)).map((row) => [row.ean, row.derived])).toEqual([
      ['036000291452', false], ['4006381333931', true], ['9780306406157', false],
    ]);
    expect((await derived(other.id))[0].derived).toBe(false);
    const since = await enrich(account.key, { filter: { updated_since: new Date(Date.now() + 60_000).toISOString() } });
    expect(since.progress).toMatchObject({ rows_total: 0, rows_processed: 0 });
  });
});

describe('POST /v1/enrichments validation', () => {
  const EANS_MESSAGE = 'eans must be an array of EANs, each a string such as "4006381333931".';

  it.each([
    [{ eans: [1, 'x'] }, 'eans', EANS_MESSAGE],
    [{ eans: '4006381333931' }, 'eans', EANS_MESSAGE],
    [{ overwrite: 'x' }, 'overwrite', 'overwrite must be true or false.'],
    [{ foo: 1 }, 'foo', "Unknown key 'foo': expected one of eans, filter, overwrite, callback_url."],
    [{ filter: { sku: 1 } }, 'filter.sku', "Unknown key 'filter.sku': expected one of brand, category, updated_since."],
    [{ filter: 'red' }, 'filter', 'filter must be an object.'],
    [{ filter: { brand: 1 } }, 'filter.brand', 'filter.brand must be a string.'],
    [{ filter: { category: '' } }, 'filter.category', 'filter.category must not be empty.'],
    [{ filter: { updated_since: 'yesterday' } }, 'filter.updated_since', 'filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.'],
    [{ callback_url: 'nope' }, 'callback_url', 'callback_url must be an absolute http or https URL'],
    [['4006381333931'], 'body', 'The body must be a JSON object, or left out to enrich the whole catalog.'],
  ])('400 BAD_REQUEST for %j naming the field, as an export names it', async (payload, field, message) => {
    const { key } = await ctx.createAccount();
    const response = await post(key, payload);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, detail: message, errors: [{ field, message }] });
  });

  it('400 lists every problem of the body, unknown keys by their own name', async () => {
    const { key } = await ctx.createAccount();
    const response = await post(key, { eans: [1, 'x'], overwrite: 'x', foo: 1 });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'BAD_REQUEST',
      error: EANS_MESSAGE,
      errors: [
        { field: 'eans', message: EANS_MESSAGE },
        { field: 'overwrite', message: 'overwrite must be true or false.' },
        { field: 'foo', message: "Unknown key 'foo': expected one of eans, filter, overwrite, callback_url." },
      ],
    });
    expect((await ctx.get(key, '/v1/jobs')).json()).toEqual({ data: [], next_cursor: null });
  });

  it('400 BAD_REQUEST for an empty EAN list or eans together with a filter', async () => {
    const { key } = await ctx.createAccount();
    const empty = await post(key, { eans: [] });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'eans' }] });
    const both = await post(key, { eans: ['4006381333931'], filter: { brand: 'x' } });
    expect(both.statusCode).toBe(400);
    expect(both.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: 'Send either eans or filter, not both.', errors: [{ field: 'filter' }] });
  });

  it('an Idempotency-Key returns the same job for the same request', async () => {
    const { key } = await ctx.createAccount();
    const first = await post(key, { eans: ['4006381333931'] }, { 'idempotency-key': 'enrich-1' });
    const second = await post(key, { eans: ['4006381333931'] }, { 'idempotency-key': 'enrich-1' });
    expect(second.json<{ id: string }>().id).toBe(first.json<{ id: string }>().id);
    const other = await post(key, { eans: ['4006381333931'], overwrite: true }, { 'idempotency-key': 'enrich-1' });
    expect(other.statusCode).toBe(422);
  });
});
