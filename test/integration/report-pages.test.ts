import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { allFailedRows, listFailedRows, listJobErrors } from '../../src/shared/jobs/job-error-queries.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A long report is read a page at a time (GET /v1/jobs/{id}/errors, errors.csv, rows.csv): each
// page must cost its own size, also on a fresh database whose job_row_errors has never been
// analyzed (a first big import, downloaded at once). The work is read from the plan PostgreSQL
// ran (EXPLAIN ANALYZE: rows each scan of the table produced or threw away), not from a clock.

let ctx: TestContext;
let jobId: string;

const FAILED_ROWS = 10_000;
const PROBLEMS_PER_ROW = 2;

beforeAll(async () => {
  ctx = await createTestContext();
  const account = await ctx.createAccount();
  jobId = randomUUID();
  // As autovacuum has not got round to it yet (this test's own database: no one else's table).
  await ctx.db.query('ALTER TABLE job_row_errors SET (autovacuum_enabled = false)');
  await ctx.db.query(`INSERT INTO jobs (id, account_id, type, status) VALUES ($1, $2, 'import', 'failed')`, [jobId, account.id]);
  await ctx.db.query(
    `INSERT INTO job_row_errors (job_id, row, ordinal, ean, field, code, message, raw)
     SELECT $1, row, ordinal, '4006381333931', 'field' || ordinal, 'CODE' || ordinal, 'Problem ' || ordinal || '.',
            '["4006381333931","Product ' || row || '"]'
     FROM generate_series(1, $2::int) AS row, generate_series(1, $3::int) AS ordinal`,
    [jobId, FAILED_ROWS, PROBLEMS_PER_ROW],
  );
});
afterAll(async () => ctx?.close());

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Entries of job_row_errors that the scans in `node` produced or threw away, over all their loops. */
function entriesRead(node: PlanNode): number {
  const own =
    node['Relation Name'] === 'job_row_errors'
      ? node['Actual Loops'] * (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0))
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + entriesRead(child), 0);
}

/** A Db that runs each statement under EXPLAIN ANALYZE and keeps how many report entries it read. */
function measured(): { db: Db; reads: number[] } {
  const reads: number[] = [];
  const db = {
    query: async (sql: string, params: unknown[]) => {
      const { rows } = await ctx.db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
      reads.push(entriesRead(rows[0]!['QUERY PLAN'][0]!.Plan));
      return { rows: [] };
    },
  } as unknown as Db;
  return { db, reads };
}

describe('pages of a long report on a table never analyzed', () => {
  it('is still unanalyzed, as a fresh database is after its first import', async () => {
    const { rows } = await ctx.db.query(`SELECT 1 FROM pg_stats WHERE tablename = 'job_row_errors'`);
    expect(rows).toEqual([]);
  });

  it('reads about a page of entries for a page of failed rows (errors.csv, rows.csv), wherever the page starts', async () => {
    const { db, reads } = measured();
    for (const afterRow of [-1, 2_000, 9_000]) await listFailedRows(db, jobId, { afterRow, limit: 500, maxRawBytes: 256 * 1024 });
    // 500 rows of 2 problems: their 1,000 entries and one look-up of each next row.
    for (const read of reads) expect(read).toBeLessThanOrEqual(500 * (PROBLEMS_PER_ROW + 1) + 1);
  });

  it('reads about a page of entries for a page of GET /errors, wherever the page starts', async () => {
    const { db, reads } = measured();
    for (const after of [undefined, [2_000, 1], [9_000, 2]] as const) {
      await listJobErrors(db, jobId, { limit: 500, after: after && [after[0], after[1]] });
    }
    for (const read of reads) expect(read).toBeLessThanOrEqual(501);
  });

  it('gives every failed row once, in row order, with its problems in their order', async () => {
    const rows = [];
    for await (const failed of allFailedRows(ctx.db, jobId)) rows.push(failed);
    expect(rows.map((failed) => failed.row)).toEqual(Array.from({ length: FAILED_ROWS }, (_, index) => index + 1));
    expect(rows[4_321]).toEqual({
      row: 4_322,
      raw: '["4006381333931","Product 4322"]',
      fields: 'field1; field2',
      codes: 'CODE1; CODE2',
      messages: 'Problem 1. Problem 2.',
    });
  });

  it('gives every entry once, in row and problem order, page after page', async () => {
    const entries: Array<[number, number]> = [];
    let after: [number, number] | undefined;
    for (;;) {
      const page = await listJobErrors(ctx.db, jobId, { limit: 500, after });
      entries.push(...page.slice(0, 500).map((entry): [number, number] => [entry.row, entry.ordinal]));
      if (page.length <= 500) break;
      after = entries.at(-1);
    }
    expect(entries).toHaveLength(FAILED_ROWS * PROBLEMS_PER_ROW);
    expect(entries.slice(998, 1_002)).toEqual([[500, 1], [500, 2], [501, 1], [501, 2]]);
    expect(entries.every(([row, ordinal], index) => row === Math.floor(index / 2) + 1 && ordinal === (index % 2) + 1)).toBe(true);
  });
});
