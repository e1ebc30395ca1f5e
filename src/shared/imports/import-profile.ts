import { z } from 'zod';
import {
  columnMappingSchema,
  DECIMAL_SEPARATORS,
  IMPORT_ENCODINGS,
  importModeSchema,
  onErrorSchema,
  type ImportOptions,
} from '../jobs/import-options.js';
import { refineColumnMapping } from '../jobs/column-mapping-rules.js';
import { DELIMITER_NAMES, delimiterSchema } from '../jobs/delimiters.js';

/** How an account's files are read; every setting optional (unset: the import's default). */
const importProfileSettingsSchema = z.object({
  columns: columnMappingSchema
    // Mappings no file could be imported with: a header twice, two headers to one column.
    .superRefine(refineColumnMapping)
    .optional()
    .meta({
      description: 'Header as in the file → ean, name, brand, category, description, price, currency, stock, image_url, attributes, attributes.<key> or ignore',
      example: { 'EAN Code': 'ean', Artikelname: 'name', Farbe: 'attributes.color' },
    }),
  delimiter: delimiterSchema.optional().meta({ enum: Object.keys(DELIMITER_NAMES), description: '",", ";" or a tab ("tab", or "\\t" as GET answers it)' }),
  encoding: z.enum(IMPORT_ENCODINGS).optional(),
  decimal_separator: z.enum(DECIMAL_SEPARATORS).optional(),
  sheet: z.string().min(1).max(255).optional().meta({ description: 'Worksheet of a workbook upload, by name or 1-based position' }),
  mode: importModeSchema.optional(),
  on_error: onErrorSchema.optional(),
});
export type ImportProfileSettings = z.output<typeof importProfileSettingsSchema>;

type SettingsShape = typeof importProfileSettingsSchema.shape;

/** Each setting of the body may also be null: not set, as GET answers a setting not set. */
const nullableSettings = Object.fromEntries(
  Object.entries(importProfileSettingsSchema.shape).map(([key, setting]) => [key, setting.nullable()]),
) as { [K in keyof SettingsShape]: z.ZodNullable<SettingsShape[K]> };

/** The settings given a value: a null one is left out, as one not sent. */
const withoutNulls = (settings: Record<string, unknown>): ImportProfileSettings =>
  Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== null)) as ImportProfileSettings;

/**
 * POST and PUT /v1/import-profiles body: a name and the settings. Unknown keys are refused. A
 * setting may be null (not set), so that a profile read can be written back as it was answered.
 */
export const importProfileBodySchema = z
  .strictObject({
    name: z
      .string({ error: 'The name field is required.' })
      .trim()
      .min(1, { error: 'The name field is required.' })
      .max(100, { error: 'The name must be at most 100 characters.' }),
    ...nullableSettings,
  })
  .meta({ description: "A setting left out or null is not set: the import's default (or its query parameter) applies." })
  .transform(({ name, ...settings }) => ({ name, ...withoutNulls(settings) }));

/** Import options that a query parameter set, to lay over a profile's. */
export type ImportOverrides = Partial<Pick<ImportOptions, 'mode' | 'on_error' | 'delimiter' | 'encoding' | 'decimal_separator' | 'sheet'>>;

/**
 * The options of an import: the defaults, then the profile's settings, then the query parameters
 * given beside it (they win). The profile is named in the options, so the job shows what applied.
 */
export function resolveImportOptions(
  profile: { id: string; name: string; settings: ImportProfileSettings } | null,
  query: ImportOverrides & { dry_run: boolean },
): ImportOptions {
  const settings = profile?.settings ?? {};
  return {
    mode: query.mode ?? settings.mode ?? 'upsert',
    on_error: query.on_error ?? settings.on_error ?? 'abort',
    delimiter: query.delimiter ?? settings.delimiter ?? null,
    dry_run: query.dry_run,
    encoding: query.encoding ?? settings.encoding ?? null,
    decimal_separator: query.decimal_separator ?? settings.decimal_separator ?? '.',
    sheet: query.sheet ?? settings.sheet ?? null,
    columns: settings.columns ?? null,
    profile: profile && { id: profile.id, name: profile.name },
  };
}
