import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findDueCallbacks } from '../../src/shared/callbacks/callback-queries.js';
import type { Db } from '../../src/shared/db/pool.js';
import { executedStatementNodes } from '../support/search.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// What a callback claim reads to find the due deliveries, and that its two ways of finding them
// (in due order when few are due, receiver by receiver when many are) choose the same ones.

describe('finding due callback deliveries', () => {
  let ctx: TestContext;
  let accounts: string[];

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false });
    accounts = [];
    for (let i = 0; i < 3; i++) accounts.push((await ctx.createAccount()).id);
  });
  afterAll(async () => ctx?.close());
  beforeEach(async () => {
    await ctx.db.query('DELETE FROM jobs');
  });

  /** Ended jobs with a pending callback to `host`, due `dueInSeconds` from now (negative: overdue), ended in the order given. */
  async function pending(account: string, hosts: string[], dueInSeconds: number): Promise<string[]> {
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, status, phase, finished_at, callback_url, callback_next_at)
       SELECT gen_random_uuid(), $1, 'import', 'completed', 'done', now() - make_interval(secs => 1000 - ordinality),
              'http://' || host || '/hook', now() + make_interval(secs => $3)
       FROM unnest($2::text[]) WITH ORDINALITY AS host
       RETURNING id`,
      [account, hosts, dueInSeconds],
    );
    return rows.map((row) => row.id);
  }

  /** The rows of `jobs` (index entries, or rows of a scan of the table) the claim's statements read, summed over their loops. */
  async function jobRowsRead(run: (db: Db) => Promise<unknown>): Promise<number> {
    const statements: Array<{ text: string; values: unknown[] }> = [];
    const recording = {
      query: (text: string, values: unknown[]) => {
        statements.push({ text, values });
        return ctx.db.query(text, values);
      },
    } as unknown as Db;
    await run(recording);
    let read = 0;
    for (const statement of statements) {
      for (const node of await executedStatementNodes(ctx.db, statement.text, statement.values)) {
        const readsJobs = node['Index Name']?.startsWith('jobs_') || node['Relation Name'] === 'jobs';
        if (readsJobs) read += ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1);
      }
    }
    return read;
  }

  it('reads the due deliveries only, however many others wait out their back-off', async () => {
    const hosts = Array.from({ length: 2_000 }, (_, i) => `receiver-${i}.example.com`);
    await pending(accounts[0]!, hosts, 3_600);
    const due = await pending(accounts[1]!, ['a.example.com', 'b.example.com'], -5);
    const found = await findDueCallbacks(ctx.db, 4, 30);
    expect(found.map((candidate) => candidate.jobId)).toEqual(due);
    // Stepping through the 2,000 receivers waiting reads an entry or more of each.
    expect(await jobRowsRead((db) => findDueCallbacks(db, 4, 30))).toBeLessThan(50);
  });

  it("finds another account's delivery behind one account's backlog of more than a scan", async () => {
    const backlog = await pending(accounts[0]!, Array.from({ length: 40 }, () => 'slow.example.com'), -60);
    const other = await pending(accounts[1]!, ['fast.example.com'], -1);
    const found = (await findDueCallbacks(ctx.db, 4, 30, 10)).map((candidate) => candidate.jobId);
    expect(found).toEqual([...backlog.slice(0, 4), ...other]);
  });

  it('chooses the same deliveries in due order as receiver by receiver', async () => {
    await pending(accounts[0]!, ['a.example.com', 'a.example.com', 'A.example.com', 'b.example.com', 'a.example.com', 'a.example.com', 'c.example.com'], -30);
    await pending(accounts[0]!, Array.from({ length: 12 }, (_, i) => `host-${i % 5}.example.com`), -20);
    await pending(accounts[1]!, ['a.example.com', 'a.example.com', 'd.example.com'], -25);
    await pending(accounts[2]!, ['a.example.com'], -10);
    await pending(accounts[2]!, ['e.example.com'], 60);
    const inDueOrder = await findDueCallbacks(ctx.db, 2, 6, 1_000);
    const byReceiver = await findDueCallbacks(ctx.db, 2, 6, 1);
    expect(inDueOrder).toEqual(byReceiver);
    expect(inDueOrder.filter((candidate) => candidate.accountId === accounts[0])).toHaveLength(6);
    expect(inDueOrder.filter((candidate) => candidate.accountId === accounts[1])).toHaveLength(3);
    expect(inDueOrder.filter((candidate) => candidate.accountId === accounts[2])).toHaveLength(1);
  });
});
