import { mkdtemp, rm } from 'node:fs/promises';
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
import { importHeldHalfWay, waitFor } from '../support/recovery-support.js';
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
  // Two attempts: a job whose attempts run out fails after one back-off of 2 s.
  ctx = await createTestContext({ workers: false, env: { METRICS_TOKEN: TOKEN, JOB_ATTEMPTS: '2' } });
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

async function importThrough(key: string, csv: string): Promise<string> {
  const response = await app.inject({
    method: 'POST', url: '/v1/imports', headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload: csv,
  });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json<{ id: string }>().id;
  await ctx.waitForJob(key, id);
  return id;
}

describe('GET /metrics', () => {
  it('wants the METRICS_TOKEN as a Bearer token', async () => {
    const missing = await scrape('');
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error_code).toBe('AUTHENTICATION_REQUIRED');
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

  it('counts a job whose attempts ran out as failed, with the ones the processor failed', async () => {
    const account = await ctx.createAccount();
    const before = sample((await scrape()).body, 'catalog_jobs_failed_total', { type: 'import' }) ?? 0;
    const queue = ctx.queues.queue('import');
    await queue.pause();
    // Over 64 KiB, so a file in the store; gone before the worker reads it, on both attempts.
    const csv = `ean,name\n${Array.from({ length: 3_000 }, (_, row) => `4006381333931,${'x'.repeat(30)}${row}`).join('\n')}\n`;
    const response = await app.inject({ method: 'POST', url: '/v1/imports', headers: { 'x-api-key': account.key, 'content-type': 'text/csv' }, payload: csv });
    const id = response.json<{ id: string }>().id;
    const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id]);
    await rm(join(dataDir, rows[0]!.input_path));
    await queue.resume();
    expect(await ctx.waitForJob(account.key, id, 30_000)).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
    await waitFor('the failure counted', async () => {
      const failed = sample((await scrape()).body, 'catalog_jobs_failed_total', { type: 'import' });
      return failed === before + 1 ? true : undefined;
    }, 10_000);
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
