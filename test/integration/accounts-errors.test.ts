import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, post, signUpAndLogIn, uniqueEmail } from '../support/accounts.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

/**
 * Every row of API.md §1 about credentials, accounts and limits, walked as a table: status,
 * error_code, the exact `error` (or its prefix where the contract ends in …), the envelope and
 * the extra fields.
 */
let ctx: TestContext;
let now = Date.parse('2026-05-14T10:30:20Z');

beforeAll(async () => {
  ctx = await createTestContext({
    workers: false,
    clock: () => now,
    env: {
      TIER_LIMITS: JSON.stringify({ FREE: { per_minute: 3, monthly: 1_000_000 }, PRO: { per_minute: 100, monthly: 2 } }),
      UNAUTHENTICATED_RATE_PER_MINUTE: '30',
      INVALID_KEY_RATE_PER_MINUTE: '10',
    },
  });
});
afterAll(async () => ctx?.close());

const nextMinute = () => {
  now = (Math.floor(now / 60_000) + 1) * 60_000 + 20_000;
};
const jobs = (headers: Record<string, string>) => ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers });
const repeat = async (times: number, send: () => Promise<LightMyRequestResponse>) => {
  let last: LightMyRequestResponse | undefined;
  for (let index = 0; index < times; index += 1) last = await send();
  return last!;
};

interface Row {
  status: number;
  code: string;
  error: string | RegExp;
  extras?: Record<string, unknown>;
  retryAfterHeader?: boolean;
  send: () => Promise<LightMyRequestResponse>;
}

const rows: Record<string, Row> = {
  'no key': { status: 401, code: 'AUTHENTICATION_REQUIRED', error: /^Missing API key/, send: () => jobs({}) },
  'an unknown key': { status: 401, code: 'INVALID_API_KEY', error: 'Invalid API key.', send: () => jobs({ 'x-api-key': 'ck_unknown' }) },
  'an expired key': {
    status: 401,
    code: 'API_KEY_EXPIRED',
    error: 'API key expired.',
    send: async () => {
      const { id, key } = await ctx.createAccount();
      await ctx.db.query("UPDATE api_keys SET expires_at = '2026-05-14T10:00:00Z' WHERE account_id = $1", [id]);
      return jobs({ 'x-api-key': key });
    },
  },
  'a wrong password': {
    status: 401,
    code: 'INVALID_CREDENTIALS',
    error: 'Invalid email or password.',
    send: () => post(ctx, '/v1/login', { email: uniqueEmail(), password: PASSWORD }),
  },
  'a key of an unverified account': {
    status: 403,
    code: 'EMAIL_NOT_VERIFIED',
    error: 'Email not verified.',
    send: async () => {
      const { id, key } = await ctx.createAccount();
      await ctx.db.query('UPDATE accounts SET email_verified = false WHERE id = $1', [id]);
      return jobs({ 'x-api-key': key });
    },
  },
  'a key of a suspended account': {
    status: 403,
    code: 'ACCOUNT_SUSPENDED',
    error: 'Account suspended.',
    send: async () => {
      const { id, key } = await ctx.createAccount();
      await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [id]);
      return jobs({ 'x-api-key': key });
    },
  },
  'a key without the scope': {
    status: 403,
    code: 'PERMISSION_DENIED',
    error: "This key lacks the 'jobs:read' scope.",
    send: async () => {
      const { key } = await ctx.createAccount();
      const reader = await post(ctx, '/v1/keys', { name: 'r', scopes: ['products:read'] }, { 'x-api-key': key });
      return jobs({ 'x-api-key': reader.json().key });
    },
  },
  'a signup with a weak password': {
    status: 400,
    code: 'VALIDATION_ERROR',
    error: 'The password must be at least 12 characters long.',
    extras: { errors: [{ field: 'password', message: 'The password must be at least 12 characters long.' }] },
    send: () => post(ctx, '/v1/signup', { email: uniqueEmail(), password: 'short' }),
  },
  'a key with a past expires_at': {
    status: 400,
    code: 'VALIDATION_ERROR',
    error: 'The expires_at field must be in the future.',
    extras: { errors: [{ field: 'expires_at', message: 'The expires_at field must be in the future.' }] },
    send: async () => post(ctx, '/v1/keys', { name: 'k', expires_at: '2020-01-01T00:00:00Z' }, { 'x-api-key': (await ctx.createAccount()).key }),
  },
  'a signup with a taken email': {
    status: 409,
    code: 'EMAIL_TAKEN',
    error: 'An account with this email already exists.',
    send: async () => {
      const email = uniqueEmail();
      await post(ctx, '/v1/signup', { email, password: PASSWORD });
      return post(ctx, '/v1/signup', { email, password: PASSWORD });
    },
  },
  'a login to a locked account': {
    status: 423,
    code: 'ACCOUNT_LOCKED',
    error: /^Account locked/,
    extras: { retry_after_seconds: 900 },
    send: async () => {
      const { email } = await signUpAndLogIn(ctx);
      await repeat(5, () => post(ctx, '/v1/login', { email, password: 'wrong password 1' }));
      return post(ctx, '/v1/login', { email, password: PASSWORD });
    },
  },
  'the 4th request in a minute on a key whose tier allows 3': {
    status: 429,
    code: 'RATE_LIMIT_EXCEEDED',
    error: 'Per-minute rate limit exceeded.',
    extras: { retry_after_seconds: 40 },
    retryAfterHeader: true,
    send: async () => {
      const { key } = await ctx.createAccount();
      return repeat(4, () => jobs({ 'x-api-key': key }));
    },
  },
  'the 31st request without a key in a minute': {
    status: 429,
    code: 'RATE_LIMIT_EXCEEDED',
    error: /^Too many unauthenticated API requests/,
    extras: { retry_after_seconds: 40 },
    retryAfterHeader: true,
    send: () => repeat(31, () => jobs({})),
  },
  'the 11th invalid key in a minute': {
    status: 429,
    code: 'RATE_LIMIT_EXCEEDED',
    error: /^Too many invalid API key attempts/,
    extras: { retry_after_seconds: 40 },
    retryAfterHeader: true,
    send: () => repeat(11, () => jobs({ 'x-api-key': 'ck_wrong' })),
  },
  'a request past the monthly quota': {
    status: 429,
    code: 'QUOTA_EXCEEDED',
    error: 'Monthly quota exceeded.',
    extras: { limit: 2, tier: 'PRO' },
    retryAfterHeader: false,
    send: async () => {
      const { id, key } = await ctx.createAccount();
      await ctx.db.query("UPDATE accounts SET tier = 'PRO' WHERE id = $1", [id]);
      return repeat(3, () => jobs({ 'x-api-key': key }));
    },
  },
};

describe('API.md §1: credential, account and limit errors', () => {
  it.each(Object.entries(rows))('%s', async (_name, row) => {
    nextMinute();
    const response = await row.send();
    expect(response.statusCode).toBe(row.status);
    const body = response.json();
    expect(body.error_code).toBe(row.code);
    if (typeof row.error === 'string') expect(body.error).toBe(row.error);
    else expect(body.error).toMatch(row.error);
    expect(body.detail).toBe(body.error);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    if (row.extras) expect(body).toMatchObject(row.extras);
    if (row.status === 429) expect(body.retry_after_seconds).toEqual(expect.any(Number));
    if (row.retryAfterHeader !== undefined) {
      expect(response.headers['retry-after']).toBe(row.retryAfterHeader ? String(body.retry_after_seconds) : undefined);
    }
    expect(response.body).not.toMatch(/at .*\.ts|SELECT|INSERT/);
  });
});
