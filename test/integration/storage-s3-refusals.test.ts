import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupOnce } from '../../src/workers/cleanup.js';
import { ean13 } from '../support/csv.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { jobRow, productsCsv } from '../support/recovery-support.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Object storage that answers, but with an error (503 Service Unavailable, 500, 403 Access
// Denied, 404 NoSuchBucket) to the requests of one method: what the client is told, and what the
// service keeps. Only S3's NoSuchKey says an object is missing.

let s3: S3TestServer;
let ctx: TestContext;

beforeAll(async () => {
  s3 = await startS3TestServer();
  ctx = await createTestContext({ storage: { s3 } });
});
afterEach(async () => {
  for (const method of ['GET', 'PUT', 'DELETE'] as const) await s3?.failRequests(method, null);
});
afterAll(async () => {
  await ctx?.close();
  await s3?.stop();
});

/** Keys of the objects the service stored, relative to its prefix. */
async function objectKeys(): Promise<string[]> {
  const prefix = new URL(ctx.config.STORAGE_URL!).pathname.slice(1);
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!.slice(prefix.length + 1));
}

const objectKey = (path: string) => `${new URL(ctx.config.STORAGE_URL!).pathname.slice(1)}/${path}`;

/** Over 64 KiB, so it is stored as an object rather than in PostgreSQL. */
const storedCsv = (label: string) => productsCsv(1, 3_000, label);

const cleanup = () => cleanupOnce({ db: ctx.db, uploads: ctx.store, uploadRetentionDays: 7, exportRetentionDays: 7 });

/** The stored paths of these jobs, by id. */
async function storedPaths(ids: string[]): Promise<Record<string, string | null>> {
  const { rows } = await ctx.db.query<{ id: string; path: string | null }>(
    'SELECT id, coalesce(result_path, input_path) AS path FROM jobs WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return Object.fromEntries(rows.map((row) => [row.id, row.path]));
}

/**
 * Two completed exports and, with `withUpload`, an import of a stored upload, all ended 8 days
 * ago: past their 7 days' retention. Their paths in the order of their ids.
 */
async function expiredFiles(withUpload: boolean): Promise<{ key: string; ids: string[]; paths: string[] }> {
  const account = await ctx.createAccount();
  await seedProducts(ctx, account.id, [{ ean: ean13(1), name: 'Pen' }]);
  const jobs = [await runExportJob(ctx, account.key, { format: 'csv' }), await runExportJob(ctx, account.key, { format: 'csv' })];
  if (withUpload) jobs.push(await ctx.importCsv(account.key, storedCsv('Old')));
  const ids = jobs.map((job) => job.id);
  await ctx.db.query(`UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = ANY($1::uuid[])`, [ids]);
  const byId = await storedPaths(ids);
  const paths = ids.map((id) => byId[id]!);
  for (const path of paths) expect(path).toMatch(/^(exports|uploads)\//);
  return { key: account.key, ids, paths };
}

describe('retention while the storage refuses to delete', () => {
  it('keeps the exports pointing at their files while deletes fail, and removes them on the next pass once the storage is back', async () => {
    const { key, ids, paths } = await expiredFiles(false);
    await s3.failRequests('DELETE', 503);

    // The pass reports its failure (the scheduled pass logs "cleanup failed; will retry").
    await expect(cleanup()).rejects.toThrow();
    expect(await storedPaths(ids)).toEqual(Object.fromEntries(ids.map((id, n) => [id, paths[n]])));
    expect(await objectKeys()).toEqual(expect.arrayContaining(paths));
    expect((await ctx.get(key, `/v1/jobs/${ids[0]}/result`)).statusCode).toBe(200);

    await s3.failRequests('DELETE', null);
    expect(await cleanup()).toMatchObject({ exportFilesRemoved: 2 });
    expect(await storedPaths(ids)).toEqual(Object.fromEntries(ids.map((id) => [id, null])));
    const remaining = await objectKeys();
    for (const path of paths) expect(remaining).not.toContain(path);
    expect((await ctx.get(key, `/v1/jobs/${ids[0]}/result`)).statusCode).toBe(404);
  });

  it.each([
    ['an export file', 0],
    ['an upload', 2],
  ])('removes the other files when the delete of %s fails, and that one on the next pass', async (_what, refusedAt) => {
    const { ids, paths } = await expiredFiles(true);
    const refused = ids[refusedAt]!;
    await s3.failRequests('DELETE', 503, paths[refusedAt]);

    await expect(cleanup()).rejects.toThrow();
    expect(await storedPaths(ids)).toEqual(Object.fromEntries(ids.map((id, n) => [id, id === refused ? paths[n] : null])));
    expect(await objectKeys()).toContain(paths[refusedAt]);
    for (const path of paths.filter((_, n) => n !== refusedAt)) expect(await objectKeys()).not.toContain(path);

    await s3.failRequests('DELETE', null);
    await cleanup();
    expect(await storedPaths([refused])).toEqual({ [refused]: null });
    expect(await objectKeys()).not.toContain(paths[refusedAt]);
  });
});

describe('rows.csv while the storage cannot be read', () => {
  it.each([500, 403, 404] as const)('answers 503 SERVICE_UNAVAILABLE with Retry-After while reads answer %i, and the file once they work again', async (status) => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, Buffer.concat([storedCsv('Kept'), Buffer.from('123,Bad EAN,B,1.5,EUR,1\n')]));
    expect(job.status).toBe('failed');
    await s3.failRequests('GET', status);

    const refused = await ctx.get(account.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: 'The file storage is unavailable; try again shortly.' });

    await s3.failRequests('GET', null);
    const served = await ctx.get(account.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(served.statusCode).toBe(200);
    expect(served.body.trimEnd().split('\n')).toHaveLength(3_002);
  });

  it('answers 404 when the object is no longer in the bucket', async () => {
    const account = await ctx.createAccount();
    const job = await ctx.importCsv(account.key, storedCsv('Deleted'));
    const { input_path } = await jobRow(ctx.db, job.id);
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: objectKey(input_path!) }));

    const gone = await ctx.get(account.key, `/v1/jobs/${job.id}/rows.csv`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json<{ error: string }>().error).toBe('The upload of this import is missing from storage; errors.csv still has the failed rows.');
  });
});

describe('an upload the storage takes but cannot read back', () => {
  it.each([500, 403, 404] as const)('answers 503 with Retry-After when reads answer %i, removes the stored upload and starts no job', async (status) => {
    const account = await ctx.createAccount();
    const before = await objectKeys();
    await s3.failRequests('GET', status);

    const response = await ctx.upload(account.key, storedCsv('Unread'));
    expect(response.statusCode, response.body).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: 'The file storage is unavailable; try again shortly.' });
    expect(await objectKeys()).toEqual(before);
    expect(await s3.pendingUploads()).toEqual([]);
    const { rows } = await ctx.db.query('SELECT id FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);

    await s3.failRequests('GET', null);
    expect((await ctx.upload(account.key, storedCsv('Unread'))).statusCode).toBe(202);
  });
});
