import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, post, signUpAndLogIn, uniqueEmail, verificationTokenFor } from '../support/accounts.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
let now = Date.parse('2026-05-14T10:30:00Z');
const HOUR = 3600_000;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, clock: () => now });
});
afterAll(async () => ctx?.close());

const signup = (payload: unknown) => post(ctx, '/v1/signup', payload);
const login = (email: string, password = PASSWORD) => post(ctx, '/v1/login', { email, password });
const mailsTo = async (email: string) =>
  (await ctx.db.query<{ mails: number }>('SELECT count(*)::int AS mails FROM mail_outbox WHERE to_address = $1', [email])).rows[0]!.mails;

describe('POST /v1/signup', () => {
  it('creates an unverified FREE account and mails a verification link', async () => {
    const email = uniqueEmail('signup');
    const response = await signup({ email, password: PASSWORD });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ id: expect.any(String), email, tier: 'FREE', email_verified: false });
    const { rows } = await ctx.db.query('SELECT subject, body FROM mail_outbox WHERE to_address = $1', [email]);
    expect(rows).toHaveLength(1);
    expect(rows[0].body).toContain('http://localhost:3000/v1/verify-email?token=');
  });

  it('stores the password only as a memory-hard scrypt hash', async () => {
    const email = uniqueEmail('hash');
    await signup({ email, password: PASSWORD });
    const { rows } = await ctx.db.query<{ password_hash: string }>('SELECT password_hash FROM accounts WHERE email = $1', [email]);
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(rows[0]!.password_hash).not.toContain(PASSWORD);
  });

  it.each([
    ['a bad email', { email: 'not-an-email', password: PASSWORD }, 'email', 'The email field must be a valid email address.'],
    ['no email', { password: PASSWORD }, 'email', 'The email field is required.'],
    ['a password under 12 characters', { email: 'short@example.com', password: 'elevenchars' }, 'password', 'The password must be at least 12 characters long.'],
    ['no password', { email: 'nopass@example.com' }, 'password', 'The password field is required.'],
    ['a password that is not a string', { email: 'num@example.com', password: 123456789012 }, 'password', 'The password field must be a string.'],
    ['a password of 12 spaces', { email: 'spaces@example.com', password: ' '.repeat(12) }, 'password', 'The password must not be made of spaces only.'],
    ['a password of tabs, line breaks and spaces', { email: 'blank@example.com', password: ' \t\n \t\n \t\n\u00a0  ' }, 'password', 'The password must not be made of spaces only.'],
    ['a password of one repeated character', { email: 'repeat@example.com', password: 'a'.repeat(20) }, 'password', 'The password must use at least 4 different characters.'],
    ['a password of three alternating characters', { email: 'abc@example.com', password: 'abcabcabcabc' }, 'password', 'The password must use at least 4 different characters.'],
  ])('answers 400 VALIDATION_ERROR naming the field for %s', async (_case, payload, field, message) => {
    const response = await signup(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: message, detail: message, errors: [{ field, message }] });
  });

  it('answers 409 EMAIL_TAKEN for a registered email in any case', async () => {
    const email = uniqueEmail('taken');
    expect((await signup({ email, password: PASSWORD })).statusCode).toBe(201);
    const again = await signup({ email: email.toUpperCase(), password: PASSWORD });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error_code: 'EMAIL_TAKEN', error: 'An account with this email already exists.' });
  });
});

describe('POST /v1/verify-email', () => {
  it('marks the account verified, once', async () => {
    const email = uniqueEmail('verify');
    await signup({ email, password: PASSWORD });
    const token = await verificationTokenFor(ctx, email);
    const response = await post(ctx, '/v1/verify-email', { token });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email_verified: true });
    const { rows } = await ctx.db.query('SELECT email_verified FROM accounts WHERE email = $1', [email]);
    expect(rows[0].email_verified).toBe(true);
    const again = await post(ctx, '/v1/verify-email', { token });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', errors: [{ field: 'token' }] });
  });

  it('works as the GET link of the mail too', async () => {
    const email = uniqueEmail('link');
    await signup({ email, password: PASSWORD });
    const token = await verificationTokenFor(ctx, email);
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/verify-email?token=${token}` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ email_verified: true });
  });

  it.each([
    ['no token', {}, 'The token field is required.'],
    ['a token over 200 characters', { token: 'a'.repeat(201) }, 'The token field must be at most 200 characters.'],
    ['a token that is not a string', { token: 42 }, 'The token field must be a string.'],
  ])('answers 400 VALIDATION_ERROR naming the problem for %s', async (_case, payload, message) => {
    const response = await post(ctx, '/v1/verify-email', payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: message, errors: [{ field: 'token', message }] });
  });

  it.each([
    ['a token given twice', '?token=a&token=b', 'The token parameter must be given once.'],
    ['a token over 200 characters', `?token=${'a'.repeat(201)}`, 'The token field must be at most 200 characters.'],
    ['no token', '', 'The token field is required.'],
  ])('answers the GET link with 400 naming the problem for %s', async (_case, query, message) => {
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/verify-email${query}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe(`Invalid query parameter 'token': ${message}`);
  });

  it('answers 400 for an unknown token and for a token older than 24 hours', async () => {
    expect((await post(ctx, '/v1/verify-email', { token: 'nope' })).statusCode).toBe(400);
    const email = uniqueEmail('expired');
    await signup({ email, password: PASSWORD });
    const token = await verificationTokenFor(ctx, email);
    now += 24 * HOUR + 1000;
    try {
      const response = await post(ctx, '/v1/verify-email', { token });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe('The verification token is unknown, already used or expired.');
    } finally {
      now -= 24 * HOUR + 1000;
    }
  });
});

describe('POST /v1/login', () => {
  it('gives a session token valid for one hour', async () => {
    const email = uniqueEmail('login');
    await signUpAndLogIn(ctx, email);
    const response = await login(email);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.token).toMatch(/^cs_[\w-]{43}$/);
    expect(body.expires_at).toBe(new Date(now + HOUR).toISOString().replace(/\.\d{3}Z$/, 'Z'));
  });

  it('gives a session that works on /v1/keys, /v1/callback-secret and /v1/usage, and elsewhere is 403 naming each of them', async () => {
    const { session } = await signUpAndLogIn(ctx);
    const authorization = `Bearer ${session}`;
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization } })).statusCode).toBe(200);
    expect((await post(ctx, '/v1/callback-secret', {}, { authorization })).statusCode).toBe(201);
    const key = await post(ctx, '/v1/keys', { name: 'from a session' }, { authorization });
    expect(key.statusCode).toBe(201);
    const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${key.json().id}`, headers: { authorization } });
    expect(revoked.statusCode).toBe(204);
    const refused = await ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers: { authorization } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({
      error_code: 'PERMISSION_DENIED',
      error: 'A login session is valid only for /v1/keys, /v1/keys/{id}, /v1/callback-secret and /v1/usage: create an API key for this route.',
    });
  });

  it('answers the same 401 INVALID_CREDENTIALS for a wrong password and an unknown email', async () => {
    const { email } = await signUpAndLogIn(ctx);
    const wrong = await login(email, 'wrong password 123');
    const unknown = await login(uniqueEmail('nobody'));
    for (const response of [wrong, unknown]) {
      expect(response.statusCode).toBe(401);
      expect({ ...response.json(), timestamp: undefined }).toEqual({
        error: 'Invalid email or password.',
        detail: 'Invalid email or password.',
        error_code: 'INVALID_CREDENTIALS',
        timestamp: undefined,
      });
    }
  });

  it.each([
    ['no email', { password: PASSWORD }, 'email', 'The email field is required.'],
    ['no password', { email: 'bob@example.com' }, 'password', 'The password field is required.'],
    ['an email over 320 characters', { email: `${'a'.repeat(309)}@example.com`, password: PASSWORD }, 'email', 'The email field must be at most 320 characters.'],
    ['a password over 1024 characters', { email: 'bob@example.com', password: 'a'.repeat(1100) }, 'password', 'The password must be at most 1024 characters long.'],
    ['a password that is not a string', { email: 'bob@example.com', password: 123456789012 }, 'password', 'The password field must be a string.'],
  ])('answers 400 VALIDATION_ERROR naming the problem for %s', async (_case, payload, field, message) => {
    const response = await post(ctx, '/v1/login', payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', error: message, errors: [{ field, message }] });
  });

  it('answers 403 EMAIL_NOT_VERIFIED with the right password before verification', async () => {
    const email = uniqueEmail('unverified');
    await signup({ email, password: PASSWORD });
    const response = await login(email);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error_code: 'EMAIL_NOT_VERIFIED', error: 'Email not verified.' });
  });

  it('mails a new link to an unverified account whose link expired, on a login with the right password', async () => {
    const email = uniqueEmail('relink');
    await signup({ email, password: PASSWORD });
    const expired = await verificationTokenFor(ctx, email);
    const start = now;
    try {
      now = start + 24 * HOUR + 1000;
      expect((await post(ctx, '/v1/verify-email', { token: expired })).statusCode).toBe(400);
      expect((await signup({ email, password: PASSWORD })).statusCode).toBe(409);
      // Logins at once: each answers as before, and one new link goes out.
      const responses = await Promise.all([login(email), login(email), login(email)]);
      for (const response of responses) {
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ error_code: 'EMAIL_NOT_VERIFIED', error: 'Email not verified.' });
      }
      expect(await mailsTo(email)).toBe(2);
      const fresh = await verificationTokenFor(ctx, email);
      expect(fresh).not.toBe(expired);
      expect((await post(ctx, '/v1/verify-email', { token: fresh })).statusCode).toBe(200);
      expect((await login(email)).statusCode).toBe(200);
    } finally {
      now = start;
    }
  });

  it('mails at most one new link every 15 minutes, and none for a wrong password', async () => {
    const email = uniqueEmail('relimit');
    await signup({ email, password: PASSWORD });
    const start = now;
    try {
      expect((await login(email)).statusCode).toBe(403);
      expect(await mailsTo(email)).toBe(1); // the signup's link went out just now
      now = start + 15 * 60_000 - 1000;
      expect((await login(email)).statusCode).toBe(403);
      expect(await mailsTo(email)).toBe(1);
      now = start + 15 * 60_000;
      expect((await login(email, 'wrong password 123')).statusCode).toBe(401);
      expect(await mailsTo(email)).toBe(1);
      expect((await login(email)).statusCode).toBe(403);
      expect(await mailsTo(email)).toBe(2);
      now = start + 29 * 60_000;
      expect((await login(email)).statusCode).toBe(403);
      expect(await mailsTo(email)).toBe(2);
    } finally {
      now = start;
    }
  });

  it('answers 403 ACCOUNT_SUSPENDED for a suspended account', async () => {
    const { id, email } = await signUpAndLogIn(ctx);
    await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [id]);
    const response = await login(email);
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('ACCOUNT_SUSPENDED');
  });

  it('locks the account for 15 minutes after 5 failures within 15 minutes, even for the right password', async () => {
    const { email } = await signUpAndLogIn(ctx);
    const start = now;
    try {
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        now = start + attempt * 60_000; // one a minute: all five within 15 minutes
        expect((await login(email, 'wrong password 123')).statusCode).toBe(401);
      }
      const lockedAt = now;
      now = lockedAt + 60_000;
      const locked = await login(email);
      expect(locked.statusCode).toBe(423);
      expect(locked.json()).toMatchObject({ error_code: 'ACCOUNT_LOCKED', retry_after_seconds: 14 * 60 });
      expect(locked.json().error).toMatch(/^Account locked/);
      expect(locked.headers['retry-after']).toBeUndefined();

      now = lockedAt + 15 * 60_000 - 1000;
      expect((await login(email)).statusCode).toBe(423);
      now = lockedAt + 15 * 60_000;
      expect((await login(email)).statusCode).toBe(200);
    } finally {
      now = start;
    }
  });

  it('does not lock when the failures are spread over more than 15 minutes', async () => {
    const { email } = await signUpAndLogIn(ctx);
    const start = now;
    try {
      for (let attempt = 0; attempt < 6; attempt += 1) {
        now = start + attempt * 4 * 60_000; // every 4 minutes: never 5 within 15
        expect((await login(email, 'wrong password 123')).statusCode).toBe(401);
      }
      expect((await login(email)).statusCode).toBe(200);
    } finally {
      now = start;
    }
  });

  it('forgets earlier failures after a successful login', async () => {
    const { email } = await signUpAndLogIn(ctx);
    for (let attempt = 0; attempt < 4; attempt += 1) await login(email, 'wrong password 123');
    expect((await login(email)).statusCode).toBe(200);
    for (let attempt = 0; attempt < 4; attempt += 1) expect((await login(email, 'wrong password 123')).statusCode).toBe(401);
    expect((await login(email)).statusCode).toBe(200);
  });
});

describe('a login session', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('works for /v1/keys and /v1/usage only', async () => {
    const { session } = await signUpAndLogIn(ctx);
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(session) })).statusCode).toBe(200);
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/usage', headers: bearer(session) })).statusCode).toBe(200);
    const jobs = await ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers: bearer(session) });
    expect(jobs.statusCode).toBe(403);
    expect(jobs.json().error_code).toBe('PERMISSION_DENIED');
    expect(jobs.json().error).toContain('/v1/keys');
  });

  it('creates a key that works on the catalog routes', async () => {
    const { session } = await signUpAndLogIn(ctx);
    const created = await post(ctx, '/v1/keys', { name: 'ci' }, bearer(session));
    expect(created.statusCode).toBe(201);
    expect((await ctx.get(created.json().key, '/v1/jobs')).statusCode).toBe(200);
  });

  it('expires after one hour with 401 API_KEY_EXPIRED', async () => {
    const { session } = await signUpAndLogIn(ctx);
    const start = now;
    try {
      now = start + HOUR - 1000;
      expect((await ctx.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(session) })).statusCode).toBe(200);
      now = start + HOUR;
      const expired = await ctx.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(session) });
      expect(expired.statusCode).toBe(401);
      expect(expired.json()).toMatchObject({ error_code: 'API_KEY_EXPIRED', error: 'API key expired.' });
    } finally {
      now = start;
    }
  });

  it('answers 401 INVALID_API_KEY for an unknown session token', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/v1/keys', headers: bearer(`cs_${'A'.repeat(43)}`) });
    expect(response.statusCode).toBe(401);
    expect(response.json().error_code).toBe('INVALID_API_KEY');
  });
});
