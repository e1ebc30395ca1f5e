import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/shared/http/app-error.js';
import { resolveResponse, type DocumentedResponse, type OpenApiDocument } from '../support/response-conformance.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

interface Parameter {
  name: string;
  in: string;
  description?: string;
}

interface Operation {
  description?: string;
  parameters?: Parameter[];
  responses: Record<string, unknown>;
  requestBody?: { content: Record<string, { schema: { properties: Record<string, { description?: string; items?: { enum?: string[] } }> } }> };
}

let ctx: TestContext;
let document: OpenApiDocument & { info: { description: string }; paths: Record<string, Record<string, Operation>> };
let account: { id: string; key: string };

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
  document = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(async () => ctx?.close());

const operation = (path: string, method: string) => document.paths[path]![method]!;

/** The description of the documented response `status` of `method path`. */
function described(path: string, method: string, status: number): string {
  const documented = operation(path, method).responses[String(status)] as DocumentedResponse;
  const response = resolveResponse(document, documented) as DocumentedResponse & { description?: string };
  return response.description ?? '';
}

/** Placeholders `{…}` of a documented sentence as a pattern matching the sentence sent. */
function sentencePattern(sentence: string): RegExp {
  const escaped = sentence.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\\?\{[a-z_]+\\?\}/g, '.+')}$`);
}

/** The exact `error` sentences a response's description lists for `code`. */
function sentencesFor(description: string, code: string): string[] {
  const line = description.split('\n').find((text) => text.startsWith(`- \`${code}\``)) ?? '';
  const listed = /`error`: (.*?)(?:; others: .*)?$/.exec(line)?.[1] ?? '';
  return [...listed.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}

/** Expects the answer's `error` to be one of the sentences its documented response lists for its code. */
function expectDocumented(response: LightMyRequestResponse, path: string, method: string): void {
  const body = response.json<{ error: string; error_code: string }>();
  const sentences = sentencesFor(described(path, method, response.statusCode), body.error_code);
  expect(sentences.some((sentence) => sentencePattern(sentence).test(body.error)), `${body.error} in ${sentences.join(' | ')}`).toBe(true);
}

describe('the exact error sentences the document gives', () => {
  it('lists, in its Errors section, every sentence of the HTTP contract with its status and code', () => {
    const rows = document.info.description.split('\n').filter((line) => line.startsWith('| '));
    const row = (status: number, code: string) => rows.find((line) => line.startsWith(`| ${status} | \`${code}\` |`)) ?? '';
    expect(row(401, 'AUTHENTICATION_REQUIRED')).toContain('`Missing API key');
    expect(row(401, 'INVALID_API_KEY')).toContain('`Invalid API key.`');
    expect(row(401, 'API_KEY_EXPIRED')).toContain('`API key expired.`');
    expect(row(401, 'INVALID_CREDENTIALS')).toContain('`Invalid email or password.`');
    expect(row(403, 'EMAIL_NOT_VERIFIED')).toContain('`Email not verified.`');
    expect(row(403, 'ACCOUNT_SUSPENDED')).toContain('`Account suspended.`');
    expect(row(404, 'NOT_FOUND')).toContain('`Product not found`');
    expect(row(409, 'DUPLICATE_EAN')).toContain('`A product with this EAN already exists.`');
    expect(row(400, 'BAD_REQUEST')).toContain("`The multipart field 'file' must be a file part (with a filename), not a text field: send the CSV as a file.`");
    expect(row(400, 'BAD_REQUEST')).toContain("`The multipart body has no 'file' field: send the CSV as the field named 'file'.`");
    expect(row(423, 'ACCOUNT_LOCKED')).toContain('`Account locked after too many failed logins; try again in {seconds} seconds.`');
    expect(row(429, 'RATE_LIMIT_EXCEEDED')).toContain('`Per-minute rate limit exceeded.`');
    expect(row(429, 'RATE_LIMIT_EXCEEDED')).toContain('`Too many unauthenticated API requests');
    expect(row(429, 'RATE_LIMIT_EXCEEDED')).toContain('`Too many invalid API key attempts');
    expect(row(429, 'QUOTA_EXCEEDED')).toContain('`Monthly quota exceeded.`');
    expect(row(500, 'INTERNAL_ERROR')).toContain('`Internal server error.`');
    for (const code of ERROR_CODES) expect(rows.some((line) => line.includes(`| \`${code}\` |`)), code).toBe(true);
    const { components } = document as unknown as { components: { schemas: Record<string, unknown> } };
    expect(components.schemas.Error).toMatchObject({ properties: { error: { description: expect.stringContaining('Errors') } } });
  });

  it('gives docs/api.md the same Errors section, after the credentials', () => {
    const page = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    expect(page.indexOf('\n## Errors\n')).toBeGreaterThan(page.indexOf('\n## Credentials\n'));
    expect(page).toContain('| 401 | `INVALID_API_KEY` | `Invalid API key.` |');
  });

  it('documents the sentence a refused key, an unknown product and a job of another type are answered with', async () => {
    expectDocumented(await ctx.app.inject({ method: 'GET', url: '/v1/products/4006381333931' }), '/v1/products/{ean}', 'get');
    expectDocumented(await ctx.get('ck_nope', '/v1/products/4006381333931'), '/v1/products/{ean}', 'get');
    expectDocumented(await ctx.get(account.key, '/v1/products/4006381333931'), '/v1/products/{ean}', 'get');
    const upload = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n');
    const result = await ctx.get(account.key, `/v1/jobs/${upload.json().id}/result`);
    expect(result.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'This job is an import: only an export job has a result file.' });
    expectDocumented(result, '/v1/jobs/{id}/result', 'get');
  });

  it("documents the result's 404 of a cancelled export", async () => {
    const headers = { 'x-api-key': account.key };
    const started = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers, payload: { format: 'csv' } });
    const { id } = started.json<{ id: string }>();
    await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers });
    const result = await ctx.get(account.key, `/v1/jobs/${id}/result`);
    expect(result.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'This export ended cancelled and has no result file.' });
    expectDocumented(result, '/v1/jobs/{id}/result', 'get');
  });

  it('documents the Idempotency-Key of each job-starting POST, and the 422 of a key reused with another request', async () => {
    for (const path of ['/v1/imports', '/v1/exports', '/v1/enrichments']) {
      const header = operation(path, 'post').parameters?.find((parameter) => parameter.name === 'idempotency-key');
      expect(header?.description, path).toMatch(/within 24 hours, the same request with the same key answers with the job the first request started/);
      expect(sentencesFor(described(path, 'post', 422), 'VALIDATION_ERROR'), path).toEqual(['This Idempotency-Key was already used with a different request.']);
    }
    const headers = { 'x-api-key': account.key, 'idempotency-key': 'same-key' };
    await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers, payload: { format: 'csv' } });
    const reused = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers, payload: { format: 'ndjson' } });
    expect(reused.statusCode).toBe(422);
    expectDocumented(reused, '/v1/exports', 'post');
  });
});

describe('who may cancel or retry a job', () => {
  it("says the job type's write scope only, not any key of the account", () => {
    for (const path of ['/v1/jobs/{id}/cancel', '/v1/jobs/{id}/retry']) {
      const description = operation(path, 'post').description ?? '';
      expect(description, path).not.toContain('any key of the account');
      expect(description.match(/Needs /g), path).toHaveLength(1);
      expect(description, path).toContain("Needs a key with the job type's write scope, `imports:write`, `exports:write` or `enrichments:write` (or the operator key).");
    }
  });

  it('refuses a key without that scope, as documented', async () => {
    const headers = { 'x-api-key': account.key };
    const started = await ctx.app.inject({ method: 'POST', url: '/v1/exports', headers, payload: { format: 'csv' } });
    const limited = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers, payload: { name: 'reader', scopes: ['jobs:read'] } });
    const cancel = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${started.json().id}/cancel`, headers: { 'x-api-key': limited.json().key } });
    expect(cancel.statusCode).toBe(403);
    expect(cancel.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'exports:write' scope." });
    expectDocumented(cancel, '/v1/jobs/{id}/cancel', 'post');
  });
});

describe('the scopes of a new key', () => {
  it('offers every scope but admin, and says what a key left without scopes gets', async () => {
    const scopes = operation('/v1/keys', 'post').requestBody!.content['application/json']!.schema.properties.scopes!;
    expect(scopes.items?.enum).not.toContain('admin');
    expect(scopes.items?.enum).toContain('keys:manage');
    expect(scopes.description).toMatch(/^Left out: the creating key's own scopes/);
    const refused = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': account.key }, payload: { name: 'k', scopes: ['admin'] } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: "The 'admin' scope is for operators and cannot be granted to a key.",
      errors: [{ field: 'scopes', message: "The 'admin' scope is for operators and cannot be granted to a key." }],
    });
  });
});
