import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUndocumentedPage } from '../../src/api/plugins/openapi.js';
import { ROW_ERROR_CODES, ROW_ERROR_MEANINGS } from '../../src/shared/jobs/row-error-codes.js';
import { registeredRoutes, toOpenApiPath } from '../support/registered-routes.js';
import { resolveHeader, resolveResponse, type DocumentedHeader, type DocumentedResponse } from '../support/response-conformance.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

interface Operation {
  operationId?: string;
  summary?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; schema: Record<string, unknown> }>;
  requestBody?: unknown;
  responses: Record<string, DocumentedResponse>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { required?: string[] }>;
    securitySchemes: Record<string, unknown>;
    responses: Record<string, DocumentedResponse>;
    headers: Record<string, DocumentedHeader>;
  };
}

let ctx: TestContext;
let document: OpenApiDocument;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  const response = await ctx.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  document = response.json<OpenApiDocument>();
});
afterAll(async () => ctx?.close());

/** The documented operations as `METHOD /path` with the operation. */
function operations(): Array<[string, Operation]> {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, Operation] => [`${method.toUpperCase()} ${path}`, operation]),
  );
}

/** An operation's responses by status, those under components.responses resolved. */
function responsesOf(operation: Operation): Array<[string, DocumentedResponse]> {
  return Object.entries(operation.responses).map(([status, response]) => [status, resolveResponse(document, response)]);
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document', () => {
    expect(document.openapi).toBe('3.1.0');
  });

  it('documents every registered route except HEAD twins and web pages (/docs, /admin/queues)', () => {
    const routes = registeredRoutes(ctx.app).filter((route) => route.method !== 'HEAD' && !isUndocumentedPage(route.path));
    // The walk itself must have found the app's routes, or this test would pass on nothing.
    expect(routes).toEqual(expect.arrayContaining([{ method: 'GET', path: '/v1/jobs/:id/errors.csv' }, { method: 'PATCH', path: '/v1/products/:ean' }]));
    const missing = routes
      .filter((route) => !document.paths[toOpenApiPath(route.path)]?.[route.method.toLowerCase()])
      .map((route) => `${route.method} ${route.path}`);
    expect(missing).toEqual([]);
  });

  it('gives every operation a summary, the one-line name the reference lists it by', () => {
    const documented = operations();
    expect(documented.length).toBeGreaterThan(40);
    const withoutSummary = documented.filter(([, operation]) => !operation.summary?.trim()).map(([name]) => name);
    expect(withoutSummary).toEqual([]);
  });

  it('gives every operation an operationId, camelCase and unique, that generated clients name their methods by', () => {
    const documented = operations();
    const ids = documented.map(([, operation]) => operation.operationId);
    expect(documented.filter(([, operation]) => !/^[a-z][A-Za-z0-9]*$/.test(operation.operationId ?? '')).map(([name]) => name)).toEqual([]);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    // Stable: a client's method names change only when the API does.
    expect(document.paths['/v1/imports']!.post!.operationId).toBe('createImport');
    expect(document.paths['/v1/jobs/{id}']!.get!.operationId).toBe('getJob');
    expect(document.paths['/v1/jobs/{id}/errors']!.get!.operationId).toBe('getJobErrors');
    expect(document.paths['/v1/jobs/{id}/result']!.get!.operationId).toBe('downloadJobResult');
    expect(document.paths['/v1/admin/accounts/{id}/suspend']!.post!.operationId).toBe('suspendAccount');
  });

  it('documents the web pages (Swagger UI, the queue dashboard) as HTML, not their assets', () => {
    expect(Object.keys(document.paths).filter((path) => isUndocumentedPage(path))).toEqual([]);
    for (const page of ['/docs', '/admin/queues']) {
      expect(Object.keys(document.paths[page]!), page).toEqual(['get']);
      expect(Object.keys(document.paths[page]!.get!.responses['200']!.content!), page).toEqual(['text/html']);
    }
    expect(document.paths['/admin/queues']!.get!.security).toEqual([{ dashboardBasicAuth: [] }]);
    expect(Object.keys(document.paths['/admin/queues']!.get!.responses['401']!.headers!)).toEqual(['WWW-Authenticate']);
    expect(isUndocumentedPage('/admin/queues')).toBe(false);
    expect(isUndocumentedPage('/admin/queues/api/queues')).toBe(true);
    expect(isUndocumentedPage('/docs/static/index.html')).toBe(true);
    expect(isUndocumentedPage('/v1/admin/queues')).toBe(false);
  });

  it('declares both credentials, Bearer and X-API-Key, and requires one on every /v1 route but the public ones', () => {
    const publicRoutes = ['POST /v1/signup', 'POST /v1/verify-email', 'GET /v1/verify-email', 'POST /v1/login'];
    expect(document.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      apiKeyAuth: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
      adminBearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      adminApiKeyAuth: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
      dashboardBasicAuth: expect.objectContaining({ type: 'http', scheme: 'basic' }),
    });
    for (const [name, operation] of operations()) {
      if (publicRoutes.includes(name)) expect(operation.security, name).toEqual([]);
      // The operator routes name their own schemes (the operator key), apart from the account routes'.
      else if (name.includes(' /v1/admin/')) expect(operation.security, name).toEqual([{ adminBearerAuth: [] }, { adminApiKeyAuth: [] }]);
      else if (name.includes(' /v1/')) expect(operation.security, name).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    }
    expect(document.paths['/healthz']!.get!.security).toEqual([]);
  });

  it('gives every operation a security entry, `[]` on those that take no credential (security-defined)', () => {
    const withoutSecurity = operations().filter(([, operation]) => !Array.isArray(operation.security)).map(([name]) => name);
    expect(withoutSecurity).toEqual([]);
    const open = operations().filter(([, operation]) => operation.security!.length === 0).map(([name]) => name);
    // /metrics asks for METRICS_TOKEN only when it is set: the document is built without it.
    expect(open.sort()).toEqual(
      ['GET /docs', 'GET /healthz', 'GET /metrics', 'GET /openapi.json', 'GET /readyz', 'GET /v1/verify-email', 'POST /v1/login', 'POST /v1/signup', 'POST /v1/verify-email'],
    );
  });

  it('describes the error envelope once, as the Error component', () => {
    expect(document.components.schemas.Error!.required).toEqual(['error', 'detail', 'error_code', 'timestamp']);
  });

  it('gives every operation a success response and the error responses it can return, each with a schema', () => {
    const errorRef = { $ref: '#/components/schemas/Error' };
    for (const [name, operation] of operations()) {
      const statuses = Object.keys(operation.responses);
      expect(statuses.some((status) => status.startsWith('2')), name).toBe(true);
      for (const [status, response] of responsesOf(operation)) {
        // No body: 204, and a redirect (its Location header is the answer).
        if (status === '204' || status.startsWith('3')) continue;
        const content = response.content ?? {};
        expect(Object.values(content).every((media) => media.schema !== undefined), `${name} ${status}`).toBe(true);
        // The envelope, its error_code narrowed to the codes of the response.
        const errorSchema = content['application/json']?.schema as { allOf?: unknown[] } | undefined;
        if (Number(status) >= 400) expect(errorSchema?.allOf?.[0], `${name} ${status}`).toEqual(errorRef);
      }
      // Any request: headers or body too slow, headers too large, a failure, a closing server.
      const expected = ['408', '431', '500', '503'];
      // Account credentials (not /metrics, which has its own operator token).
      if (operation.security?.length && name.includes(' /v1/')) expected.push('401', '403', '429');
      const pathParameter = operation.parameters?.some((parameter) => parameter.in === 'path');
      // A path names an existing resource (404 when it does not exist), except for PUT, which creates it.
      if (pathParameter && !name.startsWith('PUT ')) expected.push('404');
      // A path parameter the router refuses (414) or a URL it cannot decode (400).
      if (pathParameter) expected.push('400', '414');
      if (operation.parameters?.some((parameter) => parameter.in === 'query') || operation.requestBody) expected.push('400');
      // A body is parsed wherever a method may carry one, even where the route takes none.
      if (/^(POST|PUT|PATCH|DELETE) /.test(name)) expected.push('400', '413', '415');
      expect(statuses, name).toEqual(expect.arrayContaining(expected));
    }
  });

  it('documents the import upload as a raw CSV body, a raw .xlsx workbook or a multipart file field', () => {
    const upload = document.paths['/v1/imports']!.post! as Operation & { requestBody?: { content: Record<string, unknown> } };
    expect(Object.keys(upload.requestBody!.content).sort()).toEqual([
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'multipart/form-data',
      'text/csv',
    ]);
    expect(Object.keys(upload.responses)).toEqual(expect.arrayContaining(['202', '400', '413', '415']));
    // A file part: a client generated from the document sends it as a file, not as a text field.
    const form = upload.requestBody!.content['multipart/form-data'] as { schema: { required: string[]; properties: Record<string, unknown> } };
    expect(form.schema.required).toEqual(['file']);
    expect(form.schema.properties.file).toMatchObject({ type: 'string', format: 'binary' });
  });

  it('documents the product routes with their bodies, parameters and contract errors', () => {
    const product = document.paths['/v1/products/{ean}']!;
    expect(Object.keys(product).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    expect(Object.keys(product.put!.responses)).toEqual(expect.arrayContaining(['200', '201', '422']));
    expect(Object.keys(document.paths['/v1/products']!.post!.responses)).toEqual(expect.arrayContaining(['201', '409', '422']));
    expect(document.paths['/v1/products']!.post!.requestBody).toBeDefined();
    const listParameters = document.paths['/v1/products']!.get!.parameters!.map((parameter) => parameter.name);
    expect(listParameters.sort()).toEqual(['brand', 'category', 'cursor', 'limit', 'q', 'updated_since']);
  });
});

describe('the values the document allows are those the service reads and writes', () => {
  type Schema = { type?: unknown; enum?: unknown[]; anyOf?: Schema[]; minimum?: number; maximum?: number; format?: string };
  const propertiesOf = (name: string) => (document.components.schemas[name] as { properties: Record<string, Schema> }).properties;
  /** The non-null branch of a nullable schema, or the schema itself. */
  const nonNull = (schema: Schema): Schema => schema.anyOf?.find((branch) => branch.type !== 'null') ?? schema;

  it("lists a job's error_code values: the failure codes of each type and the cancellation's", () => {
    const errorCode = propertiesOf('Job').error_code!;
    expect(nonNull(errorCode).enum).toEqual(['IMPORT_FAILED', 'EXPORT_FAILED', 'ENRICHMENT_FAILED', 'JOB_CANCELLED']);
    expect(JSON.stringify(errorCode)).toContain('"null"');
  });

  it('gives every time the service answers with the format date-time, so that clients read it as a date', () => {
    const answered = JSON.parse(JSON.stringify(document, (key, value) => (key === 'requestBody' || key === 'parameters' ? undefined : value)));
    const times = schemaNodes(answered).flatMap((node) =>
      Object.entries((node.properties ?? {}) as Record<string, Schema>).filter(([name]) => /(_at|_until|^timestamp)$/.test(name)),
    );
    expect(times.map(([name]) => name)).toEqual(expect.arrayContaining(['timestamp', 'created_at', 'finished_at', 'resets_at', 'previous_valid_until', 'derived_at']));
    expect(times.filter(([, schema]) => nonNull(schema).format !== 'date-time').map(([name]) => name)).toEqual([]);
  });

  it("lists a key's scopes as a key is given them: the same values answered as sent", () => {
    const answered = propertiesOf('ApiKey').scopes as Schema & { items: Schema };
    const sent = (document.paths['/v1/keys']!.post!.requestBody as {
      content: { 'application/json': { schema: { properties: Record<string, Schema & { items: Schema }> } } };
    }).content['application/json'].schema.properties.scopes!;
    expect(answered.items.enum).toContain('products:read');
    expect(answered.items.enum).toEqual(sent.items.enum);
  });

  it("lists the codes of a job's report, the codes the workers write, each with its meaning (in docs/api.md too)", () => {
    const rowErrorCode = document.components.schemas.RowErrorCode as Schema & { description: string };
    expect(rowErrorCode.enum).toEqual(ROW_ERROR_CODES);
    expect(rowErrorCode.enum).toEqual(expect.arrayContaining(['INVALID_CHECK_DIGIT', 'COLUMN_COUNT', 'RECORD_TOO_LARGE', 'NOT_FOUND_AT_PROVIDER', 'PROVIDER_QUOTA_EXCEEDED']));
    const page = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    for (const [code, meaning] of Object.entries(ROW_ERROR_MEANINGS)) {
      expect(rowErrorCode.description, code).toContain(`- \`${code}\`: ${meaning}`);
      expect(page, code).toContain(`| \`${code}\` | ${meaning} |`);
    }
    const report = document.paths['/v1/jobs/{id}/errors']!.get!.responses['200']!.content!['application/json']!.schema as {
      properties: { data: { items: { properties: { code: unknown } } } };
    };
    expect(report.properties.data.items.properties.code).toEqual({ $ref: '#/components/schemas/RowErrorCode' });
  });

  it('types a written stock as a 32-bit integer from 0, or null', () => {
    for (const name of ['ProductCreateInput', 'ProductReplaceInput', 'ProductPatchInput']) {
      const stock = propertiesOf(name).stock!;
      expect(nonNull(stock), name).toMatchObject({ type: 'integer', minimum: 0, maximum: 2147483647, format: 'int32' });
      expect(JSON.stringify(stock), name).toContain('"null"');
    }
  });

  it("gives an import profile's settings the same values read as written, so a profile read can be PUT back", () => {
    const read = propertiesOf('ImportProfile');
    const written = (document.paths['/v1/import-profiles/{id}']!.put!.requestBody as {
      content: { 'application/json': { schema: { properties: Record<string, Schema> } } };
    }).content['application/json'].schema.properties;
    for (const field of ['delimiter', 'encoding', 'decimal_separator', 'mode', 'on_error']) {
      const values = nonNull(read[field]!).enum;
      expect(values, field).toBeDefined();
      expect(nonNull(written[field]!).enum, field).toEqual(expect.arrayContaining(values!));
    }
    expect(nonNull(read.delimiter!).enum).toEqual([',', ';', '\t']);
    for (const field of ['columns', 'delimiter', 'encoding', 'decimal_separator', 'sheet', 'mode', 'on_error']) {
      expect(JSON.stringify(written[field]), field).toContain('"null"');
    }
  });
});

/** Every schema object in `value` (a whole document or a part of it). */
function schemaNodes(value: unknown, found: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  if (Array.isArray(value)) for (const item of value) schemaNodes(item, found);
  else if (value && typeof value === 'object') {
    found.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) schemaNodes(child, found);
  }
  return found;
}

describe('the limits the document states (OWASP API4, checked in full by npm run lint:openapi)', () => {
  const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

  it('documents X-RateLimit-* wherever a counted request can get the status, and Retry-After on every 429 and 503', () => {
    for (const [name, operation] of operations()) {
      const accountRoute = operation.security?.some((requirement) => 'bearerAuth' in requirement) ?? false;
      const operatorRoute = operation.security?.some((requirement) => 'adminBearerAuth' in requirement) ?? false;
      for (const [status, response] of responsesOf(operation)) {
        const headers = Object.keys(response.headers ?? {});
        const rateLimit = headers.filter((header) => header.startsWith('X-RateLimit-'));
        // Refused before any key is counted: a key that does not pass, a path or headers the server refuses.
        const counted = !['401', '414', '431'].includes(status);
        // On an operator route, only an account's key is counted: it is refused (403) or over its limits (429).
        const expected = (accountRoute && counted) || (operatorRoute && ['403', '429'].includes(status));
        expect(rateLimit, `${name} ${status}`).toEqual(expected ? RATE_LIMIT_HEADERS : []);
        if (status === '429' || status === '503') expect(headers, `${name} ${status}`).toContain('Retry-After');
        if (status === '503') expect(resolveHeader(document, response.headers!['Retry-After']!).required, `${name} ${status}`).toBe(true);
      }
    }
    expect(document.paths['/v1/products/{ean}']!.get!.responses['200']!.headers).toBeDefined();
  });

  it('gives every integer a format and every string parameter a maximum length or a list of values', () => {
    const integers = schemaNodes(document).filter((node) => node.type === 'integer');
    expect(integers.length).toBeGreaterThan(10);
    expect(integers.filter((node) => node.format !== 'int32' && node.format !== 'int64')).toEqual([]);
    for (const [name, operation] of operations()) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema.type !== 'string') continue;
        expect(parameter.schema.maxLength ?? parameter.schema.enum, `${name} ${parameter.name}`).toBeDefined();
      }
    }
  });

  it('refuses a path parameter over its documented maxLength with 414 (the router does, before any route)', async () => {
    const documented = document.paths['/v1/products/{ean}']!.get!.parameters![0]!.schema.maxLength as number;
    const longest = await ctx.app.inject({ method: 'GET', url: `/v1/products/${'1'.repeat(documented)}` });
    expect(longest.statusCode).toBe(401);
    const over = await ctx.app.inject({ method: 'GET', url: `/v1/products/${'1'.repeat(documented + 1)}` });
    expect(over.statusCode).toBe(414);
    expect(over.json()).toMatchObject({ error: 'A path parameter is too long.', error_code: 'BAD_REQUEST' });
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/docs' });
    const page = response.statusCode === 302 ? await ctx.app.inject({ method: 'GET', url: response.headers.location as string }) : response;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('swagger');
  });
});
