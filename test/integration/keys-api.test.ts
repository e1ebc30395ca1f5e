import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, signUpAndLogIn } from '../support/accounts.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

let ctx: TestContext;
const now = Date.parse('2026-05-14T10:30:00Z');

beforeAll(async () => {
  ctx = await createTestContext({ workers: false, clock: () => now });
});
afterAll(async () => ctx?.close());

const createKey = (credential: string, payload: unknown) => post(ctx, '/v1/keys', payload, { 'x-api-key': credential });
const listKeys = (credential: string, query = '') =>
  ctx.app.inject({ method: 'GET', url: `/v1/keys${query}`, headers: { authorization: `Bearer ${credential}` } });
const deleteKey = (credential: string, id: string) =>
  ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: { 'x-api-key': credential } });

describe('POST /v1/keys', () => {
  it('creates a key shown once, with all non-admin scopes by default, that works at once', async () => {
    const { key } = await ctx.createAccount();
    const response = await createKey(key, { name: 'deploy' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toEqual({
      id: expect.any(String),
      // ck_<lookup id>_<secret>: 6 random bytes in hex to find the row, 32 random bytes never stored.
      key: expect.stringMatching(/^ck_[0-9a-f]{12}_[\w-]{43}$/),
      prefix: body.key.slice(0, 15),
      name: 'deploy',
      scopes: ['products:read', 'products:write', 'imports:write', 'exports:write', 'enrichments:write', 'jobs:read', 'keys:manage'],
      expires_at: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect((await ctx.get(body.key, '/v1/jobs')).statusCode).toBe(200);
  });

  it('limits a key to the scopes it was given: 403 PERMISSION_DENIED naming a missing one', async () => {
    const { key } = await ctx.createAccount();
    const readOnly = (await createKey(key, { name: 'reader', scopes: ['products:read'] })).json().key;
    const jobs = await ctx.get(readOnly, '/v1/jobs');
    expect(jobs.statusCode).toBe(403);
    expect(jobs.json()).toMatchObject({ error_code: 'PERMISSION_DENIED', error: "This key lacks the 'jobs:read' scope." });
    const keys = await listKeys(readOnly);
    expect(keys.statusCode).toBe(403);
    expect(keys.json().error).toContain('keys:manage');
    expect((await ctx.get(readOnly, '/v1/products/4006381333931')).statusCode).toBe(404);
  });

  it('refuses a name it does not know (a misspelt scopes would otherwise grant every scope), creating no key', async () => {
    const { key } = await ctx.createAccount();
    const before = (await listKeys(key)).json().data.length;
    const response = await createKey(key, { name: 'reader', scope: ['products:read'] });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({
      error_code: 'VALIDATION_ERROR',
      error: "Unknown key 'scope': expected one of name, scopes, expires_at.",
      errors: [{ field: 'scope', message: "Unknown key 'scope': expected one of name, scopes, expires_at." }],
    });
    expect((await listKeys(key)).json().data).toHaveLength(before);
  });

  it('keeps expires_at and refuses the key with 401 API_KEY_EXPIRED from then on', async () => {
    const { id, key } = await ctx.createAccount();
    const response = await createKey(key, { name: 'short', expires_at: '2026-05-14T11:30:00Z' });
    expect(response.statusCode).toBe(201);
    expect(response.json().expires_at).toBe('2026-05-14T11:30:00Z');
    const created = response.json().key;
    expect((await ctx.get(created, '/v1/jobs')).statusCode).toBe(200);
    await ctx.db.query("UPDATE api_keys SET expires_at = '2026-05-14T10:29:59Z' WHERE account_id = $1 AND name = 'short'", [id]);
    const expired = await ctx.get(created, '/v1/jobs');
    expect(expired.statusCode).toBe(401);
    expect(expired.json()).toMatchObject({ error_code: 'API_KEY_EXPIRED', error: 'API key expired.' });
  });

  it('takes the last second of the year 9999 (UTC) as expires_at and shows it as written', async () => {
    const { key } = await ctx.createAccount();
    const response = await createKey(key, { name: 'far', expires_at: '9999-12-31T23:59:59.999Z' });
    expect(response.statusCode).toBe(201);
    expect(response.json().expires_at).toBe('9999-12-31T23:59:59Z');
    expect((await listKeys(key)).json().data.map((row: { expires_at: string | null }) => row.expires_at)).toContain('9999-12-31T23:59:59Z');
  });

  it('keeps an expires_at with milliseconds to the whole second it shows, which the key stops working at', async () => {
    const { key } = await ctx.createAccount();
    const response = await createKey(key, { name: 'precise', expires_at: '2026-05-14T11:30:08.251+00:00' });
    expect(response.json().expires_at).toBe('2026-05-14T11:30:08Z');
    const { rows } = await ctx.db.query<{ expires_at: Date }>('SELECT expires_at FROM api_keys WHERE id = $1', [response.json().id]);
    expect(rows[0]!.expires_at.toISOString()).toBe('2026-05-14T11:30:08.000Z');
  });

  it.each([
    ['no name', {}, 'name', 'The name field is required.'],
    ['an empty name', { name: '  ' }, 'name', 'The name field must not be empty.'],
    ['a malformed expires_at', { name: 'k', expires_at: 'tomorrow' }, 'expires_at', 'The expires_at field must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.'],
    ['a past expires_at', { name: 'k', expires_at: '2026-05-14T10:29:59Z' }, 'expires_at', 'The expires_at field must be in the future.'],
    [
      'an expires_at in the year 10000 in UTC',
      { name: 'far', expires_at: '9999-12-31T23:59:59-15:00' },
      'expires_at',
      'The expires_at field must be before 10000-01-01T00:00:00Z (UTC).',
    ],
    ['an unknown scope', { name: 'k', scopes: ['products:delete'] }, 'scopes.0', expect.stringMatching(/^Unknown scope 'products:delete'/)],
    ['the admin scope', { name: 'k', scopes: ['admin'] }, 'scopes', "The 'admin' scope is for operators and cannot be granted to a key."],
    ['an empty scope list', { name: 'k', scopes: [] }, 'scopes', 'The scopes field must list at least one scope.'],
  ])('answers 400 VALIDATION_ERROR for %s', async (_case, payload, field, message) => {
    const { key } = await ctx.createAccount();
    const response = await createKey(key, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error_code: 'VALIDATION_ERROR', errors: [{ field, message }] });
    expect(response.json().error).toBe(response.json().errors[0].message);
  });
});

describe('what a key may grant', () => {
  const LATER = '2026-05-14T12:30:00Z';
  /** A key of a new account holding only `scopes` (and keys:manage), created by the account's first key. */
  const limitedKey = async (scopes: string[], expiresAt?: string) => {
    const { key } = await ctx.createAccount();
    const response = await createKey(key, { name: 'limited', scopes: [...scopes, 'keys:manage'], expires_at: expiresAt });
    expect(response.statusCode).toBe(201);
    return response.json().key as string;
  };

  it('refuses a scope the creating key lacks with 403 PERMISSION_DENIED naming it', async () => {
    const reader = await limitedKey(['products:read']);
    const response = await createKey(reader, { name: 'escalate', scopes: ['products:read', 'products:write', 'imports:write'] });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({
      error_code: 'PERMISSION_DENIED',
      error: "This key lacks the scopes 'products:write', 'imports:write': a key can create keys only with scopes it holds.",
    });
    const other = await createKey(reader, { name: 'jobs', scopes: ['jobs:read'] });
    expect(other.json().error).toBe("This key lacks the 'jobs:read' scope: a key can create keys only with scopes it holds.");
    expect((await listKeys(reader)).json().data.map((item: { name: string }) => item.name)).not.toContain('escalate');
  });

  it('grants scopes the creating key holds, and its own scopes when none are asked for', async () => {
    const reader = await limitedKey(['products:read']);
    const narrower = await createKey(reader, { name: 'read only', scopes: ['products:read'] });
    expect(narrower.statusCode).toBe(201);
    expect(narrower.json().scopes).toEqual(['products:read']);
    const unspecified = await createKey(reader, { name: 'same as mine' });
    expect(unspecified.statusCode).toBe(201);
    expect(unspecified.json().scopes).toEqual(['products:read', 'keys:manage']);
    expect((await ctx.get(unspecified.json().key, '/v1/jobs')).statusCode).toBe(403);
  });

  it('refuses an expires_at later than the creating key\'s own, or none, and gives its own when left out', async () => {
    const expiring = await limitedKey(['products:read'], LATER);
    const later = await createKey(expiring, { name: 'later', expires_at: '2026-05-14T12:30:01Z' });
    expect(later.statusCode).toBe(403);
    expect(later.json()).toMatchObject({
      error_code: 'PERMISSION_DENIED',
      error: `This key expires at ${LATER}: a key can create keys only with an expires_at no later than its own.`,
    });
    expect((await createKey(expiring, { name: 'never', expires_at: null })).statusCode).toBe(403);
    const sooner = await createKey(expiring, { name: 'sooner', expires_at: '2026-05-14T11:00:00Z' });
    expect(sooner.statusCode).toBe(201);
    expect(sooner.json().expires_at).toBe('2026-05-14T11:00:00Z');
    const unspecified = await createKey(expiring, { name: 'inherits' });
    expect(unspecified.statusCode).toBe(201);
    expect(unspecified.json().expires_at).toBe(LATER);
  });

  it('lets a key without expiry and a login session grant any expiry, and a session any non-admin scope', async () => {
    const reader = await limitedKey(['products:read']);
    expect((await createKey(reader, { name: 'far', scopes: ['products:read'], expires_at: '2030-01-01T00:00:00Z' })).statusCode).toBe(201);
    const { session } = await signUpAndLogIn(ctx);
    const created = await post(ctx, '/v1/keys', { name: 'ops', expires_at: '2030-01-01T00:00:00Z' }, { authorization: `Bearer ${session}` });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ expires_at: '2030-01-01T00:00:00Z', scopes: expect.arrayContaining(['imports:write', 'keys:manage']) });
    expect(created.json().scopes).toHaveLength(7);
  });
});

describe('GET /v1/keys', () => {
  it("lists the account's live keys, newest first, never with the secret", async () => {
    const { key } = await ctx.createAccount();
    for (const name of ['a', 'b', 'c']) await createKey(key, { name });
    const response = await listKeys(key);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.data.map((item: { name: string }) => item.name)).toEqual(['c', 'b', 'a', 'first key']);
    expect(body.next_cursor).toBeNull();
    expect(response.body).not.toContain(key);
    expect(Object.keys(body.data[0]).sort()).toEqual(['created_at', 'expires_at', 'id', 'name', 'prefix', 'scopes']);
  });

  it('shows only the clear prefix ck_<lookup id> of a key, never its secret part', async () => {
    const { key } = await ctx.createAccount();
    const created = (await createKey(key, { name: 'listed' })).json();
    const secret = created.key.slice(16);
    const response = await listKeys(key);
    expect(response.statusCode).toBe(200);
    const listed = response.json().data.find((item: { id: string }) => item.id === created.id);
    expect(listed.prefix).toBe(created.prefix);
    expect(listed.prefix).toMatch(/^ck_[0-9a-f]{12}$/);
    expect(response.body).not.toContain(secret);
    expect(response.body).not.toContain(key.slice(16));
  });

  it('pages with limit and next_cursor', async () => {
    const { key } = await ctx.createAccount();
    for (const name of ['a', 'b', 'c']) await createKey(key, { name });
    const first = (await listKeys(key, '?limit=3')).json();
    expect(first.data).toHaveLength(3);
    const second = (await listKeys(key, `?limit=3&cursor=${first.next_cursor}`)).json();
    expect(second.data.map((item: { name: string }) => item.name)).toEqual(['first key']);
    expect(second.next_cursor).toBeNull();
  });
});

describe('DELETE /v1/keys/{id}', () => {
  it('revokes the key at once: it then gets 401 INVALID_API_KEY and leaves the list', async () => {
    const { key } = await ctx.createAccount();
    const created = (await createKey(key, { name: 'doomed' })).json();
    expect((await ctx.get(created.key, '/v1/jobs')).statusCode).toBe(200);
    const response = await deleteKey(key, created.id);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    const after = await ctx.get(created.key, '/v1/jobs');
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ error_code: 'INVALID_API_KEY', error: 'Invalid API key.' });
    expect((await listKeys(key)).json().data.map((item: { id: string }) => item.id)).not.toContain(created.id);
    expect((await deleteKey(key, created.id)).statusCode).toBe(404);
  });

  it("answers 404 for another account's key and leaves it working", async () => {
    const owner = await ctx.createAccount();
    const other = await ctx.createAccount();
    const created = (await createKey(owner.key, { name: 'mine' })).json();
    const response = await deleteKey(other.key, created.id);
    expect(response.statusCode).toBe(404);
    expect(response.json().error_code).toBe('NOT_FOUND');
    expect((await ctx.get(created.key, '/v1/jobs')).statusCode).toBe(200);
    expect((await deleteKey(other.key, 'not-a-uuid')).statusCode).toBe(404);
  });

  it('works with a login session', async () => {
    const { session } = await signUpAndLogIn(ctx);
    const created = await post(ctx, '/v1/keys', { name: 'x' }, { authorization: `Bearer ${session}` });
    const response = await ctx.app.inject({
      method: 'DELETE',
      url: `/v1/keys/${created.json().id}`,
      headers: { authorization: `Bearer ${session}` },
    });
    expect(response.statusCode).toBe(204);
  });
});
