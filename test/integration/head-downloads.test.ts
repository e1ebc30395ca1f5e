import { request as httpRequest, type ClientRequest } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, baseUrlOf } from '../support/event-stream.js';
import { runExportJob, seedProducts } from '../support/exports.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// HEAD answers wherever GET does (RFC 9110 §9.3.2): a download manager that checks a file first
// is told what the GET would say, without the API opening the file, querying the report or
// starting an event stream, and without taking one of the account's open downloads.

let ctx: TestContext;
let url: string;
let key: string;
let accountId: string;
/** A completed export and a failed import of the account. */
let exported: string;
let imported: string;

beforeAll(async () => {
  ctx = await createTestContext({ env: { DOWNLOADS_MAX_OPEN_PER_ACCOUNT: '1', JOB_EVENTS_MAX_STREAMS_PER_ACCOUNT: '1' } });
  url = await ctx.app.listen({ port: 0, host: '127.0.0.1' }).then(() => baseUrlOf(ctx.app.server.address()));
  ({ id: accountId, key } = await ctx.createAccount());
  await seedProducts(ctx, accountId, [{ ean: '4006381333931', name: 'Pen' }]);
  exported = (await runExportJob(ctx, key, { format: 'csv', fields: ['ean', 'name'] })).id;
  const job = await ctx.importCsv(key, 'ean,name\n4006381333931,Pen\n12345,Bad\n');
  expect(job.status).toBe('failed');
  imported = job.id;
}, 60_000);
afterAll(async () => ctx?.close());

const send = (method: 'GET' | 'HEAD', path: string): Promise<LightMyRequestResponse> =>
  ctx.app.inject({ method, url: `/v1/jobs/${path}`, headers: { 'x-api-key': key } });

/** The headers a client checking a download reads. */
const DOWNLOAD_HEADERS = ['content-type', 'content-disposition', 'content-length', 'cache-control', 'x-accel-buffering'];
const downloadHeaders = (response: LightMyRequestResponse) => Object.fromEntries(DOWNLOAD_HEADERS.map((name) => [name, response.headers[name]]));

describe('HEAD of a download or event stream', () => {
  it("answers 200 with the GET's headers and no body for each of a finished job's files and its events", async () => {
    const paths = [`${exported}/result`, `${imported}/errors.csv`, `${imported}/rows.csv`, `${imported}/events`];
    for (const path of paths) {
      const [got, head] = [await send('GET', path), await send('HEAD', path)];
      expect(got.statusCode, path).toBe(200);
      expect([head.statusCode, head.body], path).toEqual([200, '']);
      const expected = downloadHeaders(got);
      // A CSV report is streamed as it is written: its length is known to neither answer.
      if (!path.endsWith('/result')) delete expected['content-length'];
      expect(downloadHeaders(head), path).toEqual(expected);
    }
    const result = await send('HEAD', `${exported}/result`);
    expect(result.headers['content-length']).toBe(String((await send('GET', `${exported}/result`)).rawPayload.length));
    expect(result.headers['content-disposition']).toMatch(/^attachment; filename="catalog-.*\.csv"$/);
  });

  it('answers as its GET does: 409 for the result of a running export, 404 for an unknown job', async () => {
    // Written straight to the table: a job row still processing, as a running export's is.
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, options) VALUES (gen_random_uuid(), $1, 'export', $2) RETURNING id`,
      [accountId, { format: 'csv', gzip: false, fields: ['ean'], filter: {} }],
    );
    const running = await send('HEAD', `${rows[0]!.id}/result`);
    expect([running.statusCode, running.json().error_code]).toEqual([409, 'JOB_NOT_FINISHED']);
    for (const path of ['result', 'errors.csv', 'rows.csv', 'events']) {
      const unknown = await send('HEAD', `00000000-0000-4000-8000-000000000000/${path}`);
      expect([unknown.statusCode, unknown.json()], path).toEqual([404, expect.objectContaining({ error: 'Job not found.' })]);
    }
    const unauthenticated = await ctx.app.inject({ method: 'HEAD', url: `/v1/jobs/${exported}/result` });
    expect(unauthenticated.statusCode).toBe(401);
  });
});

describe('HEAD and the bounds of open responses', () => {
  const started: ClientRequest[] = [];
  afterAll(() => {
    for (const request of started) request.destroy();
  });

  /** A failed import whose report holds 800 rows of 50 KB each: more than the sockets buffer. */
  async function wideReport(): Promise<string> {
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, status, phase, error_code, detail, input_columns, started_at, finished_at)
       VALUES (gen_random_uuid(), $1, 'import', 'failed', 'done', 'IMPORT_FAILED', 'Bad rows.', ARRAY['ean', 'name'], now(), now())
       RETURNING id`,
      [accountId],
    );
    await ctx.db.query(
      `INSERT INTO job_row_errors (job_id, row, ordinal, field, code, message, raw)
       SELECT $1, n, 0, 'name', 'TOO_LONG', 'The name is too long.', '["4006381333931","' || repeat('x', 50000) || '"]'
       FROM generate_series(1, 800) AS n`,
      [rows[0]!.id],
    );
    return rows[0]!.id;
  }

  /** Starts a GET over a connection of its own and stops reading once the answer has begun. */
  function stalledGet(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${url}/v1/jobs/${path}`, { headers: { 'x-api-key': key }, agent: false });
      started.push(request);
      request.on('response', (response) => {
        response.pause();
        resolve(response.statusCode!);
      });
      request.on('error', reject);
      request.end();
    });
  }

  it("answers HEADs past the account's one open download, which a GET is refused", async () => {
    const wide = await wideReport();
    expect(await stalledGet(`${wide}/errors.csv`)).toBe(200);
    expect((await send('GET', `${imported}/errors.csv`)).statusCode).toBe(429);
    for (let count = 0; count < 3; count += 1) {
      for (const path of [`${exported}/result`, `${imported}/errors.csv`, `${imported}/rows.csv`, `${wide}/errors.csv`]) {
        expect((await send('HEAD', path)).statusCode, path).toBe(200);
      }
    }
    expect((await send('GET', `${exported}/result`)).statusCode).toBe(429);
  });

  it("answers HEADs past the account's one open event stream, which a GET is refused", async () => {
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, options) VALUES (gen_random_uuid(), $1, 'export', $2) RETURNING id`,
      [accountId, { format: 'csv', gzip: false, fields: ['ean'], filter: {} }],
    );
    const running = rows[0]!.id;
    const stream = await openEvents(url, key, running);
    try {
      expect(stream.response.status).toBe(200);
      expect((await send('GET', `${running}/events`)).statusCode).toBe(429);
      for (let count = 0; count < 3; count += 1) {
        const head = await send('HEAD', `${running}/events`);
        expect([head.statusCode, head.headers['content-type'], head.body]).toEqual([200, 'text/event-stream; charset=utf-8', '']);
      }
      expect((await send('GET', `${running}/events`)).statusCode).toBe(429);
    } finally {
      stream.close();
    }
  });
});
