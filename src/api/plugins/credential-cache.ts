import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { AccountPrincipal } from './auth.js';

/** Entries kept at most; past this the oldest is dropped (a Map iterates in insertion order). */
const MAX_ENTRIES = 10_000;

interface Entry {
  principal: AccountPrincipal;
  /** performance.now() after which the entry is looked up again. */
  freshUntil: number;
}

/**
 * Resolved credentials (key or session → principal) of one API process, so a request does not read
 * PostgreSQL each time. An entry lives `ttlMs` at most and is dropped at once when any process
 * announces a change of its account on the credential channel. While this process's subscription
 * is not up (start, Redis lost, reconnecting), nothing is cached or served from the cache: a missed
 * announcement can never leave a revoked key or a suspended account working here.
 */
export interface CredentialCache {
  /**
   * The cached principal of a credential by its SHA-256 `digest` (credentialDigest: the cache
   * keeps no credential), unless stale, expired (by `now`) or the cache is off.
   */
  get(digest: string, now: number): AccountPrincipal | undefined;
  /** A token taken before a lookup: {@link remember} stores the result only if nothing changed since. */
  generation(): number;
  remember(digest: string, principal: AccountPrincipal, generation: number): void;
  /** Drops the account's entries here at once (the announcement reaches this process a moment later too). */
  forget(accountId: string): void;
  close(): Promise<void>;
}

export interface CredentialCacheDeps {
  /** A connection to duplicate: the subscription needs a connection of its own. */
  redis: Redis | Cluster;
  channel: string;
  ttlMs: number;
  logger: FastifyBaseLogger;
}

/** Creates the cache and subscribes to the credential channel; with `ttlMs` 0 it caches nothing. */
export function createCredentialCache(deps: CredentialCacheDeps): CredentialCache {
  const entries = new Map<string, Entry>();
  let generation = 0;
  let subscribed = false;
  const dropAll = () => {
    subscribed = false;
    generation += 1;
    entries.clear();
  };
  const dropAccount = (accountId: string) => {
    generation += 1;
    for (const [key, entry] of entries) if (entry.principal.accountId === accountId) entries.delete(key);
  };

  const subscriber = deps.ttlMs > 0 ? deps.redis.duplicate() : null;
  if (subscriber) {
    subscriber.on('message', (_channel: string, accountId: string) => dropAccount(accountId));
    subscriber.on('error', (error: unknown) => deps.logger.warn({ err: error }, 'credential-change subscription error'));
    for (const event of ['close', 'reconnecting', 'end']) subscriber.on(event, dropAll);
    // Subscribes on every (re)connection, and only then serves from the cache again.
    subscriber.on('ready', () => {
      subscriber.subscribe(deps.channel).then(
        () => {
          subscribed = subscriber.status === 'ready';
        },
        (error: unknown) => deps.logger.warn({ err: error }, 'could not subscribe to credential changes'),
      );
    });
  }

  return {
    get(digest, now) {
      if (!subscribed) return undefined;
      const entry = entries.get(digest);
      if (!entry) return undefined;
      const expiresAt = entry.principal.expiresAt;
      if (entry.freshUntil <= performance.now() || (expiresAt && expiresAt.getTime() <= now)) {
        entries.delete(digest);
        return undefined;
      }
      return entry.principal;
    },
    generation: () => generation,
    remember(digest, principal, since) {
      if (!subscribed || since !== generation) return;
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(digest, { principal, freshUntil: performance.now() + deps.ttlMs });
    },
    forget: dropAccount,
    async close() {
      dropAll();
      subscriber?.disconnect();
    },
  };
}
