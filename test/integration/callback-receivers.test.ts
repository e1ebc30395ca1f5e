import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallbackAgents, postCallback } from '../../src/workers/callbacks/post-callback.js';
import { Receiver } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Callback receivers that misbehave, or act on the callback before they answer it.

const LOOPBACK = { allowPrivate: true, resolveHost: async () => [{ address: '127.0.0.1', family: 4 as const }] };

describe('a receiver that answers 101 Switching Protocols', () => {
  let server: Server;
  beforeAll(async () => {
    server = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterAll(() => server?.close());

  it('is a failed delivery with its status at once, never a delivery left waiting', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const started = Date.now();
    const status = await postCallback(createCallbackAgents(LOOPBACK), url, { headers: {}, body: '{}', timeoutMs: 5_000 });
    expect(status).toBe(101);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('a receiver that retries the failed job before it answers', () => {
  let ctx: TestContext;
  let key: string;
  let receiver: HttpServer;
  const received: Array<{ id: string; status: string }> = [];

  beforeAll(async () => {
    receiver = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', async () => {
        const job = JSON.parse(body) as { id: string; status: string };
        received.push(job);
        // The first failure is retried through the API while its callback waits for the answer.
        if (received.length === 1) await ctx.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/retry`, headers: { 'x-api-key': key } });
        response.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    ctx = await createTestContext({
      env: { CALLBACK_SECRET: 'callback-secret-0123456789', CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '0.2' },
    });
    key = (await ctx.createAccount()).key;
  });
  afterAll(async () => {
    await ctx?.close();
    receiver?.closeAllConnections();
    receiver?.close();
  });

  it("gets the retried run's callback too", async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const job = await ctx.importCsv(key, 'ean,name\n123,Pen\n', { callback_url: url });
    expect(job.status).toBe('failed');
    const deadline = Date.now() + 20_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received.map((each) => [each.id, each.status])).toEqual([
      [job.id, 'failed'],
      [job.id, 'failed'],
    ]);
    const { rows } = await ctx.db.query('SELECT callback_delivered_at >= finished_at AS after_run FROM jobs WHERE id = $1', [job.id]);
    expect(rows[0]).toEqual({ after_run: true });
  });
});

describe('a receiver that never answers', () => {
  let ctx: TestContext;
  let hanging: HttpServer;
  const waiting: string[] = [];
  const fast = new Receiver();

  beforeAll(async () => {
    // Takes the callback and never answers: each delivery to it waits out the 10 s timeout.
    hanging = createHttpServer((request) => {
      request.resume();
      request.on('end', () => waiting.push(String(request.headers['x-job-id'])));
    });
    hanging.listen(0, '127.0.0.1');
    await once(hanging, 'listening');
    await fast.start();
    ctx = await createTestContext({
      env: { CALLBACK_SECRET: 'callback-secret-0123456789', CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '1' },
    });
  });
  afterAll(async () => {
    // The hanging delivery fails at once and is recorded before the workers stop.
    hanging?.closeAllConnections();
    await ctx?.close();
    hanging?.close();
    await fast.close();
  });

  /** Imports one product for a new account, calling back `url`, and answers the ended job. */
  async function endedImport(url: string) {
    const { key } = await ctx.createAccount();
    return ctx.importCsv(key, 'ean,name\n4006381333931,Pen\n', { callback_url: url });
  }

  /** Ends another account's job calling back the hanging receiver, and waits until its delivery is under way. */
  async function hangingDelivery(): Promise<void> {
    const before = waiting.length;
    await endedImport(`http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`);
    await expect.poll(() => waiting.length, { timeout: 10_000, interval: 50 }).toBeGreaterThan(before);
  }

  it("does not hold up another account's callback, which arrives within 2 s of its job's end", async () => {
    await hangingDelivery();
    const before = fast.deliveries.length;
    const job = await endedImport(fast.url());
    expect(job.status).toBe('completed');
    const [delivery] = (await fast.waitFor(before + 1, 15_000)).slice(before);
    expect(Date.now() - Date.parse(job.finished_at!)).toBeLessThan(2_000);
    expect(JSON.parse(delivery!.body)).toMatchObject({ id: job.id, status: 'completed' });
  });

  it('retries a delivery that got a 500 once its back-off is over, not after the hanging one times out', async () => {
    await hangingDelivery();
    fast.answerNext(500);
    const before = fast.deliveries.length;
    const job = await endedImport(fast.url());
    await fast.waitFor(before + 1, 15_000);
    const failedAt = Date.now();
    // The next attempt is due 1 s after the 500 (CALLBACK_RETRY_BASE_SECONDS), and found within the poll's second.
    const [retried] = (await fast.waitFor(before + 2, 15_000)).slice(before + 1);
    expect(Date.now() - failedAt).toBeLessThan(3_000);
    expect(JSON.parse(retried!.body)).toMatchObject({ id: job.id });
    await expect
      .poll(async () => (await ctx.db.query('SELECT callback_attempts FROM jobs WHERE id = $1', [job.id])).rows[0], { timeout: 5_000 })
      .toEqual({ callback_attempts: 2 });
  });
});
