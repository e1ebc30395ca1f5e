import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpenStreams } from '../../src/api/open-streams.js';
import { streamedRoute } from '../../src/api/streamed-route.js';
import { spawnApi, type ApiChild } from '../support/api-process.js';
import { baseUrlOf } from '../support/event-stream.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Long-lived responses are bounded per account and per API process: event streams, and report
// downloads whose clients stop reading. Past a bound a request gets 429 (the account's) or 503
// (the process's) with a Retry-After, and the process stays up whatever the clients do.

let ctx: TestContext;
let url: string;

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    env: { JOB_EVENTS_MAX_STREAMS_PER_ACCOUNT: '2', JOB_EVENTS_MAX_STREAMS: '3', DOWNLOADS_MAX_OPEN_PER_ACCOUNT: '10', DOWNLOADS_MAX_OPEN: '100' },
  });
  url = await ctx.app.listen({ port: 0, host: '127.0.0.1' }).then(() => baseUrlOf(ctx.app.server.address()));
});
afterAll(async () => ctx?.close());

/** A job of the account that stays `processing` (no workers run here). */
async function runningJob(key: string): Promise<string> {
  const response = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string }>().id;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  /** The start of the body: the first bytes of a stream, or a whole error envelope. */
  body: string;
  /** Closes the connection, as a client that goes away does. */
  close(): void;
}

/** GET /v1/jobs/{id}/events over a connection of its own; resolves once the first bytes came. */
function events(key: string, id: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/v1/jobs/${id}/events`, { headers: { 'x-api-key': key }, agent: false });
    request.on('response', (response) => {
      response.setEncoding('utf8');
      response.once('data', (body: string) => {
        const retryAfter = response.headers['retry-after'] as string | undefined;
        resolve({ status: response.statusCode!, retryAfter, body, close: () => request.destroy() });
      });
    });
    request.on('error', reject);
    request.end();
  });
}

const envelope = (answer: Answer) => JSON.parse(answer.body) as { error: string; error_code: string };

describe('event streams', () => {
  it("refuses an account's stream past its bound with 429, and any past the process's with 503, until one closes", async () => {
    const [first, second] = [await ctx.createAccount(), await ctx.createAccount()];
    const [firstJob, secondJob] = [await runningJob(first.key), await runningJob(second.key)];
    const open = [await events(first.key, firstJob), await events(first.key, firstJob), await events(second.key, secondJob)];
    expect(open.map((answer) => answer.status)).toEqual([200, 200, 200]);

    const overAccount = await events(first.key, firstJob);
    expect([overAccount.status, overAccount.retryAfter]).toEqual([429, '5']);
    expect(envelope(overAccount)).toMatchObject({
      error_code: 'RATE_LIMIT_EXCEEDED',
      error: 'Too many open event streams for this account: at most 2 at a time. Close one, or retry in 5 seconds.',
    });
    const overProcess = await events(second.key, secondJob);
    expect([overProcess.status, overProcess.retryAfter]).toEqual([503, '5']);
    expect(envelope(overProcess)).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', error: 'This server has too many open event streams; retry in 5 seconds.' });

    open[0]!.close();
    const again = await vi.waitFor(async () => {
      const answer = await events(second.key, secondJob);
      if (answer.status !== 200) answer.close();
      expect(answer.status).toBe(200);
      return answer;
    }, { timeout: 5_000, interval: 100 });
    for (const answer of [...open, overAccount, overProcess, again]) answer.close();
  });
});

/**
 * Sends GET `path` to `app` and leaves (closes the connection) while the route is still reading,
 * then lets the route go on (`release`) and waits until it has (`routeDone`).
 */
async function leaveWhileTheRouteReads(app: FastifyInstance, path: string, release: () => void, routeDone: Promise<void>): Promise<void> {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const request = httpRequest(`${base}${path}`, { agent: false });
  request.on('error', () => {});
  request.end();
  await new Promise((resolve) => setTimeout(resolve, 200));
  request.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  release();
  await routeDone;
}

describe('OpenStreams', () => {
  it('counts nothing for a client that left before the route opened its response', async () => {
    const streams = new OpenStreams('downloads', { perAccount: 1, perProcess: 1 });
    const app = Fastify();
    let release = () => {};
    const lookup = new Promise<void>((resolve) => (release = resolve));
    let opened = () => {};
    const routeDone = new Promise<void>((resolve) => (opened = resolve));
    app.get('/slow', async (_request, reply) => {
      await lookup;
      streams.open('account', reply);
      opened();
      return 'file';
    });
    try {
      await leaveWhileTheRouteReads(app, '/slow', release, routeDone);
      expect(streams.size).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('streamed routes', () => {
  // An event stream opened for a client that had left kept its body, request and response in
  // memory for good (about 14 KB each): some thousands of early disconnects ran the heap out.
  it('open no body for a client that left while the route was reading', async () => {
    const app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.addHook('onRequest', async (request) => {
      (request as unknown as { principal: unknown }).principal = { kind: 'account', accountId: 'account' };
    });
    let release = () => {};
    const lookup = new Promise<void>((resolve) => (release = resolve));
    let answered = () => {};
    const routeDone = new Promise<void>((resolve) => (answered = resolve));
    let opened = 0;
    streamedRoute(app, {
      url: '/v1/jobs/:id/events',
      config: {},
      schema: {},
      streams: new OpenStreams('event streams', { perAccount: 5, perProcess: 5 }),
      resolve: async () => {
        await lookup;
        setTimeout(answered, 100);
        return { headers: { 'content-type': 'text/event-stream' }, open: () => ((opened += 1), new PassThrough()) };
      },
    });
    try {
      await leaveWhileTheRouteReads(app, '/v1/jobs/some-job/events', release, routeDone);
      expect(opened).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('report downloads whose clients stop reading', () => {
  let api: ApiChild;
  beforeAll(async () => {
    // The service as `npm start` runs it: its default 128 MB heap and default bounds.
    api = await spawnApi(ctx.env, 128);
  }, 120_000);
  afterAll(async () => api?.stop());

  /** A failed import whose report holds 800 rows of 50 KB each, as the workers would leave it. */
  async function wideReport(accountId: string): Promise<string> {
    const { rows } = await ctx.db.query<{ id: string }>(
      `INSERT INTO jobs (id, account_id, type, status, phase, error_code, detail, input_columns, started_at, finished_at)
       VALUES (gen_random_uuid(), $1, 'import', 'failed', 'done', 'IMPORT_FAILED', 'Bad rows.', ARRAY['ean', 'name'], now(), now())
       RETURNING id`,
      [accountId],
    );
    const id = rows[0]!.id;
    await ctx.db.query(
      `INSERT INTO job_row_errors (job_id, row, ordinal, field, code, message, raw)
       SELECT $1, n, 0, 'name', 'TOO_LONG', 'The name is too long.', '["4006381333931","' || repeat('x', 50000) || '"]'
       FROM generate_series(1, 800) AS n`,
      [id],
    );
    return id;
  }

  const started: ClientRequest[] = [];
  afterAll(() => {
    for (const request of started) request.destroy();
  });

  /** Starts the download and stops reading once the answer has begun; resolves with its status. */
  function stalledDownload(key: string, id: string): Promise<{ status: number; request: ClientRequest; response: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${api.url}/v1/jobs/${id}/errors.csv`, { headers: { 'x-api-key': key }, agent: false });
      started.push(request);
      request.on('response', (response) => {
        response.pause();
        resolve({ status: response.statusCode!, request, response });
      });
      request.on('error', reject);
      request.end();
    });
  }

  it('keeps an API process with a 128 MB heap up through 30 stalled downloads of wide rows, refusing an account past 10', async () => {
    const accounts = [await ctx.createAccount(), await ctx.createAccount(), await ctx.createAccount()];
    const jobs = await Promise.all(accounts.map((account) => wideReport(account.id)));
    const downloads = [];
    for (const [index, account] of accounts.entries()) {
      for (let count = 0; count < 10; count += 1) downloads.push(await stalledDownload(account.key, jobs[index]!));
    }
    expect(downloads.map((download) => download.status)).toEqual(downloads.map(() => 200));
    expect((await stalledDownload(accounts[0]!.key, jobs[0]!)).status).toBe(429);
    // Give the stalled responses time to fill what they buffer.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await api.alive()).toBe(true);
    for (const download of downloads) download.request.destroy();
    await vi.waitFor(async () => expect((await stalledDownload(accounts[0]!.key, jobs[0]!)).status).toBe(200), { timeout: 5_000, interval: 200 });
    expect(await api.alive()).toBe(true);
  }, 120_000);
});
