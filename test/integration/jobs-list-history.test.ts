import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobListStatement, listJobs, listJobsOfEveryAccount, type JobListQuery } from '../../src/shared/jobs/job-list-queries.js';
import type { JobRow } from '../../src/shared/jobs/job-row.js';
import { executedStatementNodes, indexesUsed, tablesScanned, type PlanNode } from '../support/search.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
/** The account of most of the history: no enrichment among its jobs. */
let large: string;
/** One of the other accounts. */
let small: string;

/**
 * `count` jobs of the account over the past year, two by two at the same instant (the id orders
 * them): one in 8 an export, one in 50 an enrichment (`enrichments`), the others imports; one in
 * 13 failed, one in 97 cancelled, the newest `processing` ones in flight, the others completed.
 */
async function fillHistory(accountId: string, count: number, options: { enrichments: boolean; processing: number }) {
  await ctx.db.query(
    `INSERT INTO jobs (id, account_id, type, status, phase, created_at, finished_at)
     SELECT gen_random_uuid(), $1,
            CASE WHEN $3 AND i % 50 = 0 THEN 'enrichment' WHEN i % 8 = 0 THEN 'export' ELSE 'import' END,
            CASE WHEN i <= $4 THEN 'processing' WHEN i % 97 = 0 THEN 'cancelled' WHEN i % 13 = 0 THEN 'failed' ELSE 'completed' END,
            CASE WHEN i <= $4 THEN 'queued' ELSE 'done' END,
            now() - (i / 2) * ($5::interval / $2), CASE WHEN i > $4 THEN now() - (i / 2) * ($5::interval / $2) END
     FROM generate_series(1, $2) AS i`,
    [accountId, count, options.enrichments, options.processing, '365 days'],
  );
}

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  // The largest account holds 30% of the jobs, as in a review's scratch database (600k of 2M).
  large = (await ctx.createAccount()).id;
  await fillHistory(large, 60_000, { enrichments: false, processing: 30 });
  for (let account = 0; account < 14; account += 1) {
    small = (await ctx.createAccount()).id;
    await fillHistory(small, 10_000, { enrichments: true, processing: 3 });
  }
  await ctx.db.query('ANALYZE jobs');
}, 120_000);
afterAll(async () => ctx?.close());

/** The nodes that ran of the plan of the listing's statement (EXPLAIN ANALYZE). */
async function listPlan(accountId: string | null, query: JobListQuery): Promise<PlanNode[]> {
  const { text, values } = jobListStatement(accountId, query);
  return executedStatementNodes(ctx.db, text, values ?? []);
}

/** The ids of every job the filters let through, newest first, as a sort of the whole table gives them. */
async function sortedIds(accountId: string | null, query: Pick<JobListQuery, 'type' | 'status'>): Promise<string[]> {
  const { rows } = await ctx.db.query<{ id: string }>(
    `SELECT id FROM jobs WHERE ($1::uuid IS NULL OR account_id = $1) AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR status = $3)
     ORDER BY created_at DESC, id DESC`,
    [accountId, query.type ?? null, query.status ?? null],
  );
  return rows.map((row) => row.id);
}

/** `pages` pages of `limit` jobs from the position after `after`, each continuing from the last row of the one before. */
async function readPages(list: (query: JobListQuery) => Promise<{ rows: JobRow[] }>, query: JobListQuery, pages: number): Promise<string[]> {
  const ids: string[] = [];
  let after = query.after;
  for (let page = 0; page < pages; page += 1) {
    const { rows } = await list({ ...query, after });
    ids.push(...rows.map((row) => row.id));
    const last = rows.at(-1);
    if (!last || rows.length < query.limit) break;
    after = { createdAt: last.created_at, id: last.id };
  }
  return ids;
}

const FILTERS: Array<Pick<JobListQuery, 'type' | 'status'>> = [
  {},
  { type: 'enrichment' },
  { type: 'import' },
  { status: 'cancelled' },
  { status: 'processing' },
  { type: 'export', status: 'failed' },
  { type: 'import', status: 'processing' },
];

describe("GET /v1/jobs with the operator key, on a year's history", () => {
  it('reads each page through jobs_type_status_created_idx and the jobs in flight, with no scan of the jobs', async () => {
    const after = { createdAt: new Date(Date.now() - 100 * 86_400_000).toISOString(), id: 'ffffffff-ffff-4fff-8fff-ffffffffffff' };
    for (const filters of FILTERS) {
      for (const query of [{ ...filters, limit: 50 }, { ...filters, limit: 50, after }]) {
        const nodes = await listPlan(null, query);
        expect(tablesScanned(nodes), JSON.stringify(query)).toEqual([]);
        const indexes = new Set(indexesUsed(nodes));
        expect([...indexes].filter((index) => index !== 'jobs_processing_idx'), JSON.stringify(query)).toEqual(
          query.status === 'processing' ? [] : ['jobs_type_status_created_idx'],
        );
      }
    }
  });

  it('gives the jobs of every account newest first, page after page, as a sort of the whole table does', async () => {
    for (const filters of FILTERS) {
      const expected = await sortedIds(null, filters);
      const list = (query: JobListQuery) => listJobsOfEveryAccount(ctx.db, query);
      expect(await readPages(list, { ...filters, limit: 7 }, 4), JSON.stringify(filters)).toEqual(expected.slice(0, 28));
      // From a position deep in the history, as a cursor of a later page gives it.
      const middle = Math.floor(expected.length / 2);
      const { rows } = await ctx.db.query<{ created_at: string }>('SELECT created_at::text FROM jobs WHERE id = $1', [expected[middle]]);
      const after = { createdAt: rows[0]!.created_at, id: expected[middle]! };
      expect(await readPages(list, { ...filters, limit: 7, after }, 2), JSON.stringify(filters)).toEqual(expected.slice(middle + 1, middle + 15));
    }
  });

  it('answers the operator the newest jobs with a cursor to the next page', async () => {
    const [newest] = await sortedIds(null, { type: 'enrichment', status: 'failed' });
    const response = await ctx.get(ADMIN_KEY, '/v1/jobs?type=enrichment&status=failed&limit=1');
    expect(response.statusCode).toBe(200);
    const page = response.json<{ data: Array<{ id: string }>; next_cursor: string | null }>();
    expect(page.data.map((job) => job.id)).toEqual([newest]);
    expect(page.next_cursor).not.toBeNull();
  });
});

describe("GET /v1/jobs?type=…|status=… of an account with a year's history", () => {
  it('reads each page through jobs_account_type_status_created_idx and the jobs in flight, even of a type the account never ran', async () => {
    const after = { createdAt: new Date(Date.now() - 100 * 86_400_000).toISOString(), id: 'ffffffff-ffff-4fff-8fff-ffffffffffff' };
    const { rows } = await ctx.db.query<{ count: number }>(`SELECT count(*)::int AS count FROM jobs WHERE status = 'processing'`);
    for (const filters of FILTERS.filter((filter) => filter.type || filter.status)) {
      for (const query of [{ ...filters, limit: 50 }, { ...filters, limit: 50, after }]) {
        const nodes = await listPlan(large, query);
        expect(tablesScanned(nodes), JSON.stringify(query)).toEqual([]);
        if (query.status !== 'processing') expect(indexesUsed(nodes), JSON.stringify(query)).toContain('jobs_account_type_status_created_idx');
        // No walk over the account's history: the jobs in flight of every account are passed over,
        // and, where the planner walks a wider range for a type and status common in the account
        // (it holds 30% of the jobs), a few pages' worth.
        const passedOver = nodes.reduce((sum, node) => sum + (node['Rows Removed by Filter'] ?? 0), 0);
        expect(passedOver, JSON.stringify(query)).toBeLessThanOrEqual(rows[0]!.count + 4 * query.limit);
      }
    }
  });

  it("gives the account's jobs newest first, page after page, as a sort of its jobs does", async () => {
    for (const accountId of [large, small]) {
      for (const filters of FILTERS) {
        const expected = await sortedIds(accountId, filters);
        const list = (query: JobListQuery) => listJobs(ctx.db, accountId, query);
        expect(await readPages(list, { ...filters, limit: 7 }, 4), JSON.stringify(filters)).toEqual(expected.slice(0, 28));
        const middle = Math.floor(expected.length / 2);
        if (middle === 0) continue;
        const { rows } = await ctx.db.query<{ created_at: string }>('SELECT created_at::text FROM jobs WHERE id = $1', [expected[middle]]);
        const after = { createdAt: rows[0]!.created_at, id: expected[middle]! };
        expect(await readPages(list, { ...filters, limit: 7, after }, 2), JSON.stringify(filters)).toEqual(expected.slice(middle + 1, middle + 15));
      }
    }
  });
});
