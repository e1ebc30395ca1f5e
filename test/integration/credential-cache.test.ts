import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createCredentialCache, type CredentialCache } from '../../src/api/plugins/credential-cache.js';
import { createCredentialSubscription, type CredentialSubscription } from '../../src/api/plugins/credential-subscription.js';
import type { AccountPrincipal } from '../../src/api/plugins/auth.js';
import { createLogger } from '../../src/shared/logger.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// The credential cache of an API process over real Redis, reached through a TCP proxy that can go
// silent: the subscription stops delivering while its connection stays open (a Redis that hangs,
// or on a Cluster the node that holds the subscription failing), so no close event says so.

const redisPort = Number(new URL(inject('redisUrl')).port || 6379);
const channel = `test-credential-cache-${randomUUID()}`;
const principal: AccountPrincipal = {
  kind: 'account',
  accountId: randomUUID(),
  tier: 'FREE',
  keyId: randomUUID(),
  credential: 'key',
  scopes: new Set(['products:read']),
  expiresAt: null,
};

let proxy: TcpProxy;
let viaProxy: Redis;
let direct: Redis;
let subscription: CredentialSubscription;
let cache: CredentialCache;

beforeAll(async () => {
  proxy = await startTcpProxy(redisPort);
  viaProxy = new Redis(proxy.url.replace('http:', 'redis:'), { maxRetriesPerRequest: 1 });
  viaProxy.on('error', () => {});
  direct = new Redis(redisPort, '127.0.0.1');
  subscription = createCredentialSubscription({ redis: viaProxy, channel, logger: createLogger('silent') });
  cache = createCredentialCache({ subscription, ttlMs: 60_000 });
});
afterAll(async () => {
  cache?.close();
  await subscription?.close();
  viaProxy?.disconnect();
  direct?.disconnect();
  await proxy?.close();
});

/** Caches the principal under `digest` once the subscription is up. */
async function cached(digest: string): Promise<void> {
  await vi.waitFor(() => {
    cache.remember(digest, principal, cache.generation());
    expect(cache.get(digest, Date.now())).toBe(principal);
  }, { timeout: 5_000, interval: 50 });
}

describe('the credential cache', () => {
  it('drops an account announced on the channel at once', async () => {
    await cached('first');
    await direct.publish(channel, principal.accountId);
    await vi.waitFor(() => expect(cache.get('first', Date.now())).toBeUndefined(), { timeout: 2_000, interval: 20 });
  });

  it('stops serving within a second and a half once its subscription stops delivering without closing', async () => {
    await cached('second');
    proxy.setSilent(true);
    // The revocation is announced on a Redis the silent subscription never hears from.
    await direct.publish(channel, principal.accountId);
    const started = Date.now();
    await vi.waitFor(() => expect(cache.get('second', Date.now())).toBeUndefined(), { timeout: 5_000, interval: 20 });
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
