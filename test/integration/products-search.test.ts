import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ean13, toCsv, untilQueueReady } from '../support/csv.js';
import { sendJson } from '../support/products.js';
import {
  executedPlanNodes,
  hasSearchBacklog,
  holdSearchCatchUp,
  readsSearchTable,
  untilSearchCaughtUp,
} from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// GET /v1/products?q= (and brand, category) is exact whatever product search's catch-up after an
// import has done: right after the import's commit (answered from products) and once caught up
// (through the indexes of product_search, each candidate checked against its product).

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  await untilQueueReady(ctx);
});
afterAll(async () => ctx?.close());

const PEN = ean13(1);
const INK = ean13(2);
const PAPER = ean13(3);

/** The EANs GET /v1/products?q= returns. */
async function search(key: string, q: string): Promise<string[]> {
  const response = await sendJson(ctx.app, key, 'GET', `/v1/products?q=${encodeURIComponent(q)}&limit=500`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean);
}

/** The EANs GET /v1/products returns for these filters (`brand=…&category=…`). */
async function filtered(key: string, filters: string): Promise<string[]> {
  const response = await sendJson(ctx.app, key, 'GET', `/v1/products?${filters}&limit=500`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ data: Array<{ ean: string }> }>().data.map((product) => product.ean);
}

async function importProducts(key: string, rows: string[][], header = ['ean', 'name']) {
  const job = await ctx.importCsv(key, toCsv([header, ...rows]));
  expect(job.status, JSON.stringify(job)).toBe('completed');
  return job;
}

describe('GET /v1/products?q= after an import', () => {
  it('finds imported products as soon as the job has completed, and through the index once caught up', async () => {
    const account = await ctx.createAccount();
    const release = await holdSearchCatchUp(ctx, account.id);
    try {
      await importProducts(account.key, [[PEN, 'Blue ballpoint pen'], [INK, 'Blue ink'], [PAPER, 'White paper']]);
      expect(await hasSearchBacklog(ctx, account.id)).toBe(true);
      expect(await search(account.key, 'BLUE')).toEqual([PEN, INK]);
      expect(await search(account.key, 'paper')).toEqual([PAPER]);
      // Answered from products: product_search is not read while it is behind.
      expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { nameContains: 'blue', limit: 50 }))).toBe(false);
    } finally {
      await release();
    }
    await untilSearchCaughtUp(ctx, account.id);
    expect(await search(account.key, 'BLUE')).toEqual([PEN, INK]);
    expect(await search(account.key, 'ballpoint')).toEqual([PEN]);
    expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { nameContains: 'ballpoint', limit: 50 }))).toBe(true);
  });

  it('finds a product renamed by a re-import by its new name only, before and after the catch-up', async () => {
    const account = await ctx.createAccount();
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen'], [INK, 'Blue ink']]);
    await untilSearchCaughtUp(ctx, account.id);
    const release = await holdSearchCatchUp(ctx, account.id);
    try {
      const job = await importProducts(account.key, [[PEN, 'Red felt marker']]);
      expect(job.progress.rows_updated).toBe(1);
      // product_search still has the old name: the re-check against products hides it.
      expect(await search(account.key, 'ballpoint')).toEqual([]);
      expect(await search(account.key, 'marker')).toEqual([PEN]);
      expect(await search(account.key, 'blue')).toEqual([INK]);
    } finally {
      await release();
    }
    await untilSearchCaughtUp(ctx, account.id);
    expect(await search(account.key, 'ballpoint')).toEqual([]);
    expect(await search(account.key, 'marker')).toEqual([PEN]);
    expect(await search(account.key, 'blue')).toEqual([INK]);
    const { rows } = await ctx.db.query('SELECT name FROM product_search WHERE account_id = $1 AND ean = $2', [account.id, PEN]);
    expect(rows).toEqual([{ name: 'Red felt marker' }]);
  });

  it('finds a product whose brand a re-import changed by its new brand only, before and after the catch-up', async () => {
    const account = await ctx.createAccount();
    const header = ['ean', 'name', 'brand', 'category'];
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen', 'Bic', 'Pens'], [INK, 'Blue ink', 'Bic', 'Ink']], header);
    await untilSearchCaughtUp(ctx, account.id);
    expect(await filtered(account.key, 'brand=Bic')).toEqual([PEN, INK]);
    const release = await holdSearchCatchUp(ctx, account.id);
    try {
      const job = await importProducts(account.key, [[PEN, 'Blue ballpoint pen', 'Pilot', 'Pens']], header);
      expect(job.progress.rows_updated).toBe(1);
      expect(await filtered(account.key, 'brand=Pilot')).toEqual([PEN]);
      expect(await filtered(account.key, 'brand=Bic')).toEqual([INK]);
      expect(await filtered(account.key, 'brand=Pilot&category=Pens&q=ballpoint')).toEqual([PEN]);
      // Answered from products: product_search is not read while it is behind.
      expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { brand: 'Pilot', limit: 50 }))).toBe(false);
    } finally {
      await release();
    }
    await untilSearchCaughtUp(ctx, account.id);
    expect(await filtered(account.key, 'brand=Pilot')).toEqual([PEN]);
    expect(await filtered(account.key, 'brand=Bic')).toEqual([INK]);
    expect(await filtered(account.key, 'brand=Pilot&category=Pens&q=ballpoint')).toEqual([PEN]);
    expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { brand: 'Pilot', limit: 50 }))).toBe(true);
    const { rows } = await ctx.db.query('SELECT brand, category FROM product_search WHERE account_id = $1 AND ean = $2', [account.id, PEN]);
    expect(rows).toEqual([{ brand: 'Pilot', category: 'Pens' }]);
  });

  it('never lists a product under a brand or category its search row holds but it no longer has', async () => {
    const account = await ctx.createAccount();
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen', 'Bic', 'Pens']], ['ean', 'name', 'brand', 'category']);
    await untilSearchCaughtUp(ctx, account.id);
    // A search row behind its product, as between a write and its catch-up.
    await ctx.db.query(`UPDATE product_search SET brand = 'Stale', category = 'Stale' WHERE account_id = $1`, [account.id]);
    expect(await filtered(account.key, 'brand=Stale')).toEqual([]);
    expect(await filtered(account.key, 'category=Stale')).toEqual([]);
  });

  it('never marks the account for a dry run or an import that changed nothing', async () => {
    const account = await ctx.createAccount();
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen']]);
    await untilSearchCaughtUp(ctx, account.id);
    const dryRun = await ctx.importCsv(account.key, toCsv([['ean', 'name'], [INK, 'Blue ink']]), { dry_run: 'true' });
    expect(dryRun.status).toBe('completed');
    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    const unchanged = await importProducts(account.key, [[PEN, 'Blue ballpoint pen']]);
    expect(unchanged.progress.rows_unchanged).toBe(1);
    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    expect(await search(account.key, 'blue')).toEqual([PEN]);
  });
});

describe('GET /v1/products?q= after single-product writes', () => {
  it('finds a product by the name a PUT or PATCH gave it, at once, and not a deleted one', async () => {
    const account = await ctx.createAccount();
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen'], [INK, 'Blue ink']]);
    await untilSearchCaughtUp(ctx, account.id);

    expect((await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${PAPER}`, { name: 'White paper' })).statusCode).toBe(201);
    expect((await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${PEN}`, { name: 'Green gel pen' })).statusCode).toBe(200);
    expect((await sendJson(ctx.app, account.key, 'DELETE', `/v1/products/${INK}`)).statusCode).toBe(204);

    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    expect(await search(account.key, 'paper')).toEqual([PAPER]);
    expect(await search(account.key, 'gel pen')).toEqual([PEN]);
    expect(await search(account.key, 'blue')).toEqual([]);
    expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { nameContains: 'gel pen', limit: 50 }))).toBe(true);
    const { rows } = await ctx.db.query('SELECT ean FROM product_search WHERE account_id = $1 ORDER BY ean', [account.id]);
    expect(rows.map((row) => row.ean)).toEqual([PEN, PAPER]);
  });

  it('finds a product by the brand and category a PATCH or PUT gave it, at once', async () => {
    const account = await ctx.createAccount();
    await importProducts(account.key, [[PEN, 'Blue ballpoint pen', 'Bic', 'Pens']], ['ean', 'name', 'brand', 'category']);
    await untilSearchCaughtUp(ctx, account.id);

    expect((await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${PEN}`, { brand: 'Pilot' })).statusCode).toBe(200);
    expect(await filtered(account.key, 'brand=Pilot')).toEqual([PEN]);
    expect(await filtered(account.key, 'brand=Bic')).toEqual([]);
    expect((await sendJson(ctx.app, account.key, 'PATCH', `/v1/products/${PEN}`, { category: 'Writing' })).statusCode).toBe(200);
    expect(await filtered(account.key, 'category=Writing&brand=Pilot')).toEqual([PEN]);
    expect(
      (await sendJson(ctx.app, account.key, 'PUT', `/v1/products/${PEN}`, { name: 'Blue ballpoint pen', brand: 'Uni' })).statusCode,
    ).toBe(200);
    expect(await filtered(account.key, 'brand=Uni')).toEqual([PEN]);
    expect(await filtered(account.key, 'category=Writing')).toEqual([]);

    expect(await hasSearchBacklog(ctx, account.id)).toBe(false);
    expect(readsSearchTable(await executedPlanNodes(ctx, account.id, { brand: 'Uni', limit: 50 }))).toBe(true);
    const { rows } = await ctx.db.query('SELECT brand, category FROM product_search WHERE account_id = $1 AND ean = $2', [account.id, PEN]);
    expect(rows).toEqual([{ brand: 'Uni', category: null }]);
  });

  it('keeps q with the other filters and the cursor, on either path', async () => {
    const account = await ctx.createAccount();
    const rows = Array.from({ length: 7 }, (_, i) => [ean13(100 + i), `Notebook ${i}`]);
    await importProducts(account.key, [...rows, [PEN, 'Blue ballpoint pen']]);
    const pages = async () => {
      const seen: string[] = [];
      let cursor = '';
      do {
        const response = await sendJson(ctx.app, account.key, 'GET', `/v1/products?q=NOTEBOOK&limit=3${cursor}`);
        const page = response.json<{ data: Array<{ ean: string }>; next_cursor: string | null }>();
        seen.push(...page.data.map((product) => product.ean));
        cursor = page.next_cursor ? `&cursor=${page.next_cursor}` : '';
      } while (cursor);
      return seen;
    };
    const all = rows.map((row) => row[0]);
    await untilSearchCaughtUp(ctx, account.id);
    expect(await pages()).toEqual(all);
    await ctx.db.query('INSERT INTO product_search_backlog (account_id, since) VALUES ($1, now())', [account.id]);
    expect(await pages()).toEqual(all);
    await ctx.db.query('DELETE FROM product_search_backlog WHERE account_id = $1', [account.id]);
  });
});
