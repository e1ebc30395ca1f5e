import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, post, uniqueEmail } from '../support/accounts.js';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, env: { TIER_LIMITS: JSON.stringify({ FREE: { per_minute: 60 }, PRO: { per_minute: 600 } }) } });
});
afterAll(async () => ctx?.close());

const admin = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, key = ADMIN_KEY) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, payload: payload as Record<string, unknown> });

describe('operator account routes', () => {
  it('verifies a self-service account, whose login then works', async () => {
    const email = uniqueEmail('opverify');
    const { id } = (await post(ctx, '/v1/signup', { email, password: PASSWORD })).json();
    expect((await post(ctx, '/v1/login', { email, password: PASSWORD })).statusCode).toBe(403);
    const response = await admin('POST', `/v1/admin/accounts/${id}/verify`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id, email, tier: 'FREE', email_verified: true, suspended: false });
    expect((await post(ctx, '/v1/login', { email, password: PASSWORD })).statusCode).toBe(200);
  });

  it('suspends an account (its keys get 403 ACCOUNT_SUSPENDED at once) and unsuspends it', async () => {
    const { id, key } = await ctx.createAccount();
    const suspended = await admin('POST', `/v1/admin/accounts/${id}/suspend`);
    expect(suspended.statusCode).toBe(200);
    expect(suspended.json().suspended).toBe(true);
    const refused = await ctx.get(key, '/v1/jobs');
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error_code: 'ACCOUNT_SUSPENDED', error: 'Account suspended.' });
    const unsuspended = await admin('POST', `/v1/admin/accounts/${id}/unsuspend`);
    expect(unsuspended.statusCode).toBe(200);
    expect(unsuspended.json().suspended).toBe(false);
    expect((await ctx.get(key, '/v1/jobs')).statusCode).toBe(200);
  });

  it("changes the tier with PATCH, and the account's limits with it", async () => {
    const { id, key } = await ctx.createAccount();
    expect((await ctx.get(key, '/v1/jobs')).headers['x-ratelimit-limit']).toBe('60');
    const response = await admin('PATCH', `/v1/admin/accounts/${id}`, { tier: 'PRO' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id, tier: 'PRO', email_verified: true, suspended: false });
    expect((await ctx.get(key, '/v1/jobs')).headers['x-ratelimit-limit']).toBe('600');
    expect((await ctx.get(key, '/v1/usage')).json().tier).toBe('PRO');
  });

  it('answers 400 BAD_REQUEST naming tier for an unknown tier (an unknown enum value), and keeps the tier', async () => {
    const { id } = await ctx.createAccount();
    const response = await admin('PATCH', `/v1/admin/accounts/${id}`, { tier: 'GOLD' });
    expect(response.statusCode).toBe(400);
    const message = 'The tier must be FREE, PRO or ENTERPRISE.';
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, errors: [{ field: 'tier', message }] });
    const missing = await admin('PATCH', `/v1/admin/accounts/${id}`, {});
    expect(missing.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'tier', message: 'The tier field is required.' }] });
    const { rows } = await ctx.db.query('SELECT tier FROM accounts WHERE id = $1', [id]);
    expect(rows[0].tier).toBe('FREE');
  });

  it('finds an account by its email as a login matches it (any case, white space around), and answers 404 for no account', async () => {
    const email = uniqueEmail('Shop.Finder').replace('@example.com', '@Example.COM');
    const { id } = (await post(ctx, '/v1/signup', { email, password: PASSWORD })).json();
    for (const asked of [email, email.toLowerCase(), `  ${email.toUpperCase()} `]) {
      const response = await admin('GET', `/v1/admin/accounts?email=${encodeURIComponent(asked)}`);
      expect(response.statusCode, asked).toBe(200);
      expect(response.json()).toEqual({ id, email, tier: 'FREE', email_verified: false, suspended: false });
    }
    const unknown = await admin('GET', `/v1/admin/accounts?email=${encodeURIComponent(uniqueEmail('nobody'))}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error_code: 'NOT_FOUND', error: 'No account has this email.' });
    const missing = await admin('GET', '/v1/admin/accounts');
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: "Invalid query parameter 'email': The email parameter is required." });
    const { key } = await ctx.createAccount();
    const refused = await admin('GET', `/v1/admin/accounts?email=${encodeURIComponent(email)}`, undefined, key);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'admin' scope." });
  });

  it('answers 404 NOT_FOUND for an unknown or malformed account id', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'nope']) {
      for (const url of [`/v1/admin/accounts/${id}/verify`, `/v1/admin/accounts/${id}/suspend`, `/v1/admin/accounts/${id}/unsuspend`]) {
        const response = await admin('POST', url);
        expect(response.statusCode, url).toBe(404);
        expect(response.json().error_code).toBe('NOT_FOUND');
      }
      expect((await admin('PATCH', `/v1/admin/accounts/${id}`, { tier: 'PRO' })).statusCode).toBe(404);
    }
  });

  it('refuses an account key with 403 PERMISSION_DENIED naming the admin scope', async () => {
    const { id, key } = await ctx.createAccount();
    for (const [method, url, payload] of [
      ['POST', `/v1/admin/accounts/${id}/verify`],
      ['POST', `/v1/admin/accounts/${id}/suspend`],
      ['POST', `/v1/admin/accounts/${id}/unsuspend`],
      ['PATCH', `/v1/admin/accounts/${id}`, { tier: 'ENTERPRISE' }],
    ] as const) {
      const response = await admin(method, url, payload, key);
      expect(response.statusCode, url).toBe(403);
      expect(response.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'admin' scope." });
    }
    const { rows } = await ctx.db.query('SELECT tier, suspended FROM accounts WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ tier: 'FREE', suspended: false });
  });
});
