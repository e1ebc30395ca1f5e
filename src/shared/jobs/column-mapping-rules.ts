import type { z } from 'zod';
import { storedAttributeName } from '../product/attribute-rules.js';
import { PRODUCT_COLUMNS } from '../product/product-columns.js';
import type { ColumnMapping } from './import-options.js';

/**
 * The rules an import applies to a file's header and a mapping must keep so that the files it
 * describes can be imported: one module, used by the import's header reading and by the
 * validation of the mappings of import profiles, exports and export schedules.
 */

/**
 * A header name as it is matched and an attribute column is named: trimmed and in Unicode NFC, so
 * that `Größe` written with a decomposed `ö` (o and a combining diaeresis, as macOS often writes
 * file contents) is the `Größe` a profile maps or another file names. Matched case-insensitively.
 */
export function headerName(header: string): string {
  return header.trim().normalize('NFC');
}

/**
 * What two headers must not both be: a product column, the `attributes` column, or one attribute
 * (`attributes.<name>`, in NFC and lower case), whether a plain header names the attribute, the file spells
 * it `attributes.<name>` or a mapping does: two of them would write the same attribute of a row.
 */
export function columnKey(target: string): string {
  if ((PRODUCT_COLUMNS as readonly string[]).includes(target) || target === 'attributes') return target;
  return `attributes.${storedAttributeName(target.startsWith('attributes.') ? target.slice(11) : target).toLowerCase()}`;
}

const HEADER_TWICE = 'columns names a header more than once (headers are matched case-insensitively after trimming, in Unicode NFC).';

/** The problem of `header` sent to `target`, one attribute with `earlier`'s spelt in another case. */
function attributeSpeltTwice(earlier: [string, string], [header, target]: [string, string]): string {
  return (
    `columns maps two headers to one attribute spelt two ways: '${earlier[0]}' goes to ${earlier[1]} and '${header}' to ` +
    `${target}, and attribute names are told apart case-insensitively. Spell it the same way for both.`
  );
}

/**
 * The problems of a `columns` mapping that no file could be imported with: a header named twice
 * as the import matches headers (the second would never be told from the first), and two headers
 * sent to one attribute spelt in two cases (the import tells attributes apart case-insensitively,
 * but would store the key as each header's target spells it). Several headers sent to the same
 * target are aliases (`{"EAN": "ean", "GTIN": "ean"}`: a file may name the column either way); an
 * export writes the column once, under the first of them (see exportColumns). One problem per
 * header that repeats an earlier one.
 */
export function columnMappingProblems(columns: ColumnMapping): string[] {
  const problems: string[] = [];
  const headers = new Set<string>();
  const columnsTaken = new Map<string, [string, string]>();
  for (const entry of Object.entries(columns)) {
    const [header, target] = entry;
    const key = headerName(header).toLowerCase();
    if (headers.has(key)) problems.push(HEADER_TWICE);
    headers.add(key);
    if (target === 'ignore') continue;
    const earlier = columnsTaken.get(columnKey(target));
    if (!earlier) columnsTaken.set(columnKey(target), entry);
    else if (storedAttributeName(earlier[1]) !== storedAttributeName(target)) problems.push(attributeSpeltTwice(earlier, entry));
  }
  return problems;
}

/** Adds {@link columnMappingProblems} to a zod refinement of a mapping, at the mapping's own path. */
export function refineColumnMapping(columns: ColumnMapping, context: z.RefinementCtx): void {
  for (const message of columnMappingProblems(columns)) context.addIssue({ code: 'custom', message });
}
