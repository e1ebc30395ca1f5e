import type { FastifyInstance } from 'fastify';
import { validateJson } from './json-schema.js';
import { toOpenApiPath } from './registered-routes.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>>;
}

interface SentResponse {
  method: string;
  route: string;
  status: number;
  contentType: string;
  body: string | null;
}

/** Routes outside the documented API: the operators' dashboard (Bull Board's own pages and API) and the docs page. */
const UNDOCUMENTED = [/^\/admin\/queues/, /^\/docs/];

/**
 * Records every response the app sends, so that each integration test file checks that what the
 * service really answered is documented in its OpenAPI document: the status for the route, the
 * media type, and for JSON the body against that status's schema. Call before the app is ready.
 */
export function recordResponses(app: FastifyInstance): { problems(): Promise<string[]> } {
  const sent: SentResponse[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (route === undefined || UNDOCUMENTED.some((pattern) => pattern.test(route))) return payload;
    sent.push({
      method: request.method,
      route,
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? '').split(';')[0]!,
      body: typeof payload === 'string' ? payload : null,
    });
    return payload;
  });
  return {
    async problems() {
      if (sent.length === 0) return [];
      const document = app.swagger() as unknown as OpenApiDocument;
      const problems = new Set<string>();
      for (const response of sent) {
        for (const problem of conformance(response, document)) problems.add(problem);
      }
      return [...problems];
    },
  };
}

function conformance(response: SentResponse, document: OpenApiDocument): string[] {
  const name = `${response.method} ${response.route} → ${response.status}`;
  // A HEAD answers as its GET, without the body (RFC 9110 §9.3.2): the document lists GET alone.
  const method = response.method === 'HEAD' ? 'get' : response.method.toLowerCase();
  const operation = document.paths[toOpenApiPath(response.route)]?.[method];
  if (!operation) return [`${name}: route not documented`];
  const documented = operation.responses[String(response.status)];
  if (!documented) return [`${name}: status not documented`];
  if (response.status === 204 || response.body === null || response.body === '') return [];
  const media = documented.content?.[response.contentType];
  if (!media) return [`${name}: ${response.contentType} not documented`];
  if (response.contentType !== 'application/json') return [];
  return validateJson(JSON.parse(response.body), media.schema, document).map((problem) => `${name}: ${problem}`);
}
