import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { deliverDueCallbacks } from '../../src/workers/callbacks/deliver-callbacks.js';
import { post, signUpAndLogIn } from '../support/accounts.js';
import { callbackStateOf, markJobEnded, signersOf } from '../support/callback-delivery.js';
import { Receiver } from '../support/callback-receiver.js';
import { createTestContext, type TestContext } from '../support/test-context.js';

const VALID_CSV = 'ean,name\n4006381333931,Pen\n';
const FALLBACK = 'operator-wide-secret-0123456789';

const createSecret = (ctx: TestContext, credential: string) => post(ctx, '/v1/callback-secret', undefined, { authorization: `Bearer ${credential}` });
const secretOf = (response: LightMyRequestResponse) => response.json<{ secret: string }>().secret;

describe('POST /v1/callback-secret and per-account signing', () => {
  let ctx: TestContext;
  const receiver = new Receiver();

  beforeAll(async () => {
    await receiver.start();
    // No CALLBACK_SECRET: only accounts with their own secret may ask for callbacks.
    ctx = await createTestContext({ env: { CALLBACK_ALLOW_PRIVATE: 'true', CALLBACK_RETRY_BASE_SECONDS: '0.2' } });
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  /** Imports with a callback_url and returns the delivery the receiver got for that job. */
  async function importAndReceive(key: string) {
    const before = receiver.deliveries.length;
    const job = await ctx.importCsv(key, VALID_CSV, { callback_url: receiver.url() });
    const delivery = (await receiver.waitFor(before + 1)).slice(before).find((entry) => entry.headers['x-job-id'] === job.id);
    if (!delivery) throw new Error(`no delivery for job ${job.id}`);
    return delivery;
  }

  it('answers 201 with a new secret, shown once, to a key with keys:manage and to a login session', async () => {
    const { key } = await ctx.createAccount();
    const response = await createSecret(ctx, key);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ secret: expect.stringMatching(/^cbs_[\w-]{43}$/), previous_valid_until: null });

    const { session } = await signUpAndLogIn(ctx);
    const bySession = await createSecret(ctx, session);
    expect(bySession.statusCode).toBe(201);
    expect(secretOf(bySession)).not.toBe(secretOf(response));
  });

  it('refuses a key without keys:manage (403) and a request without credentials (401)', async () => {
    const { key } = await ctx.createAccount();
    const reader = (await post(ctx, '/v1/keys', { name: 'reader', scopes: ['jobs:read'] }, { 'x-api-key': key })).json<{ key: string }>().key;
    const denied = await createSecret(ctx, reader);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ error_code: 'PERMISSION_DENIED' });
    expect(denied.json().error).toContain('keys:manage');
    const anonymous = await post(ctx, '/v1/callback-secret', undefined);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error_code: 'AUTHENTICATION_REQUIRED' });
  });

  it('refuses callback_url with 400 until the account has a secret, then signs with that secret only', async () => {
    const { key } = await ctx.createAccount();
    const refused = await ctx.upload(key, VALID_CSV, { callback_url: receiver.url() });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error_code: 'BAD_REQUEST' });
    expect(refused.json().error).toBe(
      "Invalid parameter 'callback_url': this account has no callback signing secret; create one with POST /v1/callback-secret (the server has no CALLBACK_SECRET fallback).",
    );

    const other = secretOf(await createSecret(ctx, (await ctx.createAccount()).key));
    const own = secretOf(await createSecret(ctx, key));
    const delivery = await importAndReceive(key);
    expect(signersOf(delivery, { own, other })).toEqual(['own']);
  });

  it('after a rotation signs with the new and the previous secret until the grace period ends', async () => {
    const { key } = await ctx.createAccount();
    const first = secretOf(await createSecret(ctx, key));
    const rotation = await createSecret(ctx, key);
    expect(rotation.statusCode).toBe(201);
    const second = secretOf(rotation);
    // CALLBACK_SECRET_GRACE_HOURS defaults to 24.
    const validUntil = Date.parse(rotation.json().previous_valid_until);
    expect(Math.abs(validUntil - (Date.now() + 24 * 3600_000))).toBeLessThan(60_000);

    expect(signersOf(await importAndReceive(key), { first, second })).toEqual(['second', 'first']);

    await ctx.db.query("UPDATE callback_secrets SET previous_valid_until = now() - interval '1 second' WHERE secret = $1", [second]);
    expect(signersOf(await importAndReceive(key), { first, second })).toEqual(['second']);

    // A third secret ends the first at once: only the one it replaces stays valid.
    const third = secretOf(await createSecret(ctx, key));
    expect(signersOf(await importAndReceive(key), { first, second, third })).toEqual(['third', 'second']);
  });
});

describe('callback signing with the operator-wide fallback', () => {
  let ctx: TestContext;
  const receiver = new Receiver();
  const logger = createLogger('silent');

  beforeAll(async () => {
    await receiver.start();
    // The API has CALLBACK_SECRET; the delivery rounds below run with or without it.
    ctx = await createTestContext({ workers: false, env: { CALLBACK_SECRET: FALLBACK, CALLBACK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    await ctx?.close();
    await receiver.close();
  });

  async function endedJobCallingBack(key: string): Promise<string> {
    const response = await ctx.upload(key, VALID_CSV, { callback_url: receiver.url() });
    expect(response.statusCode).toBe(202);
    const id = response.json<{ id: string }>().id;
    await markJobEnded(ctx.db, id);
    return id;
  }

  const deliverWith = (fallbackSecret: string | undefined) =>
    deliverDueCallbacks({ db: ctx.db, logger, fallbackSecret, allowPrivate: true, resolveHost: async () => [] });

  it('signs with CALLBACK_SECRET for an account without its own secret, and with its own once it has one', async () => {
    const { key } = await ctx.createAccount();
    await endedJobCallingBack(key);
    await deliverWith(FALLBACK);
    const own = secretOf(await createSecret(ctx, key));
    await endedJobCallingBack(key);
    await deliverWith(FALLBACK);

    const [byFallback, byOwn] = receiver.deliveries.slice(-2);
    expect(signersOf(byFallback!, { own, fallback: FALLBACK })).toEqual(['fallback']);
    expect(signersOf(byOwn!, { own, fallback: FALLBACK })).toEqual(['own']);
  });

  it('never sends a callback unsigned: a worker with no secret records the failure and retries', async () => {
    const { key } = await ctx.createAccount();
    const id = await endedJobCallingBack(key);
    const before = receiver.deliveries.length;

    await deliverWith(undefined);
    expect(receiver.deliveries.length).toBe(before);
    expect(await callbackStateOf(ctx.db, id)).toEqual({
      attempts: 1,
      last_error:
        'not sent: no signing secret (the account has no callback secret, see POST /v1/callback-secret, and CALLBACK_SECRET is not set)',
      delivered: false,
      given_up: false,
    });

    // Once the account has a secret, the next attempt is delivered, signed with it.
    const own = secretOf(await createSecret(ctx, key));
    await ctx.db.query('UPDATE jobs SET callback_next_at = now() WHERE id = $1', [id]);
    await deliverWith(undefined);
    expect(receiver.deliveries.length).toBe(before + 1);
    expect(signersOf(receiver.deliveries[before]!, { own })).toEqual(['own']);
    expect(await callbackStateOf(ctx.db, id)).toMatchObject({ attempts: 2, delivered: true, last_error: null });
  });
});
