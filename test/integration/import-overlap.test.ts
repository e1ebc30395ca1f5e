import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRow, productsCsv, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Two imports of one account that run at once into its empty catalog: only one of them may take
 * the first load's shortcut (rows copied straight into products), or the other's rows collide
 * with it and its attempt fails on the products' key, to be retried.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ env: { WORKER_CONCURRENCY: '2', MAX_JOBS_PER_ACCOUNT: '2' } });
});
afterAll(async () => ctx?.close());

describe('imports of one account running at once', () => {
  it('both end completed on their first attempt, with exact counts, when they bring the same new EANs', async () => {
    for (let round = 0; round < 3; round += 1) {
      const account = await ctx.createAccount();
      const file = productsCsv(1, 20_000, 'Same');
      const ids = await Promise.all([ctx.upload(account.key, file), ctx.upload(account.key, file)]).then((responses) =>
        responses.map((response) => {
          expect(response.statusCode, response.body).toBe(202);
          return response.json<{ id: string }>().id;
        }),
      );
      const rows = await waitFor('both imports to end', async () => {
        const each = await Promise.all(ids.map((id) => jobRow(ctx.db, id)));
        return each.every((row) => row.status !== 'processing') ? each : undefined;
      }, 60_000);
      for (const row of rows) expect(row).toMatchObject({ status: 'completed', attempts: 1 });
      const created = rows.map((row) => Number(row.rows_created)).sort((a, b) => a - b);
      expect(created).toEqual([0, 20_000]);
      const { rows: count } = await ctx.db.query('SELECT count(*)::int AS n FROM products WHERE account_id = $1', [account.id]);
      expect(count[0].n).toBe(20_000);
    }
  }, 180_000);
});
