import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { ean13, toCsv } from '../support/csv.js';
import { csvRecords, downloadResult, requestExport, runExportJob, seedProducts } from '../support/exports.js';
import { waitFor } from '../support/recovery-support.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { filesUnder } from '../support/stored-files.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// The service on object storage (STORAGE_URL=s3://…) against an S3-compatible server of the
// test: uploads, imports, exports and their downloads, the upload limit and a storage refusing
// writes. Nothing is written to the local data folder.

const MiB = 1024 * 1024;

let s3: S3TestServer;
let ctx: TestContext;
let presigned: TestContext;

beforeAll(async () => {
  s3 = await startS3TestServer();
  ctx = await createTestContext({ storage: { s3 }, env: { MAX_UPLOAD_BYTES: String(6 * MiB) } });
  presigned = await createTestContext({ storage: { s3 }, env: { RESULT_REDIRECT: 'presigned' } });
});
afterAll(async () => {
  await ctx?.close();
  await presigned?.close();
  await s3?.stop();
});

/** Keys of the objects the context's service stored. */
async function objectKeys(context: TestContext): Promise<string[]> {
  const prefix = new URL(context.config.STORAGE_URL!).pathname.slice(1);
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!.slice(prefix.length + 1));
}

async function jobCount(context: TestContext): Promise<number> {
  return (await context.db.query<{ count: number }>('SELECT count(*)::int AS count FROM jobs')).rows[0]!.count;
}

/** `count` rows of products with EANs from `ean13(first)` on. */
const manyRows = (first: number, count: number) => Array.from({ length: count }, (_, i) => [ean13(first + i), `Product ${first + i}`]);

/** A CSV body of about `bytes` bytes of valid rows. */
function bigCsv(bytes: number): Buffer {
  const lines = ['ean,name'];
  for (let n = 1, size = 9; size < bytes; n += 1) {
    lines.push(`${ean13(n)},Product ${n}`);
    size += lines.at(-1)!.length + 1;
  }
  return Buffer.from(lines.join('\n') + '\n');
}

describe('imports on object storage', () => {
  it('stores the upload as an object and imports it, with nothing in the local data folder', async () => {
    const account = await ctx.createAccount();
    // Over 64 KiB: a smaller upload is kept in PostgreSQL (next case).
    const csv = toCsv([['ean', 'name'], ...manyRows(1, 3_000), ['123', 'Bad EAN']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_total: 3_001, rows_succeeded: 3_000, rows_failed: 1, rows_created: 3_000 } });
    const { rows } = await ctx.db.query<{ input_path: string }>('SELECT input_path FROM jobs WHERE id = $1', [job.id]);
    expect(await objectKeys(ctx)).toContain(rows[0]!.input_path);
    expect(await filesUnder(ctx.config.DATA_DIR)).toEqual([]);
  });

  it('keeps a small upload with its job row in PostgreSQL, not in the bucket, and imports it', async () => {
    const account = await ctx.createAccount();
    const before = await objectKeys(ctx);
    const csv = toCsv([['ean', 'name'], [ean13(1), 'Pen'], [ean13(2), 'Ink'], ['123', 'Bad EAN']]);
    const job = await ctx.importCsv(account.key, csv, { on_error: 'skip' });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_total: 3, rows_succeeded: 2, rows_failed: 1, rows_created: 2 } });
    const { rows } = await ctx.db.query<{ input_path: string; data: Buffer }>(
      'SELECT input_path, data FROM jobs JOIN inline_uploads ON job_id = id WHERE id = $1',
      [job.id],
    );
    expect(rows).toEqual([{ input_path: `inline/${job.id}`, data: Buffer.from(csv) }]);
    expect(await objectKeys(ctx)).toEqual(before);
    expect(await filesUnder(ctx.config.DATA_DIR)).toEqual([]);
  });

  it('answers 413 past MAX_UPLOAD_BYTES, aborts the multipart upload and writes no job', async () => {
    const account = await ctx.createAccount();
    const before = await objectKeys(ctx);
    const jobsBefore = await jobCount(ctx);
    const response = await ctx.upload(account.key, bigCsv(11 * MiB));
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error_code: 'PAYLOAD_TOO_LARGE' });
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await objectKeys(ctx)).toEqual(before);
    expect(await jobCount(ctx)).toBe(jobsBefore);
  });

  it('answers 503 when the storage refuses writes, keeps nothing, and accepts the upload once it is back', async () => {
    const account = await ctx.createAccount();
    const before = await objectKeys(ctx);
    const jobsBefore = await jobCount(ctx);
    const csv = bigCsv(5.5 * MiB);
    // Over a real connection: the client, still sending the body, must get the answer.
    const baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    await s3.refuseWrites(true);
    try {
      const refused = await fetch(`${baseUrl}/v1/imports`, {
        method: 'POST',
        headers: { 'x-api-key': account.key, 'content-type': 'text/csv' },
        body: csv,
      });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await s3.refuseWrites(false);
    }
    expect(await s3.pendingUploads()).toEqual([]);
    expect(await objectKeys(ctx)).toEqual(before);
    expect(await jobCount(ctx)).toBe(jobsBefore);
    const accepted = await ctx.upload(account.key, csv);
    expect(accepted.statusCode).toBe(202);
  });
});

describe('exports on object storage', () => {
  const products = [
    { ean: ean13(11), name: 'Pen' },
    { ean: ean13(12), name: 'Ink' },
  ];

  it('writes the export file as an object and streams it from GET /v1/jobs/{id}/result', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, products);
    const job = await runExportJob(ctx, account.key, { format: 'csv', fields: ['ean', 'name'] });
    expect(job).toMatchObject({ status: 'completed', progress: { rows_total: 2 } });
    const { response, text } = await downloadResult(ctx, account.key, job.id);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="catalog-.*\.csv"$/);
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(text));
    expect(csvRecords(text)).toEqual(products);
    const { rows } = await ctx.db.query<{ result_path: string }>('SELECT result_path FROM jobs WHERE id = $1', [job.id]);
    expect(await objectKeys(ctx)).toContain(rows[0]!.result_path);
  });

  it('aborts the multipart upload of an export cancelled while it writes, leaving no object', { timeout: 60_000 }, async () => {
    const account = await ctx.createAccount();
    await ctx.db.query(
      `INSERT INTO products (account_id, ean, name, description)
       SELECT $1, lpad(n::text, 13, '0'), 'Product ' || n, repeat('long description ', 20)
       FROM generate_series(1, 150000) AS n`,
      [account.id],
    );
    const accepted = await requestExport(ctx, account.key, { format: 'csv' });
    const id = accepted.json<{ id: string }>().id;
    await waitFor('the export to upload parts', async () => ((await s3.pendingUploads()).some((key) => key.includes(id)) ? true : undefined), 30_000, 10);
    const cancelled = await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { 'x-api-key': account.key } });
    expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
    await waitFor('the multipart upload to be aborted', async () => ((await s3.pendingUploads()).length === 0 ? true : undefined), 30_000);
    expect((await objectKeys(ctx)).filter((key) => key.includes(id))).toEqual([]);
  });

  it('answers 302 to a short-lived presigned URL of the file with RESULT_REDIRECT=presigned', async () => {
    const account = await presigned.createAccount();
    await seedProducts(presigned, account.id, products);
    const job = await runExportJob(presigned, account.key, { format: 'csv', fields: ['ean', 'name'] });
    const response = await presigned.get(account.key, `/v1/jobs/${job.id}/result`);
    expect(response.statusCode).toBe(302);
    const location = new URL(response.headers.location as string);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('300');
    // A client checking the file first is sent to the storage as well.
    const head = await presigned.app.inject({ method: 'HEAD', url: `/v1/jobs/${job.id}/result`, headers: { 'x-api-key': account.key } });
    expect([head.statusCode, head.headers['cache-control'], new URL(head.headers.location as string).origin]).toEqual([302, 'no-store', s3.endpoint]);
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="catalog-.*\.csv"$/);
    expect(csvRecords(await download.text())).toEqual(products);
  });
});

describe('retention on object storage', () => {
  it('removes uploads and export files past their retention from the bucket', async () => {
    const account = await ctx.createAccount();
    await seedProducts(ctx, account.id, [{ ean: ean13(21), name: 'Old' }]);
    const exported = await runExportJob(ctx, account.key, { format: 'csv', fields: ['ean', 'name'] });
    const imported = await ctx.importCsv(account.key, toCsv([['ean', 'name'], ...manyRows(22, 3_000)]));
    const { rows } = await ctx.db.query<{ path: string }>(
      `UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = ANY($1::uuid[])
       RETURNING coalesce(result_path, input_path) AS path`,
      [[exported.id, imported.id]],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(await objectKeys(ctx)).toContain(row.path);
    const result = await cleanupOnce({ db: ctx.db, uploads: ctx.store, uploadRetentionDays: 7 });
    expect(result).toMatchObject({ uploadsRemoved: expect.any(Number), exportFilesRemoved: 1 });
    const remaining = await objectKeys(ctx);
    for (const row of rows) expect(remaining).not.toContain(row.path);
    expect((await ctx.get(account.key, `/v1/jobs/${exported.id}/result`)).statusCode).toBe(404);
  });
});
