import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { badRequest, validationError } from './errors.js';

/**
 * For routes declared with `attachValidation: true`: turns a schema failure of the body into
 * 400 VALIDATION_ERROR listing each field (API.md §1: signup, key creation, operator onboarding),
 * and of the query or path into 400 BAD_REQUEST naming the parameter.
 */
export function rejectInvalidRequest(request: FastifyRequest): void {
  const error = request.validationError;
  if (!error) return;
  const issues: FastifySchemaValidationError[] = error.validation ?? [];
  const fieldOf = (path: string) => path.replace(/^\//, '').replaceAll('/', '.');
  if (error.validationContext !== 'body') {
    const first = issues[0];
    throw badRequest(`Invalid ${error.validationContext === 'params' ? 'path' : 'query'} parameter '${fieldOf(first?.instancePath ?? '')}': ${first?.message ?? 'invalid'}`);
  }
  const problems = issues.map((issue) => {
    const field = fieldOf(issue.instancePath);
    return field ? { field, message: issue.message ?? 'Invalid value.' } : { field: 'body', message: 'The body must be a JSON object.' };
  });
  throw validationError(problems.length > 0 ? problems : [{ field: 'body', message: 'The body must be a JSON object.' }]);
}
