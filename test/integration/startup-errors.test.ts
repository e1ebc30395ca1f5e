import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/private-redis.js';
import { spawnService, type WorkerChild } from '../support/recovery-support.js';

/**
 * A process started while PostgreSQL or Redis cannot be reached exits 1 with one line that names
 * the service, its address and the variable that sets it, not a stack an operator must read.
 */

const children: WorkerChild[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** Starts the service with `env`; killed after the file's tests if it is still running. */
function start(env: Record<string, string>): WorkerChild {
  const child = spawnService(env);
  children.push(child);
  return child;
}

/** How the child ended, or 'still running' after `ms`: a start that hangs fails the test instead of its timeout. */
function endOf(child: WorkerChild, ms: number): Promise<string> {
  return Promise.race([child.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), ms).unref())]);
}

/** Everything `stream` gives from now on. */
function collect(stream: Readable): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** A database of its own on the suite's server (created and migrated at start), so PostgreSQL is fine. */
const startupDatabase = () => Object.assign(new URL(inject('databaseUrl')), { pathname: '/catalog_test_startup' }).toString();

/** A TCP listener that accepts connections and never answers: a server that hangs. */
async function silentListener(): Promise<number> {
  const server = createServer((socket) => sockets.push(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('starting without a backing service', () => {
  it('names PostgreSQL, its address and DATABASE_URL in one line, password left out', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = start({ DATABASE_URL: `postgres://catalog:s3cret@127.0.0.1:${port}/shop`, ROLE: 'api', LOG_LEVEL: 'silent' });
    expect(await child.exited).toBe('exit 1');
    const output = child.output().trim();
    expect(output).toMatch(new RegExp(`^Failed to start: PostgreSQL at 127\\.0\\.0\\.1:${port}/shop \\(DATABASE_URL\\) cannot be used: .*ECONNREFUSED`));
    expect(output.split('\n')).toHaveLength(1);
    expect(output).not.toContain('s3cret');
  });

  it('gives up on a PostgreSQL that accepts the connection and never answers after DB_CONNECT_TIMEOUT_MS', { timeout: 60_000 }, async () => {
    const port = await silentListener();
    const child = start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x`, DB_CONNECT_TIMEOUT_MS: '2000', ROLE: 'api', LOG_LEVEL: 'silent' });
    expect(await endOf(child, 20_000)).toBe('exit 1');
    expect(child.output().trim()).toBe(`Failed to start: PostgreSQL at 127.0.0.1:${port}/x (DATABASE_URL) cannot be used: no answer within 2000 ms (DB_CONNECT_TIMEOUT_MS)`);
  });

  it('names Redis, its address and REDIS_URL in one line', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = start({ DATABASE_URL: startupDatabase(), REDIS_URL: `redis://127.0.0.1:${port}`, ROLE: 'api', LOG_LEVEL: 'silent' });
    expect(await child.exited).toBe('exit 1');
    const output = child.output().trim();
    expect(output).toBe(`Failed to start: Redis at 127.0.0.1:${port} (REDIS_URL) cannot be used: Redis not ready after 10000 ms (status reconnecting)`);
  });

  it('stops a ROLE=worker process the same way, without starting its workers', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = start({
      DATABASE_URL: startupDatabase(), REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: `startup-${port}`, ROLE: 'worker', WORKER_NICE: '0', LOG_LEVEL: 'info',
    });
    const [stdout, stderr] = [collect(child.process.stdout!), collect(child.process.stderr!)];
    expect(await endOf(child, 30_000)).toBe('exit 1');
    expect(stderr().trim()).toBe(`Failed to start: Redis at 127.0.0.1:${port} (REDIS_URL) cannot be used: Redis not ready after 10000 ms (status reconnecting)`);
    // The log says only that Redis is not there yet, a line per attempt to connect: no worker started, none of their errors.
    const messages = stdout().trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(new Set(messages)).toEqual(new Set(['redis connection error']));
    expect(messages.length).toBeLessThan(30);
  });
});
