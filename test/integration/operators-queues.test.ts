import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

interface QueueStats {
  name: string;
  job_type: string;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  paused: number;
  is_paused: boolean;
  workers: number;
  oldest_waiting_age_seconds: number | null;
}

const queuesOf = async (key = ADMIN_KEY) => {
  const response = await ctx.get(key, '/v1/admin/queues');
  expect(response.statusCode, response.body).toBe(200);
  return new Map(response.json<{ data: QueueStats[] }>().data.map((queue) => [queue.name, queue]));
};

describe('GET /v1/admin/queues', () => {
  it('lists every queue with its counts, workers and the age of its oldest waiting job', async () => {
    const empty = await queuesOf();
    expect([...empty.keys()]).toEqual(['imports', 'exports', 'enrichments']);
    expect(empty.get('imports')).toEqual({
      name: 'imports', job_type: 'import', waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0,
      paused: 0, is_paused: false, prioritized: 0, workers: 0, oldest_waiting_age_seconds: null,
    });

    const account = await ctx.createAccount();
    for (let n = 0; n < 2; n += 1) {
      expect((await ctx.upload(account.key, 'ean,name\n4006381333931,Pen\n')).statusCode).toBe(202);
    }
    // A job is queued a moment after its 202 (its row is what accepts it).
    const waiting = await waitFor('both imports to be queued', async () => {
      const queue = (await queuesOf()).get('imports')!;
      return queue.waiting === 2 ? queue : undefined;
    });
    expect(waiting).toMatchObject({ waiting: 2, active: 0, workers: 0 });
    expect(waiting.oldest_waiting_age_seconds).toBeGreaterThanOrEqual(0);

    await ctx.queues.queue('import').pause();
    expect((await queuesOf()).get('imports')).toMatchObject({ is_paused: true, paused: 2 });
    await ctx.queues.queue('import').resume();

    const workers = ctx.startWorkers();
    try {
      await workers.workers[0]!.waitUntilReady();
      const done = await waitFor('both imports to complete', async () => {
        const queue = (await queuesOf()).get('imports')!;
        return queue.completed === 2 ? queue : undefined;
      });
      expect(done).toMatchObject({ waiting: 0, completed: 2, oldest_waiting_age_seconds: null });
      expect(done.workers).toBeGreaterThanOrEqual(1);
    } finally {
      await workers.close();
      ctx.workers = null;
    }
  });

  it('is a list like every other: next_cursor, limit and cursor, and 400 for a cursor it never gave', async () => {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const response = await ctx.get(ADMIN_KEY, `/v1/admin/queues?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode, response.body).toBe(200);
      const page: { data: QueueStats[]; next_cursor: string | null } = response.json();
      pages.push(page.data.map((queue) => queue.name));
      cursor = page.next_cursor;
    } while (cursor != null && pages.length < 5);
    expect(pages).toEqual([['imports', 'exports'], ['enrichments']]);
    expect((await ctx.get(ADMIN_KEY, '/v1/admin/queues')).json()).toMatchObject({ next_cursor: null });
    const forged = await ctx.get(ADMIN_KEY, '/v1/admin/queues?cursor=zzz');
    expect(forged.statusCode).toBe(400);
    expect(forged.json().error).toBe("Invalid query parameter 'cursor': use the next_cursor of a previous page.");
  });

  it('is for the operator key only', async () => {
    const account = await ctx.createAccount();
    const response = await ctx.get(account.key, '/v1/admin/queues');
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('PERMISSION_DENIED');
  });
});
