import { afterAll, beforeAll, expect, it } from 'vitest';
import { enrichmentOptionsSchema } from '../../src/shared/jobs/enrichment-options.js';
import { loadCheckpoint, type Checkpoint } from '../../src/workers/enrich/enrich-queries.js';
import { enrichmentTargets } from '../../src/workers/enrich/enrichment-targets.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The products a whole-catalog or filter enrichment takes when it starts (README "Enrichment",
 * migration 019): read back by place from any position, and kept in little space.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

/** A new account with `count` products, EANs in scrambled insertion order; brand 'Even' for every second EAN. */
async function catalog(count: number): Promise<{ accountId: string; key: string; eans: string[] }> {
  const { id, key } = await ctx.createAccount();
  const { rows } = await ctx.db.query<{ ean: string }>(
    `INSERT INTO products (account_id, ean, name, brand)
     SELECT $1, ean, 'Product ' || ean, CASE WHEN n % 2 = 0 THEN 'Even' END
     FROM generate_series(1, $2::int) n, LATERAL (SELECT lpad(((n::bigint * 7919 * 1000003) % 9000000000000 + 1000000000000)::text, 13, '0') AS ean) e
     RETURNING ean`,
    [id, count],
  );
  return { accountId: id, key, eans: rows.map((row) => row.ean).sort() };
}

/** A queued enrichment of the account (the workers do not run in this file), and its targets. */
async function enrichment(account: { accountId: string; key: string }, body: Record<string, unknown>) {
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/enrichments', headers: { 'x-api-key': account.key }, payload: body });
  expect(response.statusCode, response.body).toBe(202);
  const jobId = response.json<{ id: string }>().id;
  const { rows } = await ctx.db.query<{ options: unknown }>('SELECT options FROM jobs WHERE id = $1', [jobId]);
  const targets = enrichmentTargets(ctx.db, account.accountId, jobId, enrichmentOptionsSchema.parse(rows[0]!.options));
  return { jobId, targets };
}

/** The places and EANs of the page of `limit` after `position`. */
async function page(targets: ReturnType<typeof enrichmentTargets>, from: Checkpoint, position: number, limit: number) {
  const entries = await targets.nextPage({ ...from, position }, limit);
  return entries.map(({ row, ean }) => ({ row, ean }));
}

const expected = (eans: string[], position: number, limit: number, first = 1) =>
  eans.slice(position - first + 1, position - first + 1 + limit).map((ean, index) => ({ row: position + index + 1, ean }));

it('reads the taken products page by page from any position, inside a stored row or across two', async () => {
  const account = await catalog(2_345);
  const { jobId, targets } = await enrichment(account, {});
  const checkpoint = await loadCheckpoint(ctx.db, jobId, targets.take);
  expect(checkpoint).toMatchObject({ rows_total: 2_345, targets_taken: true });
  for (const [position, limit] of [[0, 200], [199, 200], [900, 200], [999, 1], [1_000, 200], [1_234, 200], [2_300, 200], [2_345, 200], [0, 2_345]]) {
    expect(await page(targets, checkpoint, position!, limit!), `after ${position}`).toEqual(expected(account.eans, position!, limit!));
  }
});

it('takes only the products matching the filter, numbered from 1 in EAN order', async () => {
  const account = await catalog(1_500);
  const { jobId, targets } = await enrichment(account, { filter: { brand: 'Even' } });
  const checkpoint = await loadCheckpoint(ctx.db, jobId, targets.take);
  const { rows } = await ctx.db.query<{ ean: string }>(`SELECT ean FROM products WHERE account_id = $1 AND brand = 'Even' ORDER BY ean`, [account.accountId]);
  const even = rows.map((row) => row.ean);
  expect(checkpoint.rows_total).toBe(750);
  expect(await page(targets, checkpoint, 0, 1_000)).toEqual(expected(even, 0, 1_000));
});

it('takes the rest after the last settled EAN for a job under way across the upgrade, numbered on from its position', async () => {
  const account = await catalog(1_200);
  const { jobId, targets } = await enrichment(account, {});
  // What an attempt before migration 019 left: 7 products settled, nothing taken.
  await ctx.db.query(`INSERT INTO enrichment_checkpoints (job_id, position, last_ean, rows_total) VALUES ($1, 7, $2, 1200)`, [jobId, account.eans[6]]);
  const checkpoint = await loadCheckpoint(ctx.db, jobId, targets.take);
  expect(checkpoint).toMatchObject({ position: 7, rows_total: 1_200, targets_taken: true });
  for (const position of [7, 8, 1_006, 1_007, 1_199]) {
    expect(await page(targets, checkpoint, position, 200), `after ${position}`).toEqual(expected(account.eans.slice(7), position, 200, 8));
  }
});

it('keeps the EANs of a 20,000-product job in under 400 kB', { timeout: 30_000 }, async () => {
  const account = await catalog(20_000);
  const size = async () =>
    (await ctx.db.query<{ bytes: number }>(`SELECT pg_total_relation_size('enrichment_targets') AS bytes`)).rows[0]!.bytes;
  const before = await size();
  const { jobId, targets } = await enrichment(account, {});
  expect((await loadCheckpoint(ctx.db, jobId, targets.take)).rows_total).toBe(20_000);
  // One row per product took 2.8 MB.
  expect(await size() - before).toBeLessThan(400_000);
});
