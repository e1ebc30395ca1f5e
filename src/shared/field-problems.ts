import type { z } from 'zod';

/**
 * One problem of a validated input, named by its field path (`filter.brand`, `body`): what a
 * 422/400 VALIDATION_ERROR, or the 400 BAD_REQUEST of a job, schedule or import-profile body, lists in its `errors` array.
 */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * At most this many problems are listed in an error's `errors`: a 1 MiB body can hold tens of
 * thousands of wrong keys or values, and an answer (and log line) listing each would run to
 * megabytes and hold the event loop while it is built. The first problems are listed, in order.
 */
export const MAX_FIELD_PROBLEMS = 20;

/** At most this many unknown keys are named in one message; the others are counted. */
const MAX_NAMED_KEYS = 5;

/**
 * The unknown keys of an object for a message, `'a', 'b'`, at most the first few of them, with how
 * many more were sent: `'k0', 'k1', 'k2', 'k3', 'k4' and 79995 more`. `name` turns a key into what
 * the message calls it (its path, say); it is called for the named keys alone.
 */
export function namedKeys(keys: readonly string[], name: (key: string) => string = (key) => key): string {
  const named = keys.slice(0, MAX_NAMED_KEYS).map((key) => `'${name(key)}'`).join(', ');
  return keys.length > MAX_NAMED_KEYS ? `${named} and ${keys.length - MAX_NAMED_KEYS} more` : named;
}

/** Whether `keys` are more than one message names one by one. */
export const tooManyToName = (keys: readonly string[]) => keys.length > MAX_NAMED_KEYS;

/** The sentence about unknown keys where no known keys are listed: `Unknown key 'colums'.` */
export const unknownKeysMessage = (keys: readonly string[]) => `Unknown key${keys.length === 1 ? '' : 's'} ${namedKeys(keys)}.`;

/**
 * An issue of a route's schema validation, as Fastify reports it: a JSON pointer and a sentence;
 * zod's unknown keys also carry them in `params.keys`.
 */
export interface SchemaIssue {
  instancePath: string;
  message?: string | undefined;
  keyword?: string;
  params?: Record<string, unknown>;
}

/**
 * The sentence of a schema issue. zod's own about unknown keys quotes every one of them (tens of
 * thousands fit in a body): it is worded as the API's own, naming the first few.
 */
export function schemaIssueMessage(issue: SchemaIssue): string | undefined {
  const keys = issue.params?.['keys'];
  if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) return unknownKeysMessage(keys.map(String));
  return issue.message;
}

/** The dotted field path of a schema issue (`/filter/brand` → `filter.brand`); `''` for the input itself. */
export function schemaIssueField(issue: SchemaIssue): string {
  return issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
}

/**
 * One problem per schema issue, for the first `limit` issues ({@link MAX_FIELD_PROBLEMS} unless
 * told). An issue about the body itself is named `body`, with `bodyMessage` when given (else its
 * own sentence).
 */
export function schemaIssueProblems(issues: readonly SchemaIssue[], bodyMessage?: string, limit = MAX_FIELD_PROBLEMS): FieldProblem[] {
  return issues.slice(0, limit).map((issue) => {
    const field = schemaIssueField(issue);
    const message = schemaIssueMessage(issue) ?? 'Invalid value.';
    return field ? { field, message } : { field: 'body', message: bodyMessage ?? message };
  });
}

/**
 * One problem per unknown key of the object at `path` (`''` for the input itself), each named by
 * its own path (after `prefix`, `export.` inside a schedule) and naming the keys `known` there:
 * `Unknown key 'filter.sku': expected one of brand, category, updated_since.`. More keys than a
 * message names one by one are one problem of the object holding them, naming the first few and
 * counting the rest (a 1 MiB body holds some 80,000 keys).
 */
function unknownKeyProblems(
  keys: readonly string[],
  path: string,
  known: Readonly<Record<string, readonly string[]>>,
  prefix = '',
): FieldProblem[] {
  const expected = `expected one of ${(known[path] ?? []).join(', ')}`;
  const fieldOf = (key: string) => prefix + (path ? `${path}.` : '') + key;
  if (tooManyToName(keys)) {
    const field = (prefix + path).replace(/\.$/, '') || 'body';
    return [{ field, message: `Unknown keys ${namedKeys(keys, fieldOf)}: ${expected}.` }];
  }
  return keys.map((key) => ({ field: fieldOf(key), message: `Unknown key '${fieldOf(key)}': ${expected}.` }));
}

/**
 * One problem per top-level key of `body` that is neither in `known` nor in `ignored` (read-only
 * fields a client may send back, as a resource read then written is): `Unknown key 'colour':
 * expected one of …`, named as {@link unknownKeyProblems} names them. None for a body that is not an object.
 */
export function unknownFieldProblems(body: unknown, known: readonly string[], ignored: readonly string[] = []): FieldProblem[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  const unknown = Object.keys(body).filter((key) => !known.includes(key) && !ignored.includes(key));
  return unknown.length === 0 ? [] : unknownKeyProblems(unknown, '', { '': known });
}

/** A zod issue's path as a field name, without array positions: `filter.brand`, `fields`. */
const dottedPath = (path: readonly PropertyKey[]) => path.filter((part) => typeof part !== 'number').map(String).join('.');

/**
 * The problem of a key a record's key schema refuses (a blank header in `columns`): the key schema's
 * own sentence, where zod's issue says only `Invalid key in record`, named by the record's path. The
 * key itself is not in the field: it may be empty, or thousands of characters long.
 */
function invalidKeyProblem(issue: z.core.$ZodIssueInvalidKey, field: string): FieldProblem {
  return { field, message: issue.issues[0]?.message ?? issue.message };
}

/**
 * One problem per zod issue, named by its path without array positions and after `prefix`
 * (`export.` inside a schedule); `body` for the input itself. Unknown keys are named together in
 * one problem, or, given the keys each object may hold (`knownKeys`, by path), each by its own path
 * with the keys expected there ({@link unknownKeyProblems}). Keys a record refuses for the same
 * reason are one problem of the record ({@link invalidKeyProblem}). At most {@link MAX_FIELD_PROBLEMS}:
 * the issues after those are not looked at.
 */
export function zodIssueProblems(
  issues: readonly z.core.$ZodIssue[],
  options: { prefix?: string; knownKeys?: Readonly<Record<string, readonly string[]>> } = {},
): FieldProblem[] {
  const prefix = options.prefix ?? '';
  const problems: FieldProblem[] = [];
  for (const issue of issues) {
    if (problems.length >= MAX_FIELD_PROBLEMS) break;
    const path = dottedPath(issue.path);
    if (issue.code === 'invalid_key') {
      // The last part of its path is the key refused.
      const problem = invalidKeyProblem(issue, prefix + (dottedPath(issue.path.slice(0, -1)) || 'body'));
      if (!problems.some((listed) => listed.field === problem.field && listed.message === problem.message)) problems.push(problem);
    } else if (issue.code !== 'unrecognized_keys') problems.push({ field: prefix + (path || 'body'), message: issue.message });
    else if (options.knownKeys) problems.push(...unknownKeyProblems(issue.keys, path, options.knownKeys, prefix));
    else problems.push({ field: prefix + (path || 'body'), message: unknownKeysMessage(issue.keys) });
  }
  return problems.slice(0, MAX_FIELD_PROBLEMS);
}
