import { z } from 'zod';
import { callbackUrlSchemaOf } from '../callbacks/callback-target.js';
import { zodIssueProblems, type FieldProblem } from '../field-problems.js';
import { MAX_FILTER_LENGTH } from '../input-bounds.js';
import { instantSchema } from '../instant.js';

/** At most this many EANs per request (a larger list is several jobs). */
const MAX_ENRICHMENT_EANS = 50_000;

/** A filter value: an exact brand or category as stored. */
const filterValue = (field: string) =>
  z
    .string({ error: `${field} must be a string.` })
    .min(1, { error: `${field} must not be empty.` })
    .max(MAX_FILTER_LENGTH, { error: `${field} must be at most ${MAX_FILTER_LENGTH} characters.` });

/**
 * Which products an enrichment covers, besides an explicit EAN list (API.md §4). Strict: an
 * unknown key is a 400 naming it, as an export's filter, not a whole-catalog enrichment.
 */
export const enrichmentFilterSchema = z.strictObject(
  {
    /** Exact brand as stored. */
    brand: filterValue('filter.brand').optional(),
    /** Exact category as stored. */
    category: filterValue('filter.category').optional(),
    /** Products updated at or after this time (ISO 8601 with an offset). */
    updated_since: instantSchema('filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.').optional(),
  },
  { error: 'filter must be an object.' },
);

const EANS_MESSAGE = 'eans must be an array of EANs, each a string such as "4006381333931".';

/** The body of POST /v1/enrichments; each problem is worded for the client, as an export's. */
export const enrichmentRequestSchema = z
  .strictObject({
    eans: z
      .array(z.string({ error: EANS_MESSAGE }).max(64, { error: 'An EAN in eans must be at most 64 characters.' }), { error: EANS_MESSAGE })
      .max(MAX_ENRICHMENT_EANS, { error: `eans lists at most ${MAX_ENRICHMENT_EANS} EANs: send a longer list as several enrichments.` })
      .optional(),
    filter: enrichmentFilterSchema.optional(),
    overwrite: z.boolean({ error: 'overwrite must be true or false.' }).default(false),
    callback_url: callbackUrlSchemaOf('callback_url ').optional(),
  })
  .meta({ id: 'EnrichmentRequest' });
export type EnrichmentRequest = z.infer<typeof enrichmentRequestSchema>;

/** The keys an enrichment request (or its `filter`) may hold, for the message about an unknown one. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(enrichmentRequestSchema.shape),
  filter: Object.keys(enrichmentFilterSchema.shape),
};

/**
 * Parses an enrichment request; no body at all is the whole catalog. On failure returns the
 * problems named by their field paths, unknown keys by their own (`filter.sku`), for a 400.
 */
export function parseEnrichmentRequest(body: unknown): { ok: true; request: EnrichmentRequest } | { ok: false; problems: FieldProblem[] } {
  if (body === undefined || body === null) return { ok: true, request: { overwrite: false } };
  if (typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problems: [{ field: 'body', message: 'The body must be a JSON object, or left out to enrich the whole catalog.' }] };
  }
  const parsed = enrichmentRequestSchema.safeParse(body);
  if (parsed.success) return { ok: true, request: parsed.data };
  return { ok: false, problems: zodIssueProblems(parsed.error.issues, { knownKeys: KNOWN_KEYS }) };
}

/** The options of an enrichment job, as stored on the job row and echoed in its `options`. */
export const enrichmentOptionsSchema = z.object({
  /** The EANs to enrich, in request order; null: every product that matches `filter`. */
  eans: z.array(z.string()).nullable(),
  filter: enrichmentFilterSchema.nullable(),
  overwrite: z.boolean(),
});

export type EnrichmentFilter = z.infer<typeof enrichmentFilterSchema>;
export type EnrichmentOptions = z.infer<typeof enrichmentOptionsSchema>;
