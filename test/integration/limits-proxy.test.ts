import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Behind a proxy the per-address limits count each client, not the proxy; TRUST_PROXY says which
 * proxies to believe (a hop count or their addresses), so a client cannot name its own address.
 */
let hops: TestContext;
let ranges: TestContext;
const LIMITS = { UNAUTHENTICATED_RATE_PER_MINUTE: '3' };
// Mid-minute and still: every request of a test falls in one limit window.
const clock = () => Date.parse('2026-05-14T10:30:20Z');

beforeAll(async () => {
  hops = await createTestContext({ workers: false, clock, env: { TRUST_PROXY: '1', ...LIMITS } });
  ranges = await createTestContext({ workers: false, clock, env: { TRUST_PROXY: '10.0.0.0/8, 192.0.2.1', ...LIMITS } });
});
afterAll(async () => {
  await hops?.close();
  await ranges?.close();
});

/** An unauthenticated request arriving from `peer` (the proxy, or a client connecting directly). */
const anonymous = (ctx: TestContext, forwardedFor: string, peer = '127.0.0.1') =>
  ctx.app.inject({ method: 'GET', url: '/v1/jobs', remoteAddress: peer, headers: { 'x-forwarded-for': forwardedFor } });

const expectLimitedAfterThree = async (send: () => ReturnType<typeof anonymous>) => {
  for (let request = 1; request <= 3; request += 1) expect((await send()).statusCode).toBe(401);
  const limited = await send();
  expect(limited.statusCode).toBe(429);
  expect(limited.json().error).toMatch(/^Too many unauthenticated API requests/);
};

describe('TRUST_PROXY as a hop count', () => {
  it('limits unauthenticated requests per forwarded client address', async () => {
    await expectLimitedAfterThree(() => anonymous(hops, '203.0.113.7'));
    // Another client behind the same proxy is not affected.
    expect((await anonymous(hops, '198.51.100.20')).statusCode).toBe(401);
  });

  it('takes the address the trusted proxy saw, not the ones a client prepends', async () => {
    let attempt = 0;
    // A fresh made-up address on each request: with "trust all" each would count as a new client.
    await expectLimitedAfterThree(() => anonymous(hops, `192.0.2.${(attempt += 1)}, 203.0.113.50`));
  });
});

describe('TRUST_PROXY as a list of proxy addresses and CIDR ranges', () => {
  it('believes X-Forwarded-For from a listed proxy', async () => {
    await expectLimitedAfterThree(() => anonymous(ranges, '203.0.113.8', '10.20.30.40'));
    expect((await anonymous(ranges, '198.51.100.21', '192.0.2.1')).statusCode).toBe(401);
  });

  it('ignores X-Forwarded-For from any other peer, which is counted itself', async () => {
    let attempt = 0;
    await expectLimitedAfterThree(() => anonymous(ranges, `198.51.100.${(attempt += 1)}`, '203.0.113.99'));
  });
});
