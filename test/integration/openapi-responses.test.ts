import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateJson } from '../support/json-schema.js';
import { eanNumber } from '../support/products.js';
import { toOpenApiPath } from '../support/registered-routes.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

interface MediaType {
  schema: Record<string, unknown>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, MediaType> }> }>>;
}

let ctx: TestContext;
let document: OpenApiDocument;
let account: { id: string; key: string };

beforeAll(async () => {
  ctx = await createTestContext();
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

/** Makes the call, then checks its status is documented and its body matches that status's schema. */
async function callAndCheck(call: Call): Promise<LightMyRequestResponse> {
  const key = call.key === undefined ? account.key : call.key;
  const response = await ctx.app.inject({
    method: call.method,
    url: call.url ?? call.route,
    headers: { ...(key ? { 'x-api-key': key } : {}), ...call.headers },
    ...(call.payload === undefined ? {} : { payload: call.payload as string }),
  });
  const name = `${call.method} ${call.url ?? call.route} → ${response.statusCode}`;
  const documented = document.paths[toOpenApiPath(call.route)]?.[call.method.toLowerCase()]?.responses[String(response.statusCode)];
  expect(documented, `${name}: status not documented`).toBeDefined();
  if (response.statusCode === 204) {
    expect(response.body, name).toBe('');
    return response;
  }
  const mediaType = String(response.headers['content-type']).split(';')[0]!;
  const media = documented!.content?.[mediaType];
  expect(media, `${name}: ${mediaType} not documented`).toBeDefined();
  const body: unknown = mediaType === 'application/json' ? response.json() : response.body;
  expect(validateJson(body, media!.schema, document), name).toEqual([]);
  return response;
}

describe('real responses match the documented response schemas', () => {
  it('products: every success and error status of the product routes', async () => {
    const ean = eanNumber(1);
    const product = { ean, name: 'Pen', price: '1.50', currency: 'EUR', stock: 1, attributes: { color: 'blue', size: 3, ok: true } };
    await callAndCheck({ method: 'POST', route: '/v1/products', payload: product });
    await callAndCheck({ method: 'POST', route: '/v1/products', payload: product });
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
    await ctx.waitForJob(account.key, jobId);
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id', url: `/v1/jobs/${jobId}` });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id', url: '/v1/jobs/00000000-0000-4000-8000-000000000000' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs', url: '/v1/jobs?type=import' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs', url: '/v1/jobs?type=nope' });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/errors', url: `/v1/jobs/${jobId}/errors` });
    await callAndCheck({ method: 'GET', route: '/v1/jobs/:id/errors.csv', url: `/v1/jobs/${jobId}/errors.csv` });
    await callAndCheck({ method: 'POST', route: '/v1/imports', payload: '{}', headers: { 'content-type': 'application/json' } });
    await callAndCheck({ method: 'POST', route: '/v1/imports', payload: '', headers: { 'content-type': 'text/csv' } });
  });

  it('credentials and scopes: 401 and 403', async () => {
    await callAndCheck({ method: 'GET', route: '/v1/products', key: null });
    await callAndCheck({ method: 'GET', route: '/v1/jobs', key: 'ck_not-a-real-key-at-all' });
    const limited = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET scopes = '{jobs:read}' WHERE account_id = $1", [limited.id]);
    await callAndCheck({ method: 'GET', route: '/v1/products', key: limited.key });
  });

  it('operator onboarding, health, readiness and the document itself', async () => {
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'ops-check@example.com' } });
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'nope' } });
    await callAndCheck({ method: 'POST', route: '/v1/admin/accounts', key: ADMIN_KEY, payload: { email: 'ops-check@example.com' } });
    await callAndCheck({ method: 'GET', route: '/healthz', key: null });
    await callAndCheck({ method: 'GET', route: '/readyz', key: null });
    await callAndCheck({ method: 'GET', route: '/openapi.json', key: null });
  });
});
