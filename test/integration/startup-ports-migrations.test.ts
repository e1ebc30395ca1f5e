import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { spawnService, type WorkerChild } from '../support/recovery-support.js';

/**
 * A process that cannot listen where it is told to (a port in use, a HOST that is no address) or
 * whose migrations PostgreSQL refuses exits 1 with one line naming what to change, not a stack.
 */

const children: WorkerChild[] = [];
const servers: Server[] = [];
/** Databases this file creates on the suite's server, dropped after its tests. */
const databases: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(children.map((child) => child.exited));
  await withServer(async (client) => {
    for (const name of databases) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });
});

/** Runs `work` on a connection to the suite's PostgreSQL server (its own database). */
async function withServer(work: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** A database of the suite's server, migrated at start, shared with the other files' start tests. */
const startupDatabase = () => Object.assign(new URL(inject('databaseUrl')), { pathname: '/catalog_test_startup' }).toString();

/** Starts the service on the suite's PostgreSQL and Redis, with `env` on top; killed after the file's tests if still running. */
function start(env: Record<string, string>): WorkerChild {
  const child = spawnService({
    DATABASE_URL: startupDatabase(), REDIS_URL: inject('redisUrl'), QUEUE_PREFIX: `startup-${process.pid}-${children.length}`,
    HOST: '127.0.0.1', WORKER_NICE: '0', LOG_LEVEL: 'silent', ...env,
  });
  children.push(child);
  return child;
}

/** A port of 127.0.0.1 that another listener holds. */
async function portInUse(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** The lines of the child's output that are not log entries (JSON). */
const plainLines = (child: WorkerChild) => child.output().trim().split('\n').filter((line) => !line.startsWith('{'));

describe('a start that cannot listen', () => {
  it('names PORT and HOST when the port is in use', { timeout: 60_000 }, async () => {
    const port = await portInUse();
    const child = start({ ROLE: 'api', PORT: String(port) });
    expect(await child.exited).toBe('exit 1');
    expect(child.output().trim()).toBe(`Failed to start: port ${port} (PORT) is already in use on 127.0.0.1 (HOST)`);
  });

  it('names HOST when it cannot be resolved', { timeout: 60_000 }, async () => {
    const child = start({ ROLE: 'api', PORT: '0', HOST: 'no-such-host.invalid' });
    expect(await child.exited).toBe('exit 1');
    const output = child.output().trim();
    expect(output).toMatch(/^Failed to start: HOST no-such-host\.invalid cannot be resolved: getaddrinfo \w+ no-such-host\.invalid$/);
  });

  it('stops a ROLE=worker process whose WORKER_PORT is in use before its workers take a job', { timeout: 60_000 }, async () => {
    const port = await portInUse();
    const child = start({ ROLE: 'worker', WORKER_PORT: String(port), LOG_LEVEL: 'info' });
    expect(await child.exited).toBe('exit 1');
    expect(plainLines(child)).toEqual([`Failed to start: port ${port} (WORKER_PORT) is already in use on 127.0.0.1 (HOST)`]);
    expect(child.output()).not.toContain('workers started');
  });
});

describe('a start whose migration fails', () => {
  it('names the migration and PostgreSQL\'s reason in one line', { timeout: 60_000 }, async () => {
    const name = `catalog_test_startup_migration_${process.pid}`;
    databases.push(name);
    // An "accounts" table that is not the service's: the first migration cannot create its own.
    await withServer(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    });
    const url = Object.assign(new URL(inject('databaseUrl')), { pathname: `/${name}` }).toString();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE TABLE accounts (name text)');
    await client.end();

    const child = start({ DATABASE_URL: url, ROLE: 'api', PORT: '0' });
    expect(await child.exited).toBe('exit 1');
    expect(child.output().trim()).toBe('Failed to start: Migration 001_core.sql failed: relation "accounts" already exists');
  });
});
