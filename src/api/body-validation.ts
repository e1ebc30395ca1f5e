import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { schemaIssueField, schemaIssueProblems } from '../shared/field-problems.js';
import { badRequest, validationError, type AppError } from './errors.js';
import type { FieldProblem } from '../shared/field-problems.js';

const NOT_AN_OBJECT = 'The body must be a JSON object.';

/**
 * For routes declared with `attachValidation: true`: turns a schema failure of the body into
 * 400 VALIDATION_ERROR listing each field (API.md §1: signup, key creation, an onboarding's email),
 * or into what `invalidBody` makes of the fields (another route's body: 400 BAD_REQUEST), and of
 * the query or path into 400 BAD_REQUEST naming the parameter.
 */
export function rejectInvalidRequest(
  request: FastifyRequest,
  invalidBody: (problems: FieldProblem[]) => AppError = validationError,
): void {
  const error = request.validationError;
  if (!error) return;
  const issues: FastifySchemaValidationError[] = error.validation ?? [];
  if (error.validationContext !== 'body') {
    const first = issues[0];
    const name = first ? schemaIssueField(first) : '';
    throw badRequest(`Invalid ${error.validationContext === 'params' ? 'path' : 'query'} parameter '${name}': ${first?.message ?? 'invalid'}`);
  }
  const problems = schemaIssueProblems(issues, NOT_AN_OBJECT);
  throw invalidBody(problems.length > 0 ? problems : [{ field: 'body', message: NOT_AN_OBJECT }]);
}

/**
 * For routes declared with `attachValidation: true` that check their body themselves: a query
 * their schema refuses (a parameter a job-starting route does not take, see strictQuery) is the
 * 400 of the error handler, answered before the body is looked at and any job is started.
 */
export function rejectInvalidQuery(request: FastifyRequest): void {
  if (request.validationError?.validationContext === 'querystring') throw request.validationError;
}
