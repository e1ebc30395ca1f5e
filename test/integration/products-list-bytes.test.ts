import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_BYTE_BUDGET } from '../../src/shared/db/byte-bounded-page.js';
import { eanNumber, sendJson } from '../support/products.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };

interface Page {
  data: Array<{ ean: string; attributes: Record<string, string> }>;
  next_cursor: string | null;
}

/** Products of about 1 MB each, as an import row of IMPORT_MAX_RECORD_BYTES leaves them. */
const LARGE_PRODUCTS = 24;
const PRODUCT_BYTES = 1_000_000;

const list = async (query: string): Promise<{ page: Page; bytes: number }> => {
  const response = await sendJson(ctx.app, owner.key, 'GET', `/v1/products${query}`);
  expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
  return { page: response.json<Page>(), bytes: Buffer.byteLength(response.body) };
};

/** Every page of `query`, following next_cursor. */
async function pageThrough(query: string): Promise<Array<{ page: Page; bytes: number }>> {
  const pages: Array<{ page: Page; bytes: number }> = [];
  let cursor: string | null = null;
  do {
    const answer = await list(`${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(answer);
    cursor = answer.page.next_cursor;
    expect(pages.length).toBeLessThanOrEqual(LARGE_PRODUCTS + 1);
  } while (cursor);
  return pages;
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  owner = await ctx.createAccount();
  // Straight into the tables (the setup, not the behaviour under test): 100 attributes of 9,984
  // characters each, different per product, and a brand so that the search branch serves them too.
  await ctx.db.query(
    `WITH written AS (
       INSERT INTO products (account_id, ean, name, brand, attributes)
       SELECT $1, e.ean, 'Large ' || e.n, 'Acme',
         (SELECT jsonb_object_agg('a' || j, repeat(md5(e.n || '/' || j), 312)) FROM generate_series(0, 99) j)
       FROM unnest($2::text[]) WITH ORDINALITY AS e(ean, n)
       RETURNING account_id, ean, name, brand, category)
     INSERT INTO product_search (account_id, ean, name, brand, category) SELECT * FROM written`,
    [owner.id, Array.from({ length: LARGE_PRODUCTS }, (_, i) => eanNumber(i))],
  );
});
afterAll(async () => ctx?.close());

describe('GET /v1/products of large products', () => {
  it.each(['?limit=50', '?limit=500', '?limit=500&brand=Acme', '?limit=500&q=large'])(
    '%s stops at the byte budget with a next_cursor, and paging returns every product once',
    async (query) => {
      const pages = await pageThrough(query);
      const eans = pages.flatMap(({ page }) => page.data.map((product) => product.ean));
      expect(eans).toEqual(Array.from({ length: LARGE_PRODUCTS }, (_, i) => eanNumber(i)));
      const perPage = Math.floor(PAGE_BYTE_BUDGET / PRODUCT_BYTES);
      for (const [index, { page, bytes }] of pages.entries()) {
        expect(page.data.length).toBeGreaterThanOrEqual(1);
        expect(page.data.length).toBeLessThanOrEqual(perPage);
        expect(bytes).toBeLessThanOrEqual(PAGE_BYTE_BUDGET + 64 * 1024);
        expect(page.next_cursor === null).toBe(index === pages.length - 1);
        for (const product of page.data) expect(Object.keys(product.attributes)).toHaveLength(100);
      }
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(LARGE_PRODUCTS / perPage));
    },
  );

  it('a page that the budget does not cut ends at limit, as before', async () => {
    const { page } = await list('?limit=2');
    expect(page.data.map((product) => product.ean)).toEqual([eanNumber(0), eanNumber(1)]);
    expect(page.next_cursor).not.toBeNull();
    const last = await list(`?limit=2&cursor=${encodeURIComponent(page.next_cursor!)}`);
    expect(last.page.data.map((product) => product.ean)).toEqual([eanNumber(2), eanNumber(3)]);
  });
});
