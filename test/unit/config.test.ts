import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { configError } from '../support/config-error.js';


describe('loadConfig', () => {
  it('takes the documented defaults when nothing is set', () => {
    expect(loadConfig({})).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/catalog',
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'catalog',
      ROLE: 'all',
      WORKER_CONCURRENCY: 2,
      DATA_DIR: './data',
      MAX_UPLOAD_BYTES: 1_073_741_824,
      LOG_LEVEL: 'info',
    });
    expect(loadConfig({}).ADMIN_API_KEY).toBeUndefined();
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '', ROLE: '', MAX_UPLOAD_BYTES: '', ADMIN_API_KEY: '' });
    expect(config.PORT).toBe(3000);
    expect(config.ROLE).toBe('all');
    expect(config.MAX_UPLOAD_BYTES).toBe(1_073_741_824);
    expect(config.ADMIN_API_KEY).toBeUndefined();
  });

  it('reads numbers as numbers and keeps the other values', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      ROLE: 'worker',
      WORKER_CONCURRENCY: '8',
      MAX_UPLOAD_BYTES: '1000',
      QUEUE_PREFIX: 'shop:eu_1-a',
      ADMIN_API_KEY: 'a-long-enough-operator-key-0123456789',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      ROLE: 'worker',
      WORKER_CONCURRENCY: 8,
      MAX_UPLOAD_BYTES: 1000,
      QUEUE_PREFIX: 'shop:eu_1-a',
      ADMIN_API_KEY: 'a-long-enough-operator-key-0123456789',
      LOG_LEVEL: 'warn',
    });
  });

  it('ignores variables that are not its own', () => {
    expect(() => loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'test' })).not.toThrow();
  });

  it('fails naming PORT when it is not a number', () => {
    expect(configError({ PORT: 'abc' })).toMatch(/\bPORT\b/);
  });

  it('fails naming the variable for out-of-range and non-integer numbers', () => {
    expect(configError({ PORT: '70000' })).toMatch(/\bPORT\b/);
    expect(configError({ WORKER_CONCURRENCY: '0' })).toMatch(/\bWORKER_CONCURRENCY\b/);
    expect(configError({ WORKER_CONCURRENCY: '1.5' })).toMatch(/\bWORKER_CONCURRENCY\b/);
    expect(configError({ MAX_UPLOAD_BYTES: '0' })).toMatch(/\bMAX_UPLOAD_BYTES\b/);
    expect(configError({ MAX_UPLOAD_BYTES: '1GB' })).toMatch(/\bMAX_UPLOAD_BYTES\b/);
  });

  it('fails naming the variable for a value outside its choices or format', () => {
    expect(configError({ ROLE: 'scheduler' })).toMatch(/\bROLE\b/);
    expect(configError({ LOG_LEVEL: 'verbose' })).toMatch(/\bLOG_LEVEL\b/);
    expect(configError({ QUEUE_PREFIX: 'has spaces' })).toMatch(/\bQUEUE_PREFIX\b/);
    expect(configError({ DATABASE_URL: 'not a url' })).toMatch(/\bDATABASE_URL\b/);
    expect(configError({ REDIS_URL: 'localhost' })).toMatch(/\bREDIS_URL\b/);
    expect(configError({ ADMIN_API_KEY: 'short' })).toMatch(/\bADMIN_API_KEY\b/);
  });

  it('wants an ADMIN_API_KEY of at least 32 characters', () => {
    expect(configError({ ADMIN_API_KEY: 'x'.repeat(31) })).toMatch(/\bADMIN_API_KEY\b.*at least 32 characters/);
    expect(loadConfig({ ADMIN_API_KEY: 'x'.repeat(32) }).ADMIN_API_KEY).toBe('x'.repeat(32));
  });

  it('reads TRUST_PROXY as off, a hop count or a list of proxy addresses and CIDR ranges', () => {
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.1,2001:db8::/32 , loopback' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '192.0.2.1',
      '2001:db8::/32',
      'loopback',
    ]);
  });

  it("refuses TRUST_PROXY=true, which would trust any client's X-Forwarded-For, saying what to give instead", () => {
    const message = configError({ TRUST_PROXY: 'true' });
    expect(message).toMatch(/\bTRUST_PROXY\b/);
    expect(message).toContain('hop count');
    expect(message).toContain('CIDR');
  });

  it('refuses a TRUST_PROXY that is neither a hop count nor addresses, naming the wrong entries', () => {
    expect(configError({ TRUST_PROXY: '0' })).toMatch(/\bTRUST_PROXY\b.*hop count/);
    expect(configError({ TRUST_PROXY: '10.0.0.0/33' })).toMatch(/\bTRUST_PROXY\b.*'10\.0\.0\.0\/33'/);
    expect(configError({ TRUST_PROXY: '10.0.0.1,proxy.internal' })).toMatch(/'proxy\.internal'/);
    expect(configError({ TRUST_PROXY: 'yes' })).toMatch(/\bTRUST_PROXY\b/);
  });

  it('names every bad variable at once', () => {
    const message = configError({ PORT: 'abc', ROLE: 'x', HOST: 'ok' });
    expect(message).toMatch(/\bPORT\b/);
    expect(message).toMatch(/\bROLE\b/);
    expect(message).not.toMatch(/\bHOST\b/);
  });

  it('does not echo the value of a rejected secret', () => {
    expect(configError({ ADMIN_API_KEY: 'sekrit' })).not.toContain('sekrit');
  });
});

describe('loadConfig: request and database limits', () => {
  it('takes the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      MULTIPART_MAX_FIELDS: 10,
      MULTIPART_MAX_FIELD_BYTES: 65_536,
      MULTIPART_MAX_PARTS: 20,
      HTTP_CONNECTION_TIMEOUT_MS: 60_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 72_000,
      HTTP_REQUEST_TIMEOUT_MS: 3_600_000,
      HTTP_BODY_TIMEOUT_MS: 30_000,
      HTTP_BODY_MIN_BYTES_PER_SECOND: 10_240,
      DB_CONNECT_TIMEOUT_MS: 10_000,
      API_STATEMENT_TIMEOUT_MS: 30_000,
      API_LOCK_TIMEOUT_MS: 2_000,
      API_IDLE_IN_TRANSACTION_TIMEOUT_MS: 60_000,
      WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS: 600_000,
    });
  });

  it('fails naming the variable for a zero timeout', () => {
    expect(configError({ API_STATEMENT_TIMEOUT_MS: '0' })).toMatch(/\bAPI_STATEMENT_TIMEOUT_MS\b/);
    expect(configError({ HTTP_BODY_MIN_BYTES_PER_SECOND: '0' })).toMatch(/\bHTTP_BODY_MIN_BYTES_PER_SECOND\b/);
  });

  it('refuses an ENRICH_PROVIDER_URL with a user name or password, without quoting it', () => {
    for (const url of ['http://user:s3cret-pass@provider.example/v1', 'https://only-user@provider.example']) {
      const message = configError({ ENRICH_PROVIDER_URL: url });
      expect(message).toContain('ENRICH_PROVIDER_URL: must not hold a user name or password');
      expect(message).not.toContain('s3cret-pass');
      expect(message).not.toContain('only-user');
    }
    expect(loadConfig({ ENRICH_PROVIDER_URL: 'https://provider.example/v1' }).ENRICH_PROVIDER_URL).toBe('https://provider.example/v1');
  });
});
