import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** Where Swagger UI is served; its own pages and assets are not part of the document. */
export const DOCS_PREFIX = '/docs';

/** Routes that are web pages, not API operations: Swagger UI and the queue dashboard (HTTP Basic auth). */
export function isUndocumentedPage(url: string): boolean {
  return [DOCS_PREFIX, '/admin/queues'].some((prefix) => url === prefix || url.startsWith(`${prefix}/`));
}

/** Either credential of API.md §2 is accepted wherever a key is needed. */
const KEY_SECURITY = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

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
  if (scope || route.config?.authenticated) {
    schema.security = KEY_SECURITY;
    const who = scope ? `a key with the \`${scope}\` scope` : 'any key of the account';
    const alternatives = [route.config?.sessionAllowed && 'a session token from /v1/login', route.config?.adminAllowed && 'the operator key'];
    const also = alternatives.filter(Boolean).join(' or ');
    const needs = `Needs ${who}${also ? ` (or ${also})` : ''}.`;
    schema.description = [schema.description, needs].filter(Boolean).join('\n\n');
  }
  return jsonSchemaTransform({ ...document, schema });
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
 * The import upload is read as a stream, not through a body schema (which would buffer it), so
 * its two accepted forms are described here: a raw CSV body, or multipart with a `file` field.
 */
function describeUploadBody(paths: Record<string, Record<string, Record<string, unknown>>> | undefined): void {
  const operation = paths?.['/v1/imports']?.post;
  if (!operation) return;
  const csv = { type: 'string', description: 'The CSV file: a header row, then one product per row (UTF-8, with or without BOM).' };
  operation.requestBody = {
    required: true,
    content: {
      'text/csv': { schema: csv },
      'multipart/form-data': {
        schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', contentMediaType: 'text/csv' } } },
      },
    },
  };
}

/**
 * Puts the registered zod schemas (Error, Job, Product, …) under components and drops those no
 * operation uses (every registered schema also gets an unused "…Input" twin).
 */
const transformObject: typeof jsonSchemaTransformObject = (document) => {
  const openapi = jsonSchemaTransformObject(document) as { paths?: unknown; components?: { schemas?: Record<string, unknown> } };
  const schemas = openapi.components?.schemas ?? {};
  const used = collectRefs(openapi.paths, new Set());
  for (let size = 0; size !== used.size; ) {
    size = used.size;
    for (const name of [...used]) collectRefs(schemas[name], used);
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
  describeUploadBody(openapi.paths as Record<string, Record<string, Record<string, unknown>>> | undefined);
  return openapi as ReturnType<typeof jsonSchemaTransformObject>;
};

/**
 * Serves the OpenAPI 3.1 document of every route (`GET /openapi.json`) and Swagger UI
 * (`GET /docs`), generated from the same zod schemas that validate requests and serialize
 * responses. Register it before any route: the document is built from the routes added after.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
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
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <key>`' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
    transform,
    transformObject,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });

  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This OpenAPI document',
        response: { 200: z.record(z.string(), z.unknown()).meta({ description: 'OpenAPI 3.1 document' }) },
      },
    },
    async () => app.swagger(),
  );
}
