import { callbackUrlSchema } from '../callbacks/callback-target.js';
import { z } from 'zod';
import type { FieldProblem } from '../errors.js';
import { MAX_FILTER_LENGTH, MAX_INSTANT_LENGTH } from '../input-bounds.js';
import { PRODUCT_COLUMNS } from '../product/product-columns.js';

/** Formats of an export file (API.md §4). */
export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * The fields an export can hold, in their default order. `attributes` is a nested JSON object in
 * NDJSON and one column holding the JSON object in CSV; the timestamps are NDJSON-only by default,
 * because the importer would read them back as attributes.
 */
export const EXPORT_FIELDS = [
  ...PRODUCT_COLUMNS,
  'attributes',
  'created_at',
  'updated_at',
] as const;
export type ExportField = (typeof EXPORT_FIELDS)[number];

/** CSV exports without `fields`: exactly the import's columns, so the file re-imports unchanged. */
export const DEFAULT_CSV_FIELDS: readonly ExportField[] = EXPORT_FIELDS.filter(
  (field) => field !== 'created_at' && field !== 'updated_at',
);

const field = z.enum(EXPORT_FIELDS, {
  error: (issue) => `Unknown field '${String(issue.input)}': expected one of ${EXPORT_FIELDS.join(', ')}.`,
});

const UPDATED_SINCE_MESSAGE = 'filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.';

/**
 * The body of POST /v1/exports (also the `export` of a schedule). Strict, as is `filter`: an
 * unknown key is a 422 naming it (API.md §4), not silently dropped — a misspelt `filtr` would
 * otherwise export the whole catalog.
 */
export const exportRequestSchema = z.strictObject({
  format: z.enum(EXPORT_FORMATS, {
    error: (issue) =>
      issue.input === undefined ? 'The format field is required.' : `Unknown format '${String(issue.input)}': expected csv or ndjson.`,
  }),
  gzip: z.boolean({ error: 'gzip must be true or false.' }).optional(),
  fields: z
    .array(field, { error: 'fields must be an array of field names.' })
    .min(1, { error: 'fields must name at least one field.' })
    // Longer than the list of fields means a field twice: the same answer as the check below.
    .max(EXPORT_FIELDS.length, { error: 'fields names a field more than once.' })
    .refine((list) => new Set(list).size === list.length, { error: 'fields names a field more than once.' })
    .optional(),
  filter: z
    .strictObject(
      {
        brand: z
          .string({ error: 'filter.brand must be a string.' })
          .max(MAX_FILTER_LENGTH, { error: `filter.brand must be at most ${MAX_FILTER_LENGTH} characters.` })
          .optional(),
        category: z
          .string({ error: 'filter.category must be a string.' })
          .max(MAX_FILTER_LENGTH, { error: `filter.category must be at most ${MAX_FILTER_LENGTH} characters.` })
          .optional(),
        updated_since: z.iso
          .datetime({ offset: true, error: UPDATED_SINCE_MESSAGE })
          .max(MAX_INSTANT_LENGTH, { error: UPDATED_SINCE_MESSAGE })
          .optional(),
      },
      { error: 'filter must be an object.' },
    )
    .optional(),
  /** Where the job resource is POSTed when the job ends (POST /v1/exports only; schedules ignore it). */
  callback_url: callbackUrlSchema.optional(),
});
export type ExportRequest = z.infer<typeof exportRequestSchema>;

/** The options of an export job as stored on the job row: every default filled in. */
export interface ExportOptions {
  format: ExportFormat;
  gzip: boolean;
  fields: ExportField[];
  filter: { brand?: string; category?: string; updated_since?: string };
}

/** Fills in the defaults of a valid request. */
export function toExportOptions(request: ExportRequest): ExportOptions {
  const filter: ExportOptions['filter'] = {};
  if (request.filter?.brand !== undefined) filter.brand = request.filter.brand;
  if (request.filter?.category !== undefined) filter.category = request.filter.category;
  if (request.filter?.updated_since !== undefined) filter.updated_since = request.filter.updated_since;
  return {
    format: request.format,
    gzip: request.gzip ?? false,
    fields: request.fields ?? [...(request.format === 'csv' ? DEFAULT_CSV_FIELDS : EXPORT_FIELDS)],
    filter,
  };
}

/**
 * Parses an export request; on failure returns the problems with their field paths (prefixed
 * with `prefix`, e.g. `export.` inside a schedule), for a 422 VALIDATION_ERROR.
 */
export function parseExportRequest(
  body: unknown,
  prefix = '',
): { ok: true; options: ExportOptions } | { ok: false; problems: FieldProblem[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, problems: [{ field: prefix.replace(/\.$/, '') || 'body', message: 'The export must be a JSON object.' }] };
  }
  const parsed = exportRequestSchema.safeParse(body);
  if (parsed.success) return { ok: true, options: toExportOptions(parsed.data) };
  return { ok: false, problems: parsed.error.issues.flatMap((issue) => problemsOf(issue, prefix)) };
}

/** The keys an export request (or its `filter`) may hold, for the message about an unknown one. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(exportRequestSchema.shape),
  filter: Object.keys(exportRequestSchema.shape.filter.unwrap().shape),
};

/** One problem per issue; an unknown-keys issue becomes one problem per key, each naming its key. */
function problemsOf(issue: z.core.$ZodIssue, prefix: string): FieldProblem[] {
  const path = issue.path.filter((part) => typeof part !== 'number').map(String).join('.');
  if (issue.code !== 'unrecognized_keys') return [{ field: prefix + (path || 'body'), message: issue.message }];
  const known = KNOWN_KEYS[path] ?? [];
  return issue.keys.map((key) => {
    const field = prefix + (path ? `${path}.` : '') + key;
    return { field, message: `Unknown key '${field}': expected one of ${known.join(', ')}.` };
  });
}

/** Reads the stored options of an export job (written by {@link toExportOptions}). */
export const exportOptionsSchema = z.object({
  format: z.enum(EXPORT_FORMATS),
  gzip: z.boolean(),
  fields: z.array(z.enum(EXPORT_FIELDS)).min(1),
  filter: z.object({ brand: z.string().optional(), category: z.string().optional(), updated_since: z.string().optional() }),
});
