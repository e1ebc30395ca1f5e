import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_TYPES, type JobType } from '../../src/shared/jobs/job-row.js';
import { queuePrefix, QUEUE_NAMES } from '../../src/shared/queues.js';
import { deleteKeys } from '../../src/shared/redis-connection.js';
import { capturedLogs } from '../support/captured-logs.js';
import { jobRow, waitFor, withWorkers } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

/**
 * A queue paused from the dashboard stays paused when Redis loses its data (FLUSHALL, a restart
 * without persistence, a failover to an empty replica): PostgreSQL keeps the pause, and the
 * reconciler pauses the queue again before it queues the lost jobs again. The loss is simulated
 * by deleting this file's queue keys alone (the Redis is shared).
 */
const logs = capturedLogs('info');
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { RECONCILE_INTERVAL_MS: '1000' }, logger: logs.logger });
});
afterAll(async () => ctx?.close());

const operator = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;

/** Bull Board's own API, as its buttons call it: `/pause`, `/resume`, `/imports/pause`… */
async function dashboard(path: string): Promise<void> {
  const response = await ctx.app.inject({ method: 'PUT', url: `/admin/queues/api/queues${path}`, headers: { authorization: operator } });
  expect(response.statusCode, response.body).toBe(200);
}

/** Everything Redis holds of this file's queues goes, as in a FLUSHALL. */
async function loseRedisData(): Promise<void> {
  expect(await deleteKeys(ctx.redis, `${queuePrefix(ctx.config)}:*`)).toBeGreaterThan(0);
}

const isPaused = (type: JobType) => ctx.queues.queue(type).isPaused();

/** Uploads a two-product import; resolves with its id once it waits in its queue. */
async function queuedImport(key: string): Promise<string> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Ballpoint pen\n4006381333948,Pencil\n');
  expect(response.statusCode, response.body).toBe(202);
  const { id } = response.json<{ id: string }>();
  await waitFor(`${id} to wait`, async () => ((await ctx.queues.queue('import').getJobState(id)) === 'waiting' ? true : undefined));
  return id;
}

/** The queues named in the reconciler's "paused again" lines so far. */
const pausedAgain = () => logs.lines().filter((line) => line.msg === 'queue paused again: Redis had lost its pause').map((line) => line.queue);


/** Long enough for two more reconciler passes (RECONCILE_INTERVAL_MS is 1 s here). */
const twoPasses = () => new Promise((resolve) => setTimeout(resolve, 2_500));

/** The queues PostgreSQL records as paused from the dashboard. */
async function recordedPauses(): Promise<string[]> {
  const { rows } = await ctx.db.query<{ queue: string }>('SELECT queue FROM queue_pauses ORDER BY queue');
  return rows.map((row) => row.queue);
}

/** The reconciler's "resumed outside the dashboard" lines so far, by queue. */
const resumedOutside = () =>
  logs.lines().filter((line) => line.msg === 'queue resumed outside the dashboard; its recorded pause is cleared').map((line) => line.queue);

describe('a queue paused from the dashboard, after Redis lost its data', () => {
  it('is paused again before its lost jobs are queued again: the import waits instead of running, and runs on Resume', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await dashboard('/imports/pause');
    const id = await queuedImport(account.key);
    await loseRedisData();
    expect(await isPaused('import')).toBe(false);
    expect(await ctx.queues.queue('import').getJobState(id)).toBe('unknown');
    logs.clear();

    await withWorkers(ctx, async () => {
      await waitFor('the import to be queued again', async () => ((await ctx.queues.queue('import').getJobState(id)) === 'waiting' ? true : undefined), 10_000);
      expect(await isPaused('import')).toBe(true);
      expect(pausedAgain()).toEqual(['imports']);
      await twoPasses();
      expect(await ctx.queues.queue('import').getJobState(id)).toBe('waiting');
      expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'processing', attempts: 0, started_at: null });
      expect(pausedAgain()).toEqual(['imports']);

      await dashboard('/imports/resume');
      expect(await ctx.waitForJob(account.key, id)).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
    });
  });

  it('is not paused again once resumed from the dashboard', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await dashboard('/imports/pause');
    await dashboard('/imports/resume');
    const id = await queuedImport(account.key);
    await loseRedisData();
    logs.clear();

    await withWorkers(ctx, async () => {
      expect(await ctx.waitForJob(account.key, id)).toMatchObject({ status: 'completed', progress: { rows_created: 2 } });
      expect(await isPaused('import')).toBe(false);
      expect(pausedAgain()).toEqual([]);
    });
  });

  it('keeps Pause all and Resume all the same way', { timeout: 60_000 }, async () => {
    await dashboard('/pause');
    await loseRedisData();
    logs.clear();

    await withWorkers(ctx, async () => {
      await waitFor('every queue to be paused again', async () => ((await Promise.all(JOB_TYPES.map(isPaused))).every(Boolean) ? true : undefined), 10_000);
      expect(pausedAgain().sort()).toEqual(Object.values(QUEUE_NAMES).sort());

      // Resume all clears every pause, even of a queue that Redis says is not paused.
      await ctx.queues.queue('export').resume();
      await dashboard('/resume');
      expect(await Promise.all(JOB_TYPES.map(isPaused))).toEqual(JOB_TYPES.map(() => false));
      await deleteKeys(ctx.redis, `${queuePrefix(ctx.config)}:*`);
      logs.clear();
      await twoPasses();
      expect(await Promise.all(JOB_TYPES.map(isPaused))).toEqual(JOB_TYPES.map(() => false));
      expect(pausedAgain()).toEqual([]);
    });
  });
});

describe('a queue paused from the dashboard, then resumed elsewhere', () => {
  it('stays resumed (as an API process of the last release, or code, resumed it): the reconciler clears the record instead of pausing it again', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await dashboard('/imports/pause');
    expect(await recordedPauses()).toEqual(['imports']);
    // What an API process of the last release does on Resume: BullMQ's resume, record left alone.
    await ctx.queues.queue('import').resume();
    logs.clear();

    await withWorkers(ctx, async () => {
      await twoPasses();
      expect(await isPaused('import')).toBe(false);
      expect(await recordedPauses()).toEqual([]);
      expect(pausedAgain()).toEqual([]);
      expect(resumedOutside()).toEqual(['imports']);
      const response = await ctx.upload(account.key, 'ean,name\n4006381333931,Ballpoint pen\n');
      expect(response.statusCode, response.body).toBe(202);
      expect(await ctx.waitForJob(account.key, response.json<{ id: string }>().id)).toMatchObject({ status: 'completed', progress: { rows_created: 1 } });
    });

    // A later loss of Redis's data leaves it running: nothing records it paused any more.
    await loseRedisData();
    await withWorkers(ctx, async () => {
      await twoPasses();
      expect(await isPaused('import')).toBe(false);
      expect(pausedAgain()).toEqual([]);
    });
  });

  it('is paused again from the dashboard, and kept, after such a resume', { timeout: 60_000 }, async () => {
    await dashboard('/imports/pause');
    await ctx.queues.queue('import').resume();
    await withWorkers(ctx, async () => {
      await waitFor('the record to be cleared', async () => ((await recordedPauses()).length === 0 ? true : undefined), 10_000);
    });
    await dashboard('/imports/pause');
    await loseRedisData();
    logs.clear();

    await withWorkers(ctx, async () => {
      await waitFor('the queue to be paused again', async () => (pausedAgain().length > 0 ? true : undefined), 10_000);
      expect(pausedAgain()).toEqual(['imports']);
      expect(await isPaused('import')).toBe(true);
      expect(await recordedPauses()).toEqual(['imports']);
      await dashboard('/imports/resume');
    });
  });

  it('is told apart the same way when its pause was recorded before markers were kept', { timeout: 60_000 }, async () => {
    // A pause of the last release with a record: PostgreSQL has it, Redis has BullMQ's pause alone.
    await ctx.db.query("INSERT INTO queue_pauses (queue) VALUES ('imports') ON CONFLICT DO NOTHING");
    await ctx.queues.queue('import').pause();
    logs.clear();

    await withWorkers(ctx, async () => {
      const meta = `${queuePrefix(ctx.config)}:imports:meta`;
      await waitFor('the pause to be marked', async () => ((await ctx.redis.hexists(meta, 'catalog-pause-recorded')) === 1 ? true : undefined), 10_000);
      await ctx.queues.queue('import').resume();
      await waitFor('the record to be cleared', async () => ((await recordedPauses()).length === 0 ? true : undefined), 10_000);
      await twoPasses();
      expect(await isPaused('import')).toBe(false);
      expect(pausedAgain()).toEqual([]);
      expect(resumedOutside()).toEqual(['imports']);
    });
  });
});
