import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { configError } from '../support/config-error.js';

/** The longest delay Node's timers keep; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;

describe('loadConfig: settings that become timers', () => {
  const millisecondSettings = Object.keys(loadConfig({})).filter((key) => key.endsWith('_MS'));

  it('has millisecond settings to check', () => {
    expect(millisecondSettings).toEqual(expect.arrayContaining([
      'RECONCILE_INTERVAL_MS', 'SHUTDOWN_GRACE_MS', 'SHUTDOWN_HTTP_GRACE_MS', 'WORKER_LOCK_DURATION_MS', 'S3_TIMEOUT_MS',
    ]));
  });

  it('refuses any millisecond setting past the longest timer, naming the variable and the maximum', () => {
    for (const key of millisecondSettings) {
      const message = configError({ [key]: '3000000000' });
      expect(message, key).toMatch(new RegExp(`^Invalid configuration: ${key}: .*at most`));
      expect(message, key).toMatch(/at most (2147483647|60000|10000)\b/);
    }
  });

  it('takes the longest timer itself where nothing lower is the limit', () => {
    for (const key of ['RECONCILE_INTERVAL_MS', 'SHUTDOWN_GRACE_MS', 'SHUTDOWN_HTTP_GRACE_MS', 'WORKER_LOCK_DURATION_MS', 'HTTP_REQUEST_TIMEOUT_MS']) {
      expect(loadConfig({ [key]: String(MAX_TIMER_MS) })[key as keyof ReturnType<typeof loadConfig>], key).toBe(MAX_TIMER_MS);
      expect(configError({ [key]: String(MAX_TIMER_MS + 1) }), key).toContain(`${key}: must be at most 2147483647`);
    }
  });

  it('refuses JOB_EVENTS_HEARTBEAT_SECONDS past the longest timer in seconds', () => {
    expect(configError({ JOB_EVENTS_HEARTBEAT_SECONDS: '3000000' })).toMatch(/^Invalid configuration: JOB_EVENTS_HEARTBEAT_SECONDS: must be at most 2147483\b/);
    expect(loadConfig({ JOB_EVENTS_HEARTBEAT_SECONDS: '2147483' }).JOB_EVENTS_HEARTBEAT_SECONDS).toBe(2_147_483);
  });

  it('refuses retention days the cleanup could not subtract from today', () => {
    expect(configError({ UPLOAD_RETENTION_DAYS: '3000000000' })).toMatch(/\bUPLOAD_RETENTION_DAYS: must be at most 36500\b/);
    expect(configError({ EXPORT_RETENTION_DAYS: '36501' })).toMatch(/\bEXPORT_RETENTION_DAYS: must be at most 36500\b/);
    expect(loadConfig({ UPLOAD_RETENTION_DAYS: '36500' }).UPLOAD_RETENTION_DAYS).toBe(36_500);
  });
});

describe('loadConfig: numbers are written in decimal digits', () => {
  it.each([
    ['PORT', '0x10'],
    ['PORT', ' 8080'],
    ['PORT', '+8080'],
    ['MAX_UPLOAD_BYTES', '1e3'],
    ['MAX_UPLOAD_BYTES', '1000.0'],
    ['MAX_UPLOAD_BYTES', '0b1111'],
    ['WORKER_CONCURRENCY', 'Infinity'],
    ['CALLBACK_RETRY_BASE_SECONDS', '0x5'],
    ['CALLBACK_RETRY_BASE_SECONDS', '5e0'],
    ['CALLBACK_SECRET_GRACE_HOURS', '1e1'],
  ])('refuses %s=%s, naming the variable', (key, value) => {
    expect(configError({ [key]: value })).toMatch(new RegExp(`^Invalid configuration: ${key}: expected a .*number written in decimal digits`));
  });

  it('refuses a whole number past what it can hold exactly', () => {
    expect(configError({ MAX_UPLOAD_BYTES: '99999999999999999999' })).toMatch(/\bMAX_UPLOAD_BYTES: must be at most 9007199254740991\b/);
  });

  it('reads decimal digits, a fraction where one makes sense', () => {
    expect(loadConfig({ PORT: '08080', MAX_UPLOAD_BYTES: '1000', CALLBACK_RETRY_BASE_SECONDS: '0.2', CALLBACK_SECRET_GRACE_HOURS: '1.5' })).toMatchObject({
      PORT: 8080, MAX_UPLOAD_BYTES: 1000, CALLBACK_RETRY_BASE_SECONDS: 0.2, CALLBACK_SECRET_GRACE_HOURS: 1.5,
    });
  });

  it('keeps the lower bounds, naming them', () => {
    expect(configError({ WORKER_CONCURRENCY: '0' })).toContain('WORKER_CONCURRENCY: must be at least 1');
    expect(configError({ CALLBACK_RETRY_BASE_SECONDS: '0' })).toMatch(/\bCALLBACK_RETRY_BASE_SECONDS\b/);
    expect(configError({ PORT: '65536' })).toContain('PORT: must be at most 65535');
  });
});

describe('loadConfig: REDIS_URL', () => {
  it('refuses a scheme other than redis://, rediss://, redis+cluster:// or unix://, naming REDIS_URL', () => {
    for (const value of ['http://127.0.0.1:6394', 'https://redis.internal', 'tcp://127.0.0.1:6379']) {
      expect(configError({ REDIS_URL: value }), value).toMatch(/^Invalid configuration: REDIS_URL: .*redis:\/\/.*rediss:\/\/.*redis\+cluster:\/\/.*unix:\/\/\/path/);
    }
  });

  it('refuses a unix: URL that names no socket path', () => {
    for (const value of ['unix:', 'unix:///', 'unix://localhost']) {
      expect(configError({ REDIS_URL: value }), value).toMatch(/^Invalid configuration: REDIS_URL: 'unix:' names no socket path; expected unix:\/\/\/path\/to\/redis\.sock/);
    }
  });

  it('takes unix:///path, a Redis reached over its Unix socket', () => {
    for (const value of ['unix:///tmp/redis.sock', 'unix:///var/run/redis/redis-server.sock?db=2', 'unix:/tmp/redis.sock']) {
      expect(loadConfig({ REDIS_URL: value }).REDIS_URL, value).toBe(value);
    }
  });

  it('does not check REDIS_URL when REDIS_CLUSTER_NODES is set, as it is then not used', () => {
    for (const value of ['unix:///tmp/redis.sock', 'http://127.0.0.1:6394', 'not a url']) {
      expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_URL: value }).REDIS_CLUSTER_NODES, value).toEqual([{ host: '10.0.0.1', port: 7000 }]);
    }
  });

  it('does not echo a refused URL, which may hold the password', () => {
    expect(configError({ REDIS_URL: 'http://:hunter2-secret@127.0.0.1:6394' })).not.toContain('hunter2-secret');
  });

  it('takes redis://, rediss:// and redis+cluster:// URLs', () => {
    for (const value of ['redis://127.0.0.1:6379', 'rediss://:pw@redis.internal:6380/2', 'REDIS://127.0.0.1', 'redis+cluster://10.0.0.1:7000']) {
      expect(loadConfig({ REDIS_URL: value }).REDIS_URL, value).toBe(value);
    }
  });
});

describe('loadConfig: object storage settings', () => {
  it.each(['S3_ENDPOINT', 'S3_REGION'])(
    'refuses %s, which says where files go, without an s3:// STORAGE_URL instead of keeping files in DATA_DIR',
    (key) => {
      const value = { S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'eu-central-1' }[key]!;
      expect(configError({ [key]: value })).toMatch(new RegExp(`^Invalid configuration: STORAGE_URL: ${key} is set.*s3://<bucket>/<prefix>`));
      expect(configError({ [key]: value, STORAGE_URL: 'file:///srv/catalog' })).toMatch(new RegExp(`^Invalid configuration: STORAGE_URL: ${key} is set`));
    },
  );

  // Configuration templates write out every variable with its default: those that only tune how
  // object storage is reached send no file anywhere else.
  it.each([
    { S3_TIMEOUT_MS: '60000' },
    { S3_FORCE_PATH_STYLE: 'false' },
    { S3_FORCE_PATH_STYLE: 'true', S3_TIMEOUT_MS: '5000' },
  ])('takes %o without an s3:// STORAGE_URL', (settings) => {
    expect(() => loadConfig(settings)).not.toThrow();
    expect(loadConfig({ ...settings, STORAGE_URL: 'file:///tmp/x' }).STORAGE_URL).toBe('file:///tmp/x');
  });

  it('names only S3_ENDPOINT and S3_REGION among the S3 settings given', () => {
    const message = configError({ S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true', S3_TIMEOUT_MS: '5000' });
    expect(message).toMatch(/^Invalid configuration: STORAGE_URL: S3_ENDPOINT, S3_REGION are set, but STORAGE_URL is unset/);
    expect(message).not.toMatch(/S3_FORCE_PATH_STYLE|S3_TIMEOUT_MS/);
  });

  it('names every S3 setting given, beside other wrong variables', () => {
    const message = configError({ S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'us-east-1', PORT: 'abc' });
    expect(message).toMatch(/\bPORT\b/);
    expect(message).toMatch(/STORAGE_URL: .*S3_ENDPOINT, S3_REGION/);
  });

  it('takes the S3 settings with an s3:// STORAGE_URL', () => {
    expect(loadConfig({ STORAGE_URL: 's3://catalog/files', S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: 'true' }))
      .toMatchObject({ S3_REGION: 'us-east-1', S3_FORCE_PATH_STYLE: true });
  });
});
