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

/** The header a mapping gives an export field, or the field's own name. */
function headerOf(columns: ColumnMapping, field: string): string {
  return Object.entries(columns).find(([, source]) => source === field)?.[0] ?? field;
}

/**
 * The CSV columns of an export with a `columns` mapping, in order: `fields` when given (each an
 * export field, headed by the mapping's header for it, or a header the mapping names), else every
 * header of the mapping, in its order. Headers mapped to `ignore` are not written.
 */
export function exportColumns(columns: ColumnMapping, fields: readonly string[] | undefined): ExportColumn[] {
  const mapped = Object.entries(columns).filter(([, source]) => source !== 'ignore');
  const names = fields ?? mapped.map(([header]) => header);
  return names.map((name) => {
    const source = mapped.find(([header]) => header === name)?.[1];
    return source === undefined ? { header: headerOf(columns, name), source: name } : { header: name, source };
  });
}
