import pg from 'pg';
import type { Delimiter } from '../../shared/jobs/delimiters.js';
import type { ExportColumn } from '../../shared/jobs/export-columns.js';
import { isExportField, type ExportField, type ExportOptions } from '../../shared/jobs/export-options.js';
import type { DecimalSeparator } from '../../shared/jobs/import-options.js';
import { storedAttributeName } from '../../shared/product/attribute-rules.js';

/**
 * The SQL of an export. COPY takes no bind parameters, so every value in these statements is a
 * literal quoted by `pg.escapeLiteral`; the account id comes from the job row.
 */

const literal = (value: string) => pg.escapeLiteral(value);

/** The rows of the export: the account's catalog narrowed by the filter. */
export function exportWhere(accountId: string, filter: ExportOptions['filter']): string {
  const conditions = [`account_id = ${literal(accountId)}::uuid`];
  if (filter.brand !== undefined) conditions.push(`brand = ${literal(filter.brand)}`);
  if (filter.category !== undefined) conditions.push(`category = ${literal(filter.category)}`);
  if (filter.updated_since !== undefined) conditions.push(`updated_at >= ${literal(filter.updated_since)}::timestamptz`);
  return conditions.join(' AND ');
}

/**
 * CSV-injection defence on a text expression: a cell starting with = + - @ tab or CR gets a
 * leading `'` so a spreadsheet shows it as text. Cells that already start with `'` followed by
 * such a character get one more, so that the importer, which strips exactly one, restores every
 * value. The first character is tested as a code point (integer comparisons, no collation).
 * Every one of these characters is below `A` (65), so for most cells (a letter first, or NULL)
 * the test is a single comparison; the list of codes, and then the regular expression, only run
 * on the rare cell that starts with a digit, a space or a sign. The CASE is nested rather than
 * an AND so that a NULL cell stops at the first test.
 */
export function defused(expression: string): string {
  return `CASE WHEN ascii(${expression}) < 65 THEN
      CASE WHEN ascii(${expression}) IN (61, 43, 45, 64, 9, 13, 39) AND ${expression} ~ '^''*[-=+@\\t\\r]'
        THEN '''' || ${expression} ELSE ${expression} END
    ELSE ${expression} END`;
}

/**
 * Free-text fields get the defence; currency (an ISO 4217 code) and image_url (an http(s) URL)
 * are validated on every write and cannot start with a formula character.
 */
const TEXT_FIELDS: ReadonlySet<ExportField> = new Set(['name', 'brand', 'category', 'description']);
const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** The CSV cell expression of one product field (attributes are written as they are). */
function csvCell(field: Exclude<ExportField, 'attributes'>, separator: DecimalSeparator): string {
  if (TEXT_FIELDS.has(field)) return defused(field);
  if (field === 'price') return separator === ',' ? `replace(price::text, '.', ',')` : 'price::text';
  if (field === 'created_at' || field === 'updated_at') return `to_char(${field} AT TIME ZONE 'UTC', ${ISO_UTC})`;
  return field;
}

/** One CSV column: the header cell and the select expression. */
export interface CsvColumn {
  header: string;
  expression: string;
}

/**
 * The CSV columns of the export in `fields` order, headed by the field names. `attributes` is one
 * column holding the product's attributes as a JSON object (PostgreSQL's jsonb text, values with
 * their stored types), which the importer merges back into the product's attributes. A JSON
 * object starts with `{`, so that cell never needs the injection defence.
 */
export function csvColumns(fields: readonly ExportField[], separator: DecimalSeparator): CsvColumn[] {
  return fields.map((field) => ({ header: field, expression: fieldCell(field, separator) }));
}

function fieldCell(field: ExportField, separator: DecimalSeparator): string {
  return field === 'attributes' ? 'attributes' : csvCell(sqlField(field), separator);
}

/** A field as the SQL names it, as it stands: anything but an export field must never get there. */
function sqlField<F extends ExportField>(field: F): F {
  if (!isExportField(field)) throw new Error(`not an export field: ${JSON.stringify(field)}`);
  return field;
}

/**
 * The CSV columns of an export renamed by a `columns` mapping: each under its own header, an
 * `attributes.<key>` column holding that attribute's value as text (defused like free text), the
 * key in NFC as attribute names are stored.
 */
export function mappedCsvColumns(columns: readonly ExportColumn[], separator: DecimalSeparator): CsvColumn[] {
  return columns.map(({ header, source }) => ({
    header,
    expression: source.startsWith('attributes.')
      ? defused(`(attributes ->> ${literal(storedAttributeName(source.slice(11)))})`)
      : fieldCell(source as ExportField, separator),
  }));
}

/**
 * COPY of the CSV rows (no header: the worker writes it, with the defence applied to names too),
 * cells between `delimiter`s. PostgreSQL quotes a cell holding the delimiter, a quote or a line
 * break, which is what an import with that delimiter needs.
 */
export function csvCopySql(columns: readonly CsvColumn[], where: string, delimiter: Delimiter): string {
  const list = columns.map((column) => column.expression).join(',\n  ');
  return `COPY (SELECT ${list} FROM products WHERE ${where}) TO STDOUT WITH (FORMAT csv, DELIMITER ${literal(delimiter)})`;
}

/**
 * COPY of NDJSON lines: one JSON object per product, keys in `fields` order, price as a string
 * with its scale. `attributes` is jsonb's text, spaces after `:` and `,` included: PostgreSQL has
 * no compact jsonb output (json_object_agg and json_build_object add spaces too), and rewriting
 * each line outside the COPY would cost the export its speed. COPY's CSV mode with control
 * characters as delimiter and quote never quotes or escapes anything here, because JSON text
 * escapes every control character: each line is the JSON exactly as PostgreSQL wrote it.
 */
export function ndjsonCopySql(fields: readonly ExportField[], where: string): string {
  const columns = fields.map(sqlField).map((field) => {
    const value =
      field === 'price'
        ? 'price::text'
        : field === 'created_at' || field === 'updated_at'
          ? `to_char(${field} AT TIME ZONE 'UTC', ${ISO_UTC})`
          : field;
    return `${value} AS ${pg.escapeIdentifier(field)}`;
  });
  return `COPY (SELECT row_to_json(product)::text FROM (SELECT ${columns.join(', ')} FROM products WHERE ${where}) AS product)
    TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')`;
}
