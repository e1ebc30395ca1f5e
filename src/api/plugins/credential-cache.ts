import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { AccountPrincipal } from './auth.js';

/** Entries kept at most; past this the oldest is dropped (a Map iterates in insertion order). */
const MAX_ENTRIES = 10_000;

/**
 * How often the process sends itself a message through its subscription, and for how long the
 * last one that came back vouches for it: a subscription that stopped delivering without its
 * connection closing (a Redis that hangs; on a Cluster, the node that holds it failing) turns the
 * cache off within a second.
 */
const ECHO_INTERVAL_MS = 250;
const ECHO_VALID_MS = 1_000;

interface Entry {
  principal: AccountPrincipal;
  /** performance.now() after which the entry is looked up again. */
  freshUntil: number;
}

/**
 * Resolved credentials (key or session → principal) of one API process, so a request does not read
 * PostgreSQL each time. An entry lives `ttlMs` at most and is dropped at once when any process
 * announces a change of its account on the credential channel. While this process's subscription
 * is not up (start, Redis lost, reconnecting), or has not echoed the process's own message within
 * {@link ECHO_VALID_MS}, nothing is cached or served from the cache: a missed announcement can
 * leave a revoked key or a suspended account working here for a second at most.
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
  let echoedAt = -Infinity;
  const clear = () => {
    generation += 1;
    entries.clear();
  };
  const dropAll = () => {
    subscribed = false;
    clear();
  };
  /**
   * Whether the subscription is known to deliver. Once its echo is overdue, what was cached goes:
   * announcements may have been lost meanwhile, also when the subscription delivers again.
   */
  const live = () => {
    if (!subscribed) return false;
    if (performance.now() - echoedAt < ECHO_VALID_MS) return true;
    if (entries.size > 0) clear();
    return false;
  };
  const dropAccount = (accountId: string) => {
    generation += 1;
    for (const [key, entry] of entries) if (entry.principal.accountId === accountId) entries.delete(key);
  };

  const subscriber = deps.ttlMs > 0 ? deps.redis.duplicate() : null;
  const echoChannel = `${deps.channel}:echo:${randomUUID()}`;
  let echoTimer: NodeJS.Timeout | undefined;
  const echo = () => deps.redis.publish(echoChannel, '').catch(() => undefined);
  if (subscriber) {
    subscriber.on('message', (channel: string, message: string) => {
      live();
      if (channel === echoChannel) echoedAt = performance.now();
      else dropAccount(message);
    });
    subscriber.on('error', (error: unknown) => deps.logger.warn({ err: error }, 'credential-change subscription error'));
    for (const event of ['close', 'reconnecting', 'end']) subscriber.on(event, dropAll);
    // Subscribes on every (re)connection, and only then serves from the cache again.
    subscriber.on('ready', () => {
      subscriber.subscribe(deps.channel, echoChannel).then(
        () => {
          subscribed = subscriber.status === 'ready';
          void echo();
        },
        (error: unknown) => deps.logger.warn({ err: error }, 'could not subscribe to credential changes'),
      );
    });
    echoTimer = setInterval(() => {
      live();
      void echo();
    }, ECHO_INTERVAL_MS).unref();
  }

  return {
    get(digest, now) {
      if (!live()) return undefined;
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
      if (!live() || since !== generation) return;
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(digest, { principal, freshUntil: performance.now() + deps.ttlMs });
    },
    forget: dropAccount,
    async close() {
      clearInterval(echoTimer);
      dropAll();
      subscriber?.disconnect();
    },
  };
}
