import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, jobRow, productsCsv, waitFor } from '../support/recovery-support.js';
import { startS3TestServer, type S3TestServer } from '../support/s3-test-server.js';
import { streamRequest } from '../support/raw-http.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Imports on object storage when the network to the storage breaks: the service reaches the S3
// test server through a TCP proxy that cuts a response mid-way or refuses every connection.

/** Rows of the file: about 2 MB, read in several chunks, so the cut falls mid-file. */
const ROWS = 40_000;
/** Where the proxy cuts the file's download: well past the 64 KiB header probe. */
const CUT_AFTER_BYTES = 256 * 1024;

let s3: S3TestServer;
let proxy: TcpProxy;
let ctx: TestContext;

beforeAll(async () => {
  s3 = await startS3TestServer();
  proxy = await startTcpProxy(Number(new URL(s3.endpoint).port));
  ctx = await createTestContext({ storage: { s3, endpoint: proxy.url } });
});
afterAll(async () => {
  await ctx?.close();
  await proxy?.close();
  await s3?.stop();
});

/** The byte offsets of the ranged GETs that went through the proxy. */
function rangeStarts(): number[] {
  return proxy.requests.flatMap((request) => {
    const match = /^GET [^\n]*\n(?:[^\n]*\n)*?range: bytes=(\d+)-\r?$/im.exec(request);
    return match ? [Number(match[1])] : [];
  });
}

const expectedProgress = { rows_total: ROWS, rows_processed: ROWS, rows_succeeded: ROWS, rows_failed: 0, rows_created: ROWS };

describe('imports when the connection to the storage breaks', () => {
  it('resumes a dropped download with a Range request from the byte reached, in the same attempt', async () => {
    const account = await ctx.createAccount();
    proxy.cutNextResponseAfter(CUT_AFTER_BYTES);
    const job = await ctx.importCsv(account.key, productsCsv(1, ROWS, 'Resumed'));
    expect(job).toMatchObject({ status: 'completed', progress: expectedProgress });
    expect((await jobRow(ctx.db, job.id)).attempts).toBe(1);
    // One resume, from a byte past the cut's start (never from 0: nothing is read twice).
    expect(rangeStarts().filter((start) => start > 64 * 1024)).toHaveLength(1);
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(ROWS);
  });

  it('retries the attempt when the storage stays unreachable, and ends with exact counts', { timeout: 90_000 }, async () => {
    const account = await ctx.createAccount();
    proxy.cutNextResponseAfter(CUT_AFTER_BYTES, { thenDown: true });
    const upload = await ctx.upload(account.key, productsCsv(1, ROWS, 'Retried'));
    expect(upload.statusCode).toBe(202);
    const id = upload.json<{ id: string }>().id;
    // The storage comes back once the first attempt has given up and the queue started another.
    await waitFor('a second attempt', async () => ((await jobRow(ctx.db, id)).attempts >= 2 ? true : undefined), 60_000);
    proxy.setDown(false);
    const job = await ctx.waitForJob(account.key, id, 60_000);
    expect(job).toMatchObject({ status: 'completed', progress: expectedProgress });
    expect((await catalogSnapshot(ctx.db, account.id)).count).toBe(ROWS);
  });
});

describe('a storage that accepts connections but stops answering', () => {
  let silentProxy: TcpProxy;
  let quick: TestContext;

  beforeAll(async () => {
    silentProxy = await startTcpProxy(Number(new URL(s3.endpoint).port));
    quick = await createTestContext({ storage: { s3, endpoint: silentProxy.url }, env: { S3_TIMEOUT_MS: '1500' } });
  });
  afterAll(async () => {
    await quick?.close();
    await silentProxy?.close();
  });

  it('resumes a download that stalls mid-file once S3_TIMEOUT_MS passes without a byte, in the same attempt', async () => {
    const account = await quick.createAccount();
    silentProxy.cutNextResponseAfter(CUT_AFTER_BYTES, { stall: true });
    const job = await quick.importCsv(account.key, productsCsv(1, ROWS, 'Stalled'));
    expect(job).toMatchObject({ status: 'completed', progress: expectedProgress });
    expect((await jobRow(quick.db, job.id)).attempts).toBe(1);
    expect((await catalogSnapshot(quick.db, account.id)).count).toBe(ROWS);
  });

  it('answers 400 to a multipart upload cut off inside a file too large to keep in memory, keeping nothing', async () => {
    const account = await quick.createAccount();
    const url = await quick.app.listen({ port: 0, host: '127.0.0.1' });
    const head = '--xyz\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n\r\n';
    const answer = await streamRequest(`${url}/v1/imports`, {
      headers: { 'x-api-key': account.key, 'content-type': 'multipart/form-data; boundary=xyz' },
      chunks: [head, productsCsv(1, 3_000, 'Cut off')],
    });
    expect(answer.status, answer.body).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error_code: 'BAD_REQUEST', error: 'The multipart body ends before its closing boundary.' });
    expect(await s3.pendingUploads()).toEqual([]);
    const { rows } = await quick.db.query('SELECT id FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });

  it('answers 503 to an upload the storage never answers, within S3_TIMEOUT_MS, and starts no job', async () => {
    const account = await quick.createAccount();
    silentProxy.setSilent(true);
    try {
      const started = Date.now();
      const upload = await quick.upload(account.key, productsCsv(1, 5_000, 'Unanswered'));
      expect(upload.statusCode, upload.body).toBe(503);
      expect(upload.json()).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      silentProxy.setSilent(false);
    }
    const { rows } = await quick.db.query('SELECT id FROM jobs WHERE account_id = $1', [account.id]);
    expect(rows).toEqual([]);
  });
});
