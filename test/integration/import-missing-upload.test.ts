import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs } from '../support/captured-logs.js';
import { productsCsv } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * An import whose stored upload is gone before its retention ended (a DATA_DIR restored from an
 * older copy, an object deleted from the bucket, a row of inline_uploads lost) was lost, not
 * removed: the import fails at once, its retry is refused, rows.csv says so, and each is logged at
 * error for an operator to notice.
 */

const MISSING_DETAIL = 'The upload of this import is missing from storage, so it could not be read; no rows were imported. Upload the file again.';
const RETRY_MISSING = "The job's upload is missing from storage; upload the file again.";
const ROWS_MISSING = 'The upload of this import is missing from storage; errors.csv still has the failed rows.';
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
  try {
    const accepted = await ctx.upload(key, csv);
    expect(accepted.statusCode, accepted.body).toBe(202);
    id = accepted.json<{ id: string }>().id;
    const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [id]);
    await lose(rows[0]!.input_path, id);
  } finally {
    await queue.resume();
  }
  return { id, job: await ctx.waitForJob(key, id) };
}

/** What every lost upload shows: a failed import after one attempt, logged once at error, whose retry is refused. */
async function expectFailedAtOnce(ctx: TestContext, logs: Logs, key: string, accountId: string, id: string) {
  const job = await ctx.waitForJob(key, id);
  expect(job).toMatchObject({ status: 'failed', error_code: 'IMPORT_FAILED', detail: MISSING_DETAIL });
  const { rows } = await ctx.db.query<{ attempts: number }>('SELECT attempts FROM jobs WHERE id = $1', [id]);
  expect(rows[0]!.attempts).toBe(1);
  const errors = logs.lines().filter((line) => (line.level as number) >= 50 && line.jobId === id);
  expect(errors).toEqual([expect.objectContaining({ level: 50, msg: WORKER_LOG, jobId: id, accountId })]);

  const retry = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/retry`, headers: { 'x-api-key': key } });
  expect(retry.statusCode, retry.body).toBe(422);
  expect(retry.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: RETRY_MISSING });
  expect(await ctx.waitForJob(key, id)).toMatchObject({ status: 'failed', detail: MISSING_DETAIL });
}

describe('an import whose upload is missing from the local store', () => {
  const logs = capturedLogs();
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ logger: logs.logger, env: { UPLOAD_RETENTION_DAYS: '7' } });
  });
  afterAll(async () => ctx?.close());

  it('fails at once with IMPORT_FAILED saying to upload the file again, logs it once at error, and refuses its retry', async () => {
    const account = await ctx.createAccount();
    const { id } = await importWithLostUpload(ctx, account.key, storedCsv, (path) => rm(ctx.uploads.absolute(path)));
    await expectFailedAtOnce(ctx, logs, account.key, account.id, id);
  });

  it('fails at once the same way when a small upload kept in PostgreSQL is gone', async () => {
    const account = await ctx.createAccount();
    const { id } = await importWithLostUpload(ctx, account.key, inlineCsv, async (_path, jobId) => {
      await ctx.db.query('DELETE FROM inline_uploads WHERE job_id = $1', [jobId]);
    });
    await expectFailedAtOnce(ctx, logs, account.key, account.id, id);
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
    ctx = await createTestContext({ logger: logs.logger, storage: 's3' });
  });
  afterAll(async () => ctx?.close());

  it('fails at once on NoSuchKey, logs it once at error, and refuses its retry', async () => {
    const account = await ctx.createAccount();
    const prefix = new URL(ctx.config.STORAGE_URL!).pathname.slice(1);
    const s3 = ctx.s3!;
    const { id } = await importWithLostUpload(ctx, account.key, storedCsv, async (path) => {
      await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${path}` }));
    });
    await expectFailedAtOnce(ctx, logs, account.key, account.id, id);
  });
});
