import type { ColumnMapping } from './import-options.js';

/**
 * One column of a CSV export renamed by a `columns` mapping (an import profile's, in reverse):
 * `header` is written in the header row, `source` says what fills it — an export field, or
 * `attributes.<key>` for one attribute.
 */
export interface ExportColumn {
  header: string;
  source: string;
}

/** The header a mapping gives an export field (the first, when aliases map to it), or the field's own name. */
export function headerOf(columns: ColumnMapping, field: string): string {
  return Object.entries(columns).find(([, source]) => source === field)?.[0] ?? field;
}

/**
 * The CSV columns of an export with a `columns` mapping, in order: `fields` when given (each an
 * export field, headed by the mapping's header for it, or a header the mapping names), else the
 * mapping's headers in its order, each target once: headers that are aliases of an earlier one
 * (`GTIN` in `{"EAN": "ean", "GTIN": "ean"}`) are not written, as a file holding both could not be
 * imported with the mapping (DUPLICATE_COLUMN). Headers mapped to `ignore` are not written.
 */
export function exportColumns(columns: ColumnMapping, fields: readonly string[] | undefined): ExportColumn[] {
  const mapped = Object.entries(columns).filter(([, source]) => source !== 'ignore');
  if (fields === undefined) {
    // Insertion order: each target where its first header stands.
    const firstHeaders = new Map<string, string>();
    for (const [header, source] of mapped) if (!firstHeaders.has(source)) firstHeaders.set(source, header);
    return [...firstHeaders].map(([source, header]) => ({ header, source }));
  }
  return fields.map((name) => {
    const source = mapped.find(([header]) => header === name)?.[1];
    return source === undefined ? { header: headerOf(columns, name), source: name } : { header: name, source };
  });
}
