import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/private-redis.js';
import { spawnService } from '../support/recovery-support.js';

/**
 * A process started while PostgreSQL or Redis cannot be reached exits 1 with one line that names
 * the service, its address and the variable that sets it, not a stack an operator must read.
 */
describe('starting without a backing service', () => {
  it('names PostgreSQL, its address and DATABASE_URL in one line, password left out', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = spawnService({ DATABASE_URL: `postgres://catalog:s3cret@127.0.0.1:${port}/shop`, ROLE: 'api', LOG_LEVEL: 'silent' });
    expect(await child.exited).toBe('exit 1');
    const output = child.output().trim();
    expect(output).toMatch(new RegExp(`^Failed to start: PostgreSQL at 127\\.0\\.0\\.1:${port}/shop \\(DATABASE_URL\\) cannot be used: .*ECONNREFUSED`));
    expect(output.split('\n')).toHaveLength(1);
    expect(output).not.toContain('s3cret');
  });

  it('names Redis, its address and REDIS_URL in one line', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = spawnService({
      // A database of its own on the suite's server (created and migrated at start), so PostgreSQL is fine.
      DATABASE_URL: Object.assign(new URL(inject('databaseUrl')), { pathname: '/catalog_test_startup' }).toString(),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      ROLE: 'api',
      LOG_LEVEL: 'silent',
    });
    expect(await child.exited).toBe('exit 1');
    const output = child.output().trim();
    expect(output).toBe(`Failed to start: Redis at 127.0.0.1:${port} (REDIS_URL) cannot be used: Redis not ready after 10000 ms (status reconnecting)`);
  });
});
