import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, type RedisConnection } from '../../src/shared/redis-connection.js';
import { freePort, startSocketRedis, type SocketRedis } from '../support/private-redis.js';
import { spawnService, waitFor, type WorkerChild } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// A Redis on the service's own machine is often reached over its Unix socket: REDIS_URL=unix:///path
// starts the service on it, as a redis:// URL does over TCP.

let dir: string;
let redis: SocketRedis;
/** `unix://` and the socket's path, percent-encoded as a URL's path is (the folder's name has a space). */
let socketUrl: string;
let ctx: TestContext;
let service: WorkerChild | undefined;
const connections: RedisConnection[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'catalog redis-'));
  redis = await startSocketRedis(join(dir, 'redis.sock'));
  socketUrl = `unix://${pathToFileURL(redis.path).pathname}`;
  ctx = await createTestContext({ workers: false });
});
afterEach(async () => {
  if (service && service.process.exitCode === null && service.process.signalCode === null) {
    service.process.kill('SIGTERM');
    await service.exited;
  }
  service = undefined;
  for (const connection of connections.splice(0)) connection.disconnect();
});
afterAll(async () => {
  await ctx?.close();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A connection made as the service makes its own, from `url`. */
function connectionTo(url: string): RedisConnection {
  const connection = createRedisConnection(url, { maxRetriesPerRequest: 1 });
  // A connection that fails fails its commands, which the test sees; its error events are not the test's.
  connection.on('error', () => {});
  connections.push(connection);
  return connection;
}

/** A plain client of the socket Redis, on database `db`. */
function socketClient(db = 0): Redis {
  const client = new Redis({ path: redis.path, db });
  connections.push(client);
  return client;
}

describe('a Redis reached over a Unix socket (REDIS_URL=unix:///path)', () => {
  it('starts the service on it: GET /readyz answers ready, API and workers on the socket', { timeout: 90_000 }, async () => {
    const port = await freePort();
    service = spawnService({ ...ctx.env, REDIS_URL: socketUrl, ROLE: 'all', WORKER_NICE: '0', PORT: String(port), HOST: '127.0.0.1' });
    const ready = await waitFor('the service to be ready', async () => {
      if (service!.process.exitCode !== null) throw new Error(`the service exited: ${service!.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
      return response?.status === 200 ? response.json() : undefined;
    }, 60_000, 200);
    expect(ready).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', workers: 'ok' } });
    // The shared Redis is not where it went: the socket's holds the context's queues.
    const keys = await socketClient().keys(`{${ctx.config.QUEUE_PREFIX}}:*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it('takes the socket path from the URL, percent-escapes decoded, and the database from ?db=', async () => {
    expect(socketUrl).toContain('%20');
    await connectionTo(`${socketUrl}?db=3`).set('unix-socket-test', 'in db 3');
    expect(await socketClient(3).get('unix-socket-test')).toBe('in db 3');
    expect(await socketClient(0).get('unix-socket-test')).toBeNull();
  });

  it('takes the password from ?password=, as ioredis reads a socket path', async () => {
    const admin = socketClient();
    await admin.config('SET', 'requirepass', 'unix-socket-secret');
    try {
      expect(await connectionTo(`${socketUrl}?password=unix-socket-secret`).ping()).toBe('PONG');
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
  });

  it('stops a start on a socket that is not there naming its path and REDIS_URL', { timeout: 60_000 }, async () => {
    const missing = join(dir, 'missing.sock');
    service = spawnService({ ...ctx.env, REDIS_URL: `unix://${missing}`, ROLE: 'api', PORT: String(await freePort()), LOG_LEVEL: 'silent' });
    expect(await service.exited).toBe('exit 1');
    expect(service.output().trim()).toBe(
      `Failed to start: Redis at ${missing} (REDIS_URL) cannot be used: Redis not ready after 10000 ms (status reconnecting)`,
    );
  });
});
