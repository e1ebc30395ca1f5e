import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbClient } from '../../src/shared/db/pool.js';
import type { MergeShape } from '../../src/workers/import/chunk-sql.js';
import type { ProductColumn } from '../../src/workers/import/header.js';
import type { ValidRow } from '../../src/workers/import/row-reader.js';
import { UnchangedRows } from '../../src/workers/import/unchanged-rows.js';
import { untilQueueReady } from '../support/csv.js';
import { reimportChunk } from '../support/import-chunks.js';
import { recoveryEan } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A re-import keeps the rows that would change nothing in the worker (UnchangedRows): each is
 * compared, as COPY text, with its stored product read back with COPY. These tests check that the
 * two texts agree for values that need escaping or are NULL (else no row would ever be taken out),
 * and that a row differing in any one column still updates its product.
 */

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const ALL_COLUMNS: ProductColumn[] = ['ean', 'name', 'brand', 'category', 'description', 'price', 'currency', 'stock', 'image_url'];
const shapeOf = (columns: ProductColumn[]): MergeShape => ({ columns: new Set(columns), attributeNames: [], attributesJson: false });

/** Products whose text needs COPY's escapes, or is not ASCII, or is NULL; the EANs ascend. */
const awkward: ValidRow[] = [
  { ean: '4000000000017', name: 'Back\\slash', brand: 'Tab\there', category: 'Line\nbreak', description: 'Carriage\rreturn',
    price: '1.50', currency: 'EUR', stock: 0, image_url: 'https://example.com/a.png', attributes: {} },
  { ean: '4000000000024', name: 'Crème brûlée – 🍮', brand: null, category: null, description: null,
    price: null, currency: null, stock: null, image_url: null, attributes: {} },
  { ean: '4000000000031', name: 'Plain', brand: 'B', category: 'C', description: 'D', price: '0', currency: 'USD', stock: 7,
    image_url: null, attributes: {} },
];

async function storeProducts(accountId: string, products: ValidRow[]): Promise<void> {
  for (const p of products) {
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name, brand, category, description, price, currency, stock, image_url)
       VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10)`,
      [accountId, p.ean, p.name, p.brand, p.category, p.description, p.price, p.currency, p.stock, p.image_url],
    );
  }
}

/** How many rows UnchangedRows takes out of a chunk of `rows`. */
async function dropped(accountId: string, rows: ValidRow[], shape: MergeShape, byRange: boolean): Promise<number> {
  const client = await ctx.db.connect();
  try {
    return (await new UnchangedRows(client, accountId).drop(reimportChunk(accountId, rows), shape, byRange)).dropped;
  } finally {
    client.release();
  }
}

describe('UnchangedRows', () => {
  it('takes out rows equal to their stored product, escaped and NULL values included', async () => {
    const account = await ctx.createAccount();
    await storeProducts(account.id, awkward);
    const shape = shapeOf(ALL_COLUMNS);
    expect(await dropped(account.id, awkward, shape, true)).toBe(3);
    expect(await dropped(account.id, awkward, shape, false)).toBe(3);
    expect(await dropped(account.id, [...awkward].reverse(), shape, true)).toBe(3);
  });

  it('compares only the columns the file has', async () => {
    const account = await ctx.createAccount();
    await storeProducts(account.id, awkward);
    // A file of EAN and price only: the other values are null in its rows and kept in the catalog.
    const priceOnly = awkward.map((p) => ({ ...p, name: null, brand: null, category: null, description: null, currency: null, stock: null, image_url: null }));
    expect(await dropped(account.id, priceOnly, shapeOf(['ean', 'price']), true)).toBe(3);
    // The same rows compared on every column differ from their stored products (no name, among others).
    expect(await dropped(account.id, priceOnly, shapeOf(ALL_COLUMNS), true)).toBe(0);
  });
});

/**
 * Runs `use` with an UnchangedRows on a connection of its own, for a new account holding `products`;
 * the connection is `use`'s too.
 */
async function withStored(
  products: ValidRow[],
  use: (unchangedRows: UnchangedRows, accountId: string, client: DbClient) => Promise<void>,
): Promise<void> {
  const account = await ctx.createAccount();
  await storeProducts(account.id, products);
  const client = await ctx.db.connect();
  try {
    await use(new UnchangedRows(client, account.id), account.id, client);
  } finally {
    client.release();
  }
}

describe('UnchangedRows after a chunk of new products', () => {
  it('lets the next 16 chunks through whole, then takes unchanged rows out again', async () => {
    const shape = shapeOf(ALL_COLUMNS);
    const fresh: ValidRow = { ...awkward[2]!, ean: '4000000000048' };
    await withStored(awkward, async (unchangedRows, accountId) => {
      const drop = async (rows: ValidRow[]) => (await unchangedRows.drop(reimportChunk(accountId, rows), shape, true)).dropped;
      expect(await drop([fresh])).toBe(0);
      for (let chunk = 0; chunk < 16; chunk += 1) expect(await drop(awkward)).toBe(0);
      expect(await drop(awkward)).toBe(3);
    });
  });
});

describe('UnchangedRows reading ahead', () => {
  const shape = shapeOf(ALL_COLUMNS);
  const moreAwkward = awkward.map((p, i) => ({ ...p, ean: ['4000000000055', '4000000000062', '4000000000079'][i]! }));

  it('reads the next chunk\'s stored products before anything sent after this chunk\'s comparison', async () => {
    await withStored([...awkward, ...moreAwkward], async (unchangedRows, accountId, client) => {
      const next = reimportChunk(accountId, moreAwkward);
      expect((await unchangedRows.drop(reimportChunk(accountId, awkward), shape, false, next)).dropped).toBe(3);
      // Sent after the read of the next chunk's products: what the next chunk is compared with predates it.
      await client.query(`UPDATE products SET name = 'Renamed' WHERE account_id = $1 AND ean = $2`, [accountId, moreAwkward[0]!.ean]);
      expect((await unchangedRows.drop(next, shape, false)).dropped).toBe(3);
      // Without a read ahead, the change is seen.
      expect((await unchangedRows.drop(reimportChunk(accountId, moreAwkward), shape, false)).dropped).toBe(2);
    });
  });

  it('compares a chunk other than the one read ahead with its own stored products', async () => {
    await withStored([...awkward, ...moreAwkward], async (unchangedRows, accountId) => {
      const renamed = awkward.map((p, i) => ({ ...p, name: i === 0 ? 'Renamed' : p.name }));
      for (const byRange of [true, false]) {
        await unchangedRows.drop(reimportChunk(accountId, moreAwkward), shape, byRange, reimportChunk(accountId, moreAwkward));
        // Not the chunk read ahead, nor its EANs.
        expect((await unchangedRows.drop(reimportChunk(accountId, renamed), shape, byRange)).dropped).toBe(2);
      }
    });
  });

  it('rests 16 chunks after one of new products while reading ahead, then compares again', async () => {
    await withStored(awkward, async (unchangedRows, accountId) => {
      const fresh: ValidRow = { ...awkward[2]!, ean: '4000000000048' };
      const chunks = [[fresh], ...Array.from({ length: 17 }, () => awkward)].map((rows) => reimportChunk(accountId, rows));
      const dropped: number[] = [];
      for (const [i, chunk] of chunks.entries()) dropped.push((await unchangedRows.drop(chunk, shape, true, chunks[i + 1] ?? null)).dropped);
      expect(dropped).toEqual([...Array<number>(17).fill(0), 3]);
    });
  });
});

describe('re-importing a catalog', () => {
  const ean = recoveryEan;
  const header = 'ean,name,brand,category,description,price,currency,stock,image_url';
  const base = [
    `${ean(1)},Name 1,Brand,Cat,"Line one\nline two",1.50,EUR,5,https://example.com/1.png`,
    `${ean(2)},Name 2,Brand,Cat,"Back\\slash ""quoted""",2.00,EUR,5,`,
    `${ean(3)},Name 3,Brand,Cat,Desc,3.00,EUR,5,`,
    `${ean(4)},Name 4,Brand,Cat,Desc,4.00,EUR,5,`,
    `${ean(5)},Name 5,Brand,Cat,Desc,5.00,EUR,5,`,
    `${ean(6)},Name 6,Brand,Cat,Desc,6.00,EUR,5,`,
    `${ean(7)},Name 7,Brand,Cat,Desc,7.00,EUR,5,`,
    `${ean(8)},Name 8,Brand,Cat,Desc,8.00,EUR,5,`,
    `${ean(9)},Name 9,Brand,Cat,Desc,9.00,EUR,5,`,
  ];
  const csv = (lines: string[]) => [header, ...lines].join('\n') + '\n';

  it('updates a row that differs in any one column and leaves the equal ones untouched', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    expect((await ctx.importCsv(account.key, csv(base))).progress.rows_created).toBe(9);
    const { rows: before } = await ctx.db.query<{ ean: string; updated_at: Date }>(
      'SELECT ean, updated_at FROM products WHERE account_id = $1 ORDER BY ean', [account.id]);

    const second = [
      base[0]!, // the same, with a line break
      base[1]!, // the same, with a backslash and quotes
      `${ean(3)},Name 3 changed,Brand,Cat,Desc,3.00,EUR,5,`,
      `${ean(4)},Name 4,,Cat,Desc,4.00,EUR,5,`, // brand emptied
      `${ean(5)},Name 5,Brand,Cat,Desc,5.0,EUR,5,`, // another scale: a change
      `${ean(6)},Name 6,Brand,Cat,Desc,06.00,EUR,005,`, // the same values, written otherwise
      `${ean(7)},Name 7,Brand,Cat,Desc,7.00,USD,5,`,
      `${ean(8)},Name 8,Brand,Cat,Desc,8.00,EUR,6,`,
      `${ean(9)},Name 9,Brand,Cat,Desc,9.00,EUR,5,https://example.com/9.png`,
      `${ean(10)},Name 10,Brand,Cat,Desc,10.00,EUR,5,`,
    ];
    const job = await ctx.importCsv(account.key, csv(second));
    expect(job.progress).toMatchObject({ rows_total: 10, rows_failed: 0, rows_created: 1, rows_updated: 6, rows_unchanged: 3 });

    const { rows: after } = await ctx.db.query<{ ean: string; brand: string | null; price: string; stock: number; updated_at: Date }>(
      'SELECT ean, brand, price::text AS price, stock, updated_at FROM products WHERE account_id = $1 ORDER BY ean', [account.id]);
    const untouched = after.filter((row, i) => before[i] && row.updated_at.getTime() === before[i]!.updated_at.getTime());
    expect(untouched.map((row) => row.ean)).toEqual([`${ean(1)}`, `${ean(2)}`, `${ean(6)}`]);
    expect(after.find((row) => row.ean === `${ean(4)}`)!.brand).toBeNull();
    expect(after.find((row) => row.ean === `${ean(5)}`)!.price).toBe('5.0');
  });

  it('with mode=update and some columns, keeps the others and counts equal rows unchanged', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await ctx.importCsv(account.key, csv(base));
    const prices = ['ean,price,currency', `${ean(1)},1.50,EUR`, `${ean(2)},2.50,EUR`, `${ean(3)},3.00,EUR`].join('\n') + '\n';
    const job = await ctx.importCsv(account.key, prices, { mode: 'update' });
    expect(job.progress).toMatchObject({ rows_total: 3, rows_updated: 1, rows_unchanged: 2 });
    const { rows } = await ctx.db.query<{ name: string; price: string }>(
      'SELECT name, price::text AS price FROM products WHERE account_id = $1 AND ean = $2', [account.id, `${ean(2)}`]);
    expect(rows[0]).toEqual({ name: 'Name 2', price: '2.50' });
  });
});
