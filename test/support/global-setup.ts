import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { ensureDatabase } from '../../src/shared/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

/** The defaults of API.md §6, used when neither the environment nor Docker provides servers. */
const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/catalog';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the PostgreSQL and Redis the integration tests run against: DATABASE_URL and REDIS_URL
 * when set; otherwise containers started with testcontainers when a Docker engine runs; otherwise
 * the local servers at the default addresses, which scripts/services.sh starts (or installs) when
 * needed. Each test file then creates its own database and queue prefix on them.
 */
export default async function setup(project: TestProject) {
  const stops: Array<() => Promise<unknown>> = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if ((!databaseUrl || !redisUrl) && !dockerAvailable()) {
    execFileSync('bash', ['scripts/services.sh'], {
      stdio: 'inherit',
      env: { ...process.env, DATABASE_URL: databaseUrl ?? LOCAL_DATABASE_URL, REDIS_URL: redisUrl ?? LOCAL_REDIS_URL },
    });
    databaseUrl ??= LOCAL_DATABASE_URL;
    redisUrl ??= LOCAL_REDIS_URL;
  }
  if (!databaseUrl) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    stops.push(() => container.stop());
    databaseUrl = container.getConnectionUri();
  }
  if (!redisUrl) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    stops.push(() => container.stop());
    redisUrl = container.getConnectionUrl();
  }
  // The dashboard is tested in a real browser: installed here when missing (fresh machines).
  execFileSync('bash', ['scripts/chromium.sh'], { stdio: 'inherit' });
  // Each test file creates its database through this one, so it must exist whoever provided it.
  await ensureDatabase(databaseUrl);
  project.provide('databaseUrl', databaseUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
