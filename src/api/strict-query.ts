import { z } from 'zod';
import { namedKeys } from '../shared/field-problems.js';

/**
 * The sentence of query parameters a route does not take:
 * `Unknown query parameter 'callbackurl': expected one of mode, on_error, callback_url.`, or,
 * where it takes none, `…: this request takes no query parameters; <none>.`
 */
export function unknownQueryParametersMessage(names: readonly string[], known: readonly string[], none?: string): string {
  const unknown = `Unknown query parameter${names.length === 1 ? '' : 's'} ${namedKeys(names)}`;
  if (known.length > 0) return `${unknown}: expected one of ${known.join(', ')}.`;
  return `${unknown}: this request takes no query parameters${none ? `; ${none}` : ''}.`;
}

/**
 * The query of a route that starts a job: a parameter it does not know is a 400 naming it and the
 * ones it takes (API.md §1), not dropped, since a misspelt `callback_url` or `on_error` would
 * start a job that runs without it. Lists keep a lenient `z.object`: a client may add a
 * cache-busting parameter to a GET. `none` is told where the route takes no parameter at all.
 */
export function strictQuery<Shape extends z.ZodRawShape>(shape: Shape, none?: string) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknownQueryParametersMessage(issue.keys, known, none) : undefined),
  });
}

/** The query of a job-starting route whose options are its JSON body: it takes no parameter. */
export const bodyOptionsOnlyQuery = strictQuery({}, 'its options are fields of the JSON body');

/** The query of a job-starting route that takes no options at all. */
export const noQuery = strictQuery({});
