import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnApi, type ApiChild } from '../support/api-process.js';
import { RawConnection } from '../support/raw-connection.js';
import { pause } from '../support/raw-http.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// An API process behind a proxy that keeps connections to it (nginx's upstream keepalive) or a
// balancer that routes by readiness, stopped by SIGTERM in a rolling restart: for
// SHUTDOWN_DRAIN_MS it keeps serving, on new and kept-alive connections alike, while /readyz
// answers 503 and every answer closes its connection; then it closes its listener, its idle
// connections with a FIN, and answers the requests under way.

const DRAIN_MS = 2_500;

let ctx: TestContext;
let api: ApiChild | undefined;
const connections: RawConnection[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterEach(async () => {
  for (const connection of connections.splice(0)) connection.destroy();
  if (api && api.child.process.exitCode === null && api.child.process.signalCode === null) api.child.process.kill('SIGKILL');
  api = undefined;
});
afterAll(async () => {
  await ctx?.close();
});

/** A ROLE=api process of the context with `env`, and its port. */
async function startApi(env: Record<string, string>): Promise<{ child: ApiChild; port: number }> {
  api = await spawnApi({ ...ctx.env, LOG_LEVEL: 'info', SHUTDOWN_HTTP_GRACE_MS: '30000', ...env }, 128);
  return { child: api, port: Number(new URL(api.url).port) };
}

async function open(port: number): Promise<RawConnection> {
  const connection = await RawConnection.open(port);
  connections.push(connection);
  return connection;
}

/** Sends `signal` and resolves, with the time it was sent, once the process has begun to shut down. */
async function signal(child: ApiChild, name: NodeJS.Signals): Promise<number> {
  const sent = Date.now();
  child.child.process.kill(name);
  await waitFor('the process to begin its shutdown', async () => (child.child.output().includes('shutting down') ? true : undefined), 10_000, 20);
  return sent;
}

/** Whether a new connection to `port` is refused. */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });

const csv = 'ean,name\n4006381333931,Pen\n96385074,Notebook\n';

describe('an API process told to stop (SIGTERM)', () => {
  it('serves requests on kept-alive and new connections for SHUTDOWN_DRAIN_MS, each answer closing its connection, while /readyz answers 503', { timeout: 90_000 }, async () => {
    const { key } = await ctx.createAccount();
    const { child, port } = await startApi({ SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
    // A proxy's pooled connection: used once, idle when the signal comes.
    const pooled = await open(port);
    pooled.get('/readyz');
    const before = await pooled.answer();
    expect(before.status).toBe(200);
    expect(before.headers.connection).toBe('keep-alive');

    const signalled = await signal(child, 'SIGTERM');
    await pause(300);
    // The request the proxy writes onto its pooled connection now is answered, not reset.
    pooled.get('/v1/jobs', { 'x-api-key': key });
    const onPooled = await pooled.answer();
    expect(onPooled.status, onPooled.body).toBe(200);
    expect(onPooled.headers.connection).toBe('close');
    expect(await pooled.ended).toBe('end');

    const probe = await open(port);
    probe.get('/readyz');
    const readiness = await probe.answer();
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toMatchObject({
      error_code: 'SERVICE_UNAVAILABLE',
      error: 'Not ready: the server is shutting down.',
      checks: { postgres: 'ok', redis: 'ok' },
    });
    expect(readiness.headers.connection).toBe('close');

    const fresh = await open(port);
    fresh.write(`POST /v1/imports HTTP/1.1\r\nHost: api\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\nContent-Length: ${csv.length}\r\n\r\n${csv}`);
    const upload = await fresh.answer();
    expect(upload.status, upload.body).toBe(202);
    expect(upload.headers.connection).toBe('close');
    expect(Date.now() - signalled).toBeLessThan(DRAIN_MS);

    expect(await child.child.exited).toBe('exit 0');
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(DRAIN_MS);
    expect(child.child.output()).toContain('shutdown complete');
  });

  it('closes a connection idle when the drain ends with a FIN, not at the signal, and answers an upload still under way with 202 and Connection: close', { timeout: 90_000 }, async () => {
    const { key } = await ctx.createAccount();
    const { child, port } = await startApi({ SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
    const idle = await open(port);
    idle.get('/healthz');
    expect((await idle.answer()).status).toBe(200);
    const uploading = await open(port);
    const [head, rest] = [csv.slice(0, 20), csv.slice(20)];
    uploading.write(`POST /v1/imports HTTP/1.1\r\nHost: api\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\nContent-Length: ${csv.length}\r\n\r\n${head}`);
    await pause(300);

    const signalled = await signal(child, 'SIGTERM');
    await pause(DRAIN_MS / 2);
    expect(idle.state).toBeUndefined();
    expect(await idle.ended).toBe('end');
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(DRAIN_MS - 100);
    // The listener's socket is closed in the same turn as the idle connections, a moment after:
    // a connection attempted right after their FIN may still reach it.
    await waitFor('the listener to close', async () => ((await refused(port)) ? true : undefined), 2_000);

    // The upload's connection was not idle: it stayed open, and its answer closes it.
    expect(uploading.state).toBeUndefined();
    uploading.write(rest);
    const answer = await uploading.answer();
    expect(answer.status, answer.body).toBe(202);
    expect(answer.headers.connection).toBe('close');
    expect(await uploading.ended).toBe('end');
    expect(await child.child.exited).toBe('exit 0');
  });

  it('answers an upload under way at the signal with Connection: close, without a drain too, so that no proxy reuses its connection', { timeout: 90_000 }, async () => {
    const { key } = await ctx.createAccount();
    const { child } = await startApi({ SHUTDOWN_DRAIN_MS: '0' });
    const uploading = await open(Number(new URL(child.url).port));
    uploading.write(`POST /v1/imports HTTP/1.1\r\nHost: api\r\nX-API-Key: ${key}\r\nContent-Type: text/csv\r\nContent-Length: ${csv.length}\r\n\r\n${csv.slice(0, 20)}`);
    await pause(300);
    await signal(child, 'SIGTERM');
    uploading.write(csv.slice(20));
    const answer = await uploading.answer();
    expect(answer.status, answer.body).toBe(202);
    expect(answer.headers.connection).toBe('close');
    expect(await child.child.exited).toBe('exit 0');
  });

  it('skips the drain on SIGINT (a terminal), closing its listener at once', { timeout: 90_000 }, async () => {
    const { child } = await startApi({ SHUTDOWN_DRAIN_MS: '60000' });
    const signalled = await signal(child, 'SIGINT');
    expect(await child.child.exited).toBe('exit 0');
    expect(Date.now() - signalled).toBeLessThan(10_000);
  });
});
