import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };
let other: { id: string; key: string };

interface Page {
  data: Array<{ ean: string; name: string; brand: string | null; category: string | null }>;
  next_cursor: string | null;
}

const CATALOG_SIZE = 1_200;

/**
 * Inserts products straight into the table (the setup, not the behaviour under test), with their
 * search rows, as the API's writes leave them.
 */
async function seed(accountId: string, products: Array<{ ean: string; name: string; brand?: string; category?: string }>) {
  await ctx.db.query(
    `WITH written AS (
       INSERT INTO products (account_id, ean, name, brand, category)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
       RETURNING account_id, ean, name, brand, category)
     INSERT INTO product_search (account_id, ean, name, brand, category) SELECT * FROM written`,
    [
      accountId,
      products.map((product) => product.ean),
      products.map((product) => product.name),
      products.map((product) => product.brand ?? null),
      products.map((product) => product.category ?? null),
    ],
  );
}

const list = async (query: string, key = owner.key): Promise<Page> => {
  const response = await sendJson(ctx.app, key, 'GET', `/v1/products${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Page>();
};

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  owner = await ctx.createAccount();
  other = await ctx.createAccount();
  // Even numbers: the gaps between them leave room for products inserted while a client pages.
  await seed(
    owner.id,
    Array.from({ length: CATALOG_SIZE }, (_, i) => ({
      ean: eanNumber(i * 2),
      name: `Product ${i}`,
      brand: i % 3 === 0 ? 'Acme' : 'Globex',
      category: i % 4 === 0 ? 'Office' : 'Garden',
    })),
  );
  await seed(other.id, [{ ean: eanNumber(1, '900'), name: "Another account's product" }]);
});
afterAll(async () => ctx?.close());

describe('GET /v1/products pagination', () => {
  it('pages through 1,200 products in EAN order, 50 by default, ending with next_cursor null', async () => {
    const first = await list('');
    expect(first.data).toHaveLength(50);
    expect(first.next_cursor).toEqual(expect.any(String));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await list(`?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.data.map((product) => product.ean));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(CATALOG_SIZE);
    expect(seen).toEqual([...seen].sort());
    expect(seen).not.toContain(eanNumber(1, '900'));
  });

  it('returns every product exactly once while other products are inserted between pages', async () => {
    const original = Array.from({ length: CATALOG_SIZE }, (_, i) => eanNumber(i * 2));
    const position = new Map(original.map((ean, i) => [ean, i]));
    const behind: string[] = [];
    const ahead: string[] = [];
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await list(`?limit=37${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.data.map((product) => product.ean));
      cursor = page.next_cursor;
      if (!cursor) break;
      // Between two pages another client adds products (odd numbers fall between the stored
      // ones): one just behind the cursor, which this listing has passed, and one just ahead.
      const last = position.get(seen.at(-1)!)!;
      for (const [n, inserted] of [[last * 2 - 1, behind], [last * 2 + 1, ahead]] as const) {
        const ean = eanNumber(n);
        const response = await sendJson(ctx.app, owner.key, 'POST', '/v1/products', { ean, name: `New ${n}` });
        expect(response.statusCode, response.body).toBe(201);
        inserted.push(ean);
      }
    } while (cursor);

    expect(ahead.length).toBeGreaterThan(30);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    expect(seen.filter((ean) => position.has(ean))).toEqual(original);
    expect(ahead.filter((ean) => !seen.includes(ean))).toEqual([]);
    expect(behind.filter((ean) => seen.includes(ean))).toEqual([]);
    await ctx.db.query('DELETE FROM products WHERE account_id = $1 AND ean = ANY($2)', [owner.id, [...behind, ...ahead]]);
  });

  it('refuses a limit outside 1..500 and a cursor it did not make with 400 naming the parameter', async () => {
    for (const limit of ['0', '501', 'ten']) {
      const response = await sendJson(ctx.app, owner.key, 'GET', `/v1/products?limit=${limit}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: expect.stringContaining("'limit'") });
    }
    const response = await sendJson(ctx.app, owner.key, 'GET', '/v1/products?cursor=not-a-cursor');
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toContain("'cursor'");
  });
});

describe('GET /v1/products filters', () => {
  it('filters by exact brand and category, together, across pages', async () => {
    const acme = await list('?brand=Acme&limit=500');
    expect(acme.data).toHaveLength(CATALOG_SIZE / 3);
    expect(acme.data.every((product) => product.brand === 'Acme')).toBe(true);
    const both = await list('?brand=Acme&category=Office&limit=500');
    expect(both.data).toHaveLength(CATALOG_SIZE / 12);
    expect(both.data.every((product) => product.brand === 'Acme' && product.category === 'Office')).toBe(true);
    expect((await list('?brand=acme')).data).toEqual([]);
  });

  it('filters by name, case-insensitively, with % and _ matched literally', async () => {
    const eans = [eanNumber(1, '500'), eanNumber(2, '500'), eanNumber(3, '500')];
    await seed(owner.id, [
      { ean: eans[0]!, name: 'Discount 100% cotton' },
      { ean: eans[1]!, name: 'snake_case mug' },
      { ean: eans[2]!, name: 'Snakes and ladders' },
    ]);
    expect((await list('?q=PRODUCT%20119&limit=500')).data.map((product) => product.name)).toEqual([
      'Product 119',
      ...Array.from({ length: 10 }, (_, i) => `Product ${1190 + i}`),
    ]);
    expect((await list(`?q=${encodeURIComponent('100%')}`)).data.map((product) => product.ean)).toEqual([eans[0]]);
    expect((await list(`?q=${encodeURIComponent('0% c')}`)).data.map((product) => product.ean)).toEqual([eans[0]]);
    expect((await list('?q=snake_')).data.map((product) => product.ean)).toEqual([eans[1]]);
    expect((await list(`?q=${encodeURIComponent('%')}`)).data.map((product) => product.ean)).toEqual([eans[0]]);
    await ctx.db.query('DELETE FROM products WHERE account_id = $1 AND ean = ANY($2)', [owner.id, eans]);
  });

  it('filters by updated_since: products written at or after the instant', async () => {
    await ctx.db.query("UPDATE products SET updated_at = '2020-01-01T00:00:00Z' WHERE account_id = $1", [owner.id]);
    const ean = eanNumber(10);
    const patched = await sendJson(ctx.app, owner.key, 'PATCH', `/v1/products/${ean}`, { name: 'Renamed' });
    expect(patched.statusCode).toBe(200);
    const since = patched.json<{ updated_at: string }>().updated_at;
    expect((await list(`?updated_since=${since}`)).data.map((product) => product.ean)).toEqual([ean]);
    expect((await list('?updated_since=2020-01-01T00:00:00Z&limit=500')).data).toHaveLength(500);
    expect((await list('?updated_since=2020-01-01T00:00:01%2B00:00')).data.map((product) => product.ean)).toEqual([ean]);
    const bad = await sendJson(ctx.app, owner.key, 'GET', '/v1/products?updated_since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toContain("'updated_since'");
  });

  it("lists only the caller's catalog", async () => {
    expect((await list('', other.key)).data.map((product) => product.name)).toEqual(["Another account's product"]);
  });
});
