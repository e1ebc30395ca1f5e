import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { rename, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs } from '../support/captured-logs.js';
import { productsCsv } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An import whose stored upload is gone before its retention ended (a DATA_DIR restored from an
 * older copy, an object deleted from the bucket, a row of inline_uploads lost) or that a worker's
 * store lacks (a worker started with another DATA_DIR, a volume not mounted yet): every attempt is
 * logged at error for an operator to notice, and retried like an I/O failure, since another attempt
 * or worker may find the file. Once the attempts run out the import fails saying the upload is
 * missing, its retry is refused while the API's store lacks it too, and rows.csv is refused: it
 * read no rows.
 */

/** Small, so that a test waits out one back-off (2 s) only. */
const JOB_ATTEMPTS = 2;
const MISSING_DETAIL = 'The upload of this import is missing from storage, so it could not be read; no rows were imported. Upload the file again.';
const RETRY_MISSING = "The job's upload is missing from storage; upload the file again.";
const ROWS_MISSING = 'The upload of this import is missing from storage; errors.csv still has the failed rows.';
const ROWS_UNREAD = 'This import failed before reading its rows: its upload was missing from storage. Upload the file again.';
const WORKER_LOG = 'import upload missing from storage';
const API_LOG = 'import upload missing from storage before its retention ended';

/** Over 64 KiB, so it is stored as a file rather than in PostgreSQL. */
const storedCsv = productsCsv(1, 3_000, 'Lost');
const inlineCsv = 'ean,name\n4006381333931,Pen\n';

type Logs = ReturnType<typeof capturedLogs>;

/** Uploads `csv` with the import queue paused, loses its upload with `lose`, then lets the import run. */
async function importWithLostUpload(ctx: TestContext, key: string, csv: string | Buffer, lose: (path: string, id: string) => Promise<void>) {
  const queue = ctx.queues.queue('import');
  await queue.pause();
  let id: string;
  let path: string;
  try {
    const accepted = await ctx.upload(key, csv);
    expect(accepted.statusCode, accepted.body).toBe(202);
    id = accepted.json<{ id: string }>().id;
    const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id]);
    path = rows[0]!.input_path;
    await lose(path, id);
  } finally {
    await queue.resume();
  }
  return { id, path };
}

/** The worker's error lines of job `id` that say its upload is missing. */
const missingLines = (logs: Logs, id: string) => logs.lines().filter((line) => line.msg === WORKER_LOG && line.jobId === id);

/**
 * What every lost upload shows: a failed import after JOB_ATTEMPTS attempts, each logged at error
 * with the job, account, path and the worker's store, whose retry is refused.
 */
async function expectFailedAfterAttempts(ctx: TestContext, logs: Logs, key: string, accountId: string, id: string, path: string) {
  const job = await ctx.waitForJob(key, id);
  expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED', detail: MISSING_DETAIL });
  expect(job.links.rows_csv).toBeNull();
  const { rows } = await ctx.db.query<{ attempts: number }>('SELECT attempts FROM jobs WHERE id = $1', [id]);
  expect(rows[0]!.attempts).toBe(JOB_ATTEMPTS);
  const store = { kind: ctx.store.kind, location: ctx.config.STORAGE_URL ?? ctx.config.DATA_DIR };
  const line = expect.objectContaining({ level: 50, msg: WORKER_LOG, jobId: id, accountId, path, store });
  expect(missingLines(logs, id)).toEqual(Array.from({ length: JOB_ATTEMPTS }, () => line));

  const retry = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': key } });
  expect(retry.statusCode, retry.body).toBe(422);
  expect(retry.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: RETRY_MISSING });
  expect(await ctx.waitForJob(key, id)).toMatchObject({ status: 'failed', detail: MISSING_DETAIL });
}

describe('an import whose upload is missing from the local store', () => {
  const logs = capturedLogs();
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ logger: logs.logger, env: { UPLOAD_RETENTION_DAYS: '7', JOB_ATTEMPTS: String(JOB_ATTEMPTS) } });
  });
  afterAll(async () => ctx?.close());

  const away = (path: string) => `${ctx.uploads.absolute(path)}.away`;

  it('is retried JOB_ATTEMPTS times, each logged at error, then fails saying to upload the file again; its retry is refused, and rows.csv too once the file is back', async () => {
    const account = await ctx.createAccount();
    const { id, path } = await importWithLostUpload(ctx, account.key, storedCsv, (lost) => rename(ctx.uploads.absolute(lost), away(lost)));
    await expectFailedAfterAttempts(ctx, logs, account.key, account.id, id, path);

    // The API's store has the file (the worker's lacked it): the import still read none of its rows.
    await rename(away(path), ctx.uploads.absolute(path));
    const rowsCsv = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
    expect(rowsCsv.statusCode, rowsCsv.body.slice(0, 200)).toBe(404);
    expect(rowsCsv.json()).toMatchObject({ error_code: 'NOT_FOUND', error: ROWS_UNREAD });
  });

  it('is retried and fails the same way when a small upload kept in PostgreSQL is gone', async () => {
    const account = await ctx.createAccount();
    const { id, path } = await importWithLostUpload(ctx, account.key, inlineCsv, async (_path, jobId) => {
      await ctx.db.query('DELETE FROM inline_uploads WHERE job_id = $1', [jobId]);
    });
    await expectFailedAfterAttempts(ctx, logs, account.key, account.id, id, path);
  });

  it('completes when the upload missing on the first attempt is there for the second', async () => {
    const account = await ctx.createAccount();
    const { id, path } = await importWithLostUpload(ctx, account.key, storedCsv, (lost) => rename(ctx.uploads.absolute(lost), away(lost)));
    await expect.poll(() => missingLines(logs, id).length, { timeout: 10_000, interval: 20 }).toBe(1);
    await rename(away(path), ctx.uploads.absolute(path));

    const job = await ctx.waitForJob(account.key, id);
    expect(job).toMatchObject({ status: 'completed', progress: { rows_processed: 3_000, rows_succeeded: 3_000 } });
    const { rows } = await ctx.db.query<{ attempts: number }>('SELECT attempts FROM jobs WHERE id = $1', [id]);
    expect(rows[0]!.attempts).toBe(2);
    expect(missingLines(logs, id)).toHaveLength(1);
    expect((await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`)).statusCode).toBe(200);
  });

  it('answers rows.csv with 404 saying the upload is missing, logged at error, and blames the retention only past it', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, productsCsv(1, 3_000, 'Kept'));
    expect(job.status).toBe('completed');
    const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [job.id]);
    const path = rows[0]!.input_path;
    await rm(ctx.uploads.absolute(path));
    logs.clear();

    const missing = await ctx.get(account.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error_code: 'NOT_FOUND', error: ROWS_MISSING });
    expect(logs.lines().filter((line) => line.msg === API_LOG)).toEqual([
      expect.objectContaining({ level: 50, jobId: job.id, accountId: account.id, path }),
    ]);

    // Past UPLOAD_RETENTION_DAYS, a file not found is the retention's doing (removed, its path not yet forgotten).
    await ctx.db.query("UPDATE jobs SET finished_at = finished_at - interval '7 days 1 minute' WHERE id = $1", [job.id]);
    const expired = await ctx.get(account.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(expired.statusCode).toBe(404);
    expect(expired.json<{ error: string }>().error).toContain('no longer stored (uploads are kept UPLOAD_RETENTION_DAYS days)');
  });
});

describe('an import whose object is missing from the bucket', () => {
  const logs = capturedLogs();
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ logger: logs.logger, storage: 's3', env: { JOB_ATTEMPTS: String(JOB_ATTEMPTS) } });
  });
  afterAll(async () => ctx?.close());

  it('is retried on NoSuchKey, each attempt logged at error, then fails saying to upload the file again and refuses its retry', async () => {
    const account = await ctx.createAccount();
    const prefix = new URL(ctx.config.STORAGE_URL!).pathname.slice(1);
    const s3 = ctx.s3!;
    const { id, path } = await importWithLostUpload(ctx, account.key, storedCsv, async (lost) => {
      await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${lost}` }));
    });
    await expectFailedAfterAttempts(ctx, logs, account.key, account.id, id, path);
  });

  it('takes a NoSuchBucket (404) for a store it cannot reach, not a missing upload: failed as an internal error after its attempts', async () => {
    const account = await ctx.createAccount();
    const s3 = ctx.s3!;
    try {
      const { id } = await importWithLostUpload(ctx, account.key, storedCsv, (lost) => s3.failRequests('GET', 404, lost));
      const job = await ctx.waitForJob(account.key, id);
      expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED' });
      expect(job.detail).toBe(`The import could not be completed after ${JOB_ATTEMPTS} attempts because of an internal error; no rows were imported. Retry it later.`);
      expect(missingLines(logs, id)).toEqual([]);
      await s3.failRequests('GET', null);
      // Its rows were never all checked: every row of a rows.csv would look good.
      expect(job.links.rows_csv).toBeNull();
      const rowsCsv = await ctx.get(account.key, `/v1/jobs/${id}/rows.csv`);
      expect([rowsCsv.statusCode, rowsCsv.json<{ error: string }>().error]).toEqual([
        404,
        'This import failed on an internal error before its rows were all checked: it has no rows.csv. Retry it.',
      ]);
    } finally {
      await s3.failRequests('GET', null);
    }
  });
});
