import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxOverlap } from '../support/job-overlap.js';
import { jobRow, productsCsv, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * One worker process that could run three jobs at once, with at most two per account: account
 * A alone could fill it, so only the per-account cap lets account B in.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { WORKER_CONCURRENCY: '3', MAX_JOBS_PER_ACCOUNT: '2' } });
});
afterAll(async () => ctx?.close());

async function startImport(key: string, csv: Buffer | string): Promise<string> {
  const response = await ctx.upload(key, csv);
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('per-account fairness (MAX_JOBS_PER_ACCOUNT)', () => {
  it("finishes account B's small import before account A's last queued import starts", async () => {
    const a = await ctx.createAccount();
    const b = await ctx.createAccount();
    const aJobs: string[] = [];
    for (let n = 0; n < 5; n += 1) aJobs.push(await startImport(a.key, productsCsv(n * 40_000 + 1, 40_000, `A${n}`)));
    const bJob = await startImport(b.key, 'ean,name\n4006381333931,Pen\n');

    ctx.startWorkers();
    const bDone = await ctx.waitForJob(b.key, bJob, 60_000);
    expect(bDone.status).toBe('completed');
    const aDone = [];
    for (const id of aJobs) aDone.push(await ctx.waitForJob(a.key, id, 120_000));
    expect(aDone.map((job) => job.status)).toEqual(Array(5).fill('completed'));

    const aStarts = aDone.map((job) => Date.parse(job.started_at!));
    expect(Date.parse(bDone.finished_at!)).toBeLessThan(Math.max(...aStarts));
    // Never more than two of A's imports at once, across the worker's three slots.
    expect(maxOverlap(aDone.map((job) => [Date.parse(job.started_at!), Date.parse(job.finished_at!)]))).toBeLessThanOrEqual(2);
    // Waiting for a slot used up no attempt. The job row ends a moment before BullMQ moves the
    // job to its completed set and counts the attempt.
    for (const id of aJobs) {
      expect((await jobRow(ctx.db, id)).attempts).toBe(1);
      const queued = await waitFor('the job completed in BullMQ', async () => {
        const job = await ctx.queues.queue('import').getJob(id);
        return (await job?.isCompleted()) ? job : undefined;
      }, 10_000);
      expect(queued.attemptsMade).toBe(1);
    }
    for (const job of aDone) expect(job.progress.rows_created).toBe(40_000);
  }, 180_000);
});
