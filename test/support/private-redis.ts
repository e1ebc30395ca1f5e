import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A local TCP port that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A redis-server child process of this test alone, on a free port, without persistence: the
 * test may stop, restart or FLUSHALL it (never the shared Redis other test files use).
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops the server (SIGKILL: like a crash) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** FLUSHALL on it. */
  flushAll(): Promise<void>;
  /**
   * Freezes the server (SIGSTOP): its connections stay open and it answers nothing, as a Redis that
   * hangs. `thaw` (SIGCONT) lets it go on; `stop` thaws it first.
   */
  freeze(): void;
  thaw(): void;
}

/**
 * redis-server (or redis-cli) with `args`, with its spawn failure kept for `failure()` instead of
 * thrown at the test process as an uncaught exception: a machine without them fails the test
 * that needs them with {@link redisToolMissing}'s message.
 */
export function spawnRedisTool(command: 'redis-server' | 'redis-cli', args: string[]): { child: ChildProcess; failure: () => Error | undefined } {
  let failure: Error | undefined;
  const child = spawn(command, args, { stdio: 'ignore' });
  child.once('error', (error) => {
    failure = redisToolMissing(command, error);
  });
  return { child, failure: () => failure };
}

/** Why a test that starts its own Redis cannot run here. */
export function redisToolMissing(command: string, error: Error): Error {
  return new Error(
    `${command} could not be run (${error.message}): the tests that start a private Redis or a Redis Cluster need redis-server and redis-cli on PATH (Debian: apt-get install redis-server), whoever provides REDIS_URL`,
  );
}

/** Waits until the redis-server at `where` (a loopback port, or a Unix socket's path) answers PING. */
async function waitForPing(where: number | string, failure: () => Error | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const address = typeof where === 'number' ? { port: where, host: '127.0.0.1' } : { path: where };
  for (;;) {
    const failed = failure();
    if (failed) throw failed;
    const probe = new Redis({ ...address, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${typeof where === 'number' ? `port ${where}` : where} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const started = spawnRedisTool('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
    child = started.child;
    await waitForPing(port, started.failure);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      running.kill('SIGCONT');
      const exited = once(running, 'exit');
      running.kill('SIGKILL');
      await exited;
    },
    async flushAll() {
      const client = new Redis({ port, host: '127.0.0.1' });
      try {
        await client.flushall();
      } finally {
        client.disconnect();
      }
    },
  };
}

/** A redis-server child process of this test alone that listens on a Unix socket only (no TCP port). */
export interface SocketRedis {
  /** The socket's path. */
  path: string;
  /** Stops the server and waits until it has exited. */
  stop(): Promise<void>;
}

/** Starts a redis-server without persistence whose one listener is the Unix socket `path`. */
export async function startSocketRedis(path: string): Promise<SocketRedis> {
  const { child, failure } = spawnRedisTool('redis-server', [
    '--port', '0', '--unixsocket', path, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
  ]);
  try {
    await waitForPing(path, failure);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    path,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
