import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

type RouteSchema = Parameters<FastifySerializerCompiler<unknown>>[0];

/**
 * Serializes responses with fast-json-stringify, compiled once per route and status from the
 * route's zod response schema (as JSON Schema, the same the OpenAPI document shows), instead of
 * running the zod schema over every response and then JSON.stringify. Like the zod serializer it
 * writes only the declared fields (`additionalProperties: false` outside `.loose()` objects) and
 * refuses a response without a required field. A schema that JSON Schema cannot express (a
 * transform, a custom type) keeps the zod serializer.
 */
export const responseSerializerCompiler = (route: RouteSchema) => {
  const schema = route.schema as unknown;
  if (schema instanceof z.ZodType) {
    const json = jsonSchemaOf(schema);
    if (json) return fastJson(json);
  }
  return zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0]);
};

/** The schema's output as a draft-07 JSON Schema, or null when it has a part JSON Schema cannot express. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> | null {
  try {
    return z.toJSONSchema(schema, { io: 'output', target: 'draft-07', unrepresentable: 'throw', cycles: 'throw' }) as Record<string, unknown>;
  } catch {
    return null;
  }
}
