import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type RouteSchema = Parameters<FastifySerializerCompiler<unknown>>[0];
type Serialize = (data: unknown) => string;

/**
 * One serializer per zod schema, however many routes and statuses share it (the error envelope is
 * in every route's responses), compiled on its first response: compiling all at start would add
 * a noticeable part of a second to each start of the service.
 */
const compiled = new WeakMap<z.ZodType, Serialize | null>();

/**
 * Serializes responses with fast-json-stringify, compiled from the route's zod response schema
 * (as JSON Schema, the same the OpenAPI document shows), instead of running the zod schema over
 * every response and then JSON.stringify. Like the zod serializer it writes only the declared
 * fields (`additionalProperties: false` outside `.loose()` objects) and refuses a response without
 * a required field. A schema that JSON Schema cannot express (a transform, a custom type) keeps
 * the zod serializer.
 */
export const responseSerializerCompiler = (route: RouteSchema): Serialize => {
  const schema = route.schema as unknown;
  const zodSerializer = () => zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0]);
  if (!(schema instanceof z.ZodType)) return zodSerializer();
  let serialize: Serialize | undefined;
  return (data) => {
    serialize ??= fastSerializer(schema) ?? zodSerializer();
    return serialize(data);
  };
};

/** The fast-json-stringify serializer of `schema` (compiled once), or null where JSON Schema cannot express it. */
function fastSerializer(schema: z.ZodType): Serialize | null {
  let serialize = compiled.get(schema);
  if (serialize === undefined) {
    const json = jsonSchemaOf(schema);
    serialize = json ? fastJson(json) : null;
    compiled.set(schema, serialize);
  }
  return serialize;
}

/** The schema's output as a draft-07 JSON Schema, or null when it has a part JSON Schema cannot express. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> | null {
  try {
    const json = z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw', cycles: 'throw' });
    return withoutDateTimeFormats(anyValueRecordsWhole(json)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * A record of any values (`z.record(z.string(), z.unknown())`: an object without declared
 * properties whose values may be anything, as a job's `options`) becomes the empty schema, which
 * fast-json-stringify writes with one JSON.stringify. For the record it would write each key
 * through its own escaping and each value through JSON.stringify: the same text, and in a script
 * a job resource with its nine options took 3.5–4.0 µs that way against 2.5–2.9 µs written whole.
 */
export function anyValueRecordsWhole(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(anyValueRecordsWhole);
  if (node === null || typeof node !== 'object') return node;
  const { type, properties, additionalProperties, propertyNames, ...rest } = node as Record<string, unknown>;
  const anyValue = additionalProperties === true || isEmptyObject(additionalProperties);
  const stringKeys = propertyNames === undefined || isStringType(propertyNames);
  if (type === 'object' && properties === undefined && anyValue && stringKeys && !('patternProperties' in rest)) {
    const { description } = rest;
    return description === undefined ? {} : { description };
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, anyValueRecordsWhole(value)]));
}

/**
 * The schema without its `format: date-time`s, which only tell the OpenAPI document's readers
 * that a time is one (see answeredInstant). fast-json-stringify would act on them: it checks the
 * format of a nullable time (the branch of `anyOf` it picks is validated), so a time it does not
 * take (a year past 9999) would turn the answer into a 500, and it writes a non-string value
 * differently. Without them every time is written as the text it is, as before it was documented.
 */
export function withoutDateTimeFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDateTimeFormats);
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node).filter(([key, value]) => !(key === 'format' && value === 'date-time'));
  return Object.fromEntries(entries.map(([key, value]) => [key, withoutDateTimeFormats(value)]));
}

const isEmptyObject = (value: unknown) => value !== null && typeof value === 'object' && Object.keys(value).length === 0;
const isStringType = (value: unknown) => {
  const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
  return keys.length === 1 && (value as { type?: unknown }).type === 'string';
};
