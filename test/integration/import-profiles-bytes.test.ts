import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_BYTE_BUDGET } from '../../src/shared/db/byte-bounded-page.js';
import { MAX_HEADER_LENGTH, MAX_MAPPED_COLUMNS } from '../../src/shared/jobs/import-options.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let key: string;

/** Profiles that each map the most columns, with the longest names: about 0.27 MB of JSON each. */
const PROFILES = 24;
const PROFILE_BYTES = 260_000;

const profileBody = (n: number) => ({
  name: `wide ${n}`,
  columns: Object.fromEntries(
    Array.from({ length: MAX_MAPPED_COLUMNS }, (_, i) => {
      const name = `${n}-${i}-`.padEnd(MAX_HEADER_LENGTH, 'x');
      return i === 0 ? [name, 'ean'] : [name, `attributes.${name}`];
    }),
  ),
});

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  key = (await ctx.createAccount()).key;
  for (let n = 0; n < PROFILES; n += 1) {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/import-profiles', headers: { 'x-api-key': key }, payload: profileBody(n) });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(201);
  }
});
afterAll(async () => ctx?.close());

describe('GET /v1/import-profiles of wide profiles', () => {
  it('stops a page at the byte budget with a next_cursor, and paging returns every profile once', async () => {
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await ctx.get(key, `/v1/import-profiles?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
      expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(PAGE_BYTE_BUDGET + 64 * 1024);
      const page = response.json<{ data: Array<{ name: string }>; next_cursor: string | null }>();
      expect(page.data.length).toBeGreaterThanOrEqual(1);
      expect(page.data.length).toBeLessThanOrEqual(Math.floor(PAGE_BYTE_BUDGET / PROFILE_BYTES));
      names.push(...page.data.map((profile) => profile.name));
      cursor = page.next_cursor;
      pages += 1;
      expect(pages).toBeLessThanOrEqual(PROFILES);
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    expect(names.toSorted()).toEqual(Array.from({ length: PROFILES }, (_, n) => `wide ${n}`).toSorted());
  });
});
