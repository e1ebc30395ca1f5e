import type { z } from 'zod';

/**
 * One problem of a validated input, named by its field path (`filter.brand`, `body`): what a
 * 422/400 VALIDATION_ERROR, or the 400 BAD_REQUEST of a job, schedule or import-profile body, lists in its `errors` array.
 */
export interface FieldProblem {
  field: string;
  message: string;
}

/** An issue of a route's schema validation, as Fastify reports it: a JSON pointer and a sentence. */
export interface SchemaIssue {
  instancePath: string;
  message?: string | undefined;
}

/** The dotted field path of a schema issue (`/filter/brand` → `filter.brand`); `''` for the input itself. */
export function schemaIssueField(issue: SchemaIssue): string {
  return issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
}

/**
 * One problem per schema issue. An issue about the body itself is named `body`, with `bodyMessage`
 * when given (else its own sentence).
 */
export function schemaIssueProblems(issues: readonly SchemaIssue[], bodyMessage?: string): FieldProblem[] {
  return issues.map((issue) => {
    const field = schemaIssueField(issue);
    if (!field) return { field: 'body', message: bodyMessage ?? issue.message ?? 'Invalid value.' };
    return { field, message: issue.message ?? 'Invalid value.' };
  });
}

type UnknownKeysIssue = Extract<z.core.$ZodIssue, { code: 'unrecognized_keys' }>;

/**
 * One problem per zod issue, named by its path without array positions and after `prefix`
 * (`export.` inside a schedule); `body` for the input itself. Unknown keys are named together in
 * one problem unless `unknownKeys` words them otherwise.
 */
export function zodIssueProblems(
  issues: readonly z.core.$ZodIssue[],
  options: { prefix?: string; unknownKeys?: (issue: UnknownKeysIssue, path: string) => FieldProblem[] } = {},
): FieldProblem[] {
  const prefix = options.prefix ?? '';
  return issues.flatMap((issue) => {
    const path = issue.path.filter((part) => typeof part !== 'number').map(String).join('.');
    if (issue.code !== 'unrecognized_keys') return [{ field: prefix + (path || 'body'), message: issue.message }];
    if (options.unknownKeys) return options.unknownKeys(issue, path);
    return [{ field: prefix + (path || 'body'), message: `Unknown key '${issue.keys.join("', '")}'.` }];
  });
}
