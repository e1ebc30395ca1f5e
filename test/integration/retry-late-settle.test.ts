import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/shared/db/pool.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';
import { createLogger } from '../../src/shared/logger.js';
import { createWorkerConnection, type QueuedJob, type RedisConnection } from '../../src/shared/queues.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/start-workers.js';
import { holdProduct, importHeldHalfWay, jobRow, recoveryEan, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * The writes by which a worker fails a job whose BullMQ job will not run again (the `failed`
 * handler's, or the reconciler's), held until the test lets them go: as if the worker's handler
 * ran late, after the job had been retried.
 */
interface HeldSettles {
  db: Db;
  /** Lets the held writes (and any later one) go, and waits until they have run. */
  release(): Promise<void>;
}

const SETTLE_DETAIL = /could not be completed after \d+ attempts? because of an internal error/;

function holdSettles(db: Db): HeldSettles {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const held: Array<Promise<unknown>> = [];
  const isSettle = (config: unknown, values: unknown) => {
    const given = Array.isArray(values) ? values : ((config as { values?: unknown[] } | null)?.values ?? []);
    return given.some((value) => typeof value === 'string' && SETTLE_DETAIL.test(value));
  };
  const query = (config: unknown, values?: unknown) => {
    const run = () => (db.query as (config: unknown, values?: unknown) => Promise<unknown>)(config, values);
    if (!isSettle(config, values)) return run();
    const write = opened.then(run);
    held.push(write);
    return write;
  };
  const proxy = new Proxy(db, {
    get(target, property) {
      if (property === 'query') return query;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    db: proxy,
    async release() {
      open();
      await Promise.allSettled(held);
    },
  };
}

/**
 * Resolves `delivered(id)` once a worker has emitted `failed` for the job: the service's own
 * `failed` handler was registered first, so by then it has sent its write (held, see holdSettles).
 */
function failedDeliveries(workers: Worker[]): (id: string) => Promise<void> {
  const failed = new Set<string>();
  const waiting = new Map<string, () => void>();
  for (const worker of workers) {
    worker.on('failed', (job) => {
      const id = (job?.data as QueuedJob | undefined)?.jobId;
      if (!id) return;
      failed.add(id);
      waiting.get(id)?.();
    });
  }
  return (id) => (failed.has(id) ? Promise.resolve() : new Promise((resolve) => waiting.set(id, resolve)));
}

let ctx: TestContext;
let connection: RedisConnection;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
  connection = createWorkerConnection(ctx.config);
});
afterAll(async () => {
  connection?.disconnect();
  await ctx?.close();
});

/** Starts this context's workers on a database whose settling writes are held. */
function startHeldWorkers(): { settles: HeldSettles; workers: RunningWorkers; deliveryFailed: (id: string) => Promise<void> } {
  const settles = holdSettles(ctx.db);
  const workers = startWorkers({ db: settles.db, uploads: ctx.store, logger: createLogger('silent'), config: ctx.config, connection });
  return { settles, workers, deliveryFailed: failedDeliveries(workers.workers) };
}

const post = (key: string, url: string) => ctx.app.inject({ method: 'POST', url, headers: { 'x-api-key': key } });

/** Rows of the cancelled import: several chunks, so the cancel stops it with rows left to read. */
const ROWS = 40_000;

describe('a retry sent before the worker has settled the ended run', () => {
  it('runs a cancelled import again to the end, whenever the cancelled delivery is settled', async () => {
    const { settles, workers, deliveryFailed } = startHeldWorkers();
    try {
      const account = await ctx.createAccount();
      let stopped: Promise<void> | undefined;
      const id = await importHeldHalfWay(ctx, account, ROWS, async (id) => {
        stopped = deliveryFailed(id);
        const cancel = await post(account.key, `/v1/jobs/${id}/cancel`);
        expect(cancel.json<JobResource>()).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED' });
      });
      await stopped;

      // The retried run is held half-way too, so it is still running when the old run is settled.
      const again = await holdProduct(ctx.db, account.id, recoveryEan(ROWS / 2));
      try {
        const retry = await post(account.key, `/v1/jobs/${id}/retry`);
        expect(retry.statusCode, retry.body).toBe(202);
        await waitFor('the retried import to reach the held product', async () => ((await again.someoneWaits()) ? true : undefined), 60_000);
        await settles.release();
      } finally {
        await again.release();
      }

      const job = await ctx.waitForJob(account.key, id, 60_000);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: ROWS, rows_created: ROWS, rows_failed: 0 });
      expect((await jobRow(ctx.db, id)).attempts).toBe(1);
    } finally {
      await settles.release();
      await workers.close();
    }
  }, 120_000);

  it('runs a failed import again to the end, whenever its failed delivery is settled', async () => {
    const { settles, workers, deliveryFailed } = startHeldWorkers();
    try {
      const account = await ctx.createAccount();
      expect((await ctx.importCsv(account.key, 'ean,name\n4006381333931,Old pen\n')).status).toBe('completed');
      const upload = await ctx.upload(account.key, 'ean,name,price,currency\n4006381333931,Pen,1.50,EUR\n96385074,Notebook,3.00,EUR\n', { mode: 'create' });
      const id = upload.json<{ id: string }>().id;
      await deliveryFailed(id);
      expect(await jobRow(ctx.db, id)).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });

      // The conflict is gone; the retried run waits on a held product until the old run is settled.
      await ctx.db.query('DELETE FROM products WHERE account_id = $1', [account.id]);
      const held = await holdProduct(ctx.db, account.id, '4006381333931');
      try {
        const retry = await post(account.key, `/v1/jobs/${id}/retry`);
        expect(retry.statusCode, retry.body).toBe(202);
        await waitFor('the retried import to reach the held product', async () => ((await held.someoneWaits()) ? true : undefined), 30_000);
        await settles.release();
      } finally {
        await held.release();
      }

      const job = await ctx.waitForJob(account.key, id);
      expect(job).toMatchObject({ status: 'completed', error_code: null });
      expect(job.progress).toMatchObject({ rows_total: 2, rows_created: 2, rows_failed: 0 });
    } finally {
      await settles.release();
      await workers.close();
    }
  }, 60_000);
});
