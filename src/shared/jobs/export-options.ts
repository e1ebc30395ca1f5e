import { callbackUrlSchemaOf } from '../callbacks/callback-target.js';
import { z } from 'zod';
import { zodIssueProblems, type FieldProblem } from '../field-problems.js';
import { MAX_FILTER_LENGTH } from '../input-bounds.js';
import { instantSchema } from '../instant.js';
import { PRODUCT_COLUMNS } from '../product/product-columns.js';
import { columnKey, refineColumnMapping } from './column-mapping-rules.js';
import { DELIMITERS, delimiterSchema, type Delimiter } from './delimiters.js';
import { exportColumns, headerOf, type ExportColumn } from './export-columns.js';
import { columnMappingSchema, DECIMAL_SEPARATORS, type ColumnMapping, MAX_HEADER_LENGTH, MAX_MAPPED_COLUMNS } from './import-options.js';

/** Formats of an export file (API.md §4). */
const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * The fields an export can hold, in their default order. `attributes` is a nested JSON object in
 * NDJSON and one column holding the JSON object in CSV; the timestamps are NDJSON-only by default,
 * since no import writes them (see READ_ONLY_EXPORT_FIELDS).
 */
const EXPORT_FIELDS = [
  ...PRODUCT_COLUMNS,
  'attributes',
  'created_at',
  'updated_at',
] as const;
export type ExportField = (typeof EXPORT_FIELDS)[number];

/**
 * The export fields an import cannot write: all but the product columns and `attributes` (the
 * timestamps, which the catalog sets itself). An import ignores a column named like one, so that a
 * CSV export with them re-imports unchanged instead of storing them as attributes.
 */
export const READ_ONLY_EXPORT_FIELDS: readonly ExportField[] = EXPORT_FIELDS.filter(
  (field) => field !== 'attributes' && !(PRODUCT_COLUMNS as readonly string[]).includes(field),
);

/** Whether `name` is an export field: the only names an export's SQL is built from. */
export function isExportField(name: string): name is ExportField {
  return (EXPORT_FIELDS as readonly string[]).includes(name);
}

/** What an export column may hold: an export field, or one attribute (`attributes.<key>`). */
const exportSourceSchema = z.union([z.enum(EXPORT_FIELDS), z.string().regex(/^attributes\..+$/s)]);

/** CSV exports without `fields`: exactly the import's columns, so the file re-imports unchanged. */
const DEFAULT_CSV_FIELDS: readonly ExportField[] = EXPORT_FIELDS.filter((field) => !READ_ONLY_EXPORT_FIELDS.includes(field));

const unknownField = (name: string, withColumns: boolean) =>
  `Unknown field '${name}': expected one of ${EXPORT_FIELDS.join(', ')}${withColumns ? ', or a header named in columns' : ''}.`;

/**
 * `fields` naming one column twice, by its header in `columns` and by the field it maps (`EAN` and
 * `ean` with `{"EAN": "ean"}`), or naming two headers the mapping sends to one target (`EAN` and
 * `GTIN` with `{"EAN": "ean", "GTIN": "ean"}`): the file would hold both, which its import with
 * the mapping refuses (DUPLICATE_COLUMN). Names that are neither are reported as unknown elsewhere.
 */
function fieldsTwiceProblems(columns: ColumnMapping, fields: readonly string[], context: z.RefinementCtx): void {
  const mapped = new Map(Object.entries(columns).filter(([, source]) => source !== 'ignore'));
  const named = new Map<string, { name: string; header: string }>();
  fields.forEach((name, index) => {
    const source = mapped.get(name) ?? (isExportField(name) ? name : undefined);
    if (source === undefined) return;
    const header = mapped.has(name) ? name : headerOf(columns, name);
    const earlier = named.get(columnKey(source));
    if (earlier === undefined) {
      named.set(columnKey(source), { name, header });
      return;
    }
    const message =
      earlier.header === header
        ? `fields names the column '${header}' twice: as '${earlier.name}' and as '${name}'.`
        : `fields names two columns for ${source}, '${earlier.header}' and '${header}', which columns maps to it: ` +
          'a file holding both could not be imported back with columns. Name one of them.';
    context.addIssue({ code: 'custom', path: ['fields', index], message });
  });
}

const UPDATED_SINCE_MESSAGE = 'filter.updated_since must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.';

/**
 * The body of POST /v1/exports (also the `export` of a schedule). Strict, as is `filter`: an
 * unknown key is a 400 naming it (API.md §1, §4), not silently dropped — a misspelt `filtr` would
 * otherwise export the whole catalog.
 */
export const exportRequestSchema = z
  .strictObject({
    format: z.enum(EXPORT_FORMATS, {
      error: (issue) =>
        issue.input === undefined ? 'The format field is required.' : `Unknown format '${String(issue.input)}': expected csv or ndjson.`,
    }),
    gzip: z.boolean({ error: 'gzip must be true or false.' }).optional(),
    fields: z
      .array(
        z
          .string({ error: 'fields must be an array of field names.' })
          .max(MAX_HEADER_LENGTH, { error: `A name in fields must be at most ${MAX_HEADER_LENGTH} characters.` }),
        { error: 'fields must be an array of field names.' },
      )
      .min(1, { error: 'fields must name at least one field.' })
      .max(MAX_MAPPED_COLUMNS, { error: `fields names at most ${MAX_MAPPED_COLUMNS} columns.` })
      .refine((list) => new Set(list).size === list.length, { error: 'fields names a field more than once.' })
      .optional()
      .meta({ description: `Export fields (${EXPORT_FIELDS.join(', ')}) or headers named in columns, in output order` }),
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
          updated_since: instantSchema(UPDATED_SINCE_MESSAGE).optional(),
        },
        { error: 'filter must be an object.' },
      )
      .optional(),
    /** Where the job resource is POSTed when the job ends (POST /v1/exports only; schedules ignore it). */
    callback_url: callbackUrlSchemaOf('callback_url ').optional(),
    columns: columnMappingSchema.superRefine(refineColumnMapping).optional().meta({
      description: "CSV only: output header → field, as an import profile's columns (a partner's format round-trips); a field several headers map to is written once, under the first",
      example: { 'EAN Code': 'ean', Artikelname: 'name', Farbe: 'attributes.color' },
    }),
    decimal_separator: z
      .enum(DECIMAL_SEPARATORS, { error: 'decimal_separator must be "." or ",".' })
      .optional()
      .meta({ description: 'CSV only: how prices write decimals; default "."' }),
    delimiter: delimiterSchema
      .optional()
      .meta({ description: 'CSV only: the delimiter between cells, as imports take it; default ","' }),
  })
  .superRefine((request, context) => {
    const mapping = Object.entries(request.columns ?? {});
    // A header mapped to ignore is not written: it names no column of the export.
    const headers = new Set(mapping.filter(([, source]) => source !== 'ignore').map(([header]) => header));
    request.fields?.forEach((name, index) => {
      if (isExportField(name) || headers.has(name)) return;
      const ignored = request.columns?.[name] === 'ignore';
      const message = ignored ? `The header '${name}' is mapped to ignore in columns: it has no value to export.` : unknownField(name, mapping.length > 0);
      context.addIssue({ code: 'custom', path: ['fields', index], message });
    });
    if (mapping.length > 0 && headers.size === 0 && request.fields === undefined) {
      context.addIssue({ code: 'custom', path: ['columns'], message: 'columns maps every header to ignore: it must name at least one column to export.' });
    }
    if (request.columns && request.fields) fieldsTwiceProblems(request.columns, request.fields, context);
    for (const key of ['columns', 'decimal_separator', 'delimiter'] as const) {
      if (request[key] !== undefined && request.format === 'ndjson') {
        context.addIssue({ code: 'custom', path: [key], message: `${key} is for CSV: it needs format csv.` });
      }
    }
  });
export type ExportRequest = z.infer<typeof exportRequestSchema>;

/** The options of an export job as stored on the job row: every default filled in. */
export interface ExportOptions {
  format: ExportFormat;
  gzip: boolean;
  fields: ExportField[];
  filter: { brand?: string; category?: string; updated_since?: string };
  /** CSV with a `columns` mapping: the output columns, which `fields` then only summarizes. */
  columns?: ExportColumn[];
  /** CSV: "," writes prices with a decimal comma. */
  decimal_separator?: '.' | ',';
  /** CSV: the delimiter between cells; absent: a comma. */
  delimiter?: Delimiter;
}

/** Fills in the defaults of a valid request. */
function toExportOptions(request: ExportRequest): ExportOptions {
  const filter: ExportOptions['filter'] = {};
  if (request.filter?.brand !== undefined) filter.brand = request.filter.brand;
  if (request.filter?.category !== undefined) filter.category = request.filter.category;
  if (request.filter?.updated_since !== undefined) filter.updated_since = request.filter.updated_since;
  const base: Omit<ExportOptions, 'fields'> = { format: request.format, gzip: request.gzip ?? false, filter };
  if (request.decimal_separator) base.decimal_separator = request.decimal_separator;
  if (request.delimiter) base.delimiter = request.delimiter;
  if (!request.columns) {
    return { ...base, fields: (request.fields as ExportField[] | undefined) ?? [...(request.format === 'csv' ? DEFAULT_CSV_FIELDS : EXPORT_FIELDS)] };
  }
  const columns = exportColumns(request.columns, request.fields);
  const fields = columns.map((column) => column.source).filter(isExportField);
  return { ...base, fields: fields.length > 0 ? [...new Set(fields)] : ['ean'], columns };
}

/**
 * Parses an export request; on failure returns the problems with their field paths (prefixed
 * with `prefix`, e.g. `export.` inside a schedule), for a 400 BAD_REQUEST.
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
  return { ok: false, problems: zodIssueProblems(parsed.error.issues, { prefix, knownKeys: KNOWN_KEYS }) };
}

/** The keys an export request (or its `filter`) may hold, for the message about an unknown one. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(exportRequestSchema.shape),
  filter: Object.keys(exportRequestSchema.shape.filter.unwrap().shape),
  columns: [],
};

/** Reads the stored options of an export job (written by {@link toExportOptions}). */
export const exportOptionsSchema = z.object({
  format: z.enum(EXPORT_FORMATS),
  gzip: z.boolean(),
  fields: z.array(z.enum(EXPORT_FIELDS)).min(1),
  filter: z.object({ brand: z.string().optional(), category: z.string().optional(), updated_since: z.string().optional() }),
  columns: z.array(z.object({ header: z.string(), source: exportSourceSchema })).optional(),
  decimal_separator: z.enum(DECIMAL_SEPARATORS).optional(),
  delimiter: z.enum(DELIMITERS).optional(),
});
