import type { z } from 'zod';
import type { ProductResource } from '../../shared/product/product-queries.js';
import { productProblems, productRowSchema } from '../../shared/product/schema.js';
import type { ColumnLayout, ImportMode, ProductColumn } from './header.js';

/** One problem of one data row, as it goes into the job's report. */
export interface RowProblem {
  row: number;
  ean: string | null;
  field: string | null;
  code: string;
  message: string;
}

/**
 * A row that passed validation, in the shape the merge takes: the product's fields (name may be
 * left out with mode=update), attributes from the extra columns as strings.
 */
export type ValidRow = Omit<ProductResource, 'name' | 'attributes' | 'created_at' | 'updated_at'> & {
  name: string | null;
  attributes: Record<string, string>;
};

export type RowResult = { ok: true; row: ValidRow } | { ok: false; problems: RowProblem[] };

/** Cells trimmed of surrounding spaces before validation; free text is kept as written. */
const TRIMMED: ReadonlySet<ProductColumn> = new Set(['ean', 'price', 'currency', 'stock', 'image_url']);

/**
 * Validates CSV records against the shared product schema. Built once per import from the header
 * layout; `read` is called for every data row.
 */
export class RowReader {
  private readonly schema: ReturnType<typeof productRowSchema>;
  private readonly columns: Array<[ProductColumn, number]>;

  constructor(private readonly layout: ColumnLayout, mode: ImportMode) {
    this.schema = productRowSchema({ nameRequired: mode !== 'update' });
    this.columns = Object.entries(layout.product) as Array<[ProductColumn, number]>;
  }

  /** Validates `record`, the cells of data row `row` (1-based). */
  read(record: string[], row: number): RowResult {
    const eanCell = record[this.layout.product.ean!]?.trim() || null;
    if (record.length !== this.layout.header.length) {
      return {
        ok: false,
        problems: [
          {
            row,
            ean: eanCell,
            field: null,
            code: 'COLUMN_COUNT',
            message: `The row has ${record.length} fields; the header has ${this.layout.header.length}.`,
          },
        ],
      };
    }
    const input: Record<string, unknown> = {};
    for (const [column, index] of this.columns) {
      const cell = record[index]!;
      const value = TRIMMED.has(column) ? cell.trim() : cell;
      input[column] = value === '' || (column === 'name' && value.trim() === '') ? null : value;
    }
    if (input.ean === null) input.ean = '';
    const attributes: Record<string, string> = {};
    for (const { name, index } of this.layout.attributes) {
      const cell = record[index]!;
      if (cell !== '') attributes[name] = cell;
    }
    const parsed = this.schema.safeParse(input);
    if (!parsed.success) return { ok: false, problems: toRowProblems(parsed.error, row, eanCell) };
    const product = parsed.data;
    return {
      ok: true,
      row: {
        ean: product.ean,
        name: product.name ?? null,
        brand: product.brand ?? null,
        category: product.category ?? null,
        description: product.description ?? null,
        price: product.price ?? null,
        currency: product.currency ?? null,
        stock: product.stock ?? null,
        image_url: product.image_url ?? null,
        attributes,
      },
    };
  }
}

function toRowProblems(error: z.ZodError, row: number, ean: string | null): RowProblem[] {
  return productProblems(error).map((problem) => ({ row, ean, ...problem }));
}
