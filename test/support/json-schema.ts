/**
 * A small JSON Schema (2020-12) validator for the subset our OpenAPI document uses. A keyword it
 * does not know fails the check, so a schema can never pass by being misunderstood.
 */

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['description', 'title', 'example', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly']);
const HANDLED = new Set([
  '$ref', 'type', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'enum', 'const',
  'anyOf', 'oneOf', 'allOf', 'format', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'minItems', 'maxItems',
]);

const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  email: /^[^@\s]+@[^@\s]+$/,
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  // A body of any bytes (a gzipped file), however a client holds it.
  binary: /^[\s\S]*$/,
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/**
 * Validates `value` against `schema`; `root` resolves `#/…` references (the OpenAPI document).
 * Returns the problems found, each with the JSON path where it was found; empty when valid.
 */
export function validateJson(value: unknown, schema: Schema, root: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const problems: string[] = [];
  const fail = (message: string) => problems.push(`${path}: ${message}`);
  for (const keyword of Object.keys(schema)) {
    if (!HANDLED.has(keyword) && !ANNOTATIONS.has(keyword)) fail(`unsupported schema keyword '${keyword}'`);
  }
  if (typeof schema.$ref === 'string') problems.push(...validateJson(value, resolveRef(root, schema.$ref), root, path));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((type) => matchesType(value, type))) {
      fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return problems;
    }
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).some((item) => Object.is(item, value))) {
    fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if ('const' in schema && schema.const !== value) fail(`expected ${JSON.stringify(schema.const)}`);
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const options = schema[keyword] as Schema[] | undefined;
    if (!options) continue;
    const passing = options.filter((option) => validateJson(value, option, root, path).length === 0).length;
    if (keyword === 'anyOf' ? passing === 0 : passing !== 1) fail(`${keyword}: ${passing} of ${options.length} options match`);
  }
  for (const option of (schema.allOf as Schema[] | undefined) ?? []) problems.push(...validateJson(value, option, root, path));
  if (typeof value === 'string') problems.push(...stringProblems(value, schema, path));
  if (typeof value === 'number') problems.push(...numberProblems(value, schema, path));
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items`);
    if (schema.items !== undefined) {
      value.forEach((item, index) => problems.push(...validateJson(item, schema.items as Schema, root, `${path}[${index}]`)));
    }
  } else if (typeOf(value) === 'object') {
    problems.push(...objectProblems(value as Record<string, unknown>, schema, root, path));
  }
  return problems;
}

function stringProblems(value: string, schema: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  if (typeof schema.minLength === 'number' && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
  if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
  if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
    problems.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
  if (typeof schema.format === 'string' && !format) problems.push(`${path}: unsupported format '${schema.format}'`);
  if (format && !format.test(value)) problems.push(`${path}: ${JSON.stringify(value)} is not a ${String(schema.format)}`);
  return problems;
}

function numberProblems(value: number, schema: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
  if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) problems.push(`${path}: not above ${schema.exclusiveMinimum}`);
  if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) problems.push(`${path}: not below ${schema.exclusiveMaximum}`);
  return problems;
}

function objectProblems(value: Record<string, unknown>, schema: Record<string, unknown>, root: unknown, path: string): string[] {
  const problems: string[] = [];
  const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
  for (const name of (schema.required as string[] | undefined) ?? []) {
    if (!(name in value)) problems.push(`${path}: missing required property '${name}'`);
  }
  for (const [name, child] of Object.entries(value)) {
    const where = `${path}.${name}`;
    if (schema.propertyNames !== undefined) problems.push(...validateJson(name, schema.propertyNames as Schema, root, where));
    if (name in properties) problems.push(...validateJson(child, properties[name]!, root, where));
    else if (schema.additionalProperties !== undefined) {
      problems.push(...validateJson(child, schema.additionalProperties as Schema, root, where));
    }
  }
  return problems;
}

function resolveRef(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node as Schema;
}
