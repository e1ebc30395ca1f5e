import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { createLogger } from '../../src/shared/logger.js';
import { createMetrics } from '../../src/shared/metrics.js';
import { createWorkerConnection } from '../../src/shared/queues.js';
import { UploadStore } from '../../src/shared/upload-store.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/start-workers.js';
import { importHeldHalfWay, jobRow, productsCsv, waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

const TOKEN = 'metrics-token-0123';

let ctx: TestContext;
/** An API and workers of one process sharing one registry, as in ROLE=all. */
let app: FastifyInstance;
let workers: RunningWorkers;
let dataDir: string;
let uploads: UploadStore;
const workerConnection = () => createWorkerConnection(ctx.config.REDIS_URL);

beforeAll(async () => {
  // Two attempts: a job whose attempts run out fails after one back-off of 2 s. The reconciler
  // passes every second, for the job whose failure only it can record.
  ctx = await createTestContext({ workers: false, env: { METRICS_TOKEN: TOKEN, JOB_ATTEMPTS: '2', RECONCILE_INTERVAL_MS: '1000' } });
  const metrics = createMetrics();
  dataDir = await mkdtemp(join(tmpdir(), 'catalog-metrics-'));
  uploads = new UploadStore(dataDir);
  const logger = createLogger('silent');
  const deps = { config: ctx.config, db: ctx.db, redis: ctx.redis, queues: ctx.queues, uploads, logger, metrics };
  app = await buildApp(deps);
  workers = startWorkers({ db: ctx.db, uploads, logger, config: ctx.config, connection: workerConnection(), metrics });
});
afterAll(async () => {
  await app?.close();
  await workers?.close();
  await ctx?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const scrape = (token = TOKEN) =>
  app.inject({ method: 'GET', url: '/metrics', headers: token ? { authorization: `Bearer ${token}` } : {} });

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const line = text.split('\n').find((each) => {
    if (!each.startsWith(`${name}{`) && !each.startsWith(`${name} `)) return false;
    return Object.entries(labels).every(([key, value]) => each.includes(`${key}="${value}"`));
  });
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function importThrough(key: string, csv: string | Buffer, query: Record<string, string> = {}): Promise<string> {
  const response = await app.inject({
    method: 'POST', url: '/v1/imports', query, headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload: csv,
  });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json<{ id: string }>().id;
  await ctx.waitForJob(key, id);
  return id;
}

/**
 * Queues an import whose stored file cannot be read (a folder in its place: EISDIR, an I/O failure
 * retried, where a missing file fails at once), on every attempt, so that its attempts run out;
 * `beforeRun(id)` runs while it is still held in the paused queue.
 */
async function importWithoutInput(key: string, beforeRun: (id: string) => Promise<void> = async () => {}): Promise<string> {
  const queue = ctx.queues.queue('import');
  await queue.pause();
  // Over 64 KiB, so a file in the store.
  const csv = `ean,name\n${Array.from({ length: 3_000 }, (_, row) => `4006381333931,${'x'.repeat(30)}${row}`).join('\n')}\n`;
  const response = await app.inject({ method: 'POST', url: '/v1/imports', headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload: csv });
  const id = response.json<{ id: string }>().id;
  const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id]);
  await rm(join(dataDir, rows[0]!.input_path));
  await mkdir(join(dataDir, rows[0]!.input_path));
  await beforeRun(id);
  await queue.resume();
  return id;
}

/** The failed counter and the failed-duration count of `type` (0 for a series not there yet). */
async function failedSamples(type: string): Promise<{ failed: number; timed: number }> {
  const text = (await scrape()).body;
  return {
    failed: sample(text, 'catalog_jobs_failed_total', { type }) ?? 0,
    timed: sample(text, 'catalog_job_duration_seconds_count', { type, status: 'failed' }) ?? 0,
  };
}

describe('GET /metrics', () => {
  it('wants the METRICS_TOKEN as a Bearer token', async () => {
    const missing = await scrape('');
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({
      error_code: 'AUTHENTICATION_REQUIRED',
      error: "Missing metrics token. Send it as 'Authorization: Bearer <METRICS_TOKEN>'.",
    });
    // X-API-Key is the API's header, not the scrape's: the answer says which one to send.
    const asApiKey = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': TOKEN } });
    expect(asApiKey.json().error).toBe(missing.json().error);
    const wrong = await scrape('not-the-token');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error_code).toBe('INVALID_API_KEY');
  });

  it('counts jobs, rows and durations by type, and HTTP latency by route pattern and status', async () => {
    const account = await ctx.createAccount();
    await importThrough(account.key, 'ean,name\n4006381333931,Pen\n96385074,Notebook\n');
    await importThrough(account.key, 'ean,name\n4006381333931,Pen\n12345,Bad\n');
    await app.inject({ method: 'GET', url: '/v1/jobs/00000000-0000-4000-8000-000000000000', headers: { 'x-api-key': account.key } });

    // The job row ends a moment before its delivery returns and is counted, and BullMQ moves the
    // failed job to its failed set only after that.
    const response = await waitFor('both jobs counted', async () => {
      const each = await scrape();
      const counted = sample(each.body, 'catalog_jobs_failed_total', { type: 'import' }) === 1;
      return counted && sample(each.body, 'catalog_queue_jobs', { queue: 'imports', state: 'failed' }) === 1 ? each : undefined;
    }, 10_000);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.body;
    expect(sample(text, 'catalog_jobs_started_total', { type: 'import' })).toBe(2);
    expect(sample(text, 'catalog_jobs_completed_total', { type: 'import' })).toBe(1);
    expect(sample(text, 'catalog_jobs_failed_total', { type: 'import' })).toBe(1);
    expect(sample(text, 'catalog_rows_imported_total')).toBe(2);
    expect(sample(text, 'catalog_rows_failed_total')).toBe(1);
    expect(sample(text, 'catalog_job_duration_seconds_count', { type: 'import', status: 'completed' })).toBe(1);
    expect(sample(text, 'catalog_http_request_duration_seconds_count', { route: '/v1/imports', status: '202', method: 'POST' })).toBe(2);
    // The route pattern, never the raw URL (ids would make the label set grow without bound).
    expect(sample(text, 'catalog_http_request_duration_seconds_count', { route: '/v1/jobs/:id', status: '404' })).toBe(1);
    expect(text).not.toContain('00000000-0000-4000-8000-000000000000');
    // A failed import is a failed BullMQ job too (not retried).
    expect(sample(text, 'catalog_queue_jobs', { queue: 'imports', state: 'completed' })).toBe(1);
    expect(sample(text, 'catalog_queue_jobs', { queue: 'imports', state: 'failed' })).toBe(1);
    expect(sample(text, 'catalog_queue_jobs', { queue: 'exports', state: 'waiting' })).toBe(0);
    expect(sample(text, 'catalog_jobs_started_total', { type: 'export' })).toBe(0);
    expect(sample(text, 'catalog_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('counts a job whose attempts ran out as failed, with its duration, with the ones the processor failed', async () => {
    const account = await ctx.createAccount();
    const before = await failedSamples('import');
    const id = await importWithoutInput(account.key);
    expect(await ctx.waitForJob(account.key, id, 30_000)).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    const after = await waitFor('the failure counted', async () => {
      const each = await failedSamples('import');
      return each.failed === before.failed + 1 ? each : undefined;
    }, 10_000);
    expect(after.timed).toBe(before.timed + 1);
  });

  it('counts a job that the reconciler failed, its worker unable to record the failure, as failed with its duration', async () => {
    const account = await ctx.createAccount();
    const before = await failedSamples('import');
    // PostgreSQL refuses to fail the job, as in an outage, and counts its refusals in a sequence
    // (which a refused statement does not roll back).
    const id = await importWithoutInput(account.key, async (id) => {
      await ctx.db.query('CREATE SEQUENCE refused_failures');
      await ctx.db.query(`CREATE FUNCTION refuse_failure() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('refused_failures'); RAISE EXCEPTION 'failing a job is refused'; END $$`);
      await ctx.db.query(`CREATE TRIGGER refuse_failure BEFORE UPDATE ON jobs FOR EACH ROW
        WHEN (NEW.status = 'failed' AND OLD.id = '${id}') EXECUTE FUNCTION refuse_failure()`);
    });
    try {
      // The worker's own write comes as BullMQ gives the job up, the reconciler's a second apart:
      // by the second refusal the worker has given up, and only the reconciler can end the row.
      await waitFor('the worker refused', async () => {
        const { rows } = await ctx.db.query<{ refused: string }>(
          'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS refused FROM refused_failures',
        );
        return Number(rows[0]!.refused) >= 2 ? true : undefined;
      }, 30_000);
      expect((await jobRow(ctx.db, id)).status).toBe('processing');
    } finally {
      await ctx.db.query('DROP TRIGGER refuse_failure ON jobs');
      await ctx.db.query('DROP FUNCTION refuse_failure');
      await ctx.db.query('DROP SEQUENCE refused_failures');
    }
    expect(await ctx.waitForJob(account.key, id, 10_000)).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    const after = await waitFor('the failure counted', async () => {
      const each = await failedSamples('import');
      return each.failed === before.failed + 1 ? each : undefined;
    }, 10_000);
    expect(after.timed).toBe(before.timed + 1);
  }, 60_000);

  it('counts only the rows imports wrote: neither a dry run\'s nor unchanged ones', async () => {
    const account = await ctx.createAccount();
    const counters = async () => {
      const text = (await scrape()).body;
      return { completed: sample(text, 'catalog_jobs_completed_total', { type: 'import' }) ?? 0, rows: sample(text, 'catalog_rows_imported_total') ?? 0 };
    };
    const before = await counters();
    const dryRun = await importThrough(account.key, productsCsv(1, 50, 'Lamp'), { dry_run: 'true' });
    const written = await importThrough(account.key, productsCsv(1, 50, 'Lamp'));
    // Nine rows as they are in the catalog, and one without a valid EAN, skipped.
    const unchanged = await importThrough(account.key, Buffer.concat([productsCsv(1, 9, 'Lamp'), Buffer.from('12345,Bad\n')]), { on_error: 'skip' });
    const progress = async (id: string) => (await ctx.waitForJob(account.key, id)).progress;
    expect(await progress(dryRun)).toMatchObject({ rows_created: 50 });
    expect(await progress(written)).toMatchObject({ rows_created: 50 });
    expect(await progress(unchanged)).toMatchObject({ rows_succeeded: 9, rows_unchanged: 9, rows_failed: 1 });
    // Counted as each delivery returns, a moment after its job row ends.
    const after = await waitFor('the three imports counted', async () => {
      const each = await counters();
      return each.completed === before.completed + 3 ? each : undefined;
    }, 10_000);
    expect(after.rows).toBe(before.rows + 50);
  });

  it('counts an import cancelled while it runs as cancelled, with its duration', async () => {
    const account = await ctx.createAccount();
    // Uploaded through this file's API, whose upload store its workers read.
    const upload = (key: string, csv: string | Buffer) =>
      app.inject({ method: 'POST', url: '/v1/imports', headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload: csv });
    const id = await importHeldHalfWay({ db: ctx.db, upload }, account, 20_000, async (id) => {
      const response = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
      expect(response.statusCode, response.body).toBe(200);
    });
    expect(id).toBeTruthy();
    const text = await waitFor('the cancel counted', async () => {
      const body = (await scrape()).body;
      return sample(body, 'catalog_jobs_cancelled_total', { type: 'import' }) === 1 ? body : undefined;
    }, 15_000);
    expect(sample(text, 'catalog_job_duration_seconds_count', { type: 'import', status: 'cancelled' })).toBe(1);
    expect(sample(text, 'catalog_jobs_cancelled_total', { type: 'export' })).toBe(0);
  }, 90_000);

  it('says which queues are paused (catalog_queue_paused, 1 or 0), read from Redis on each scrape', async () => {
    // A context of its own: pausing a queue of this file's would hold the other tests' jobs.
    const own = await createTestContext({ workers: false });
    const scrapeOwn = async () => (await own.app.inject({ method: 'GET', url: '/metrics' })).body;
    try {
      expect(sample(await scrapeOwn(), 'catalog_queue_paused', { queue: 'imports' })).toBe(0);
      await own.queues.queue('import').pause();
      const paused = await scrapeOwn();
      expect(sample(paused, 'catalog_queue_paused', { queue: 'imports' })).toBe(1);
      expect(sample(paused, 'catalog_queue_paused', { queue: 'exports' })).toBe(0);
      expect(sample(paused, 'catalog_queue_paused', { queue: 'enrichments' })).toBe(0);
      await own.queues.queue('import').resume();
      expect(sample(await scrapeOwn(), 'catalog_queue_paused', { queue: 'imports' })).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('is open without METRICS_TOKEN', async () => {
    const open = await createTestContext({ workers: false });
    try {
      const response = await open.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('# TYPE catalog_http_request_duration_seconds histogram');
    } finally {
      await open.close();
    }
  });
});
