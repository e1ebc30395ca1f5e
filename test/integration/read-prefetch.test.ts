import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../support/recovery-support.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
// Mid-minute, so that a test's requests all fall in one window until it moves the clock.
let now = Date.parse('2026-05-14T10:30:20Z');
const nextMinute = () => {
  now = (Math.floor(now / 60_000) + 1) * 60_000 + 20_000;
};

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    clock: () => now,
    env: { TIER_LIMITS: JSON.stringify({ FREE: { per_minute: 3, monthly: 1_000_000 } }) },
  });
});
afterAll(async () => ctx?.close());

type AdmittingRedis = { limitsAdmit: (...args: unknown[]) => Promise<unknown> };

/** The names of the statements the service ran since `spy` was made. */
const statements = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map(([query]) => (typeof query === 'object' && query ? (query as { name?: string }).name : undefined));

/** An account with one queued import; returns its key and the job's id. */
async function accountWithJob() {
  const { key } = await ctx.createAccount();
  const upload = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
  expect(upload.statusCode).toBe(202);
  return { key, jobId: upload.json<{ id: string }>().id };
}

describe('the job and product GETs look up while the request is being admitted', () => {
  it('runs the job lookup before the admission round trip has answered, and answers the job once it has', async () => {
    nextMinute();
    const { key, jobId } = await accountWithJob();
    const redis = ctx.redis as unknown as AdmittingRedis;
    const admit = redis.limitsAdmit.bind(redis);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = vi.spyOn(redis, 'limitsAdmit').mockImplementation(async (...args) => {
      await gate;
      return admit(...args);
    });
    const queries = vi.spyOn(ctx.apiDb, 'query');
    try {
      const response = ctx.get(key, `/v1/jobs/${jobId}`);
      await waitFor('the job lookup', async () => (statements(queries).includes('find-jobs') ? true : undefined), 5_000);
      expect(held).toHaveBeenCalled();
      release();
      const answered = await response;
      expect(answered.statusCode).toBe(200);
      expect(answered.json()).toMatchObject({ id: jobId, type: 'import', status: 'processing' });
      expect(answered.headers['x-ratelimit-remaining']).toBe('1');
    } finally {
      release();
      held.mockRestore();
      queries.mockRestore();
    }
  });

  it('answers an unknown job or product with 404 as before', async () => {
    nextMinute();
    const { key } = await accountWithJob();
    const job = await ctx.get(key, '/v1/jobs/00000000-0000-4000-8000-000000000000');
    expect(job.statusCode).toBe(404);
    expect(job.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'Job not found.' });
    const product = await ctx.get(key, '/v1/products/4006381333931');
    expect(product.statusCode).toBe(404);
    expect(product.json()).toMatchObject({ error_code: 'NOT_FOUND' });
  });

  it('costs PostgreSQL no lookup for an account over its minute, past the request that found it so', async () => {
    nextMinute();
    const { key, jobId } = await accountWithJob();
    // The upload took one of the minute's 3 requests; these take the other two.
    for (let request = 0; request < 2; request += 1) expect((await ctx.get(key, `/v1/jobs/${jobId}`)).statusCode).toBe(200);
    const queries = vi.spyOn(ctx.apiDb, 'query');
    try {
      const refused = [];
      for (let request = 0; request < 5; request += 1) refused.push(await ctx.get(key, `/v1/jobs/${jobId}`));
      expect(refused.map((response) => response.json().error_code)).toEqual(Array(5).fill('RATE_LIMIT_EXCEEDED'));
      // Only the first refused request was looked up, while its account still had room at its last admission.
      expect(statements(queries).filter((name) => name === 'find-jobs').length).toBeLessThanOrEqual(1);
    } finally {
      queries.mockRestore();
    }
  });

  it('answers 429 for an account over its minute even when its lookup failed (unknown job), without an unhandled rejection', async () => {
    nextMinute();
    const { key } = await accountWithJob();
    const unknown = '/v1/jobs/00000000-0000-4000-8000-000000000000';
    for (let request = 0; request < 2; request += 1) expect((await ctx.get(key, unknown)).statusCode).toBe(404);
    const responses = await Promise.all(Array.from({ length: 3 }, () => ctx.get(key, unknown)));
    expect(responses.map((response) => response.json().error_code)).toEqual(Array(3).fill('RATE_LIMIT_EXCEEDED'));
  });

  it('looks nothing up for a key without the read scope, which gets 403', async () => {
    nextMinute();
    const { key, jobId } = await accountWithJob();
    const created = await ctx.app.inject({
      method: 'POST', url: '/v1/keys', headers: { 'x-api-key': key }, payload: { name: 'products only', scopes: ['products:read'] },
    });
    expect(created.statusCode).toBe(201);
    const reader = created.json<{ key: string }>().key;
    nextMinute();
    expect((await ctx.get(reader, '/v1/products/4006381333931')).statusCode).toBe(404);
    const queries = vi.spyOn(ctx.apiDb, 'query');
    try {
      const refused = await ctx.get(reader, `/v1/jobs/${jobId}`);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error_code).toBe('PERMISSION_DENIED');
      expect(statements(queries)).not.toContain('find-jobs');
    } finally {
      queries.mockRestore();
    }
  });
});
