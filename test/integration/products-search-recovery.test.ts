import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13 } from '../support/csv.js';
import { sendJson } from '../support/products.js';
import { executedPlanNodes, hasSearchBacklog, readsSearchTable, untilSearchCaughtUp } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import { catchUpSearch } from '../../src/workers/search/catch-up-search.js';

// A worker that dies between an import's commit and the end of product search's catch-up leaves
// the account's backlog mark: searches stay exact (answered from products), and the reconciler of
// any worker process finishes the catch-up.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { RECONCILE_INTERVAL_MS: '1000' } });
});
afterAll(async () => ctx?.close());

async function search(key: string, q: string): Promise<string[]> {
  const response = await sendJson(ctx.app, key, 'GET', `/v1/products?q=${encodeURIComponent(q)}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean);
}

describe('product search after a worker crash', () => {
  it('catches up a backlog left behind once a worker process starts', async () => {
    const account = await ctx.createAccount();
    const [kept, renamed, gone] = [ean13(1), ean13(2), ean13(3)];
    // What a committed import leaves when its worker dies before the catch-up: products written,
    // the account marked, product_search as before the import (one stale name, one removed product).
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'Blue ballpoint pen'), ($1, $3, 'Red felt marker')`,
      [account.id, kept, renamed],
    );
    await ctx.db.query(
      `INSERT INTO product_search (account_id, ean, name) VALUES ($1, $2, 'Blue highlighter'), ($1, $3, 'Blue eraser')`,
      [account.id, renamed, gone],
    );
    await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [account.id]);

    expect(await search(account.key, 'blue')).toEqual([kept]);
    expect(await search(account.key, 'marker')).toEqual([renamed]);

    ctx.startWorkers();
    await untilSearchCaughtUp(ctx, account.id);
    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    const { rows } = await ctx.db.query('SELECT ean, name FROM product_search WHERE account_id = $1 ORDER BY ean', [account.id]);
    expect(rows).toEqual([
      { ean: kept, name: 'Blue ballpoint pen' },
      { ean: renamed, name: 'Red felt marker' },
    ]);
    expect(await search(account.key, 'blue')).toEqual([kept]);
    expect(await search(account.key, 'marker')).toEqual([renamed]);
    expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { nameContains: 'marker', limit: 50 }))).toBe(true);
  });

  it('catches an account up once when two worker processes find its mark at the same time', async () => {
    const account = await ctx.createAccount();
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name)
       SELECT $1, lpad(n::text, 13, '0'), 'Product ' || n FROM generate_series(1, 20000) AS n`,
      [account.id],
    );
    await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [account.id]);

    // As the reconcilers of two worker processes would: each on its own connections.
    const results = await Promise.all([catchUpSearch(ctx.db, account.id), catchUpSearch(ctx.db, account.id)]);
    // One read the catalog and wrote every search row; the other waited, then found no mark left.
    expect(results.filter((result) => result === null)).toHaveLength(1);
    expect(results.find((result) => result !== null)).toEqual({ written: 20_000, removed: 0, cleared: true });
    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    const { rows } = await ctx.db.query<{ count: number }>('SELECT count(*)::int AS count FROM product_search WHERE account_id = $1', [account.id]);
    expect(rows[0]!.count).toBe(20_000);
  });

  it('a catch-up waiting for another process to finish gives up when its process stops', async () => {
    const account = await ctx.createAccount();
    await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [account.id]);
    const other = await ctx.db.connect();
    try {
      await other.query(`SELECT pg_advisory_lock(hashtextextended('product_search_catch_up:' || $1, 0))`, [account.id]);
      let stopping = false;
      const waiting = catchUpSearch(ctx.db, account.id, () => stopping);
      await new Promise((resolve) => setTimeout(resolve, 600));
      stopping = true;
      expect(await waiting).toBeNull();
      // The mark stays for the process that holds the lock (or for the next reconciler pass).
      expect(await hasSearchBacklog(ctx, account.id)).toBe(true);
    } finally {
      other.release(true);
    }
  });
});
