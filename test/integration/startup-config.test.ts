import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/private-redis.js';
import { spawnService, type WorkerChild } from '../support/recovery-support.js';

/** A database of its own on the suite's server, so that the start gets past PostgreSQL. */
const OWN_DATABASE = Object.assign(new URL(inject('databaseUrl')), { pathname: '/catalog_test_startup_config' }).toString();

let running: WorkerChild | undefined;

// A process that a wrong setting failed to stop is stopped here, not left serving.
afterEach(() => {
  if (running && running.process.exitCode === null && running.process.signalCode === null) running.process.kill('SIGKILL');
  running = undefined;
});

/** The process's output once it has exited, and how it exited. */
async function startWith(env: Record<string, string>): Promise<{ exit: string; output: string }> {
  const port = String(await freePort());
  running = spawnService({
    // Its own database, queue prefix and port: a start the settings fail to stop touches nothing else.
    DATABASE_URL: OWN_DATABASE,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: 'test-startup-config',
    PORT: port,
    WORKER_PORT: port,
    ROLE: 'api',
    LOG_LEVEL: 'silent',
    // The SDK's notice about future Node versions is not the process's own output.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env,
  });
  const exit = await running.exited;
  return { exit, output: running.output().trim() };
}

/**
 * Settings that would have the process run wrongly (a timer that fires every millisecond, files
 * on the wrong store, Redis asked over HTTP) stop it at start with one line naming the variable.
 */
describe('starting with a setting the service cannot use', () => {
  it('refuses RECONCILE_INTERVAL_MS past the longest timer instead of reconciling back to back', { timeout: 30_000 }, async () => {
    const { exit, output } = await startWith({ RECONCILE_INTERVAL_MS: '3000000000', ROLE: 'worker' });
    expect(exit).toBe('exit 1');
    expect(output).toBe('Invalid configuration: RECONCILE_INTERVAL_MS: must be at most 2147483647 (about 24.8 days, the longest timer Node.js keeps)');
  });

  it('refuses a REDIS_URL that is not a Redis URL, naming REDIS_URL rather than an unreachable Redis', { timeout: 30_000 }, async () => {
    const { exit, output } = await startWith({ REDIS_URL: 'http://127.0.0.1:6394' });
    expect(exit).toBe('exit 1');
    expect(output).toMatch(/^Invalid configuration: REDIS_URL: 'http:' is not a Redis scheme; expected redis:\/\/host:port, rediss:\/\/host:port/);
    expect(output.split('\n')).toHaveLength(1);
  });

  it('refuses S3_ENDPOINT and S3_REGION without an s3:// STORAGE_URL, naming STORAGE_URL', { timeout: 30_000 }, async () => {
    const { exit, output } = await startWith({ S3_ENDPOINT: 'http://127.0.0.1:9', S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true' });
    expect(exit).toBe('exit 1');
    expect(output).toMatch(/^Invalid configuration: STORAGE_URL: S3_ENDPOINT, S3_REGION are set, but STORAGE_URL is unset/);
    expect(output.split('\n')).toHaveLength(1);
  });

  it('refuses object storage without a region, naming S3_REGION, instead of starting ready and failing every upload', { timeout: 60_000 }, async () => {
    const { exit, output } = await startWith({
      STORAGE_URL: 's3://catalog-files/x',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      AWS_CONFIG_FILE: '/nonexistent/catalog-test-aws-config',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
    });
    expect(exit).toBe('exit 1');
    expect(output).toMatch(/^Invalid configuration: S3_REGION: no usable region for s3:\/\/catalog-files \(Region is missing\); set S3_REGION/);
    expect(output.split('\n')).toHaveLength(1);
  });
});
