import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, dropDatabase, withDatabase } from './db.js';
import { createAccount } from './http.js';
import { readCmdline } from './proc.js';
import { describeExit, freePort, startService, stopService, type Runtime, type ServiceProcess } from './service.js';
import { ADMIN_KEY, baseDatabaseUrl, deleteBenchKeys, redisEnv } from './settings.js';

export const log = (message: string) => console.error(`[bench] ${message}`);

/** Cleanup steps, run once in reverse order (also on SIGINT/SIGTERM); a failed step does not stop the others. */
export class Cleanups {
  private steps: Array<() => Promise<unknown>> = [];

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        log(`cleanup step failed: ${(error as Error).message}`);
      }
    }
  }
}

/**
 * How the service runs: one process with ROLE=all (as `npm start`, two jobs at a time), or an
 * API process and `workers` ROLE=worker processes that take one job each.
 */
export type Layout = { kind: 'all' } | { kind: 'split'; workers: number };

/** A scratch database, queue prefix and data folder with the service running on them. */
export interface Session {
  databaseUrl: string;
  /** Name of the scratch database. */
  database: string;
  /** A temporary folder for the run's files (removed at cleanup). */
  tmp: string;
  baseUrl: string;
  /** The processes that run the import jobs (the one ROLE=all process, or the worker processes). */
  workerPids: number[];
  services: ServiceProcess[];
}

export interface SessionInput {
  runtime: Runtime;
  nodeArgs: string[];
  layout: Layout;
  repoRoot: string;
  cleanups: Cleanups;
}

/** Creates a database, a queue prefix and a data folder, and starts the service on them in `layout`. */
export async function startSession(input: SessionInput): Promise<Session> {
  const { cleanups } = input;
  const tag = randomBytes(4).toString('hex');
  const database = `catalog_bench_${tag}`;
  const queuePrefix = `bench-${tag}`;
  const databaseUrl = withDatabase(baseDatabaseUrl, database);
  const tmp = await mkdtemp(join(tmpdir(), 'catalog-bench-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const dataDir = join(tmp, 'data');
  await mkdir(dataDir);
  await createDatabase(baseDatabaseUrl, database);
  cleanups.push(() => dropDatabase(baseDatabaseUrl, database));
  cleanups.push(async () => log(`deleted ${await deleteBenchKeys(queuePrefix)} Redis keys of {${queuePrefix}}`));

  const env = {
    DATABASE_URL: databaseUrl,
    ...redisEnv,
    QUEUE_PREFIX: queuePrefix,
    DATA_DIR: dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
  };
  const start = async (role: Record<string, string>, portKey: 'PORT' | 'WORKER_PORT') => {
    const port = await freePort();
    const started = performance.now();
    const service = await startService(input.repoRoot, { ...env, ...role, [portKey]: String(port) }, port, input.runtime, input.nodeArgs);
    cleanups.push(() => stopService(service));
    const cmdline = readCmdline(service.pid);
    if (!/main\.[jt]s/.test(cmdline)) throw new Error(`pid ${service.pid} is not the service: ${cmdline}`);
    log(`${role.ROLE} pid ${service.pid} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return service;
  };
  const { layout } = input;
  // The API starts first: it runs the migrations before a worker looks at the tables.
  const api = await start({ ROLE: layout.kind === 'all' ? 'all' : 'api' }, 'PORT');
  const workers: ServiceProcess[] = [];
  if (layout.kind === 'split') {
    for (let i = 0; i < layout.workers; i += 1) workers.push(await start({ ROLE: 'worker', WORKER_CONCURRENCY: '1' }, 'WORKER_PORT'));
  }
  const services = [api, ...workers];
  return {
    databaseUrl,
    database,
    tmp,
    baseUrl: api.baseUrl,
    workerPids: (layout.kind === 'all' ? [api] : workers).map((service) => service.pid),
    services,
  };
}

/** Creates an account on the session's service; returns its API key. */
export async function newAccount(session: Session): Promise<string> {
  return createAccount(session.baseUrl, ADMIN_KEY, `bench-${randomBytes(4).toString('hex')}@example.com`);
}

/** Throws when one of the session's processes has exited. */
export function checkAlive(session: Session): void {
  const gone = session.services.find((service) => service.exited);
  if (gone) throw new Error(`service pid ${gone.pid} exited during the import (${describeExit(gone)})`);
}

/** Stops every process of the session (workers first). */
export async function stopSession(session: Session): Promise<void> {
  for (const service of [...session.services].reverse()) {
    await stopService(service);
    log(`pid ${service.pid} stopped (${describeExit(service)})`);
  }
}
