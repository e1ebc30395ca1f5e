import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbClient } from '../../src/shared/db/pool.js';
import { createChunkTables, type MergeShape } from '../../src/workers/import/chunk-sql.js';
import { upsertChunk } from '../../src/workers/import/chunk-upsert.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The merge of a chunk whose unchanged rows the worker took out (upsertChunk): one
 * INSERT … ON CONFLICT DO UPDATE that creates new EANs, updates changed products in the file's
 * columns only, leaves equal ones untouched and counts each kind.
 */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const ean = (n: number) => String(4_006_381_100_000 + n);
/** A file of EAN, name and price: brand and the rest are not in it. */
const shape: MergeShape = { columns: new Set(['ean', 'name', 'price']), attributeNames: [], attributesJson: false };

interface Stored {
  ean: string;
  name: string;
  brand: string | null;
  price: string | null;
  changed: boolean;
}

async function storeProduct(accountId: string, n: number, name: string, price: string): Promise<void> {
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, brand, price, created_at, updated_at)
     VALUES ($1, $2, $3, 'Kept brand', $4::numeric, now() - interval '1 day', now() - interval '1 day')`,
    [accountId, ean(n), name, price],
  );
}

/** Stages rows [n, name, price] in the chunk table as the worker's COPY would. */
async function stage(tx: DbClient, rows: Array<[number, string, string]>): Promise<void> {
  for (const [i, [n, name, price]] of rows.entries()) {
    await tx.query(`INSERT INTO import_chunk (row, ean, name, price, attributes) VALUES ($1, $2, $3, $4, '{}')`, [i + 2, ean(n), name, price]);
  }
}

async function productsOf(accountId: string): Promise<Stored[]> {
  const { rows } = await ctx.db.query<Stored>(
    `SELECT ean, name, brand, price::text AS price, updated_at > now() - interval '1 hour' AS changed
     FROM products WHERE account_id = $1 ORDER BY ean`,
    [accountId],
  );
  return rows;
}

describe('upsertChunk', () => {
  it('creates new EANs, updates changed products in the file\'s columns and leaves equal ones untouched', async () => {
    const account = await ctx.createAccount();
    await storeProduct(account.id, 1, 'Old name', '1.50');
    await storeProduct(account.id, 2, 'Same', '2.00');
    await storeProduct(account.id, 3, 'Same', '3.00');
    const tx = await ctx.db.connect();
    try {
      await tx.query('BEGIN');
      await createChunkTables(tx, { firstLoad: false });
      await stage(tx, [[1, 'New name', '1.50'], [2, 'Same', '2.00'], [4, 'Brand new', '4.5'], [3, 'Same', '3.0']]);
      expect(await upsertChunk(tx, account.id, shape, 4)).toEqual({ created: 1, updated: 2, unchanged: 1 });
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    expect(await productsOf(account.id)).toEqual([
      { ean: ean(1), name: 'New name', brand: 'Kept brand', price: '1.50', changed: true },
      { ean: ean(2), name: 'Same', brand: 'Kept brand', price: '2.00', changed: false },
      // A new scale of the price is a change, as in every merge.
      { ean: ean(3), name: 'Same', brand: 'Kept brand', price: '3.0', changed: true },
      { ean: ean(4), name: 'Brand new', brand: null, price: '4.5', changed: true },
    ]);
  });

  it('updates a product another import inserted and committed meanwhile, instead of failing on its key', async () => {
    const account = await ctx.createAccount();
    await storeProduct(account.id, 1, 'Stored', '1.00');
    const tx = await ctx.db.connect();
    try {
      await tx.query('BEGIN');
      await createChunkTables(tx, { firstLoad: false });
      await stage(tx, [[2, 'From the file', '2.00']]);
      // Committed on another connection after this transaction began.
      await storeProduct(account.id, 2, 'From elsewhere', '9.00');
      expect(await upsertChunk(tx, account.id, shape, 1)).toEqual({ created: 0, updated: 1, unchanged: 0 });
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    expect((await productsOf(account.id))[1]).toMatchObject({ ean: ean(2), name: 'From the file', price: '2.00', changed: true });
  });
});
