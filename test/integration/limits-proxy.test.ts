import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/test-context.js';

/** Behind a proxy (TRUST_PROXY=true) the per-address limits count each client, not the proxy. */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { TRUST_PROXY: 'true', UNAUTHENTICATED_RATE_PER_MINUTE: '3' } });
});
afterAll(async () => ctx?.close());

const anonymous = (client: string) =>
  ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-forwarded-for': client } });

it('limits unauthenticated requests per forwarded client address', async () => {
  for (let request = 1; request <= 3; request += 1) expect((await anonymous('203.0.113.7')).statusCode).toBe(401);
  const limited = await anonymous('203.0.113.7');
  expect(limited.statusCode).toBe(429);
  expect(limited.json().error).toMatch(/^Too many unauthenticated API requests/);
  // Another client behind the same proxy is not affected.
  expect((await anonymous('198.51.100.20')).statusCode).toBe(401);
});
