import { notesOf } from '../../shared/http/response-notes.js';
import { describeCodes, errorBodySchema, errorCodesOf } from './openapi-errors.js';
import { LIMIT_HEADER_COMPONENTS, limitHeaders, type RouteAudience } from './openapi-headers.js';
import type { ResponseHeader } from '../../shared/http/response-notes.js';

/** Methods whose body Fastify parses, whether or not the route declares one. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error statuses a route answers whatever its own schema says, in the order they arise:
 * - any request: 408 when its headers or body do not arrive in time, 431 when its headers are too
 *   large (Node refuses both before any route), 500 when something unexpected fails, and 503
 *   while the server closes;
 * - a path with a parameter: 414 for a parameter over the router's limit, 400 for a URL that
 *   cannot be decoded (sendFrameworkError);
 * - a method with a body: 400 for malformed JSON, 413 for a body over the JSON limit, 415 for
 *   another media type or any Content-Encoding, even where the route takes no body.
 */
export function implicitErrorStatuses(method: string | string[], url: string): number[] {
  const statuses = [408, 431, 500, 503];
  if (url.includes('/:')) statuses.push(400, 414);
  if ([method].flat().some((name) => BODY_METHODS.has(name))) statuses.push(400, 413, 415);
  return [...new Set(statuses)];
}

/**
 * The responses of a route as the document gives them, from `raw` (the route's own, with their
 * notes) and `generated` (their JSON Schemas): each with its limit headers and noted headers, and
 * each error with the `error_code` values it can carry, listed in its description and its schema.
 */
export function documentResponses(
  raw: Record<string, unknown>,
  generated: Record<string, unknown>,
  audience: RouteAudience,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(generated).map(([status, schema]) => {
      const notes = notesOf(raw[status]);
      const headers = { ...limitHeaders(status, audience), ...notes.headers };
      const withHeaders = Object.keys(headers).length > 0 ? { headers } : {};
      if (Number(status) < 400) return [status, { ...(schema as object), ...withHeaders }];
      const codes = errorCodesOf(Number(status), audience, notes.codes);
      const content = { 'application/json': { schema: errorBodySchema(schema, codes) } };
      return [status, { description: describeCodes(Number(status), codes, notes.sentences), ...withHeaders, content }];
    }),
  );
}

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every operation's responses in a generated document. */
function responseMaps(document: { paths?: unknown }): Node[] {
  const maps: Node[] = [];
  for (const operations of Object.values(isNode(document.paths) ? document.paths : {})) {
    for (const operation of Object.values(isNode(operations) ? operations : {})) {
      if (isNode(operation) && isNode(operation.responses)) maps.push(operation.responses);
    }
  }
  return maps;
}

/** A header as OpenAPI writes it: its own fields, and its value's schema. */
function headerObject({ description, required, ...schema }: ResponseHeader): Node {
  return { description, ...(required === undefined ? {} : { required }), schema };
}

/**
 * @fastify/swagger writes a response header's every field into its schema: the header fields
 * (`required`) are moved back onto the header, where OpenAPI reads them, and a reference to a
 * header under components.headers becomes the header (its components are added).
 */
export function fixHeaders(document: { paths?: unknown; components?: Node }): void {
  for (const responses of responseMaps(document)) {
    for (const response of Object.values(responses)) {
      const headers = isNode(response) && isNode(response.headers) ? response.headers : {};
      for (const [name, header] of Object.entries(headers)) {
        if (!isNode(header) || !isNode(header.schema)) continue;
        if (typeof header.schema.$ref === 'string') headers[name] = { $ref: header.schema.$ref };
        else if (typeof header.schema.required === 'boolean') {
          const { required, ...schema } = header.schema;
          Object.assign(header, { required, schema });
        }
      }
    }
  }
  const components = Object.entries(LIMIT_HEADER_COMPONENTS).map(([name, header]) => [name, headerObject(header)]);
  document.components = { ...document.components, headers: Object.fromEntries(components) };
}

/**
 * Responses that are the same on most operations and never carry the rate-limit headers, each
 * written once under components.responses: the refusal of a key (401), of a path parameter (414)
 * and of the request headers (431).
 */
const SHARED_RESPONSES: Record<string, string> = { '401': 'Unauthorized', '414': 'PathParameterTooLong', '431': 'RequestHeadersTooLarge' };

/**
 * Writes the most frequent form of each {@link SHARED_RESPONSES} status once, as a component, and
 * refers to it from every operation that answers it in that form (a route whose 401 says other
 * codes, as the login's, keeps its own).
 */
export function shareResponses(document: { paths?: unknown; components?: Node }): void {
  const maps = responseMaps(document);
  const shared: Node = {};
  for (const [status, name] of Object.entries(SHARED_RESPONSES)) {
    const forms = new Map<string, number>();
    for (const responses of maps) {
      if (responses[status] === undefined) continue;
      const form = JSON.stringify(responses[status]);
      forms.set(form, (forms.get(form) ?? 0) + 1);
    }
    const [common, uses] = [...forms].reduce((most, form) => (form[1] > most[1] ? form : most), ['', 0]);
    if (uses < 2) continue;
    shared[name] = JSON.parse(common);
    for (const responses of maps) {
      if (responses[status] !== undefined && JSON.stringify(responses[status]) === common) {
        responses[status] = { $ref: `#/components/responses/${name}` };
      }
    }
  }
  if (Object.keys(shared).length > 0) document.components = { ...document.components, responses: shared };
}
