import { z } from 'zod';
import { instantSchema } from '../instant.js';

/** Which products an enrichment covers, besides an explicit EAN list (API.md §4). */
export const enrichmentFilterSchema = z.strictObject({
  /** Exact brand as stored. */
  brand: z.string().min(1).max(500).optional(),
  /** Exact category as stored. */
  category: z.string().min(1).max(500).optional(),
  /** Products updated at or after this time (ISO 8601 with an offset). */
  updated_since: instantSchema().optional(),
});

/** The options of an enrichment job, as stored on the job row and echoed in its `options`. */
export const enrichmentOptionsSchema = z.object({
  /** The EANs to enrich, in request order; null: every product that matches `filter`. */
  eans: z.array(z.string()).nullable(),
  filter: enrichmentFilterSchema.nullable(),
  overwrite: z.boolean(),
});

export type EnrichmentFilter = z.infer<typeof enrichmentFilterSchema>;
export type EnrichmentOptions = z.infer<typeof enrichmentOptionsSchema>;
