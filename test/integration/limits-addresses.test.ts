import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

/** The per-address limits (API.md §1) count IPv6 clients per /64, and also guard the queue dashboard. */
let ctx: TestContext;
const METRICS_TOKEN = 'metrics-token-0123';
let now = Date.parse('2026-05-14T10:30:20Z');

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    clock: () => now,
    env: { UNAUTHENTICATED_RATE_PER_MINUTE: '3', INVALID_KEY_RATE_PER_MINUTE: '3', METRICS_TOKEN },
  });
});
afterAll(async () => ctx?.close());

/** Moves the clock to the next minute window, 20 s into it: every test starts with fresh counts. */
const nextMinute = () => {
  now = (Math.floor(now / 60_000) + 1) * 60_000 + 20_000;
};

const anonymous = (remoteAddress: string) => ctx.app.inject({ method: 'GET', url: '/v1/jobs', remoteAddress });
const invalidKey = (remoteAddress: string) =>
  ctx.app.inject({ method: 'GET', url: '/v1/jobs', remoteAddress, headers: { 'x-api-key': 'ck_not_a_key' } });
const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;
const dashboardLogin = (remoteAddress: string, password = 'a guess at the operator key') =>
  ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', remoteAddress, headers: { authorization: basic(password) } });
const scrape = (remoteAddress: string, token = 'a-guess-at-the-metrics-token') =>
  ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers: { authorization: `Bearer ${token}` } });

describe('per-address limits for IPv6 clients', () => {
  it('counts every address of one /64 as one client, and another /64 apart', async () => {
    nextMinute();
    const sameNetwork = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff'];
    for (const address of sameNetwork) expect((await anonymous(address)).statusCode).toBe(401);
    const limited = await anonymous('2001:db8:1:2:abcd::7');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatch(/^Too many unauthenticated API requests/);
    expect((await anonymous('2001:db8:1:3::1')).statusCode).toBe(401);
  });

  it('counts invalid keys per /64 too', async () => {
    nextMinute();
    for (let host = 1; host <= 3; host += 1) expect((await invalidKey(`2001:db8:9:9::${host}`)).statusCode).toBe(401);
    const limited = await invalidKey('2001:db8:9:9::99');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
  });

  it('does not count a Basic Authorization that a proxy adds next to a valid X-API-Key as an invalid key', async () => {
    nextMinute();
    const { key } = await ctx.createAccount();
    for (let request = 0; request < 5; request += 1) {
      const response = await ctx.app.inject({
        method: 'GET',
        url: '/v1/jobs',
        remoteAddress: '198.51.100.20',
        headers: { authorization: basic('proxy-password'), 'x-api-key': key },
      });
      expect(response.statusCode).toBe(200);
    }
    expect((await invalidKey('198.51.100.20')).statusCode).toBe(401);
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address it carries', async () => {
    nextMinute();
    for (let request = 0; request < 3; request += 1) expect((await anonymous('198.51.100.7')).statusCode).toBe(401);
    expect((await anonymous('::ffff:198.51.100.7')).statusCode).toBe(429);
  });
});

describe('failed logins to the queue dashboard', () => {
  it('answer 429 with Retry-After past the invalid-key limit of the address', async () => {
    nextMinute();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const refused = await dashboardLogin('203.0.113.30');
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error_code).toBe('INVALID_API_KEY');
    }
    const limited = await dashboardLogin('203.0.113.30');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error_code: 'RATE_LIMIT_EXCEEDED', retry_after_seconds: 40 });
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
    expect(limited.headers['retry-after']).toBe('40');
    // Another address still gets its own attempts.
    expect((await dashboardLogin('203.0.113.31')).statusCode).toBe(401);
  });

  it('share the counter with invalid API keys', async () => {
    nextMinute();
    expect((await invalidKey('203.0.113.40')).statusCode).toBe(401);
    expect((await invalidKey('203.0.113.40')).statusCode).toBe(401);
    expect((await dashboardLogin('203.0.113.40')).statusCode).toBe(401);
    expect((await dashboardLogin('203.0.113.40')).statusCode).toBe(429);
    expect((await invalidKey('203.0.113.40')).statusCode).toBe(429);
  });

  it('refuse the right password too once the address is past the limit, until the next minute', async () => {
    nextMinute();
    for (let attempt = 1; attempt <= 3; attempt += 1) expect((await dashboardLogin('203.0.113.50')).statusCode).toBe(401);
    const limited = await dashboardLogin('203.0.113.50', ADMIN_KEY);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
    expect(limited.headers['retry-after']).toBe('40');
    // The operator key on the API is refused alike from there, and the refusals count nothing.
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/admin/queues', remoteAddress: '203.0.113.50', headers: { authorization: `Bearer ${ADMIN_KEY}` } })).statusCode).toBe(429);
    expect((await dashboardLogin('203.0.113.51', ADMIN_KEY)).statusCode).toBe(200);
    nextMinute();
    expect((await dashboardLogin('203.0.113.50', ADMIN_KEY)).statusCode).toBe(200);
  });

  it('keep letting in an operator who signed in from the address before it went past the limit', async () => {
    nextMinute();
    expect((await dashboardLogin('203.0.113.60', ADMIN_KEY)).statusCode).toBe(200);
    for (let attempt = 1; attempt <= 3; attempt += 1) expect((await dashboardLogin('203.0.113.60')).statusCode).toBe(401);
    expect((await dashboardLogin('203.0.113.60')).statusCode).toBe(429);
    expect((await dashboardLogin('203.0.113.60', ADMIN_KEY)).statusCode).toBe(200);
  });
});

describe('wrong metrics tokens', () => {
  it('count on the invalid-key counter of the address, and past it the right token is refused too', async () => {
    nextMinute();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const refused = await scrape('203.0.113.70');
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error_code).toBe('INVALID_API_KEY');
    }
    const limited = await scrape('203.0.113.70');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
    expect(limited.headers['retry-after']).toBe('40');
    expect((await scrape('203.0.113.70', METRICS_TOKEN)).statusCode).toBe(429);
    expect((await invalidKey('203.0.113.70')).statusCode).toBe(429);
    expect((await scrape('203.0.113.71', METRICS_TOKEN)).statusCode).toBe(200);
  });

  it('share the counter with invalid API keys', async () => {
    nextMinute();
    expect((await invalidKey('203.0.113.80')).statusCode).toBe(401);
    expect((await dashboardLogin('203.0.113.80')).statusCode).toBe(401);
    expect((await scrape('203.0.113.80')).statusCode).toBe(401);
    expect((await scrape('203.0.113.80')).statusCode).toBe(429);
  });
});
