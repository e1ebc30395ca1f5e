/**
 * Bounds the request already has but zod's JSON Schema leaves out, written into the OpenAPI
 * document so that every integer states its format and every path parameter its length (OWASP
 * API4: unrestricted resource consumption). Nothing here changes what a request may carry.
 */

/**
 * Fastify refuses a path parameter longer than this (its router's default `maxParamLength`) with
 * 414 URI Too Long, before any route, schema or handler sees it.
 */
const MAX_PATH_PARAM_LENGTH = 100;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** A UUID is exactly this long; zod's `uuid` format already refuses anything else. */
const UUID_LENGTH = 36;

type Node = Record<string, unknown>;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

const hasType = (node: Node, type: string) => node.type === type || (Array.isArray(node.type) && node.type.includes(type));

/**
 * int32 when zod's bounds fit in 32 bits, else int64: `z.number().int()` is bounded by the safe
 * integers (±2^53), which int64 holds.
 */
function integerFormat(node: Node): 'int32' | 'int64' {
  const { minimum, maximum } = node;
  const fits = typeof minimum === 'number' && typeof maximum === 'number' && minimum >= INT32_MIN && maximum <= INT32_MAX;
  return fits ? 'int32' : 'int64';
}

/** Adds the implicit integer formats and UUID lengths to every schema in `value`, in place. */
function boundSchemas(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) boundSchemas(item);
    return;
  }
  if (!isNode(value)) return;
  if (hasType(value, 'integer') && value.format === undefined) value.format = integerFormat(value);
  if (value.format === 'uuid' && value.maxLength === undefined) value.maxLength = UUID_LENGTH;
  for (const child of Object.values(value)) boundSchemas(child);
}

/** Gives every string path parameter without a length of its own the router's limit. */
function boundPathParameters(paths: unknown): void {
  if (!isNode(paths)) return;
  for (const operations of Object.values(paths)) {
    if (!isNode(operations)) continue;
    for (const operation of Object.values(operations)) {
      const parameters = isNode(operation) && Array.isArray(operation.parameters) ? operation.parameters : [];
      for (const parameter of parameters) {
        if (!isNode(parameter) || parameter.in !== 'path' || !isNode(parameter.schema)) continue;
        if (hasType(parameter.schema, 'string')) parameter.schema.maxLength ??= MAX_PATH_PARAM_LENGTH;
      }
    }
  }
}

/** Writes the implicit bounds into a generated OpenAPI document (its paths and components), in place. */
export function addImplicitBounds(document: { paths?: unknown; components?: unknown }): void {
  boundSchemas(document.paths);
  boundSchemas(document.components);
  boundPathParameters(document.paths);
}
