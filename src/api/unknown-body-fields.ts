import type { FastifyRequest } from 'fastify';
import { unknownFieldProblems, type FieldProblem } from '../shared/field-problems.js';

/**
 * Notes the top-level names of a JSON body that its route does not take, before the route's
 * schema drops them from the body it hands on, so the route can refuse them instead of silently
 * losing what a client meant (a misspelt field). `note` is a preValidation hook; `problems` the
 * noted names as field problems (`Unknown key 'color': expected one of …`). `ignored` names are
 * taken without a word (a resource's read-only fields, sent back with it).
 */
export function unknownBodyFields(known: readonly string[], ignored: readonly string[] = []) {
  const noted = new WeakMap<FastifyRequest, FieldProblem[]>();
  return {
    note: async (request: FastifyRequest): Promise<void> => {
      noted.set(request, unknownFieldProblems(request.body, known, ignored));
    },
    problems: (request: FastifyRequest): FieldProblem[] => noted.get(request) ?? [],
  };
}
