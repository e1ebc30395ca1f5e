import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { XLSX_MEDIA_TYPE } from '../../shared/jobs/upload-formats.js';
import { errorResponses } from '../schemas.js';
import { addImplicitBounds } from './openapi-bounds.js';
import { errorsSection } from './openapi-error-strings.js';
import { reportCodesSection } from './openapi-report-codes.js';
import type { RouteAudience } from './openapi-headers.js';
import { DASHBOARD_SECURITY_SCHEME, DOCS_PREFIX, entryPage, isUndocumentedPage } from './openapi-pages.js';
import { documentResponses, fixHeaders, implicitErrorStatuses, shareResponses } from './openapi-responses.js';

export { isUndocumentedPage } from './openapi-pages.js';

/**
 * Either credential of API.md §2 is accepted wherever a key is needed. The operator routes (scope
 * `admin`) name their own schemes, the same two headers carrying a key with the `admin` scope, so
 * that no operator route shares its requirement with an account route.
 */
const keySecurity = (scope: string | undefined) =>
  scope === 'admin' ? [{ adminBearerAuth: [] }, { adminApiKeyAuth: [] }] : [{ bearerAuth: [] }, { apiKeyAuth: [] }];

const ADMIN_KEY = 'the operator key (ADMIN_API_KEY), the only key with the `admin` scope';

/** The tag of a path: its first segment after /v1 (products, jobs, …), else "operations". */
function tagOf(url: string): string {
  const match = /^\/v1\/([^/]+)/.exec(url);
  return match ? match[1]! : 'operations';
}

/**
 * Documents each route from its zod schemas, adding what the route's options already say: the
 * credentials and scope it needs (`config.scope`), a tag, the errors every route of its kind can
 * answer, and each response's headers and error codes (see openapi-responses.ts). Of the web
 * pages, only the entry pages are documented (openapi-pages.ts).
 */
const transform: SwaggerTransform = (document) => {
  const { route } = document;
  const page = entryPage(route.method, document.url);
  if (!page && isUndocumentedPage(document.url)) return { schema: { hide: true }, url: document.url };
  const url = page?.path ?? document.url;
  const scope = route.config?.scope;
  const schema: Record<string, unknown> = { tags: [tagOf(url)], ...(page?.schema ?? document.schema) };
  const authenticated = Boolean(scope || route.config?.authenticated);
  if (authenticated) {
    schema.security = keySecurity(scope);
    const who = scope ? `a key with the \`${scope}\` scope` : (route.config?.scopeChecked ?? 'any key of the account');
    const alternatives = [route.config?.sessionAllowed && 'a session token from /v1/login', route.config?.adminAllowed && 'the operator key'];
    const also = alternatives.filter(Boolean).join(' or ');
    const needs = `Needs ${who}${also ? ` (or ${also})` : ''}.`;
    schema.description = [schema.description, needs].filter(Boolean).join('\n\n');
  }
  const response = schema.response as Record<string, unknown> | undefined;
  if (response) schema.response = { ...errorResponses(...implicitErrorStatuses(route.method, url)), ...response };
  const transformed = { ...jsonSchemaTransform({ ...document, schema }), url };
  const generated = (transformed.schema as { response?: Record<string, unknown> }).response;
  if (generated === undefined || !response) return transformed;
  // Only an account's credential is counted (API.md §1); the operator key is not.
  const audience: RouteAudience = !authenticated ? 'public' : scope === 'admin' ? 'operator' : 'account';
  const responses = documentResponses(schema.response as Record<string, unknown>, generated, audience);
  return { ...transformed, schema: { ...transformed.schema, response: responses } };
};

/** The `$ref`s used anywhere in `value`. */
function collectRefs(value: unknown, refs: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, refs);
  else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') refs.add(child.replace('#/components/schemas/', ''));
      else collectRefs(child, refs);
    }
  }
  return refs;
}

/**
 * Relative, so the document describes whichever deployment serves it; `x-internal: false` says the
 * API is meant for clients outside the operator's network.
 */
const THIS_SERVER = {
  url: '/',
  description: 'This deployment (local, staging or production alike): the host serving this document',
  'x-internal': false,
};

/** What the document says beyond the routes' schemas. */
export interface OpenApiOptions {
  /** The upload limit (MAX_UPLOAD_BYTES): a CSV of that many bytes has at most as many characters. */
  maxUploadBytes: number;
}

/**
 * The import upload is read as a stream, not through a body schema (which would buffer it), so
 * its accepted forms are described here: a raw CSV body, a raw .xlsx workbook, or multipart with a
 * `file` field.
 */
function describeUploadBody(paths: Record<string, Record<string, Record<string, unknown>>> | undefined, maxLength: number): void {
  const operation = paths?.['/v1/imports']?.post;
  if (!operation) return;
  const description =
    'The CSV file: a header row, then one product per row (UTF-8, with or without BOM, unless `encoding`, the profile ' +
    'or the `charset` of its Content-Type names another).';
  const csv = { type: 'string', maxLength, description };
  const workbook = { type: 'string', format: 'binary', maxLength, description: 'An .xlsx workbook: its first visible sheet (or `sheet`) read like a CSV file.' };
  operation.requestBody = {
    required: true,
    content: {
      'text/csv': { schema: csv },
      [XLSX_MEDIA_TYPE]: { schema: workbook },
      'multipart/form-data': {
        schema: {
          type: 'object',
          required: ['file'],
          properties: {
            // A file part (binary), never a text field: a client that takes `file` for a string sends a
            // text field, which the route refuses (multipart-form.ts).
            file: {
              ...csv,
              format: 'binary',
              description:
                'The CSV file, or an .xlsx workbook (file name ending in .xlsx or its content type): a file part, with a ' +
                'filename; a text field named `file` is a 400.',
            },
          },
        },
      },
    },
  };
}

/**
 * Puts the registered zod schemas (Error, Job, Product, …) under components and drops those no
 * operation uses (every registered schema also gets an unused "…Input" twin), then adds what the
 * schemas leave implicit: the upload body, integer formats and path parameter lengths.
 */
const transformObjectWith = (options: OpenApiOptions): typeof jsonSchemaTransformObject => (document) => {
  const openapi = jsonSchemaTransformObject(document) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const schemas = openapi.components?.schemas ?? {};
  const used = collectRefs(openapi.paths, new Set());
  for (let size = 0; size !== used.size; ) {
    size = used.size;
    for (const name of [...used]) collectRefs(schemas[name], used);
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  fixHeaders(openapi as Parameters<typeof fixHeaders>[0]);
  shareResponses(openapi as Parameters<typeof shareResponses>[0]);
  describeUploadBody(openapi.paths as Record<string, Record<string, Record<string, unknown>>> | undefined, options.maxUploadBytes);
  addImplicitBounds(openapi);
  return openapi as ReturnType<typeof jsonSchemaTransformObject>;
};

/** The document's introduction: what holds for every operation. */
const API_DESCRIPTION = [
  'Bulk CSV imports, exports and enrichment of product catalogs. Lists are cursor-paginated: pass `next_cursor` as `cursor` until it is null.',
  'Every error has the body of the `Error` schema; each error response lists the `error_code` values it can carry.',
  "An answer to an account's key or session carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset once the " +
    'request was counted, but not a refusal before that: of a missing, unknown or expired key (401), of a suspended or ' +
    'unverified account (403), of a per-address limit (429), of a URL the router refuses (400, 414), of a path or method no operation has (404 `No route for …`, not ' +
    'counted either), of a body sent with a Content-Encoding (415). The operator key is counted against no tier: answers to it carry none.',
  'Any request may be refused before it reaches an operation: 400 BAD_REQUEST when it is not valid HTTP or an HTTP/1.1 ' +
    'request without Host, 408 REQUEST_TIMEOUT, 431 REQUEST_HEADERS_TOO_LARGE, and 415 UNSUPPORTED_MEDIA_TYPE for a body ' +
    "sent with a Content-Encoding (a GET's too).",
  errorsSection(),
  reportCodesSection(),
].join('\n\n');

/**
 * Serves the OpenAPI 3.1 document of every route (`GET /openapi.json`) and Swagger UI
 * (`GET /docs`), generated from the same zod schemas that validate requests and serialize
 * responses. Register it before any route: the document is built from the routes added after.
 */
export async function registerOpenApi(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Catalog jobs API',
        version: '1.0.0',
        description: API_DESCRIPTION,
      },
      servers: [THIS_SERVER],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          adminBearerAuth: { type: 'http', scheme: 'bearer', description: `\`Authorization: Bearer <key>\` with ${ADMIN_KEY}` },
          adminApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: `\`X-API-Key: <key>\` with ${ADMIN_KEY}` },
          dashboardBasicAuth: DASHBOARD_SECURITY_SCHEME,
        },
      },
    },
    transform,
    transformObject: transformObjectWith(options),
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });

  // Serialized once, at the first request (every route is registered by then), and sent as it is:
  // serializing the ~200 KB document for each request cost a copy of it per answer not yet read.
  let serialized: Buffer | undefined;
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApiDocument',
        security: [],
        summary: 'This OpenAPI document',
        response: { 200: z.record(z.string(), z.unknown()).meta({ description: 'OpenAPI 3.1 document' }) },
      },
    },
    async (_request, reply) => {
      serialized ??= Buffer.from(JSON.stringify(app.swagger()));
      return reply.type('application/json; charset=utf-8').send(serialized);
    },
  );
}
