import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_BYTE_BUDGET } from '../../src/shared/db/byte-bounded-page.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let owner: { id: string; key: string };

/** Enrichments of 50,000 EANs each (the most one may name): about 0.8 MB of `options` a job. */
const LARGE_JOBS = 16;
const JOB_BYTES = 800_000;

interface Page {
  data: Array<{ id: string; options: { eans: string[] } }>;
  next_cursor: string | null;
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  owner = await ctx.createAccount();
  await ctx.db.query(
    `INSERT INTO jobs (id, account_id, type, status, phase, options, created_at, finished_at)
     SELECT gen_random_uuid(), $1, 'enrichment', 'completed', 'done',
       jsonb_build_object('eans', (SELECT jsonb_agg(lpad((i * 100000 + e)::text, 13, '0')) FROM generate_series(1, 50000) e),
         'filter', NULL, 'overwrite', false),
       now() - i * interval '1 minute', now() - i * interval '1 minute'
     FROM generate_series(1, $2) AS i`,
    [owner.id, LARGE_JOBS],
  );
});
afterAll(async () => ctx?.close());

describe('GET /v1/jobs of jobs with large options', () => {
  it.each(['?limit=50', '?limit=500', '?limit=500&type=enrichment', '?limit=500&status=completed'])(
    '%s stops at the byte budget with a next_cursor, and paging returns every job once',
    async (query) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await ctx.get(owner.key, `/v1/jobs${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
        expect(Buffer.byteLength(response.body)).toBeLessThanOrEqual(PAGE_BYTE_BUDGET + 64 * 1024);
        const page = response.json<Page>();
        expect(page.data.length).toBeGreaterThanOrEqual(1);
        expect(page.data.length).toBeLessThanOrEqual(Math.floor(PAGE_BYTE_BUDGET / JOB_BYTES));
        for (const job of page.data) expect(job.options.eans).toHaveLength(50_000);
        ids.push(...page.data.map((job) => job.id));
        cursor = page.next_cursor;
        pages += 1;
        expect(pages).toBeLessThanOrEqual(LARGE_JOBS);
      } while (cursor);
      expect(new Set(ids).size).toBe(LARGE_JOBS);
      expect(ids).toHaveLength(LARGE_JOBS);
    },
  );
});
