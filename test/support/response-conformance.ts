import type { FastifyInstance } from 'fastify';
import { entryPage, isUndocumentedPage } from '../../src/api/plugins/openapi-pages.js';
import { validateJson } from './json-schema.js';
import { toOpenApiPath } from './registered-routes.js';

/** A response header of the document, or a reference to one under components.headers. */
export interface DocumentedHeader {
  $ref?: string;
  required?: boolean;
}

/** A response of the document, or a reference to one under components.responses. */
export interface DocumentedResponse {
  $ref?: string;
  headers?: Record<string, DocumentedHeader>;
  content?: Record<string, { schema: Record<string, unknown> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, DocumentedResponse> }>>;
  components?: { responses?: Record<string, DocumentedResponse>; headers?: Record<string, DocumentedHeader> };
}

/** A response as the service sent it. */
export interface SentResponse {
  method: string;
  route: string;
  status: number;
  contentType: string;
  /** Whether anything was sent as the body (a string, a buffer or a stream). */
  hasBody: boolean;
  /** The body as text; null where it is not known (a buffer or a stream seen on its way out). */
  body: string | null;
  /** The names (lower case) of the headers sent. */
  headers: string[];
}

/**
 * The headers the document declares where the service sends them: one sent must be declared on
 * its response, one declared `required` must be sent.
 */
const CHECKED_HEADERS = ['location', 'content-disposition', 'retry-after', 'www-authenticate', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/** The response `documented`, or the component it refers to. */
export function resolveResponse(document: OpenApiDocument, documented: DocumentedResponse): DocumentedResponse {
  const name = documented.$ref?.replace('#/components/responses/', '');
  return name === undefined ? documented : (document.components?.responses?.[name] ?? {});
}

/** The header `documented`, or the component it refers to. */
export function resolveHeader(document: OpenApiDocument, documented: DocumentedHeader): DocumentedHeader {
  const name = documented.$ref?.replace('#/components/headers/', '');
  return name === undefined ? documented : (document.components?.headers?.[name] ?? {});
}

/** The documented route of a request's route: a web page's entry by its documented path; null where none is documented. */
function documentedRoute(method: string, route: string): string | null {
  const page = entryPage(method, route);
  if (page) return page.path;
  return isUndocumentedPage(route) ? null : route;
}

/**
 * Records every response the app sends, so that each integration test file checks that what the
 * service really answered is documented in its OpenAPI document: the status for the route, the
 * media type, for JSON the body against that status's schema (an error's `error_code` among those
 * the response lists), and the headers the document describes. Call before the app is ready.
 */
export function recordResponses(app: FastifyInstance): { problems(): Promise<string[]> } {
  const sent: SentResponse[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url === undefined ? null : documentedRoute(request.method, request.routeOptions.url);
    if (route === null) return payload;
    sent.push({
      method: request.method,
      route,
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? '').split(';')[0]!,
      hasBody: payload !== null && payload !== undefined && payload !== '',
      body: typeof payload === 'string' ? payload : null,
      headers: Object.keys(reply.getHeaders()).map((name) => name.toLowerCase()),
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

function headerProblems(response: SentResponse, documented: DocumentedResponse, document: OpenApiDocument): string[] {
  const headers = Object.entries(documented.headers ?? {});
  const declared = new Map(headers.map(([name, header]) => [name.toLowerCase(), resolveHeader(document, header)]));
  const problems: string[] = [];
  for (const name of CHECKED_HEADERS) {
    const isSent = response.headers.includes(name);
    if (isSent && !declared.has(name)) problems.push(`header ${name} sent but not documented`);
    if (!isSent && declared.get(name)?.required) problems.push(`header ${name} documented as required but not sent`);
  }
  return problems;
}

/** What in `response` differs from `document`: each problem named by the request and its status. */
export function conformance(response: SentResponse, document: OpenApiDocument): string[] {
  const name = `${response.method} ${response.route} → ${response.status}`;
  // A HEAD answers as its GET, without the body (RFC 9110 §9.3.2): the document lists GET alone.
  const method = response.method === 'HEAD' ? 'get' : response.method.toLowerCase();
  const operation = document.paths[toOpenApiPath(response.route)]?.[method];
  if (!operation) return [`${name}: route not documented`];
  const listed = operation.responses[String(response.status)];
  if (!listed) return [`${name}: status not documented`];
  const documented = resolveResponse(document, listed);
  const problems = headerProblems(response, documented, document).map((problem) => `${name}: ${problem}`);
  if (response.status === 204 || !response.hasBody) return problems;
  const media = documented.content?.[response.contentType];
  if (!media) return [...problems, `${name}: ${response.contentType} not documented`];
  if (response.body === null) return problems;
  const body: unknown = response.contentType === 'application/json' ? JSON.parse(response.body) : response.body;
  return [...problems, ...validateJson(body, media.schema, document).map((problem) => `${name}: ${problem}`)];
}
