import type { z } from 'zod';
import type { ProductResource } from '../../shared/product/product-queries.js';
import { restoreFormula } from '../../shared/product/formula-cells.js';
import { isValidGtin } from '../../shared/product/gtin.js';
import {
  currencySchema,
  imageUrlSchema,
  productProblems,
  productRowSchema,
} from '../../shared/product/schema.js';
import { unstorableText } from '../../shared/product/storable-text.js';
import { readRowAttributes, type AttributeValue } from './attributes-cell.js';
import { mergedCurrencyRule } from './currency-rule.js';
import { isReportedColumnCount, REPORTED_COLUMN_COUNT_MESSAGE } from './reported-column-count.js';
import { commaPrice, eanCellOf, explainCommaPrice, explainInvalidEan, isPointNumber } from './spreadsheet-cells.js';
import type { ImportMode } from '../../shared/jobs/import-options.js';
import type { ColumnLayout, ProductColumn } from './header.js';
import type { VerbatimLines } from './verbatim-lines.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/** One problem of one data row, as it goes into the job's report. */
export interface RowProblem {
  row: number;
  ean: string | null;
  field: string | null;
  code: RowErrorCode;
  message: string;
}

/**
 * A row that passed validation, in the shape the merge takes: the product's fields (name may be
 * left out with mode=update), attributes from the `attributes` JSON column with the extra columns
 * (strings) over them.
 */
export type ValidRow = Omit<ProductResource, 'name' | 'attributes' | 'created_at' | 'updated_at' | 'derived'> & {
  name: string | null;
  attributes: Record<string, AttributeValue>;
  /**
   * The row's line as uploaded, when its cells are its values as they stand and it may be copied
   * into a chunk as it is (see VerbatimLines); else null or absent.
   */
  line?: string | null;
};

/** A valid row, or the problems of an invalid one (never empty). No wrapper: one object less per row. */
export type RowResult = ValidRow | RowProblem[];

/** The attributes of every row of a file without attribute columns: one frozen object, not one per row. */
const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});

/** Cells trimmed of surrounding spaces before validation; free text is kept as written. */
const TRIMMED: ReadonlySet<ProductColumn> = new Set(['ean', 'price', 'currency', 'stock', 'image_url']);

/**
 * Validates CSV records against the shared product schema. Built once per import from the header
 * layout; `read` is called for every data row.
 */
export class RowReader {
  private readonly schema: ReturnType<typeof productRowSchema>;
  private readonly columns: Array<[ProductColumn, number]>;
  private readonly nameRequired: boolean;
  /** A price needs a currency cell, unless the file has no currency column and the merge checks the stored one. */
  private readonly priceNeedsCurrency: boolean;
  private readonly currencies = new Map<string, string | null>();
  /** Whether plainly valid rows skip the full schema (off only to compare both in tests). */
  private readonly fastPath: boolean;
  /** Whether a text cell can be stored as it is (see `unstorableCells`). */
  private readonly storable: (cell: string) => boolean;
  /**
   * decimal_separator=",": a price cell is written `1,50`; a workbook's numeric cell is read as the
   * number it is (`1.5`, see isPointNumber).
   */
  private readonly decimalComma: boolean;
  /** Set when lines of the file may be copied into chunks as uploaded (see VerbatimLines). */
  private readonly verbatim: VerbatimLines | null;

  constructor(
    private readonly layout: ColumnLayout,
    mode: ImportMode,
    settings: {
      fastPath?: boolean;
      decimalComma?: boolean;
      verbatim?: VerbatimLines | null;
      mergedWithStored?: boolean;
      /** The cells may hold a NUL or an unpaired surrogate (a workbook's): the fast path leaves such cells to the schema. */
      unstorableCells?: boolean;
    } = {},
  ) {
    this.fastPath = settings.fastPath ?? true;
    this.storable = settings.unstorableCells === false ? () => true : (cell) => unstorableText(cell) === null;
    this.verbatim = settings.verbatim ?? null;
    this.decimalComma = settings.decimalComma ?? false;
    this.nameRequired = mode !== 'update';
    // The merge checks the rule against the stored currency where the file has prices alone (mergedCurrencyRule).
    const columns = new Set(Object.keys(layout.product) as ProductColumn[]);
    this.priceNeedsCurrency = !(settings.mergedWithStored === true && mergedCurrencyRule(columns) === 'price');
    this.schema = productRowSchema({ nameRequired: this.nameRequired, currencyWithPrice: this.priceNeedsCurrency });
    this.columns = Object.entries(layout.product) as Array<[ProductColumn, number]>;
  }

  /**
   * Validates `record`, the cells of data row `row` (1-based); `line` is the record's line as
   * uploaded, when it was read from one line without quotes.
   */
  read(record: string[], row: number, line?: string): RowResult {
    const eanCell = eanCellOf(record[this.layout.product.ean!]);
    if (record.length !== this.layout.header.length) {
      return [
        {
          row,
          ean: eanCell,
          field: null,
          code: 'COLUMN_COUNT',
          message: `The row has ${record.length} fields; the header has ${this.layout.header.length}.`,
        },
      ];
    }
    if (this.layout.errorCodes.length > 0 && isReportedColumnCount(record, this.layout.errorCodes)) {
      return [{ row, ean: eanCell, field: null, code: 'COLUMN_COUNT', message: REPORTED_COLUMN_COUNT_MESSAGE }];
    }
    const fast = this.fastPath ? this.readValid(record, eanCell, line) : null;
    if (fast) return fast;
    const input: Record<string, unknown> = {};
    // Cells an export prefixed with ' against CSV injection get their value back.
    for (const [column, index] of this.columns) {
      const cell = restoreFormula(record[index]!);
      const value = TRIMMED.has(column) ? cell.trim() : cell;
      input[column] = value === '' || (column === 'name' && value.trim() === '') ? null : value;
    }
    input.ean = eanCell ?? '';
    let priceProblem: RowProblem | null = null;
    if (this.decimalComma && typeof input.price === 'string') {
      const price = commaPrice(input.price, isPointNumber(record, this.layout.product.price));
      if (price.ok) input.price = price.value;
      else {
        priceProblem = { row, ean: eanCell, field: 'price', code: 'INVALID_PRICE', message: price.message };
        input.price = null;
      }
    }
    const read = readRowAttributes(record, this.layout.attributes, this.layout.attributesJson);
    const attributes = read.ok ? read.attributes : {};
    const attributesProblem: RowProblem | null = read.ok
      ? null
      : { row, ean: eanCell, field: read.field, code: 'INVALID_ATTRIBUTES', message: read.message };
    const parsed = this.schema.safeParse(input);
    const cellProblems = [priceProblem, attributesProblem].filter((problem) => problem !== null);
    if (!parsed.success) {
      const problems = explainInvalidEan(toRowProblems(parsed.error, row, eanCell), eanCell);
      return [...(this.decimalComma ? explainCommaPrice(problems) : problems), ...cellProblems];
    }
    if (cellProblems.length > 0) return cellProblems;
    const product = parsed.data;
    return {
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
      line: null,
    };
  }

  /** The currency as the schema returns it (upper case), or null when the schema rejects it; memoized. */
  private currency(cell: string): string | null {
    let currency = this.currencies.get(cell);
    if (currency === undefined) {
      const parsed = currencySchema.safeParse(cell);
      currency = parsed.success ? parsed.data : null;
      if (this.currencies.size < CURRENCY_MEMO_SIZE) this.currencies.set(cell, currency);
    }
    return currency;
  }

  /**
   * The fast path for the common row: when every cell is plainly valid, the row as the schema
   * would return it; otherwise (any cell the schema might reject, or need to tell about) null, and
   * the caller runs the full schema, which gives the report its codes and messages. EAN, currency
   * and image URL are checked by the schema's own rules; text by its length, price and stock by the
   * rules of API.md §3 restated above (a unit test compares both paths on the edge cases).
   */
  private readValid(record: string[], ean: string | null, line: string | undefined): ValidRow | null {
    const { product } = this.layout;
    // A JSON attributes column is parsed and merged by the full path.
    if (ean === null || !isValidGtin(ean) || this.layout.attributesJson !== undefined) return null;
    // Text cells an export prefixed with ' against CSV injection get their value back here too.
    const nameCell = product.name === undefined ? undefined : restoreFormula(record[product.name]!);
    let name: string | null = null;
    if (nameCell !== undefined) {
      if (nameCell.length === 0 || nameCell.length > TEXT_LIMITS.name || nameCell.trim() === '' || !this.storable(nameCell)) return null;
      name = nameCell;
    } else if (this.nameRequired) return null;
    const brand = optionalText(textCell(record, product.brand), TEXT_LIMITS.brand, this.storable);
    const category = optionalText(textCell(record, product.category), TEXT_LIMITS.category, this.storable);
    const description = optionalText(textCell(record, product.description), TEXT_LIMITS.description, this.storable);
    if (brand === undefined || category === undefined || description === undefined) return null;
    let price = trimmedCell(record, product.price);
    if (price !== null && this.decimalComma) {
      const read = commaPrice(price, isPointNumber(record, product.price));
      if (!read.ok) return null;
      price = read.value;
    }
    if (price !== null && !PLAIN_PRICE.test(price)) return null;
    const currencyCell = trimmedCell(record, product.currency);
    let currency: string | null = null;
    if (currencyCell !== null) {
      currency = this.currency(currencyCell);
      if (currency === null) return null;
    }
    if (price !== null && currency === null && this.priceNeedsCurrency) return null;
    const stockCell = trimmedCell(record, product.stock);
    let stock: number | null = null;
    if (stockCell !== null) {
      stock = plainStock(stockCell);
      if (stock === null) return null;
    }
    const imageUrl = trimmedCell(record, product.image_url);
    if (imageUrl !== null && !imageUrlSchema.safeParse(imageUrl).success) return null;
    let attributes: Readonly<Record<string, AttributeValue>> = NO_ATTRIBUTES;
    if (this.layout.attributes.length > 0) {
      const read = readRowAttributes(record, this.layout.attributes, undefined);
      if (!read.ok) return null;
      attributes = read.attributes;
    }
    const values: ValidRow = { ean, name, brand, category, description, price, currency, stock, image_url: imageUrl, attributes, line: null };
    if (line !== undefined && this.verbatim !== null && asUploaded(record, values, product) && !this.verbatim.special.test(line)) {
      values.line = line;
    }
    return values;
  }
}

/**
 * Whether every value of a valid row is its cell as uploaded (its COPY value as it stands): no cell
 * empty, trimmed, changed by the injection prefix or by normalization, and a stock without leading
 * zeros. `values` are readValid's, `product` the layout's cell index of each product column.
 */
function asUploaded(record: string[], values: ValidRow, product: ColumnLayout['product']): boolean {
  const same = (value: string | null, index: number | undefined) => index === undefined || value === record[index];
  const stock = product.stock === undefined ? null : record[product.stock]!;
  return (
    same(values.ean, product.ean) &&
    same(values.name, product.name) &&
    same(values.brand, product.brand) &&
    same(values.category, product.category) &&
    same(values.description, product.description) &&
    same(values.price, product.price) &&
    same(values.currency, product.currency) &&
    same(values.image_url, product.image_url) &&
    (stock === null || (values.stock !== null && stock === String(values.stock)))
  );
}

/** The text cell of `index` with an export's injection prefix removed, or undefined when the file has no such column. */
function textCell(record: string[], index: number | undefined): string | undefined {
  return index === undefined ? undefined : restoreFormula(record[index]!);
}

/** The trimmed cell of `index` ('' is no value), or null when the file has no such column. */
function trimmedCell(record: string[], index: number | undefined): string | null {
  if (index === undefined) return null;
  const value = record[index]!.trim();
  return value === '' ? null : value;
}

/**
 * Longest text the product schema accepts in each free-text field (API.md §3). Only the fast path
 * of {@link RowReader.read} uses them, to accept a row without the full schema; a longer value
 * goes to the schema, which reports it. A unit test checks them against the schema.
 */
export const TEXT_LIMITS = { name: 500, brand: 500, category: 500, description: 10_000 } as const;

/** A price the schema accepts (API.md §3: at least 0, at most 4 decimal places); for the fast path. */
const PLAIN_PRICE = /^\d{1,15}(?:\.\d{1,4})?$/;

/** The stock of a cell the schema accepts (digits, 0 to 2^31 − 1), else null; for the fast path. */
function plainStock(cell: string): number | null {
  if (!/^\d{1,10}$/.test(cell)) return null;
  const stock = Number(cell);
  return stock <= 2_147_483_647 ? stock : null;
}

/** Most distinct currency cells whose result a reader keeps (a file uses a handful). */
const CURRENCY_MEMO_SIZE = 64;

/** A free-text cell as the schema gets it ('' is no value), or undefined when it is too long or not storable (a workbook's `_x0000_`). */
function optionalText(cell: string | undefined, limit: number, storable: (cell: string) => boolean): string | null | undefined {
  if (cell === undefined || cell === '') return null;
  return cell.length <= limit && storable(cell) ? cell : undefined;
}

function toRowProblems(error: z.ZodError, row: number, ean: string | null): RowProblem[] {
  return productProblems(error).map((problem) => ({ row, ean, ...problem }));
}
