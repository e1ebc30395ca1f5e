import { createWriteStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { runExport } from '../../src/workers/export/run-export.js';
import { writeSnapshot } from '../../src/workers/export/snapshot-writer.js';
import { createLogger } from '../../src/shared/logger.js';
import { ean13 } from '../support/csv.js';
import { csvRecords, downloadResult, requestExport, runExportJob, seedProducts } from '../support/exports.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';

// Consistency, cancellation, failure clean-up and retention of exports. The workers of this
// context are not started for the tests that drive the processor directly.

let ctx: TestContext;
const logger = createLogger('silent');

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

const CSV_OPTIONS = { format: 'csv' as const, gzip: false, fields: ['ean' as const, 'name' as const, 'attributes' as const], filter: {} };

/** The files under DATA_DIR/exports of job `jobId` (all of them without it). */
async function exportFiles(jobId = ''): Promise<string[]> {
  const root = join(ctx.config.DATA_DIR, 'exports');
  if (!existsSync(root)) return [];
  const days = await readdir(root);
  const files = await Promise.all(days.map(async (day) => (await readdir(join(root, day))).map((file) => join(day, file))));
  return files.flat().filter((file) => file.includes(jobId));
}

/** Seeds `count` products with a long description (so that streaming them takes a while). */
async function seedMany(accountId: string, count: number): Promise<void> {
  await ctx.db.query(
    `INSERT INTO products (account_id, ean, name, description, attributes)
     SELECT $1, lpad(n::text, 13, '0'), 'Product ' || n, repeat('long description ', 20), jsonb_build_object('n', n::text)
     FROM generate_series(1, $2) AS n`,
    [accountId, count],
  );
}

/** An export job accepted through the API (not run: no workers here). */
async function acceptedExport(key: string, body: object = { format: 'csv' }): Promise<string> {
  const response = await requestExport(ctx, key, body);
  expect(response.statusCode).toBe(202);
  return response.json<{ id: string }>().id;
}

describe('snapshot consistency', () => {
  it('writes the catalog as it was when the export started, while rows change under it', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [
      { ean: ean13(1), name: 'Pen', attributes: { color: 'blue' } },
      { ean: ean13(2), name: 'Ink' },
      { ean: ean13(3), name: 'Paper' },
    ]);
    const path = join(ctx.config.DATA_DIR, 'snapshot.csv');
    const rows = await writeSnapshot(ctx.db, {
      accountId: account.id,
      options: CSV_OPTIONS,
      target: createWriteStream(path),
      signal: new AbortController().signal,
      // Called once the snapshot is taken: change the catalog from another connection before the rows stream.
      onSnapshot: async () => {
        await ctx.db.query(`UPDATE products SET name = 'Changed', attributes = '{"size": "XL"}' WHERE account_id = $1`, [account.id]);
        await ctx.db.query('DELETE FROM products WHERE account_id = $1 AND ean = $2', [account.id, ean13(2)]);
        await seedProducts(ctx, account.id, [{ ean: ean13(4), name: 'New' }]);
      },
      onStream: () => {},
    });
    expect(rows).toBe(3);
    expect(csvRecords(await readFile(path, 'utf8'))).toEqual([
      { ean: ean13(1), name: 'Pen', attributes: '{"color": "blue"}' },
      { ean: ean13(2), name: 'Ink', attributes: '{}' },
      { ean: ean13(3), name: 'Paper', attributes: '{}' },
    ]);
  });
});

describe('progress', () => {
  it('shows rows_processed growing while the export runs, then every row once it completes', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await seedMany(account.id, 150_000);
    const jobId = await acceptedExport(account.key);
    const running = runExport({ db: ctx.db, files: ctx.uploads, logger, progressIntervalMs: 50 }, jobId, new AbortController().signal);

    const midway = await waitFor('progress while the export runs', async () => {
      const job = (await ctx.get(account.key, `/v1/jobs/${jobId}`)).json<JobResource>();
      return job.status === 'processing' && job.progress.rows_processed > 0 ? job : undefined;
    });
    expect(midway).toMatchObject({ phase: 'running', links: { result: null } });
    expect(midway.progress.rows_processed).toBeLessThan(150_000);

    await running;
    const done = (await ctx.get(account.key, `/v1/jobs/${jobId}`)).json<JobResource>();
    expect(done).toMatchObject({ status: 'completed', progress: { rows_total: 150_000, rows_processed: 150_000 } });
  });
});

describe('cancellation and failures', () => {
  it('stops a running export that is cancelled, removes its partial file and writes nothing more', async () => {
    const account = await ctx.createAccount();
    await seedMany(account.id, 200_000);
    const jobId = await acceptedExport(account.key);
    const controller = new AbortController();
    const running = runExport({ db: ctx.db, files: ctx.uploads, logger, progressIntervalMs: 50 }, jobId, controller.signal);
    const outcome = running.then(
      () => 'finished',
      (error: unknown) => error,
    );

    // Cancel once the file is being written, as POST /v1/jobs/{id}/cancel does: end the row, then abort.
    for (;;) {
      const partial = (await exportFiles(jobId)).find((file) => file.endsWith('.part'));
      if (partial && (await stat(join(ctx.config.DATA_DIR, 'exports', partial)).catch(() => null))?.size) break;
      if ((await Promise.race([outcome, null])) !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await ctx.db.query(
      `UPDATE jobs SET status = 'cancelled', phase = 'done', error_code = 'JOB_CANCELLED', finished_at = now() WHERE id = $1`,
      [jobId],
    );
    controller.abort('cancelled');

    expect(await outcome).not.toBe('finished');
    expect(await exportFiles(jobId)).toEqual([]);
    const job = (await ctx.get(account.key, `/v1/jobs/${jobId}`)).json<{ status: string; links: { result: string | null } }>();
    expect(job).toMatchObject({ status: 'cancelled', links: { result: null } });
    const { rows } = await ctx.db.query('SELECT result_path FROM jobs WHERE id = $1', [jobId]);
    expect(rows[0]).toEqual({ result_path: null });
    expect((await ctx.get(account.key, `/v1/jobs/${jobId}/result`)).statusCode).toBe(404);
  });

  it('leaves no file behind when an attempt fails, and keeps the job processing for a retry', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
    const jobId = await acceptedExport(account.key);
    const deps = { db: ctx.db, files: ctx.uploads, logger };
    await expect(runExport({ ...deps, db: poolWhoseCopyFails() }, jobId, new AbortController().signal)).rejects.toThrow(
      'connection lost',
    );
    expect(await exportFiles(jobId)).toEqual([]);
    const { rows } = await ctx.db.query('SELECT status, result_path FROM jobs WHERE id = $1', [jobId]);
    expect(rows[0]).toEqual({ status: 'processing', result_path: null });

    // The retry succeeds and leaves exactly its own file.
    const outcome = await runExport(deps, jobId, new AbortController().signal);
    expect(outcome).toMatchObject({ status: 'completed', counts: { rowsTotal: 1 } });
    expect(await exportFiles(jobId)).toHaveLength(1);
  });
});

describe('POST /v1/jobs/{id}/cancel of a running export', () => {
  it('ends it cancelled with JOB_CANCELLED, stops the delivery without a retry and leaves no file', async () => {
    const account = await ctx.createAccount();
    await seedMany(account.id, 300_000);
    const jobId = await acceptedExport(account.key);
    const workers = ctx.startWorkers();
    try {
      // Cancel once the worker is writing the file: the export is really running.
      await waitFor('the export to be writing its file', async () => {
        const partial = (await exportFiles(jobId)).find((file) => file.endsWith('.part'));
        const size = partial ? (await stat(join(ctx.config.DATA_DIR, 'exports', partial)).catch(() => null))?.size : 0;
        return size ? true : undefined;
      }, 30_000, 5);

      const response = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: { 'x-api-key': account.key } });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({ id: jobId, status: 'cancelled', error_code: 'JOB_CANCELLED', links: { result: null } });

      // The delivery stops: BullMQ records it failed, not retried.
      const exports = ctx.queues.queue('export');
      const delivery = await waitFor('the delivery to stop', async () =>
        (await exports.getJobState(jobId)) === 'failed' ? await exports.getJob(jobId) : undefined,
      30_000);
      expect(delivery?.failedReason).toBe('The job was cancelled.');
      expect(delivery?.attemptsMade).toBe(1);
    } finally {
      await workers.close();
      ctx.workers = null;
    }
    expect(await exportFiles(jobId)).toEqual([]);
    const job = (await ctx.get(account.key, `/v1/jobs/${jobId}`)).json<{ status: string; error_code: string; links: { result: string | null } }>();
    expect(job).toMatchObject({ status: 'cancelled', error_code: 'JOB_CANCELLED', links: { result: null } });
    const { rows } = await ctx.db.query('SELECT status, result_path, attempts FROM jobs WHERE id = $1', [jobId]);
    expect(rows[0]).toEqual({ status: 'cancelled', result_path: null, attempts: 1 });
    expect((await ctx.get(account.key, `/v1/jobs/${jobId}/result`)).statusCode).toBe(404);
  }, 60_000);
});

/** The test pool, except that a COPY on a connection taken from it fails as a dropped connection would. */
function poolWhoseCopyFails(): typeof ctx.db {
  return new Proxy(ctx.db, {
    get(target, property) {
      if (property === 'connect') {
        return async () => {
          const client = await target.connect();
          const query = client.query.bind(client) as (...args: unknown[]) => unknown;
          (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
            const isCopy = typeof args[0] === 'object' && args[0] !== null && 'submit' in args[0];
            if (isCopy) throw new Error('connection lost');
            return query(...args);
          };
          return client;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('retention', () => {
  it('removes export files after EXPORT_RETENTION_DAYS; the job then shows no result link and the download is 404', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
    const workers = ctx.startWorkers();
    let job;
    try {
      job = await runExportJob(ctx, account.key, { format: 'csv' });
    } finally {
      await workers.close();
      ctx.workers = null;
    }
    expect(job.links.result).toBe(`/v1/jobs/${job.id}/result`);
    expect((await downloadResult(ctx, account.key, job.id)).response.statusCode).toBe(200);
    const days = (n: number) => () => new Date(Date.now() + n * 24 * 3600 * 1000);
    const cleanup = (now: () => Date) =>
      cleanupOnce({ db: ctx.db, uploads: ctx.uploads, uploadRetentionDays: 7, exportRetentionDays: 7, now });

    expect((await cleanup(days(6))).exportFilesRemoved).toBe(0);
    expect(await exportFiles(job.id)).toHaveLength(1);

    expect((await cleanup(days(8))).exportFilesRemoved).toBeGreaterThanOrEqual(1);
    expect(await exportFiles(job.id)).toEqual([]);
    const after = (await ctx.get(account.key, `/v1/jobs/${job.id}`)).json<{ status: string; links: { result: string | null } }>();
    expect(after).toMatchObject({ status: 'completed', links: { result: null } });
    const download = await ctx.get(account.key, `/v1/jobs/${job.id}/result`);
    expect(download.statusCode).toBe(404);
    expect(download.json()).toMatchObject({
      error_code: 'NOT_FOUND',
      error: 'The export file is no longer available: export files are kept for a limited time.',
    });
  });
});
