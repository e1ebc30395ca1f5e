import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProductListQuery } from '../../src/shared/product/list-products.js';
import { catchUpSearch } from '../../src/workers/search/catch-up-search.js';
import { sendJson } from '../support/products.js';
import { executedPlanNodes, indexesUsed, readsSearchTable, tablesScanned, type PlanNode } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// GET /v1/products stays cheap on a large catalog: brand, category and q are each served by an
// index, proven with EXPLAIN ANALYZE of the very statement the route runs (only the nodes that
// ran), on a table large enough (and analyzed) that the planner picks an index on its own:
// enable_seqscan stays on. (Which combinations walk the account's entries: README, Cheap queries.)

let ctx: TestContext;
let account: { id: string; key: string };

const ROWS_PER_ACCOUNT = 40_000;

/** Fills an account's catalog in SQL: 50 brands, 20 categories, names with a unique token each; and 3 rare ones. */
async function seedLarge(accountId: string): Promise<void> {
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, brand, category)
     SELECT $1, lpad(i::text, 13, '0'), 'Product ' || md5(i::text), 'Brand ' || (i % 50), 'Category ' || (i % 20)
     FROM generate_series(1, $2) AS i`,
    [accountId, ROWS_PER_ACCOUNT],
  );
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, brand, category)
     SELECT $1, lpad((900000 + i)::text, 13, '0'), 'Rare product ' || i, 'Rare Brand', 'Rare Category'
     FROM generate_series(1, 3) AS i`,
    [accountId],
  );
  // Products written straight into the table: marked and caught up as after an import.
  await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [accountId]);
  await catchUpSearch(ctx.db, accountId);
}

/** Every node of the plan of the route's statement for `query` that ran. */
const planNodes = (query: ProductListQuery): Promise<PlanNode[]> => executedPlanNodes(ctx, account.id, query);

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
  const other = await ctx.createAccount();
  await seedLarge(account.id);
  await seedLarge(other.id);
  await ctx.db.query('ANALYZE products, product_search');
}, 60_000);
afterAll(async () => {
  await ctx?.close();
});

describe('GET /v1/products on a large catalog', () => {
  it('finds a name substring (q) through the trigram index, with no scan of the table', async () => {
    const token = (await ctx.db.query<{ t: string }>(`SELECT substr(md5('31337'), 5, 10) AS t`)).rows[0]!.t;
    const nodes = await planNodes({ nameContains: token, limit: 50 });
    expect(indexesUsed(nodes)).toContain('product_search_name_trgm_idx');
    expect(tablesScanned(nodes)).toEqual([]);

    const response = await sendJson(ctx.app, account.key, 'GET', `/v1/products?q=${token.toUpperCase()}`);
    expect(response.json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean)).toEqual(['0000000031337']);
  });

  it('keeps % and _ in q literal while using the index', async () => {
    const nodes = await planNodes({ nameContains: '5_%9', limit: 50 });
    expect(tablesScanned(nodes)).toEqual([]);
    const response = await sendJson(ctx.app, account.key, 'GET', '/v1/products?q=5_%259');
    expect(response.json()).toEqual({ data: [], next_cursor: null });
  });

  /** Indexes a list page of a search filter may read when the account has no backlog. */
  const searchPageIndexes = (index: string) => [index, 'product_search_pkey', 'products_pkey', 'product_search_backlog_pkey'];

  it.each([
    ['brand', { brand: 'Brand 7' }, 'product_search_account_brand_idx'],
    ['category', { category: 'Category 3' }, 'product_search_account_category_idx'],
    ['brand after a cursor', { brand: 'Brand 7', afterEan: '0000000020000' }, 'product_search_account_brand_idx'],
    ['category after a cursor', { category: 'Category 3', afterEan: '0000000020000' }, 'product_search_account_category_idx'],
  ])('serves a page of a common %s from product_search, never a scan of a table', async (_name, filter, index) => {
    // A common value is found fastest walking product_search in EAN order (already page order) and
    // stopping after 50 matches; the planner may also read the filter's own index and sort. Each
    // candidate is checked in products by primary key.
    const nodes = await planNodes({ ...filter, limit: 50 });
    expect(readsSearchTable(nodes)).toBe(true);
    expect(indexesUsed(nodes).every((name) => searchPageIndexes(index).includes(name))).toBe(true);
    expect(tablesScanned(nodes)).toEqual([]);
  });

  it.each([
    ['brand', { brand: 'Rare Brand' }, 'product_search_account_brand_idx'],
    ['category', { category: 'Rare Category' }, 'product_search_account_category_idx'],
  ])('serves a page of a rare %s from its (account, filter) index on product_search', async (_name, filter, index) => {
    // Walking the EAN order would read the whole catalog to find three rows: the filter's index
    // is what keeps this page cheap.
    const nodes = await planNodes({ ...filter, limit: 50 });
    expect(indexesUsed(nodes)).toContain(index);
    expect(indexesUsed(nodes).every((name) => searchPageIndexes(index).includes(name))).toBe(true);
    expect(tablesScanned(nodes)).toEqual([]);
  });

  it('combines brand, category and q in one page, each checked against products', async () => {
    const nodes = await planNodes({ brand: 'Rare Brand', category: 'Rare Category', nameContains: 'rare product', limit: 50 });
    expect(readsSearchTable(nodes)).toBe(true);
    expect(tablesScanned(nodes)).toEqual([]);
    const response = await sendJson(ctx.app, account.key, 'GET', '/v1/products?brand=Rare%20Brand&category=Rare%20Category&q=PRODUCT%202');
    expect(response.json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean)).toEqual(['0000000900002']);
  });

  it('treats an empty q as no filter: the page never walks product_search', async () => {
    // Every name contains the empty string. Read as a filter, `q=&updated_since=` (a date no
    // product reaches) checked every entry of product_search against its product; now it costs
    // what `updated_since` alone does (a walk of the account's products).
    const nodes = await planNodes({ nameContains: '', updatedSince: '2030-01-01T00:00:00Z', limit: 50 });
    expect(readsSearchTable(nodes)).toBe(false);

    const page = async (query: string) => (await sendJson(ctx.app, account.key, 'GET', `/v1/products?${query}`)).json<unknown>();
    expect(await page('q=&limit=3')).toEqual(await page('limit=3'));
  });

  it('pages a brand filter in EAN order through the API', async () => {
    const first = (await sendJson(ctx.app, account.key, 'GET', '/v1/products?brand=Brand%207&limit=3')).json<{
      data: Array<{ ean: string; brand: string }>;
      next_cursor: string;
    }>();
    expect(first.data.map((product) => product.ean)).toEqual(['0000000000007', '0000000000057', '0000000000107']);
    const second = (await sendJson(ctx.app, account.key, 'GET', `/v1/products?brand=Brand%207&limit=2&cursor=${first.next_cursor}`)).json<{
      data: Array<{ ean: string }>;
    }>();
    expect(second.data.map((product) => product.ean)).toEqual(['0000000000157', '0000000000207']);
  });
});
