import { READ_ONLY_EXPORT_FIELDS } from '../../shared/jobs/export-options.js';
import { ERRORS_CSV_COLUMNS } from '../../shared/jobs/job-error-queries.js';
import type { ColumnMapping, ImportMode } from '../../shared/jobs/import-options.js';
import { restoreFormula } from '../../shared/product/formula-cells.js';
import { PRODUCT_COLUMNS, type ProductColumn } from '../../shared/product/product-columns.js';
import { attributeNameProblem, longerThan, storedAttributeName } from '../../shared/product/attribute-rules.js';
import { columnKey, headerName } from '../../shared/jobs/column-mapping-rules.js';

// The product columns an import file can name; `attributes` is a JSON object of attributes, any
// other column one attribute (but for the columns layoutFromHeader ignores).
export { PRODUCT_COLUMNS, type ProductColumn } from '../../shared/product/product-columns.js';

/** The column holding attributes as one JSON object (what a CSV export writes). */
export const ATTRIBUTES_COLUMN = 'attributes';


/** How each cell of a record is read, worked out once from the header. */
export interface ColumnLayout {
  /** Cell index of each product column the file has. */
  product: Partial<Record<ProductColumn, number>>;
  /** Attribute name and cell index of each other named column. */
  /** The attribute columns; `problem`: why a name no product may have (too long, `__proto__`) fails a row that fills it. */
  attributes: Array<{ name: string; index: number; problem?: string }>;
  /** Cell index of the `attributes` column (a JSON object of attributes), if the file has one. */
  attributesJson?: number;
  /** The header as uploaded (trimmed of a BOM by the parser). */
  header: string[];
  /** Cell indexes of the `error_code` columns of a report uploaded again (see reported-column-count.ts). */
  errorCodes: number[];
}

/** A header that cannot be imported; the message names the problem. */
export class HeaderError extends Error {
  override name = 'HeaderError';
  constructor(
    message: string,
    readonly code: 'NO_HEADER' | 'MISSING_COLUMN' | 'DUPLICATE_COLUMN' | 'MALFORMED_CSV',
  ) {
    super(message);
  }
}

/** A renaming of the file's headers (a profile's `columns`), and how to name it in messages. */
export interface HeaderMapping {
  columns: ColumnMapping;
  /** e.g. "the column mapping of profile 'akeneo'". */
  label: string;
}

/**
 * Reads the header row: names are matched case-insensitively after trimming and NFC (see
 * headerName), `ean` (and `name` unless `mode=update`) are required, a name given twice is an
 * error, unnamed columns are ignored, and so are a report's error columns and the export fields
 * an import cannot write (READ_ONLY_EXPORT_FIELDS). With a `mapping`, a header it names (matched
 * the same way) goes where the mapping says instead. An attribute column is named in NFC.
 */
export function layoutFromHeader(header: string[], mode: ImportMode, mapping?: HeaderMapping): ColumnLayout {
  if (header.every((cell) => cell.trim() === '')) {
    throw new HeaderError('The file has no header row.', 'NO_HEADER');
  }
  const layout: ColumnLayout = { product: {}, attributes: [], header, errorCodes: [] };
  const targets = mappedTargets(mapping);
  // Each column's key, with the header that took it first.
  const seen = new Map<string, string>();
  header.forEach((cell, index) => {
    // An export prefixes a name that starts like a formula with ' (CSV-injection defence).
    const name = headerName(restoreFormula(cell));
    const key = name.toLowerCase();
    // errors.csv's own columns are ignored so that a fixed errors.csv re-uploads as is; but for
    // error_code, which holds back a row reported with COLUMN_COUNT.
    if (key === 'error_code') layout.errorCodes.push(index);
    if (name === '' || (ERRORS_CSV_COLUMNS as readonly string[]).includes(key)) return;
    const mapped = targets.get(key);
    // An export's columns of fields no import writes (created_at, updated_at) are ignored so that
    // the file re-imports unchanged; a mapping that names such a header puts it where it says.
    if (mapped === undefined && (READ_ONLY_EXPORT_FIELDS as readonly string[]).includes(key)) return;
    const target = mapped ?? key;
    if (target === 'ignore') return;
    const seenKey = columnKey(target);
    const earlier = seen.get(seenKey);
    if (earlier !== undefined) throw duplicateColumn(earlier, name, seenKey, mapping);
    seen.set(seenKey, name);
    if ((PRODUCT_COLUMNS as readonly string[]).includes(target)) layout.product[target as ProductColumn] = index;
    else if (target === ATTRIBUTES_COLUMN) layout.attributesJson = index;
    else if (target.startsWith('attributes.')) layout.attributes.push({ name: target.slice(11), index });
    else layout.attributes.push({ name, index });
  });
  for (const column of layout.attributes) nameProblemOf(column);
  const required: ProductColumn[] = mode === 'update' ? ['ean'] : ['ean', 'name'];
  const missing = required.filter((column) => layout.product[column] === undefined);
  if (missing.length > 0) throw missingColumns(missing, header, mapping);
  return layout;
}

/**
 * An attribute column's name is checked once, here, by the rule a product's attributes follow
 * (see attributeNameProblem); a row that leaves the column empty sets no attribute and passes,
 * one that fills it fails with this problem (see readRowAttributes).
 */
function nameProblemOf(column: { name: string; problem?: string }): void {
  const problem = attributeNameProblem(column.name);
  if (!problem) return;
  const shown = longerThan(column.name, 40) ? `${Array.from(column.name).slice(0, 40).join('')}…` : column.name;
  column.problem = `${problem} (the column '${shown}')`;
}

/** DUPLICATE_COLUMN for the header `name`, whose column (`key`, see {@link columnKey}) `earlier` already took. */
function duplicateColumn(earlier: string, name: string, key: string, mapping: HeaderMapping | undefined): HeaderError {
  const column = key.startsWith('attributes.') ? `the attribute '${key.slice(11)}'` : `'${key}'`;
  let message: string;
  if (earlier.toLowerCase() === name.toLowerCase()) message = `The header names the column '${name}' more than once.`;
  else if (mapping) message = `The header gives ${column} twice, from '${earlier}' and from '${name}' (after ${mapping.label}).`;
  else message = `The header gives ${column} twice, from '${earlier}' and from '${name}'.`;
  return new HeaderError(message, 'DUPLICATE_COLUMN');
}

/**
 * The mapping's targets by lower-cased header name (see headerName). An attribute target keeps
 * the case the profile writes it in: it names the stored key, which an export with the same
 * columns reads; its name is in NFC, as every attribute name is stored (see storedAttributeName).
 */
function mappedTargets(mapping: HeaderMapping | undefined): Map<string, string> {
  const targets = new Map<string, string>();
  for (const [from, to] of Object.entries(mapping?.columns ?? {})) {
    const target = to.startsWith('attributes.') ? `attributes.${storedAttributeName(to.slice(11))}` : to.toLowerCase();
    targets.set(headerName(from).toLowerCase(), target);
  }
  return targets;
}

/** MISSING_COLUMN; with a mapping, the message names it and what it maps, beside the file's header. */
function missingColumns(missing: ProductColumn[], header: string[], mapping: HeaderMapping | undefined): HeaderError {
  const list = missing.map((column) => `'${column}'`).join(' and ');
  let message = `The header is missing the required column${missing.length > 1 ? 's' : ''} ${list}.`;
  if (mapping) {
    const mapped = Object.entries(mapping.columns)
      .filter(([, to]) => (missing as string[]).includes(to))
      .map(([from, to]) => `'${from}' → ${to}`);
    const maps = mapped.length > 0 ? `maps ${mapped.join(', ')}, but the file has no such header` : `maps no header to ${list}`;
    const names = header.map((cell) => `'${cell.trim()}'`).join(', ');
    message = `${message.slice(0, -1)}: ${mapping.label} ${maps}. The file's header: ${names}.`;
  }
  return new HeaderError(message, 'MISSING_COLUMN');
}

const CANDIDATE_DELIMITERS = [',', ';', '\t'] as const;

/**
 * Picks the delimiter among `,` `;` and tab that occurs most often outside quotes in the first
 * line of `sample`; a comma when none does.
 */
export function detectDelimiter(sample: string): string {
  const counts = new Map<string, number>(CANDIDATE_DELIMITERS.map((candidate) => [candidate, 0]));
  let quoted = false;
  for (const char of sample.replace(/^\uFEFF/, '')) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '\n' || char === '\r')) break;
    else if (!quoted && counts.has(char)) counts.set(char, counts.get(char)! + 1);
  }
  let best = ',';
  for (const [candidate, count] of counts) if (count > counts.get(best)!) best = candidate;
  return best;
}
