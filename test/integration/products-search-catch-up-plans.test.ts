import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catchUpBatchStatements, catchUpSearch } from '../../src/workers/search/catch-up-search.js';
import { executedStatementNodes, indexesUsed, tablesScanned, type PlanNode } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The catch-up of product search after an import reads each product's search row (and each search
// row's product) by primary key, whatever the planner's statistics say of the account. Right after
// a first load they know nothing of it: when the tables were last analyzed the account had no rows.
// An index that leads with the account alone then looked as cheap as the primary key, and each
// probe read every search row of the account written so far: a 50k-row catch-up took 105 s instead
// of 0.8 s, and the account's writes waited behind its batches until they failed with 503.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const ean = (n: number) => String(n).padStart(13, '0');
const GONE = 12_345;

/**
 * The account as a catch-up finds it after two of its batches: 15k products (all but #GONE), the
 * search rows of the first 10k, and the search row of #GONE, whose product was deleted.
 */
async function seedHalfCaughtUp(accountId: string): Promise<void> {
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, brand, category)
     SELECT $1, lpad(i::text, 13, '0'), 'Product ' || i, 'Brand ' || (i % 50), 'Category ' || (i % 20)
     FROM generate_series(1, 15000) AS i WHERE i <> $2`,
    [accountId, GONE],
  );
  await ctx.db.query(
    `INSERT INTO product_search (account_id, ean, name, brand, category)
     SELECT account_id, ean, name, brand, category FROM products WHERE account_id = $1 AND ean <= $2`,
    [accountId, ean(10_000)],
  );
  await ctx.db.query(`INSERT INTO product_search (account_id, ean, name) VALUES ($1, $2, 'Deleted product')`, [accountId, ean(GONE)]);
  await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [accountId]);
}

/** The nodes that ran of each statement of the account's third batch (its writes rolled back). */
async function thirdBatchPlans(accountId: string): Promise<{ write: PlanNode[]; remove: PlanNode[] }> {
  const { write, remove } = catchUpBatchStatements(accountId, ean(10_000), ean(15_000));
  const client = await ctx.db.connect();
  try {
    await client.query('BEGIN');
    return {
      write: await executedStatementNodes(client, write.text, write.values),
      remove: await executedStatementNodes(client, remove.text, remove.values),
    };
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

/** Asserts that both statements read each table through its primary key only, and catches the account up. */
async function expectPrimaryKeyProbes(accountId: string): Promise<void> {
  const plans = await thirdBatchPlans(accountId);
  for (const nodes of [plans.write, plans.remove]) {
    expect(new Set(indexesUsed(nodes))).toEqual(new Set(['products_pkey', 'product_search_pkey']));
    expect(tablesScanned(nodes)).toEqual([]);
  }
  expect(await catchUpSearch(ctx.db, accountId)).toEqual({ written: 4_999, removed: 1, cleared: true });
  const { rows } = await ctx.db.query<{ count: number }>('SELECT count(*)::int AS count FROM product_search WHERE account_id = $1', [accountId]);
  expect(rows[0]!.count).toBe(14_999);
}

describe('product search catch-up of a new account', () => {
  it('probes by primary key while the tables have never been analyzed', async () => {
    const account = await ctx.createAccount();
    await seedHalfCaughtUp(account.id);
    await expectPrimaryKeyProbes(account.id);
  });

  it('probes by primary key when the statistics hold only other accounts rows', async () => {
    const other = await ctx.createAccount();
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name, brand, category)
       SELECT $1, lpad(i::text, 13, '0'), 'Product ' || i, 'Brand ' || (i % 50), 'Category ' || (i % 20)
       FROM generate_series(1, 20000) AS i`,
      [other.id],
    );
    await ctx.db.query('INSERT INTO product_search SELECT account_id, ean, name, brand, category FROM products WHERE account_id = $1', [
      other.id,
    ]);
    // What autovacuum does now and then: from here on the planner believes the next account has no rows.
    await ctx.db.query('ANALYZE products, product_search');

    const account = await ctx.createAccount();
    await seedHalfCaughtUp(account.id);
    await expectPrimaryKeyProbes(account.id);
  });
});
