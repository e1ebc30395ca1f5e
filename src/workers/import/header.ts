import { ERRORS_CSV_COLUMNS } from '../../shared/jobs/job-error-queries.js';
import { restoreFormula } from '../../shared/product/formula-cells.js';
import { PRODUCT_COLUMNS, type ProductColumn } from '../../shared/product/product-columns.js';

// The product columns an import file can name; `attributes` is a JSON object of attributes, any
// other column one attribute.
export { PRODUCT_COLUMNS, type ProductColumn } from '../../shared/product/product-columns.js';

/** The column holding attributes as one JSON object (what a CSV export writes). */
export const ATTRIBUTES_COLUMN = 'attributes';


export type ImportMode = 'upsert' | 'create' | 'update';

/** How each cell of a record is read, worked out once from the header. */
export interface ColumnLayout {
  /** Cell index of each product column the file has. */
  product: Partial<Record<ProductColumn, number>>;
  /** Attribute name and cell index of each other named column. */
  attributes: Array<{ name: string; index: number }>;
  /** Cell index of the `attributes` column (a JSON object of attributes), if the file has one. */
  attributesJson?: number;
  /** The header as uploaded (trimmed of a BOM by the parser). */
  header: string[];
}

/** A header that cannot be imported; the message names the problem. */
export class HeaderError extends Error {
  override name = 'HeaderError';
  constructor(
    message: string,
    readonly code: 'NO_HEADER' | 'MISSING_COLUMN' | 'DUPLICATE_COLUMN',
  ) {
    super(message);
  }
}

/**
 * Reads the header row: names are matched case-insensitively after trimming, `ean` (and `name`
 * unless `mode=update`) are required, a name given twice is an error, unnamed columns are ignored.
 */
export function layoutFromHeader(header: string[], mode: ImportMode): ColumnLayout {
  if (header.every((cell) => cell.trim() === '')) {
    throw new HeaderError('The file has no header row.', 'NO_HEADER');
  }
  const layout: ColumnLayout = { product: {}, attributes: [], header };
  const seen = new Set<string>();
  header.forEach((cell, index) => {
    // An export prefixes a name that starts like a formula with ' (CSV-injection defence).
    const name = restoreFormula(cell).trim();
    const key = name.toLowerCase();
    // errors.csv's own columns are ignored so that a fixed errors.csv re-uploads as is.
    if (name === '' || (ERRORS_CSV_COLUMNS as readonly string[]).includes(key)) return;
    if (seen.has(key)) {
      throw new HeaderError(`The header names the column '${name}' more than once.`, 'DUPLICATE_COLUMN');
    }
    seen.add(key);
    if ((PRODUCT_COLUMNS as readonly string[]).includes(key)) layout.product[key as ProductColumn] = index;
    else if (key === ATTRIBUTES_COLUMN) layout.attributesJson = index;
    else layout.attributes.push({ name, index });
  });
  const required: ProductColumn[] = mode === 'update' ? ['ean'] : ['ean', 'name'];
  const missing = required.filter((column) => layout.product[column] === undefined);
  if (missing.length > 0) {
    const list = missing.map((column) => `'${column}'`).join(' and ');
    throw new HeaderError(
      `The header is missing the required column${missing.length > 1 ? 's' : ''} ${list}.`,
      'MISSING_COLUMN',
    );
  }
  return layout;
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
