import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, uniqueEmail } from '../support/accounts.js';
import { runExportJob } from '../support/exports.js';
import { eanNumber } from '../support/products.js';
import { conformance, type OpenApiDocument } from '../support/response-conformance.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let document: OpenApiDocument;
let account: { id: string; key: string };

beforeAll(async () => {
  ctx = await createTestContext({ env: { MAX_EXPORT_SCHEDULES_PER_ACCOUNT: '1' } });
  account = await ctx.createAccount();
  document = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>();
});
afterAll(async () => ctx?.close());

/** A call of the API, named by its route (`/v1/jobs/:id`), so its documented responses can be found. */
interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  route: string;
  url?: string;
  payload?: unknown;
  headers?: Record<string, string>;
  key?: string | null;
}

/**
 * Makes the call, then checks its answer against the document: the status is documented for the
 * route, the media type for the status, the body matches its schema (an error's `error_code` is
 * one the response lists), and every header the document describes is declared where it is sent
 * and sent where it is declared required.
 */
async function callAndCheck(call: Call): Promise<LightMyRequestResponse> {
  const key = call.key === undefined ? account.key : call.key;
  const response = await ctx.app.inject({
    method: call.method,
    url: call.url ?? call.route,
    headers: { ...(key ? { 'x-api-key': key } : {}), ...call.headers },
    ...(call.payload === undefined ? {} : { payload: call.payload as string }),
  });
  const sent = {
    method: call.method,
    route: call.route,
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? '').split(';')[0]!,
    hasBody: response.rawPayload.length > 0,
    body: response.body,
    headers: Object.keys(response.headers),
  };
  expect(conformance(sent, document), `${call.method} ${call.url ?? call.route}`).toEqual([]);
  return response;
}

const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`operator:${password}`).toString('base64')}` });

describe('real responses match the documented response schemas', () => {
  it('products: every success and error status of the product routes', async () => {
    const ean = eanNumber(1);
    const product = { ean, name: 'Pen', price: '1.50', currency: 'EUR', stock: 1, attributes: { color: 'blue', size: 3, ok: true } };
    const created = await callAndCheck({ method: 'POST', route: '/v1/products', payload: product });
    expect(created.headers.location).toBe(`/v1/products/${ean}`);
    const duplicate = await callAndCheck({ method: 'POST', route: '/v1/products', payload: product });
    expect(duplicate.json()).toMatchObject({ error_code: 'DUPLICATE_EAN' });
    await callAndCheck({ method: 'POST', route: '/v1/products', payload: {} });
    await callAndCheck({ method: 'POST', route: '/v1/products', payload: '{', headers: { 'content-type': 'application/json' } });
    await callAndCheck({ method: 'GET', route: '/v1/products/:ean', url: `/v1/products/${ean}` });
    await callAndCheck({ method: 'GET', route: '/v1/products/:ean', url: '/v1/products/123' });
    await callAndCheck({ method: 'PUT', route: '/v1/products/:ean', url: `/v1/products/${eanNumber(2)}`, payload: { name: 'New' } });
    await callAndCheck({ method: 'PUT', route: '/v1/products/:ean', url: `/v1/products/${ean}`, payload: { name: 'Replaced' } });
    await callAndCheck({ method: 'PUT', route: '/v1/products/:ean', url: `/v1/products/${ean}`, payload: { ean: eanNumber(3), name: 'x' } });
    await callAndCheck({ method: 'PATCH', route: '/v1/products/:ean', url: `/v1/products/${ean}`, payload: { stock: 2 } });
    await callAndCheck({ method: 'PATCH', route: '/v1/products/:ean', url: `/v1/products/${eanNumber(4)}`, payload: { stock: 2 } });
    await callAndCheck({ method: 'GET', route: '/v1/products', url: '/v1/products?limit=1' });
    await callAndCheck({ method: 'GET', route: '/v1/products', url: '/v1/products?limit=0' });
    await callAndCheck({ method: 'DELETE', route: '/v1/products/:ean', url: `/v1/products/${ean}` });
    await callAndCheck({ method: 'DELETE', route: '/v1/products/:ean', url: `/v1/products/${ean}` });
  });

  it('imports and jobs: accepted, the job, the list, the report as JSON and CSV, and their errors', async () => {
    const csv = `ean,name,price,currency\n${eanNumber(10)},Good,1.00,EUR\n4006381333932,Bad check digit,,\n`;
    const accepted = await callAndCheck({
      method: 'POST', route: '/v1/imports', url: '/v1/imports?on_error=skip', payload: csv, headers: { 'content-type': 'text/csv' },
    });
    const jobId = accepted.json<{ id: string }>().id;
    expect(accepted.headers.location).toBe(`/v1/jobs/${jobId}`);
    await ctx.waitForJob(account.key, jobId);
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id', url: `/v1/jobs/${jobId}` });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id', url: '/v1/jobs/00000000-0000-4000-8000-000000000000' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs', url: '/v1/jobs?type=import' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs', url: '/v1/jobs?type=nope' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/errors', url: `/v1/jobs/${jobId}/errors` });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/errors.csv', url: `/v1/jobs/${jobId}/errors.csv` });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/rows.csv', url: `/v1/jobs/${jobId}/rows.csv` });
    await callAndCheck({ method: 'POST', route: '/v1/imports', payload: '{}', headers: { 'content-type': 'application/json' } });
    await callAndCheck({ method: 'POST', route: '/v1/imports', payload: '', headers: { 'content-type': 'text/csv' } });
    // A failed import runs again: 202 with Location, as a new job.
    const failed = await ctx.importCsv(account.key, 'ean,name\n4006381333932,Bad check digit\n');
    expect(failed.status).toBe('failed');
    const retried = await callAndCheck({ method: 'POST', route: '/v1/jobs/:id/retry', url: `/v1/jobs/${failed.id}/retry` });
    expect(retried.headers.location).toBe(`/v1/jobs/${failed.id}`);
    await ctx.waitForJob(account.key, failed.id);
  });

  it("exports: accepted, the file in each format's media type as an attachment, and JOB_NOT_FINISHED", async () => {
    const accepted = await callAndCheck({ method: 'POST', route: '/v1/exports', payload: { format: 'csv' } });
    expect(accepted.headers.location).toBe(`/v1/jobs/${accepted.json<{ id: string }>().id}`);
    for (const options of [{ format: 'csv' }, { format: 'ndjson' }, { format: 'csv', gzip: true }]) {
      const job = await runExportJob(ctx, account.key, options);
      const file = await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/result', url: `/v1/jobs/${job.id}/result` });
      expect(file.statusCode).toBe(200);
      expect(file.headers['content-disposition']).toMatch(/^attachment; filename="catalog-/);
    }
    const running = await runExportJob(ctx, account.key, { format: 'ndjson' });
    await ctx.db.query("UPDATE jobs SET status = 'processing' WHERE id = $1", [running.id]);
    const early = await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/result', url: `/v1/jobs/${running.id}/result` });
    expect(early.json()).toMatchObject({ error_code: 'JOB_NOT_FINISHED' });
    await ctx.db.query("UPDATE jobs SET status = 'completed' WHERE id = $1", [running.id]);
  });

  it('routes without a body schema: a malformed or non-JSON body, and an overlong or undecodable path', async () => {
    const job = '00000000-0000-4000-8000-000000000000';
    for (const [method, route, url] of [
      ['POST', '/v1/jobs/:id/cancel', `/v1/jobs/${job}/cancel`],
      ['DELETE', '/v1/keys/:id', `/v1/keys/${job}`],
      ['POST', '/v1/callback-secret', '/v1/callback-secret'],
    ] as const) {
      const malformed = await callAndCheck({ method, route, url, payload: '{', headers: { 'content-type': 'application/json' } });
      expect(malformed.statusCode).toBe(400);
      const xml = await callAndCheck({ method, route, url, payload: '<job/>', headers: { 'content-type': 'application/xml' } });
      expect(xml.statusCode).toBe(415);
    }
    const long = await callAndCheck({ method: 'POST', route: '/v1/jobs/:id/cancel', url: `/v1/jobs/${'a'.repeat(101)}/cancel` });
    expect(long.statusCode).toBe(414);
    expect(long.headers['x-ratelimit-limit']).toBeUndefined();
    const undecodable = await callAndCheck({ method: 'GET', route: '/v1/jobs/:id', url: '/v1/jobs/%E0%A4%A' });
    expect(undecodable.json()).toMatchObject({ error: 'The URL is not valid.', error_code: 'BAD_REQUEST' });
  });

  it('credentials and scopes: 401 and 403, with the rate-limit headers only where the key was counted', async () => {
    const missing = await callAndCheck({ method: 'GET', route: '/v1/products', key: null });
    const invalid = await callAndCheck({ method: 'GET', route: '/v1/jobs', key: 'ck_not-a-real-key-at-all' });
    for (const refused of [missing, invalid]) expect(refused.headers['x-ratelimit-limit']).toBeUndefined();
    const limited = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET scopes = '{jobs:read}' WHERE account_id = $1", [limited.id]);
    const denied = await callAndCheck({ method: 'GET', route: '/v1/products', key: limited.key });
    expect(denied.headers['x-ratelimit-limit']).toBeDefined();
    await callAndCheck({ method: 'GET', route: '/v1/admin/queues', key: limited.key });
    await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [limited.id]);
    const suspended = await callAndCheck({ method: 'GET', route: '/v1/products', key: limited.key });
    expect(suspended.json()).toMatchObject({ error_code: 'ACCOUNT_SUSPENDED' });
    expect(suspended.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('route-specific conflicts: a profile name taken, the schedule limit, an email taken, and a locked login', async () => {
    const profile = { name: 'Supplier A', delimiter: ';' };
    await callAndCheck({ method: 'POST', route: '/v1/import-profiles', payload: profile });
    const taken = await callAndCheck({ method: 'POST', route: '/v1/import-profiles', payload: profile });
    expect(taken.json()).toMatchObject({ error_code: 'DUPLICATE_NAME' });
    const schedule = { cron: '0 3 * * *', export: { format: 'csv' } };
    await callAndCheck({ method: 'POST', route: '/v1/export-schedules', payload: schedule });
    const overLimit = await callAndCheck({ method: 'POST', route: '/v1/export-schedules', payload: schedule });
    expect(overLimit.json()).toMatchObject({ error_code: 'LIMIT_EXCEEDED', limit: 1 });
    const email = uniqueEmail('conformance');
    await callAndCheck({ method: 'POST', route: '/v1/signup', payload: { email, password: PASSWORD }, key: null });
    const again = await callAndCheck({ method: 'POST', route: '/v1/signup', payload: { email, password: PASSWORD }, key: null });
    expect(again.json()).toMatchObject({ error_code: 'EMAIL_TAKEN' });
    const codes = new Set<string>();
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const login = await callAndCheck({ method: 'POST', route: '/v1/login', payload: { email, password: 'wrong password' }, key: null });
      codes.add(login.json<{ error_code: string }>().error_code);
    }
    expect([...codes]).toEqual(['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED']);
  });

  it('operator onboarding, health, readiness, the document and the web pages', async () => {
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'ops-check@example.com' } });
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'nope' } });
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'ops-check@example.com' } });
    await callAndCheck({ method: 'GET', route: '/healthz', key: null });
    await callAndCheck({ method: 'GET', route: '/readyz', key: null });
    await callAndCheck({ method: 'GET', route: '/openapi.json', key: null });
    await callAndCheck({ method: 'GET', route: '/docs', key: null });
    await callAndCheck({ method: 'GET', route: '/admin/queues', key: null });
    await callAndCheck({ method: 'GET', route: '/admin/queues', key: null, headers: basic('not the operator key') });
    const dashboard = await callAndCheck({ method: 'GET', route: '/admin/queues', key: null, headers: basic(ADMIN_KEY) });
    expect(dashboard.statusCode).toBe(200);
  });
});
