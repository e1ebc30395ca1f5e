/**
 * One problem of a validated input, named by its field path (`filter.brand`, `body`): what a
 * 422/400 VALIDATION_ERROR lists in its `errors` array.
 */
export interface FieldProblem {
  field: string;
  message: string;
}
