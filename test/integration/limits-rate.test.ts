import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signUpAndLogIn } from '../support/accounts.js';
import { waitFor } from '../support/recovery-support.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
// Mid-minute, so that a test's requests all fall in one window until it moves the clock.
let now = Date.parse('2026-05-14T10:30:20Z');

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    clock: () => now,
    env: {
      TIER_LIMITS: JSON.stringify({
        FREE: { per_minute: 60, monthly: 1_000_000 },
        PRO: { per_minute: 600, monthly: 5 },
        ENTERPRISE: { per_minute: 4, monthly: 2 },
      }),
      UNAUTHENTICATED_RATE_PER_MINUTE: '30',
      INVALID_KEY_RATE_PER_MINUTE: '10',
    },
  });
});
afterAll(async () => ctx?.close());

/** A GET /v1/jobs with `key` from the address that guesses keys (ctx.get comes from another one). */
const guess = (key: string) =>
  ctx.app.inject({ method: 'GET', url: '/v1/jobs', remoteAddress: '198.51.100.20', headers: { 'x-api-key': key } });

/** Moves the clock to the next minute window, 20 s into it. */
const nextMinute = () => {
  now = (Math.floor(now / 60_000) + 1) * 60_000 + 20_000;
};

/** The account's rows of usage_counters once the API has written `used` requests there (about every second). */
const durableCounts = (id: string, used: number) =>
  waitFor(`${used} requests in usage_counters`, async () => {
    const { rows } = await ctx.db.query('SELECT month, used FROM usage_counters WHERE account_id = $1', [id]);
    return rows.reduce((sum, row) => sum + Number(row.used), 0) >= used ? rows : undefined;
  }, 10_000);

describe('per-minute rate limit', () => {
  it('answers the 61st request in a minute on a FREE key with 429, while another account is unaffected', async () => {
    nextMinute();
    const busy = await ctx.createAccount();
    const quiet = await ctx.createAccount();
    for (let request = 1; request <= 60; request += 1) {
      const response = await ctx.get(busy.key, '/v1/jobs');
      expect(response.statusCode, `request ${request}`).toBe(200);
      expect(response.headers['x-ratelimit-remaining']).toBe(String(60 - request));
    }
    const limited = await ctx.get(busy.key, '/v1/jobs');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({
      error_code: 'RATE_LIMIT_EXCEEDED',
      error: 'Per-minute rate limit exceeded.',
      detail: 'Per-minute rate limit exceeded.',
      retry_after_seconds: 40,
    });
    expect(limited.headers['retry-after']).toBe('40');
    expect(limited.headers['x-ratelimit-limit']).toBe('60');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe('40');

    expect((await ctx.get(quiet.key, '/v1/jobs')).statusCode).toBe(200);
    nextMinute();
    expect((await ctx.get(busy.key, '/v1/jobs')).statusCode).toBe(200);
  });

  it('counts a request the minute refuses toward the month too, as every authenticated request', async () => {
    nextMinute();
    const { id, key } = await ctx.createAccount();
    const codes: number[] = [];
    for (let request = 0; request < 63; request += 1) codes.push((await ctx.get(key, '/v1/jobs')).statusCode);
    expect(codes.filter((code) => code === 429)).toHaveLength(3);
    nextMinute();
    expect((await ctx.get(key, '/v1/usage')).json()).toMatchObject({ used: 64 });
    expect(await durableCounts(id, 64)).toEqual([{ month: '2026-05', used: 64 }]);
  });

  it('is shared by all keys of an account', async () => {
    nextMinute();
    const account = await ctx.createAccount();
    const second = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': account.key }, payload: { name: 'two' } });
    const other = second.json().key;
    for (let request = 1; request < 60; request += 1) await ctx.get(request % 2 ? account.key : other, '/v1/jobs');
    expect((await ctx.get(other, '/v1/jobs')).statusCode).toBe(429);
    expect((await ctx.get(account.key, '/v1/jobs')).statusCode).toBe(429);
  });

  it('sends X-RateLimit-Limit, -Remaining and -Reset on authenticated responses, errors included', async () => {
    nextMinute();
    const { key } = await ctx.createAccount();
    const ok = await ctx.get(key, '/v1/jobs');
    expect(ok.headers).toMatchObject({ 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '59', 'x-ratelimit-reset': '40' });
    const missing = await ctx.get(key, '/v1/products/0000');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers).toMatchObject({ 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '58' });
  });

  it('does not count the operator key', async () => {
    nextMinute();
    for (let request = 0; request < 70; request += 1) {
      const response = await ctx.app.inject({ method: 'POST', url: '/v1/admin/accounts/00000000-0000-0000-0000-000000000000/verify', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(response.statusCode).toBe(404);
    }
  });
});

describe("a key that uses up the account's limits", () => {
  it("does not keep the owner's login session from listing and revoking it, over the minute and over the month", async () => {
    nextMinute();
    const { id, session } = await signUpAndLogIn(ctx);
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${session}` }, payload: { name: 'leaked' } });
    const leaked = created.json<{ id: string; key: string }>();
    const second = (await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${session}` }, payload: { name: 'second' } })).json<{ id: string; key: string }>();
    for (let request = 0; request < 58; request += 1) await ctx.get(leaked.key, '/v1/jobs');
    expect((await ctx.get(leaked.key, '/v1/jobs')).statusCode).toBe(429);
    const asOwner = (method: 'GET' | 'DELETE', url: string) => ctx.app.inject({ method, url, headers: { authorization: `Bearer ${session}` } });
    expect((await asOwner('GET', '/v1/keys')).statusCode).toBe(200);
    // Creating keys stays limited, session or not.
    const more = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { authorization: `Bearer ${session}` }, payload: { name: 'more' } });
    expect(more.statusCode).toBe(429);
    expect((await asOwner('DELETE', `/v1/keys/${leaked.id}`)).statusCode).toBe(204);
    expect((await ctx.get(leaked.key, '/v1/jobs')).json().error_code).toBe('INVALID_API_KEY');

    // PRO's quota here is 5, which the requests above have used up.
    nextMinute();
    await ctx.db.query("UPDATE accounts SET tier = 'PRO' WHERE id = $1", [id]);
    expect((await ctx.get(second.key, '/v1/jobs')).json().error_code).toBe('QUOTA_EXCEEDED');
    const usage = (await asOwner('GET', '/v1/usage')).json<{ used: number; limit: number }>();
    expect(usage.used).toBeGreaterThan(usage.limit);
    expect((await asOwner('DELETE', `/v1/keys/${second.id}`)).statusCode).toBe(204);
    // Over the quota, the session's requests go through without being counted in the month.
    expect((await asOwner('GET', '/v1/usage')).json()).toMatchObject({ used: usage.used });
  });
});

describe('per-address limits', () => {
  it('answers the 31st request without a key in a minute with 429 and Retry-After', async () => {
    nextMinute();
    for (let request = 1; request <= 30; request += 1) {
      expect((await ctx.app.inject({ method: 'GET', url: '/v1/jobs' })).statusCode).toBe(401);
    }
    const limited = await ctx.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error_code).toBe('RATE_LIMIT_EXCEEDED');
    expect(limited.json().error).toMatch(/^Too many unauthenticated API requests/);
    expect(limited.json().retry_after_seconds).toBe(40);
    expect(limited.headers['retry-after']).toBe('40');
    // Login and signup count as unauthenticated requests too.
    expect((await ctx.app.inject({ method: 'POST', url: '/v1/login', payload: { email: 'a@example.com', password: 'x' } })).statusCode).toBe(429);
    // A valid key from the same address is not affected.
    const { key } = await ctx.createAccount();
    expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
  });

  it('answers the 11th invalid key in a minute with 429 instead of 401', async () => {
    nextMinute();
    for (let request = 1; request <= 10; request += 1) {
      const response = await guess(`ck_guess${request}`);
      expect(response.statusCode).toBe(401);
      expect(response.json().error_code).toBe('INVALID_API_KEY');
    }
    const limited = await guess('ck_guess11');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error_code).toBe('RATE_LIMIT_EXCEEDED');
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
    expect(limited.headers['retry-after']).toBe('40');
    // A valid key from another address is not affected.
    const { key } = await ctx.createAccount();
    expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
  });

  it('refuses past the limit a valid key the address has not used yet, so a right guess gets the same 429', async () => {
    nextMinute();
    const used = await ctx.createAccount();
    const unused = await ctx.createAccount();
    expect((await guess(used.key)).statusCode).toBe(200);
    for (let request = 1; request <= 10; request += 1) expect((await guess(`ck_guess${request}`)).statusCode).toBe(401);
    const limited = await guess(unused.key);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error_code: 'RATE_LIMIT_EXCEEDED', retry_after_seconds: 40 });
    expect(limited.json().error).toMatch(/^Too many invalid API key attempts/);
    expect(limited.headers['retry-after']).toBe('40');
    // A login session is refused alike; the operator key too (checked in limits-addresses).
    const { session } = await signUpAndLogIn(ctx);
    expect((await guess(session)).statusCode).toBe(429);
    // The key already used from the address keeps working while its neighbour guesses.
    expect((await guess(used.key)).statusCode).toBe(200);
    expect((await ctx.get(unused.key, '/v1/jobs')).statusCode).toBe(200);
    nextMinute();
    expect((await guess(unused.key)).statusCode).toBe(200);
  });
});

describe('monthly quota', () => {
  const proAccount = async () => {
    const account = await ctx.createAccount();
    await ctx.db.query("UPDATE accounts SET tier = 'PRO' WHERE id = $1", [account.id]);
    return account;
  };

  it('answers 429 QUOTA_EXCEEDED with limit and tier and no Retry-After once the month is used up', async () => {
    nextMinute();
    const { id, key } = await proAccount();
    for (let request = 0; request < 5; request += 1) expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
    const over = await ctx.get(key, '/v1/jobs');
    expect(over.statusCode).toBe(429);
    const secondsToJune = (Date.parse('2026-06-01T00:00:00Z') - now) / 1000;
    expect(over.json()).toMatchObject({
      error_code: 'QUOTA_EXCEEDED',
      error: 'Monthly quota exceeded.',
      detail: 'Monthly quota exceeded.',
      limit: 5,
      tier: 'PRO',
      retry_after_seconds: Math.ceil(secondsToJune),
    });
    expect(over.headers['retry-after']).toBeUndefined();
    expect(await durableCounts(id, 5)).toEqual([{ month: '2026-05', used: 5 }]);
  });

  it('starts again in the next calendar month (UTC)', async () => {
    const start = now;
    try {
      const { key } = await proAccount();
      for (let request = 0; request < 5; request += 1) await ctx.get(key, '/v1/jobs');
      expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(429);
      now = Date.parse('2026-06-01T00:00:20Z');
      expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
    } finally {
      now = start;
    }
  });

  it('counts 20 concurrent requests exactly 20 times', async () => {
    nextMinute();
    const { id, key } = await ctx.createAccount();
    const responses = await Promise.all(Array.from({ length: 20 }, () => ctx.get(key, '/v1/jobs')));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(200));
    const remaining = responses.map((response) => Number(response.headers['x-ratelimit-remaining'])).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 20 }, (_, index) => 40 + index));
    expect(await durableCounts(id, 20)).toEqual([{ month: '2026-05', used: 20 }]);
    const usage = await ctx.get(key, '/v1/usage');
    expect(usage.json().used).toBe(21);
  });

  it('lets exactly the quota through when concurrent requests race past it', async () => {
    nextMinute();
    const { key } = await proAccount();
    const responses = await Promise.all(Array.from({ length: 20 }, () => ctx.get(key, '/v1/jobs')));
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 200)).toHaveLength(5);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
  });

  it('admits requests of several accounts arriving together each against its own limits, in shared Redis calls', async () => {
    nextMinute();
    const busy = await ctx.createAccount();
    const capped = await proAccount();
    const calm = await ctx.createAccount();
    for (const account of [busy, capped, calm]) await ctx.get(account.key, '/v1/usage');
    const admissions = vi.spyOn(ctx.redis as unknown as { limitsAdmit: (...args: unknown[]) => Promise<unknown> }, 'limitsAdmit');
    try {
      const requests = [
        ...Array.from({ length: 70 }, () => busy.key),
        ...Array.from({ length: 8 }, () => capped.key),
        ...Array.from({ length: 3 }, () => calm.key),
      ];
      const responses = await Promise.all(requests.map((key) => ctx.get(key, '/v1/jobs')));
      const outcomes = (key: string) => {
        const codes = responses.filter((_, index) => requests[index] === key).map((response) => response.json().error_code ?? 'ok');
        return Object.fromEntries([...new Set(codes)].map((code) => [code, codes.filter((other) => other === code).length]));
      };
      // The usage call above took one of each account's minute and, for the PRO account, one of its 5.
      expect(outcomes(busy.key)).toEqual({ ok: 59, RATE_LIMIT_EXCEEDED: 11 });
      expect(outcomes(capped.key)).toEqual({ ok: 4, QUOTA_EXCEEDED: 4 });
      expect(outcomes(calm.key)).toEqual({ ok: 3 });
      expect(admissions.mock.calls.length).toBeGreaterThan(0);
      expect(admissions.mock.calls.length).toBeLessThan(requests.length / 4);
      // Each run counts an account's requests together: two keys per account, never per request.
      for (const [keys] of admissions.mock.calls) expect(keys).toBeLessThanOrEqual(6);
    } finally {
      admissions.mockRestore();
    }
  });

  it('answers the requests of one account arriving together in order: within both limits, over the quota, over the minute', async () => {
    nextMinute();
    const { id, key } = await ctx.createAccount();
    await ctx.db.query("UPDATE accounts SET tier = 'ENTERPRISE' WHERE id = $1", [id]);
    const responses = await Promise.all(Array.from({ length: 7 }, () => ctx.get(key, '/v1/jobs')));
    const codes = responses.map((response) => response.json().error_code ?? 'ok').sort();
    expect(codes).toEqual(['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED', 'RATE_LIMIT_EXCEEDED', 'RATE_LIMIT_EXCEEDED', 'RATE_LIMIT_EXCEEDED', 'ok', 'ok']);
    const remaining = responses.map((response) => Number(response.headers['x-ratelimit-remaining'])).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 0, 0, 0, 1, 2, 3]);
    // The per-minute 429s are the last four of the minute (counts 4 to 7), the month has the two admitted.
    const byCode = (code: string) => responses.filter((response) => (response.json().error_code ?? 'ok') === code);
    expect(byCode('ok').map((response) => Number(response.headers['x-ratelimit-remaining'])).sort()).toEqual([2, 3]);
    expect(await durableCounts(id, 2)).toEqual([{ month: '2026-05', used: 2 }]);
  });
});
