import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.js';
import { createLogger } from '../../src/shared/logger.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

it('answers a request that arrives while the API closes with 503 SERVICE_UNAVAILABLE in the envelope', { timeout: 30_000 }, async () => {
  const { key } = await ctx.createAccount();
  const app = await buildApp({ config: ctx.config, db: ctx.apiDb, redis: ctx.redis, queues: ctx.queues, uploads: ctx.uploads, logger: createLogger('silent') });
  // Runs after the API's own preClose hooks, and holds the close there (before the listener and
  // the idle connections close) until the test has had its answer: the API knows it is closing.
  let closingStarted!: () => void;
  const preClosed = new Promise<void>((resolve) => (closingStarted = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  app.addHook('preClose', async () => {
    closingStarted();
    await released;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };

  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let received = '';
  socket.on('data', (chunk: string) => (received += chunk));
  const ended = once(socket, 'close');
  let closing: Promise<void> | undefined;
  try {
    // A kept-alive connection, idle when the API begins to close.
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    while (!received.includes('"ok"')) await new Promise((resolve) => setTimeout(resolve, 20));
    closing = app.close();
    await preClosed;
    // The next request on it (a new connection is no longer accepted).
    socket.write(`GET /v1/jobs HTTP/1.1\r\nHost: localhost\r\nX-API-Key: ${key}\r\nX-Request-Id: while-closing\r\n\r\n`);
    await ended;
  } finally {
    release();
    socket.destroy();
    await closing;
  }

  const answers = received.split(/(?=HTTP\/1\.1 )/);
  expect(answers).toHaveLength(2);
  expect(answers[0]).toMatch(/^HTTP\/1\.1 200 /);
  const [head, body] = answers[1]!.split('\r\n\r\n') as [string, string];
  expect(head).toMatch(/^HTTP\/1\.1 503 /);
  const headers = new Map(head.split('\r\n').slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
  }));
  expect(headers.get('content-type')).toMatch(/^application\/json/);
  expect(headers.get('retry-after')).toBe('5');
  expect(headers.get('x-request-id')).toBe('while-closing');
  expect(headers.get('connection')).toBe('close');
  const envelope = JSON.parse(body);
  expect(envelope).toMatchObject({ error_code: 'SERVICE_UNAVAILABLE', retry_after_seconds: 5 });
  expect(envelope.detail).toBe(envelope.error);
  expect(envelope.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});
