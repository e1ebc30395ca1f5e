import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/shared/http/app-error.js';
import { resolveResponse, type DocumentedResponse, type OpenApiDocument } from '../support/response-conformance.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

interface ErrorSchema {
  allOf?: [unknown, { properties: { error_code: { enum: string[] } } }];
}

let ctx: TestContext;
let document: OpenApiDocument & { components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> } };

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  document = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(async () => ctx?.close());

/** Every documented response as `METHOD /path status`, those under components.responses resolved. */
function responses(): Array<[string, DocumentedResponse]> {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).flatMap(([method, operation]) =>
      Object.entries(operation.responses).map(([status, response]): [string, DocumentedResponse] => [
        `${method.toUpperCase()} ${path} ${status}`,
        resolveResponse(document, response),
      ]),
    ),
  );
}

/** The response of `name` (`POST /v1/products 409`). */
function response(name: string): DocumentedResponse & { description?: string } {
  const found = responses().find(([key]) => key === name);
  if (!found) throw new Error(`${name} is not documented`);
  return found[1];
}

/** The error_code values the error response `name` lists. */
function codesOf(name: string): string[] {
  const schema = response(name).content?.['application/json']?.schema as ErrorSchema | undefined;
  return schema?.allOf?.[1].properties.error_code.enum ?? [];
}

describe('the error codes each response lists', () => {
  it('lists on every error response the error_code values it can carry, and says each in its description', () => {
    const errors = responses().filter(([name]) => Number(name.split(' ')[2]) >= 400);
    expect(errors.length).toBeGreaterThan(300);
    for (const [name, documented] of errors) {
      const codes = codesOf(name);
      expect(codes.length, name).toBeGreaterThan(0);
      expect(ERROR_CODES, name).toEqual(expect.arrayContaining(codes));
      for (const code of codes) expect((documented as { description: string }).description, name).toContain(`\`${code}\``);
    }
  });

  it('lists every error code of the contract on some response', () => {
    const listed = new Set(responses().flatMap(([name]) => (Number(name.split(' ')[2]) >= 400 ? codesOf(name) : [])));
    expect([...ERROR_CODES].filter((code) => !listed.has(code))).toEqual([]);
  });

  it('names the codes that differ from route to route where those routes answer them', () => {
    expect(codesOf('POST /v1/products 409')).toEqual(['DUPLICATE_EAN']);
    expect(codesOf('POST /v1/import-profiles 409')).toEqual(['DUPLICATE_NAME']);
    expect(codesOf('PUT /v1/import-profiles/{id} 409')).toEqual(['DUPLICATE_NAME']);
    expect(codesOf('POST /v1/export-schedules 409')).toEqual(['LIMIT_EXCEEDED']);
    expect(codesOf('POST /v1/signup 409')).toEqual(['EMAIL_TAKEN']);
    expect(codesOf('POST /v1/admin/accounts 409')).toEqual(['EMAIL_TAKEN']);
    for (const name of ['GET /v1/jobs/{id}/result 409', 'GET /v1/jobs/{id}/rows.csv 409', 'POST /v1/jobs/{id}/retry 409']) {
      expect(codesOf(name), name).toEqual(['JOB_NOT_FINISHED']);
    }
    expect(codesOf('POST /v1/login 401')).toEqual(['INVALID_CREDENTIALS']);
    expect(codesOf('POST /v1/login 403')).toEqual(['EMAIL_NOT_VERIFIED', 'ACCOUNT_SUSPENDED']);
    expect(codesOf('POST /v1/login 423')).toEqual(['ACCOUNT_LOCKED']);
    expect(codesOf('POST /v1/signup 400')).toEqual(['BAD_REQUEST', 'VALIDATION_ERROR']);
    expect(codesOf('GET /v1/products 401')).toEqual(['AUTHENTICATION_REQUIRED', 'INVALID_API_KEY', 'API_KEY_EXPIRED']);
    expect(codesOf('GET /v1/products 429')).toEqual(['RATE_LIMIT_EXCEEDED', 'QUOTA_EXCEEDED']);
    expect(codesOf('POST /v1/signup 429')).toEqual(['RATE_LIMIT_EXCEEDED']);
    expect(codesOf('POST /v1/jobs/{id}/cancel 414')).toEqual(['BAD_REQUEST']);
    expect(codesOf('GET /healthz 408')).toEqual(['REQUEST_TIMEOUT']);
    expect(codesOf('GET /healthz 431')).toEqual(['REQUEST_HEADERS_TOO_LARGE']);
  });

  it('describes every field an error can carry besides the four every error has', () => {
    const properties = document.components.schemas.Error!.properties;
    const extras = ['errors', 'retry_after_seconds', 'limit', 'tier', 'limit_bytes', 'limit_fields', 'limit_field_bytes', 'limit_parts', 'checks'];
    expect(Object.keys(properties)).toEqual(['error', 'detail', 'error_code', 'timestamp', ...extras]);
    for (const field of extras) expect(properties[field]!.description, field).toBeTruthy();
  });
});

describe('the headers and media types of the answers', () => {
  it('documents the export file in each media type it is sent in, as an attachment', () => {
    const result = response('GET /v1/jobs/{id}/result 200');
    expect(Object.keys(result.content!)).toEqual(['text/csv', 'application/x-ndjson', 'application/gzip']);
    for (const name of ['GET /v1/jobs/{id}/result 200', 'GET /v1/jobs/{id}/errors.csv 200', 'GET /v1/jobs/{id}/rows.csv 200']) {
      expect(response(name).headers?.['Content-Disposition'], name).toMatchObject({ required: true });
    }
    expect(response('GET /v1/jobs/{id}/result 302').headers?.Location).toMatchObject({ required: true });
  });

  it('documents Location on every 202 that starts a job and on the 201 of POST /v1/products', () => {
    const accepted = responses().filter(([name]) => name.endsWith(' 202'));
    expect(accepted.map(([name]) => name)).toEqual([
      'POST /v1/imports 202',
      'POST /v1/enrichments 202',
      'POST /v1/exports 202',
      'POST /v1/jobs/{id}/retry 202',
    ]);
    for (const [name, documented] of accepted) expect(documented.headers?.Location, name).toMatchObject({ required: true });
    expect(response('POST /v1/products 201').headers?.Location).toMatchObject({ required: true });
  });

  it('writes the refusals that carry no rate-limit headers once, under components.responses', () => {
    expect(Object.keys(document.components?.responses ?? {})).toEqual(['Unauthorized', 'PathParameterTooLong', 'RequestHeadersTooLarge']);
    expect(document.paths['/v1/products']!.get!.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
    for (const shared of Object.values(document.components!.responses!)) expect(shared.headers).toBeUndefined();
  });
});
