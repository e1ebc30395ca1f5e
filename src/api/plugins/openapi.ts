import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { XLSX_MEDIA_TYPE } from '../../shared/jobs/upload-formats.js';
import { errorResponses, rateLimitHeaders } from '../schemas.js';
import { addImplicitBounds } from './openapi-bounds.js';

/** Where Swagger UI is served; its own pages and assets are not part of the document. */
const DOCS_PREFIX = '/docs';

/** Routes that are web pages, not API operations: Swagger UI and the queue dashboard (HTTP Basic auth). */
export function isUndocumentedPage(url: string): boolean {
  return [DOCS_PREFIX, '/admin/queues'].some((prefix) => url === prefix || url.startsWith(`${prefix}/`));
}

/**
 * Either credential of API.md §2 is accepted wherever a key is needed. The operator routes (scope
 * `admin`) name their own schemes, the same two headers carrying a key with the `admin` scope, so
 * that no operator route shares its requirement with an account route.
 */
const keySecurity = (scope: string | undefined) =>
  scope === 'admin' ? [{ adminBearerAuth: [] }, { adminApiKeyAuth: [] }] : [{ bearerAuth: [] }, { apiKeyAuth: [] }];

const ADMIN_KEY = 'the operator key (ADMIN_API_KEY), the only key with the `admin` scope';

/** Adds the documented headers (rate limits, Retry-After) to each response of a transformed route. */
function withResponseHeaders(response: unknown, rateLimited: boolean): unknown {
  if (typeof response !== 'object' || response === null) return response;
  return Object.fromEntries(
    Object.entries(response as Record<string, Record<string, unknown>>).map(([status, body]) => {
      const headers = rateLimitHeaders(status, rateLimited);
      return [status, headers ? { ...body, headers } : body];
    }),
  );
}

/** The tag of a path: its first segment after /v1 (products, jobs, …), else "operations". */
function tagOf(url: string): string {
  const match = /^\/v1\/([^/]+)/.exec(url);
  return match ? match[1]! : 'operations';
}

/**
 * Documents each route from its zod schemas, adding what the route's options already say: the
 * credentials and scope it needs (`config.scope`) and a tag. Web pages are left out.
 */
const transform: SwaggerTransform = (document) => {
  const { url, route } = document;
  if (isUndocumentedPage(url)) return { schema: { hide: true }, url };
  const scope = route.config?.scope;
  const schema: Record<string, unknown> = { tags: [tagOf(url)], ...document.schema };
  const authenticated = Boolean(scope || route.config?.authenticated);
  if (authenticated) {
    schema.security = keySecurity(scope);
    const who = scope ? `a key with the \`${scope}\` scope` : 'any key of the account';
    const alternatives = [route.config?.sessionAllowed && 'a session token from /v1/login', route.config?.adminAllowed && 'the operator key'];
    const also = alternatives.filter(Boolean).join(' or ');
    const needs = `Needs ${who}${also ? ` (or ${also})` : ''}.`;
    schema.description = [schema.description, needs].filter(Boolean).join('\n\n');
  }
  // Every body may be too large or of a type the route does not take.
  const response = schema.response as Record<number, unknown> | undefined;
  if (schema.body && response) schema.response = { ...errorResponses(413, 415), ...response };
  const transformed = jsonSchemaTransform({ ...document, schema });
  const responses = (transformed.schema as { response?: unknown }).response;
  if (responses === undefined) return transformed;
  // Only an account's credential is counted (API.md §1); the operator key is not.
  const rateLimited = authenticated && scope !== 'admin';
  return { ...transformed, schema: { ...transformed.schema, response: withResponseHeaders(responses, rateLimited) } };
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
            file: { ...csv, description: 'The CSV file, or an .xlsx workbook (file name ending in .xlsx or its content type).' },
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
  describeUploadBody(openapi.paths as Record<string, Record<string, Record<string, unknown>>> | undefined, options.maxUploadBytes);
  addImplicitBounds(openapi);
  return openapi as ReturnType<typeof jsonSchemaTransformObject>;
};

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
        description:
          'Bulk CSV imports, exports and enrichment of product catalogs. Every error has the body of the `Error` schema. ' +
          'Lists are cursor-paginated: pass `next_cursor` as `cursor` until it is null.',
      },
      servers: [THIS_SERVER],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          adminBearerAuth: { type: 'http', scheme: 'bearer', description: `\`Authorization: Bearer <key>\` with ${ADMIN_KEY}` },
          adminApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: `\`X-API-Key: <key>\` with ${ADMIN_KEY}` },
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
