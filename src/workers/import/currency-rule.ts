import type { DbClient } from '../../shared/db/pool.js';
import { CURRENCY_REQUIRED_MESSAGE } from '../../shared/product/schema.js';
import type { RejectedRow } from './chunk-sql.js';
import type { ProductColumn } from './header.js';
import { lockStoredProducts } from './stored-row-locks.js';

/**
 * How an import keeps API.md §3's rule that a product with a price has a currency. A file with
 * both columns, or neither, decides it row by row (RowReader): the merged product has the row's
 * price and currency, or the stored ones. A file with one of the two merges the row's value with
 * the other one as stored, so the rule holds only if the stored product says so: `price` (prices,
 * no currency column) and `currency` (currencies, no price column) name the rule the merge then
 * checks (see rejectPriceWithoutCurrency); null when the rows decide it alone.
 */
export function mergedCurrencyRule(columns: ReadonlySet<ProductColumn>): 'price' | 'currency' | null {
  const price = columns.has('price');
  if (price === columns.has('currency')) return null;
  return price ? 'price' : 'currency';
}

/** "The stored product of chunk row `c` has `column`", as one index probe ($1: the account); false for a new EAN. */
const storedHas = (column: 'price' | 'currency') =>
  `(SELECT p.${column} FROM products p WHERE p.account_id = $1 AND p.ean = c.ean) IS NOT NULL`;

/**
 * Takes out of the chunk table the rows whose merged product would have a price and no currency,
 * as a `REQUIRED` problem on `currency` (the row's own check gives the same): under rule `price`
 * a row with a price whose EAN has no stored currency (a new product has none), under `currency` a
 * row with an empty currency cell whose stored product has a price. Only those rows are looked up,
 * and unless `lock` is false (a dry run) their stored products are locked first, so that no other
 * writer changes what the rule read before the merge writes (see lockStoredProducts).
 */
export async function rejectPriceWithoutCurrency(
  tx: DbClient,
  accountId: string,
  rule: 'price' | 'currency',
  lock = true,
): Promise<RejectedRow[]> {
  const looked = rule === 'price' ? 'c.price IS NOT NULL' : 'c.currency IS NULL';
  if (lock) await lockStoredProducts(tx, accountId, looked);
  const where = rule === 'price' ? `${looked} AND NOT ${storedHas('currency')}` : `${looked} AND ${storedHas('price')}`;
  const { rows } = await tx.query<{ row: number }>(`DELETE FROM import_chunk c WHERE ${where} RETURNING c.row`, [accountId]);
  return rows.map(({ row }) => ({ row, field: 'currency', code: 'REQUIRED', message: CURRENCY_REQUIRED_MESSAGE }));
}
