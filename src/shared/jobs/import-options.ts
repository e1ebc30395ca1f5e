import { z } from 'zod';
import { DELIMITERS } from './delimiters.js';

/**
 * Text encodings an import can be read in (API.md §7); a UTF-16 byte-order mark is detected by
 * itself. `iso-8859-1` is read as windows-1252, as browsers read that label.
 */
export const IMPORT_ENCODINGS = ['utf-8', 'windows-1252', 'iso-8859-1', 'utf-16le', 'utf-16be'] as const;
export type ImportEncoding = (typeof IMPORT_ENCODINGS)[number];

/** How a price cell writes its decimals: `1.50` or `1,50`. */
export const DECIMAL_SEPARATORS = ['.', ','] as const;
export type DecimalSeparator = (typeof DECIMAL_SEPARATORS)[number];

/** How an import writes: insert or update (`upsert`), insert only (`create`), update only (`update`). */
export const importModeSchema = z.enum(['upsert', 'create', 'update']);

/** What a row error does to an import: fail it, nothing written (`abort`), or skip the row (`skip`). */
export const onErrorSchema = z.enum(['abort', 'skip']);

/**
 * Where a column of the file goes: a product field, the `attributes` JSON column, one attribute
 * (`attributes.<key>`), or nowhere (`ignore`). Keys are headers as in the file.
 */
/** Most headers a `columns` mapping (or an export's `fields`) may name; each name is bounded too. */
export const MAX_MAPPED_COLUMNS = 500;
/** Longest header a `columns` mapping (or an export's `fields`) may name. */
export const MAX_HEADER_LENGTH = 255;

/** The problem of a `columns` mapping of more than {@link MAX_MAPPED_COLUMNS} headers. */
export const MAPPED_COLUMNS_MESSAGE = `columns names at most ${MAX_MAPPED_COLUMNS} headers.`;

export const columnMappingSchema = z
  .record(
    z
      .string()
      .max(MAX_HEADER_LENGTH, { error: `A header in columns must be at most ${MAX_HEADER_LENGTH} characters.` })
      .refine((header) => header.trim() !== '', { error: 'A header in columns must not be empty.' }),
    z
      .string()
      .max(MAX_HEADER_LENGTH + 11, { error: 'A target in columns is too long.' })
      .regex(/^(ean|name|brand|category|description|price|currency|stock|image_url|attributes|attributes\..+|ignore)$/, {
        error: (issue) =>
          `Unknown target '${String(issue.input)}' in columns: expected a product field (ean, name, brand, category, description, price, currency, stock, image_url), attributes, attributes.<key> or ignore.`,
      }),
  )
  .refine((columns) => Object.keys(columns).length <= MAX_MAPPED_COLUMNS, { error: MAPPED_COLUMNS_MESSAGE });
export type ColumnMapping = z.infer<typeof columnMappingSchema>;

/**
 * Whether `columns` (as sent, unvalidated) names more headers than a mapping may. A body is checked
 * for it before its schema, which checks every header and target first: the tens of thousands a
 * 1 MiB body holds would take seconds, holding the event loop, to be refused all the same.
 */
export function tooManyMappedColumns(columns: unknown): boolean {
  if (typeof columns !== 'object' || columns === null) return false;
  let headers = 0;
  for (const header in columns) if (Object.hasOwn(columns, header) && ++headers > MAX_MAPPED_COLUMNS) return true;
  return false;
}

/**
 * The options of an import job, as stored on the job row and echoed in its `options`. Fields
 * added after the first release default so that jobs stored before them still read.
 */
export const importOptionsSchema = z.object({
  mode: importModeSchema,
  on_error: onErrorSchema,
  /** null: detected from the header line among `,` `;` and tab (or from Excel's `sep=` line). */
  delimiter: z.enum(DELIMITERS).nullable(),
  dry_run: z.boolean(),
  /** null: UTF-8, or UTF-16 when the file starts with its byte-order mark (CSV only). */
  encoding: z.enum(IMPORT_ENCODINGS).nullable().default(null),
  decimal_separator: z.enum(DECIMAL_SEPARATORS).default('.'),
  /** The worksheet of a workbook upload, by name or 1-based position; null: the first. */
  sheet: z.string().min(1).nullable().default(null),
  /** The header renaming applied (from the profile); null: headers are read as they are. */
  columns: columnMappingSchema.nullable().default(null),
  /** The saved import profile applied, if any. */
  profile: z.object({ id: z.string(), name: z.string() }).nullable().default(null),
  /** What the upload is; absent: CSV (jobs stored before workbooks were accepted). */
  format: z.enum(['csv', 'xlsx']).optional(),
});

export type ImportOptions = z.infer<typeof importOptionsSchema>;
export type ImportMode = ImportOptions['mode'];
