import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ workers: false });
});
afterAll(async () => ctx?.close());

/** GET /v1/jobs (scope jobs:read) with the given headers. */
const listJobs = (headers: Record<string, string> = {}) => ctx.app.inject({ method: 'GET', url: '/v1/jobs', headers });

/** The error body without its timestamp, for comparing two errors. */
const withoutTimestamp = (body: Record<string, unknown>) => ({ ...body, timestamp: undefined });

const createAccount = (payload: unknown, key = ADMIN_KEY) =>
  ctx.app.inject({
    method: 'POST',
    url: '/v1/admin/accounts',
    headers: { authorization: `Bearer ${key}` },
    payload: payload as Record<string, unknown>,
  });

const uniqueEmail = () => `auth-${randomBytes(4).toString('hex')}@example.com`;

describe('API key authentication', () => {
  it('answers 401 AUTHENTICATION_REQUIRED when no key is sent', async () => {
    const variants: Array<Record<string, string>> = [{}, { 'x-api-key': '' }, { 'x-api-key': '   ' }];
    for (const headers of variants) {
      const response = await listJobs(headers);
      expect(response.statusCode).toBe(401);
      const body = response.json();
      expect(body.error_code).toBe('AUTHENTICATION_REQUIRED');
      expect(body.error).toMatch(/^Missing API key/);
      expect(body.detail).toBe(body.error);
    }
  });

  it('accepts the key as Authorization: Bearer and as X-API-Key', async () => {
    const { key } = await ctx.createAccount();
    expect((await listJobs({ authorization: `Bearer ${key}` })).statusCode).toBe(200);
    expect((await listJobs({ authorization: `bearer ${key}` })).statusCode).toBe(200);
    expect((await listJobs({ 'x-api-key': key })).statusCode).toBe(200);
  });

  it('reads only a Bearer Authorization as a key: another scheme leaves X-API-Key in force, and alone is a missing key', async () => {
    const { key } = await ctx.createAccount();
    const basic = `Basic ${Buffer.from('proxy-user:proxy-password').toString('base64')}`;
    for (const authorization of [basic, 'Digest username="proxy"', 'Bearer']) {
      expect((await listJobs({ authorization, 'x-api-key': key })).statusCode, authorization).toBe(200);
      const alone = await listJobs({ authorization });
      expect(alone.statusCode, authorization).toBe(401);
      expect(alone.json().error_code).toBe('AUTHENTICATION_REQUIRED');
      expect(alone.json().error).toMatch(/^Missing API key/);
    }
    // A Bearer credential is still the one that counts when both are sent.
    expect((await listJobs({ authorization: 'Bearer ck_not_a_key', 'x-api-key': key })).json().error_code).toBe('INVALID_API_KEY');
  });

  it('answers the same 401 INVALID_API_KEY for unknown, malformed, mismatched, deleted and revoked keys', async () => {
    const revoked = await ctx.createAccount();
    await ctx.db.query('UPDATE api_keys SET revoked_at = now() WHERE account_id = $1', [revoked.id]);
    const deleted = await ctx.createAccount();
    await ctx.db.query('DELETE FROM api_keys WHERE account_id = $1', [deleted.id]);
    const real = await ctx.createAccount();
    // Same stored prefix as a real key, different secret: found by prefix, rejected by hash.
    const mismatched = real.key.slice(0, -4) + (real.key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const keys = {
      unknown: `ck_${randomBytes(32).toString('base64url')}`,
      malformed: 'not-a-key',
      short: 'ck_',
      long: 'x'.repeat(2000),
      mismatched,
      deleted: deleted.key,
      revoked: revoked.key,
    };
    const bodies: Array<Record<string, unknown>> = [];
    for (const [kind, key] of Object.entries(keys)) {
      const variants: Array<Record<string, string>> = [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }];
      for (const headers of variants) {
        const response = await listJobs(headers);
        expect(response.statusCode, kind).toBe(401);
        bodies.push(withoutTimestamp(response.json()));
      }
    }
    for (const body of bodies) {
      expect(body).toEqual({ error: 'Invalid API key.', detail: 'Invalid API key.', error_code: 'INVALID_API_KEY', timestamp: undefined });
    }
    expect((await listJobs({ 'x-api-key': real.key })).statusCode).toBe(200);
  });

  it('answers 401 API_KEY_EXPIRED once expires_at has passed, and accepts the key before that', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET expires_at = now() + interval '1 hour' WHERE account_id = $1", [id]);
    expect((await listJobs({ 'x-api-key': key })).statusCode).toBe(200);
    await ctx.db.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE account_id = $1", [id]);
    const response = await listJobs({ 'x-api-key': key });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error_code: 'API_KEY_EXPIRED', error: 'API key expired.', detail: 'API key expired.' });
  });

  it('answers 403 ACCOUNT_SUSPENDED for a key of a suspended account', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query('UPDATE accounts SET suspended = true WHERE id = $1', [id]);
    const response = await listJobs({ 'x-api-key': key });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error_code: 'ACCOUNT_SUSPENDED', error: 'Account suspended.' });
  });

  it('answers 403 EMAIL_NOT_VERIFIED for a key of an account whose email is not verified', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query('UPDATE accounts SET email_verified = false WHERE id = $1', [id]);
    const response = await listJobs({ 'x-api-key': key });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error_code: 'EMAIL_NOT_VERIFIED', error: 'Email not verified.' });
  });

  it('answers 403 PERMISSION_DENIED naming the scope a key lacks', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET scopes = '{products:read}' WHERE account_id = $1", [id]);
    const jobs = await listJobs({ 'x-api-key': key });
    expect(jobs.statusCode).toBe(403);
    expect(jobs.json().error_code).toBe('PERMISSION_DENIED');
    expect(jobs.json().error).toContain('jobs:read');
    const imports = await ctx.upload(key, 'ean,name\n4006381333931,Pen\n');
    expect(imports.statusCode).toBe(403);
    expect(imports.json().error).toContain('imports:write');
    const { rows } = await ctx.db.query('SELECT 1 FROM jobs WHERE account_id = $1', [id]);
    expect(rows).toHaveLength(0);
  });

  it('lets an account key with the admin scope use every account route', async () => {
    const { id, key } = await ctx.createAccount();
    await ctx.db.query("UPDATE api_keys SET scopes = '{admin}' WHERE account_id = $1", [id]);
    expect((await listJobs({ 'x-api-key': key })).statusCode).toBe(200);
  });

  it('still accepts a key issued in the earlier layout (ck_ and 43 characters, no separate lookup id)', async () => {
    const { id } = await ctx.createAccount();
    const legacy = `ck_${randomBytes(32).toString('base64url')}`;
    await ctx.db.query(
      `INSERT INTO api_keys (account_id, prefix, key_hash, name, scopes) VALUES ($1, $2, $3, 'legacy', $4)`,
      [id, legacy.slice(0, 15), createHash('sha256').update(legacy).digest(), ['jobs:read']],
    );
    expect((await listJobs({ 'x-api-key': legacy })).statusCode).toBe(200);
    expect((await listJobs({ 'x-api-key': `${legacy.slice(0, -1)}x` })).json().error_code).toBe('INVALID_API_KEY');
  });

  it('stores a key only as a hash: no row of any table contains the key or its secret part', async () => {
    const { key } = await ctx.createAccount();
    const secret = key.slice(16);
    const { rows: tables } = await ctx.db.query<{ name: string }>(
      "SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    expect(tables.map((table) => table.name)).toContain('api_keys');
    for (const { name } of tables) {
      const { rows } = await ctx.db.query<{ text: string }>(`SELECT t::text AS text FROM ${name} t`);
      for (const row of rows) {
        expect(row.text).not.toContain(key);
        expect(row.text).not.toContain(secret);
      }
    }
  });
});

describe('POST /v1/admin/accounts', () => {
  it('refuses a name it does not know (a misspelt tier would open a FREE account), opening no account', async () => {
    const email = uniqueEmail();
    const response = await createAccount({ email, teir: 'PRO' });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      errors: [{ field: 'teir', message: "Unknown key 'teir': expected one of email, tier." }],
    });
    expect((await ctx.db.query('SELECT 1 FROM accounts WHERE email = $1', [email])).rowCount).toBe(0);
    // An unknown tier stays the BAD_REQUEST it is alone; the name it does not take is listed after it.
    const both = await createAccount({ email, tier: 'GOLD', teir: 'PRO' });
    expect(both.statusCode, both.body).toBe(400);
    expect(both.json()).toMatchObject({ error_code: 'BAD_REQUEST', errors: [{ field: 'tier' }, { field: 'teir' }] });
  });

  it('creates a verified account with a first key that works at once', async () => {
    const email = uniqueEmail();
    const response = await createAccount({ email, tier: 'PRO' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({ id: expect.any(String), email, tier: 'PRO', email_verified: true, api_key: expect.any(String) });
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await listJobs({ 'x-api-key': body.api_key })).statusCode).toBe(200);
  });

  it('gives a new account the FREE tier by default', async () => {
    const response = await createAccount({ email: uniqueEmail() });
    expect(response.statusCode).toBe(201);
    expect(response.json().tier).toBe('FREE');
  });

  it('answers 409 EMAIL_TAKEN for an email already registered, in any case', async () => {
    const email = uniqueEmail();
    expect((await createAccount({ email: email.replace('auth', 'Auth') })).statusCode).toBe(201);
    const again = await createAccount({ email: email.toUpperCase() });
    expect(again.statusCode).toBe(409);
    expect(again.json().error_code).toBe('EMAIL_TAKEN');
    const { rows } = await ctx.db.query('SELECT 1 FROM accounts WHERE lower(email) = lower($1)', [email]);
    expect(rows).toHaveLength(1);
  });

  it('answers 400 VALIDATION_ERROR with the field in errors for a bad or missing email', async () => {
    for (const payload of [{ email: 'not-an-email' }, {}, { email: 42 }]) {
      const response = await createAccount(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      const body = response.json();
      expect(body.error_code).toBe('VALIDATION_ERROR');
      expect(body.errors).toEqual([expect.objectContaining({ field: 'email', message: expect.any(String) })]);
      expect(body.error).toBe(body.errors[0].message);
    }
  });

  it('answers 400 BAD_REQUEST naming the tier for an unknown tier (an unknown enum value, as PATCH answers it), and creates nothing', async () => {
    const email = uniqueEmail();
    const response = await createAccount({ email, tier: 'GOLD' });
    expect(response.statusCode).toBe(400);
    const message = 'The tier must be FREE, PRO or ENTERPRISE.';
    expect(response.json()).toMatchObject({ error_code: 'BAD_REQUEST', error: message, errors: [{ field: 'tier', message }] });
    const { rows } = await ctx.db.query('SELECT 1 FROM accounts WHERE email = $1', [email]);
    expect(rows).toHaveLength(0);
  });

  it('answers 400 VALIDATION_ERROR for a bad email beside an unknown tier, listing both', async () => {
    const response = await createAccount({ email: 'not-an-email', tier: 'GOLD' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: 'The email field must be a valid email address.',
      errors: [{ field: 'email' }, { field: 'tier', message: 'The tier must be FREE, PRO or ENTERPRISE.' }],
    });
  });

  it('refuses an account key with 403 PERMISSION_DENIED naming the admin scope', async () => {
    const { key } = await ctx.createAccount();
    const response = await createAccount({ email: uniqueEmail() }, key);
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('PERMISSION_DENIED');
    expect(response.json().error).toContain('admin');
  });

  it('refuses a wrong operator key with 401 INVALID_API_KEY', async () => {
    const response = await createAccount({ email: uniqueEmail() }, `${ADMIN_KEY}x`);
    expect(response.statusCode).toBe(401);
    expect(response.json().error_code).toBe('INVALID_API_KEY');
  });
});

describe('the operator key on account routes', () => {
  it('is refused on /v1/imports with 403 PERMISSION_DENIED and starts no job', async () => {
    const response = await ctx.upload(ADMIN_KEY, 'ean,name\n4006381333931,Pen\n');
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('PERMISSION_DENIED');
    const { rows } = await ctx.db.query('SELECT 1 FROM jobs');
    expect(rows).toHaveLength(0);
  });

  // GET /v1/jobs is the exception: operators list every account's jobs there.
  it('is refused on a catalog route with 403 PERMISSION_DENIED', async () => {
    const response = await ctx.app.inject({
      method: 'GET',
      url: '/v1/products/4006381333931',
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().error_code).toBe('PERMISSION_DENIED');
  });
});
