import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedJobReads } from '../../src/api/job-events/job-event-stream.js';
import type { Db } from '../../src/shared/db/pool.js';
import { saveProgress } from '../../src/shared/jobs/job-queries.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The streams of one job share their reads of PostgreSQL: a notification reaches them all at
// once, and one read serves them, never one older than what they were told of.

let ctx: TestContext;
let account: { id: string; key: string };
let jobId: string;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  account = await ctx.createAccount();
  const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n');
  jobId = response.json<{ id: string }>().id;
});
afterAll(async () => ctx?.close());

/** The real pool, counting the statements sent through it; each waits for `gate` first. */
function countingDb(gate: Promise<void> = Promise.resolve()): { db: Db; statements: () => number } {
  let statements = 0;
  const db = new Proxy(ctx.db, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: Parameters<Db['query']>) => {
        statements += 1;
        await gate;
        return (target.query as (...query: unknown[]) => unknown)(...args);
      };
    },
  });
  return { db, statements: () => statements };
}

describe('sharedJobReads', () => {
  it('reads once for every stream told of a change in the same turn', async () => {
    const { db, statements } = countingDb();
    const read = sharedJobReads(db);
    const rows = await Promise.all(Array.from({ length: 200 }, () => read(account.id, jobId)));
    expect(statements()).toBe(1);
    expect(new Set(rows.map((row) => row?.event_version)).size).toBe(1);
    expect(rows[0]).toMatchObject({ id: jobId, status: 'processing' });
  });

  it('gives the streams told of a change during a read one more read, which starts after it', async () => {
    let open = () => {};
    const { db, statements } = countingDb(new Promise((resolve) => (open = resolve)));
    const read = sharedJobReads(db);
    const before = read(account.id, jobId);
    await nextTurn();
    expect(statements()).toBe(1);
    // The first read is under way (held); a change commits and its streams are told of it.
    await saveProgress(ctx.db, jobId, { phase: 'running', rowsTotal: 1, rowsProcessed: 1, rowsFailed: 0 });
    const told = Promise.all(Array.from({ length: 50 }, () => read(account.id, jobId)));
    await nextTurn();
    expect(statements()).toBe(1);
    open();
    const [after] = await Promise.all([told, before]);
    expect(statements()).toBe(2);
    expect(after.every((row) => row?.rows_processed === 1)).toBe(true);
    await read(account.id, jobId);
    expect(statements()).toBe(3);
  });

  it('reads the jobs of different accounts or ids apart, and an unknown one as null', async () => {
    const read = sharedJobReads(ctx.db);
    const other = await ctx.createAccount();
    expect(await Promise.all([read(other.id, jobId), read(account.id, jobId)])).toEqual([null, expect.objectContaining({ id: jobId })]);
  });
});
