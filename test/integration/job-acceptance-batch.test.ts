import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findJob, jobInserter, type NewJob } from '../../src/shared/jobs/job-queries.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The API writes the rows of the jobs accepted in one turn with one statement and queues them with
// one round trip: each request must still get its own job, in its own account, queued once.

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const csv = (name: string) => `ean,name\n4006381333931,${name}\n`;

describe('jobs accepted together', () => {
  it('gives each of many concurrent imports of two accounts its own job row, upload and queued job', async () => {
    const accounts = [await ctx.createAccount(), await ctx.createAccount()];
    const asked = Array.from({ length: 24 }, (_, index) => ({ account: accounts[index % 2]!, body: csv(`Pen ${'x'.repeat(index)}`) }));
    const responses = await Promise.all(asked.map(({ account, body }) => ctx.upload(account.key, body)));
    expect(responses.map((response) => response.statusCode)).toEqual(asked.map(() => 202));
    const ids = responses.map((response) => response.json().id as string);
    expect(new Set(ids).size).toBe(ids.length);
    const { rows } = await ctx.db.query<{ id: string; account_id: string; input_bytes: number; status: string }>(
      'SELECT id, account_id, input_bytes, status FROM jobs WHERE id = ANY($1)',
      [ids],
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const [index, id] of ids.entries()) {
      const { account, body } = asked[index]!;
      expect(byId.get(id), `request ${index}`).toMatchObject({ account_id: account.id, input_bytes: Buffer.byteLength(body), status: 'processing' });
    }
    // Each is queued a moment after its 202, once.
    const queue = ctx.queues.queue('import');
    await vi.waitFor(async () => {
      const queued = (await queue.getJobs(['waiting'])).filter((job) => ids.includes(job.id!));
      expect(queued.map((job) => job.data.jobId).sort()).toEqual([...ids].sort());
    });
  });

  it('answers concurrent repeats of one Idempotency-Key with one job, and the key with other bodies with 422', async () => {
    const { id: accountId, key } = await ctx.createAccount();
    const same = { 'idempotency-key': randomUUID() };
    const repeats = await Promise.all(Array.from({ length: 6 }, () => ctx.upload(key, csv('Pen'), {}, same)));
    expect(repeats.map((response) => response.statusCode)).toEqual(repeats.map(() => 202));
    expect(new Set(repeats.map((response) => response.json().id)).size).toBe(1);

    const other = { 'idempotency-key': randomUUID() };
    const rivals = await Promise.all(['Pen', 'Pencil', 'Marker', 'Eraser'].map((name) => ctx.upload(key, csv(name), {}, other)));
    expect(rivals.map((response) => response.statusCode).sort()).toEqual([202, 422, 422, 422]);
    for (const refused of rivals.filter((response) => response.statusCode === 422)) {
      expect(refused.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: 'This Idempotency-Key was already used with a different request.' });
    }
    const { rows } = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [accountId]);
    expect(rows).toHaveLength(2);
  });
});

describe('the job inserter', () => {
  const job = (accountId: string, extra: Partial<NewJob> = {}): NewJob => ({
    id: randomUUID(), accountId, type: 'export', options: { format: 'csv', note: 'ä "quoted" \\ back' }, requestHash: 'h', ...extra,
  });

  it('writes the jobs asked for in one turn with one statement, each with its own values', async () => {
    const a = await ctx.createAccount();
    const b = await ctx.createAccount();
    const insert = jobInserter(ctx.db);
    const queries = vi.spyOn(ctx.db, 'query');
    try {
      const asked = [job(a.id), job(b.id, { type: 'import', inputPath: 'uploads/x.csv', inputBytes: 12, callbackUrl: 'https://example.com/hook' }), job(a.id, { idempotencyKey: 'k1' })];
      const accepted = await Promise.all(asked.map((each) => insert(each)));
      expect(queries).toHaveBeenCalledTimes(1);
      expect(accepted).toEqual(asked.map((each) => ({ id: each.id, status: 'processing' })));
      const written = await Promise.all(asked.map((each) => findJob(ctx.db, each.accountId, each.id)));
      expect(written.map((row) => [row?.id, row?.account_id, row?.type, row?.input_path, row?.options])).toEqual(
        asked.map((each) => [each.id, each.accountId, each.type, each.inputPath ?? null, each.options]),
      );
      expect(written[1]).toMatchObject({ status: 'processing', phase: 'queued', input_bytes: 12 });
    } finally {
      queries.mockRestore();
    }
  });

  it('fails only the job whose values PostgreSQL refuses, and a taken Idempotency-Key with the unique-violation code', async () => {
    const { id: accountId } = await ctx.createAccount();
    const insert = jobInserter(ctx.db);
    await insert(job(accountId, { idempotencyKey: 'taken' }));
    const asked = [job(accountId), job(randomUUID()), job(accountId, { idempotencyKey: 'taken' }), job(accountId)];
    const outcomes = await Promise.allSettled(asked.map((each) => insert(each)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({ reason: { code: '23503' } });
    expect(outcomes[2]).toMatchObject({ reason: { code: '23505' } });
    const { rows } = await ctx.db.query<{ id: string }>('SELECT id FROM jobs WHERE account_id = $1 AND idempotency_key IS NULL', [accountId]);
    expect(rows.map((row) => row.id).sort()).toEqual([asked[0]!.id, asked[3]!.id].sort());
  });
});

describe('the queue', () => {
  it('queues the jobs of one turn in one round trip, each once', async () => {
    const queue = ctx.queues.queue('export');
    const bulk = vi.spyOn(queue, 'addBulk');
    try {
      const ids: string[] = [randomUUID(), randomUUID(), randomUUID()];
      await Promise.all([...ids, ids[0]!].map((id) => ctx.queues.enqueue('export', id)));
      expect(bulk).toHaveBeenCalledTimes(1);
      for (const id of ids) expect((await queue.getJob(id))?.data).toEqual({ jobId: id, run: 1 });
      expect((await queue.getJobs(['waiting'])).filter((queued) => ids.includes(queued.id!))).toHaveLength(3);
    } finally {
      bulk.mockRestore();
    }
  });

  it('queues a lone job with one add, with the options of a job queued with others', async () => {
    const queue = ctx.queues.queue('export');
    const bulk = vi.spyOn(queue, 'addBulk');
    try {
      const lone = randomUUID();
      await ctx.queues.enqueue('export', lone);
      expect(bulk).not.toHaveBeenCalled();
      const pair = [randomUUID(), randomUUID()];
      await Promise.all(pair.map((id) => ctx.queues.enqueue('export', id)));
      expect(bulk).toHaveBeenCalledTimes(1);
      const [loneJob, pairJob] = await Promise.all([queue.getJob(lone), queue.getJob(pair[0]!)]);
      expect(loneJob?.data).toEqual({ jobId: lone, run: 1 });
      expect({ ...loneJob?.opts, jobId: undefined }).toEqual({ ...pairJob?.opts, jobId: undefined });
      expect(loneJob?.opts.attempts).toBeGreaterThan(1);
    } finally {
      bulk.mockRestore();
    }
  });
});
