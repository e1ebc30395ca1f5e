import { DelayedError, type Job } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import { createLogger } from '../../src/shared/logger.js';
import type { QueuedJob } from '../../src/shared/queues.js';
import { MAX_FREE_CONFLICT_RUNS, withConflictRetry, writeConflictCode } from '../../src/workers/deadlock-retry.js';
import type { ProcessorContext } from '../../src/workers/job-processor.js';
import { ShutdownNotice } from '../../src/workers/shutdown-notice.js';

const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });

/**
 * A delivery of a job in its attempt `attemptsMade` (BullMQ's count of the attempts used up), that
 * has had `conflicts` write conflicts in attempt `conflictsAttempt`, whose processor throws `error`.
 */
async function deliver(error: Error, conflicts?: number, { attemptsMade = 0, conflictsAttempt = 0 } = {}) {
  const job = {
    attemptsMade,
    data: { jobId: 'j1', run: 1, ...(conflicts === undefined ? {} : { conflicts, conflictsAttempt }) } as QueuedJob,
    updateData: vi.fn(async (data: QueuedJob) => void (job.data = data)),
    moveToDelayed: vi.fn(async () => {}),
  };
  const db = { query: vi.fn(async () => ({ rows: [], rowCount: 1 })) };
  const context: ProcessorContext = {
    jobId: 'j1',
    job: job as unknown as Job<QueuedJob>,
    token: 'token',
    signal: new AbortController().signal,
    shutdown: new ShutdownNotice(),
  };
  const processor = withConflictRetry({ db: db as unknown as Db, logger: createLogger('silent'), type: 'import' }, () => Promise.reject(error));
  const thrown = await processor(context).then(() => null, (caught: unknown) => caught);
  return { thrown, job, db };
}

describe('a job whose attempt was a write conflict victim', () => {
  it('goes back to the queue without using up its attempt, counted on the BullMQ job, its row queued with counts reset', async () => {
    const { thrown, job, db } = await deliver(deadlock());
    expect(thrown).toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledOnce();
    expect(job.data.conflicts).toBe(1);
    expect(db.query).toHaveBeenCalledWith(expect.stringMatching(/phase = 'queued', rows_total = NULL, rows_processed = 0/), ['j1', null]);
  });

  it('is recognised by the SQLSTATE of a wrapped error too, and of a serialization failure', () => {
    expect(writeConflictCode(new Error('merge failed', { cause: deadlock() }))).toBe('40P01');
    expect(writeConflictCode(Object.assign(new Error('could not serialize access'), { code: '40001' }))).toBe('40001');
    expect(writeConflictCode(Object.assign(new Error('unique violation'), { code: '23505' }))).toBeUndefined();
  });

  it(`uses up its attempt at the conflict after ${MAX_FREE_CONFLICT_RUNS} free runs, and counts again from zero`, async () => {
    const error = deadlock();
    const { thrown, job } = await deliver(error, MAX_FREE_CONFLICT_RUNS);
    expect(thrown).toBe(error);
    expect(job.moveToDelayed).not.toHaveBeenCalled();
    expect(job.data.conflicts).toBe(0);
  });

  it("counts the conflicts of its current attempt only, not those of an attempt that failed otherwise since", async () => {
    const { thrown, job } = await deliver(deadlock(), MAX_FREE_CONFLICT_RUNS, { attemptsMade: 1, conflictsAttempt: 0 });
    expect(thrown).toBeInstanceOf(DelayedError);
    expect(job.data).toMatchObject({ conflicts: 1, conflictsAttempt: 1 });
  });

  it('leaves any other failure to use up the attempt', async () => {
    const error = new Error('connection terminated');
    const { thrown, job } = await deliver(error);
    expect(thrown).toBe(error);
    expect(job.updateData).not.toHaveBeenCalled();
  });
});
