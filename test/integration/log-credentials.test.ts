import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateToken, SESSION_PREFIX } from '../../src/shared/accounts/api-keys.js';
import { generateCallbackSecret } from '../../src/shared/callbacks/signature.js';
import { loggerOptions } from '../../src/shared/logger.js';
import { multipartBody } from '../support/multipart.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

// Credentials that reach the log by other ways than the fields the logger redacts by name: a
// Redis command on an error, a request's headers handed to another library, a query parameter of
// any name.

let logged = '';
const lines = () => logged.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

/** A logger with the service's options whose lines land in `logged`. */
function capturingLogger(level: string): Logger {
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  return pino(loggerOptions(level), sink);
}

beforeEach(() => {
  logged = '';
});

describe('a Redis that refuses the password of REDIS_URL', () => {
  const PASSWORD = 'redis-password-0451';
  let redis: PrivateRedis;
  let logger: Logger;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', 'another-password');
    admin.disconnect();
    logger = capturingLogger('warn');
  });
  afterAll(() => redis?.stop());

  it.each([
    ['a password', `redis://:${PASSWORD}@127.0.0.1`],
    ['a user and a password', `redis://default:${PASSWORD}@127.0.0.1`],
  ])('logs the refused AUTH without its arguments (%s)', async (_, base) => {
    const client = new Redis(`${base}:${redis.port}`, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', (error: unknown) => logger.error({ err: error, queue: 'exports' }, 'worker error'));
    await waitFor('the refusal to be logged', async () => (logged.includes('WRONGPASS') ? true : undefined));
    client.disconnect();

    const line = lines().find((entry) => entry.msg === 'worker error');
    expect(line).toMatchObject({ err: { type: 'ReplyError', command: { name: 'auth', args: '[redacted]' } }, queue: 'exports' });
    expect(logged).not.toContain(PASSWORD);
  });

  it('takes the password out of AUTH and HELLO in any case, in causes and aggregated errors, and leaves other commands', () => {
    const refused = (name: string, args: unknown[]) => Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name, args } });
    const hello = refused('HELLO', [3, 'AUTH', 'default', PASSWORD]);
    const wrapped = new Error('could not connect', { cause: refused('Auth', [PASSWORD]) });
    const aggregate = new AggregateError([refused('auth', ['default', PASSWORD]), refused('get', ['bull:exports:meta'])], 'all nodes failed');
    const previous = Object.assign(new Error('retries used up'), { previousErrors: [refused('hello', [3, 'AUTH', 'u', PASSWORD])], detail: { command: { name: 'AUTH', args: [PASSWORD] } } });

    logger.warn({ err: hello }, 'redis connection error');
    logger.warn({ err: wrapped }, 'credential-change subscription error');
    logger.warn({ err: aggregate }, 'cancel listener connection error');
    logger.warn({ err: previous }, 'worker watchdog queue error');
    logger.error(hello, 'logged as the line itself');

    expect(logged).not.toContain(PASSWORD);
    const [first, , third, fourth, fifth] = lines();
    expect(first).toMatchObject({ err: { command: { name: 'HELLO', args: '[redacted]' }, message: 'WRONGPASS invalid username-password pair' } });
    expect(third).toMatchObject({ err: { aggregateErrors: [{ command: { args: '[redacted]' } }, { command: { name: 'get', args: ['bull:exports:meta'] } }] } });
    expect(fourth).toMatchObject({ err: { previousErrors: [{ command: { args: '[redacted]' } }], detail: { command: { args: '[redacted]' } } } });
    expect(fifth).toMatchObject({ err: { command: { args: '[redacted]' } }, msg: 'logged as the line itself' });
    // The errors themselves keep their commands: only what is written changes.
    expect(hello.command.args).toEqual([3, 'AUTH', 'default', PASSWORD]);
  });
});

describe('request logs', () => {
  let ctx: TestContext;
  let account: { id: string; key: string };

  beforeAll(async () => {
    ctx = await createTestContext({ workers: false, logger: capturingLogger('trace') });
    account = await ctx.createAccount();
  });
  afterAll(() => ctx?.close());

  it("never show an upload's credential headers, which @fastify/multipart logs at trace", async () => {
    const other = await ctx.createAccount();
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'p.csv', content: 'ean,name\n96385074,Pen\n' }]);
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: {
        authorization: `Bearer ${account.key}`,
        'x-api-key': other.key,
        cookie: 'session=cookie-secret-0451',
        'proxy-authorization': 'Basic cHJveHktc2VjcmV0LTA0NTE=',
        'content-type': contentType,
      },
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(202);

    const busboy = lines().find((line) => line.msg === 'Providing options to busboy');
    expect(busboy).toMatchObject({
      busboyOptions: { headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: '[redacted]', 'proxy-authorization': '[redacted]' } },
    });
    for (const secret of [account.key, other.key, 'cookie-secret-0451', 'cHJveHktc2VjcmV0LTA0NTE=']) expect(logged).not.toContain(secret);
  });

  it('never show a value holding one of our credentials, whatever its query parameter is called, and show ordinary values that only resemble one', async () => {
    const { token: login } = generateToken(SESSION_PREFIX);
    const callbackSecret = generateCallbackSecret();
    // A key issued before keys had a lookup id: `ck_` and 43 characters.
    const olderKey = `ck_${randomBytes(32).toString('base64url')}`;
    const query = [
      `x_api_key=${account.key}`,
      `access_token=${login}`,
      `signing=${callbackSecret}`,
      `auth=Bearer%20${account.key}`,
      `k=ck%5F${account.key.slice(3)}`,
      account.key,
      `older=${olderKey}`,
      // Ordinary values: shorter than any credential, or its prefix inside a word.
      'q=ck_one',
      'category=tops_cs_2024',
      'sku=cbs_12',
      'note=Bearer%20cs_short',
      'docs_x=topics',
    ].join('&');
    await ctx.app.inject({ method: 'GET', url: `/v1/usage?${query}`, headers: { 'x-api-key': account.key } });

    const incoming = lines().find((line) => line.msg === 'incoming request' && String((line.req as { url: string }).url).startsWith('/v1/usage'));
    expect((incoming?.req as { url: string }).url).toBe(
      '/v1/usage?x_api_key=[redacted]&access_token=[redacted]&signing=[redacted]&auth=[redacted]&k=[redacted]&[redacted]&older=[redacted]&q=ck_one&category=tops_cs_2024&sku=cbs_12&note=Bearer%20cs_short&docs_x=topics',
    );
    for (const secret of [account.key, account.key.slice(3), login, callbackSecret, olderKey]) expect(logged).not.toContain(secret);
  });
});
