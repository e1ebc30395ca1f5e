import type { FastifyBaseLogger } from 'fastify';
import { findApiKeyStates } from '../../shared/accounts/account-queries.js';
import type { Db } from '../../shared/db/pool.js';
import { timerDelay } from '../../shared/timer-limit.js';
import { apiKeyExpired, invalidApiKey, type AppError } from '../errors.js';
import { keyRefusal } from '../plugins/auth.js';
import type { CredentialSubscription } from '../plugins/credential-subscription.js';

/** The API key an event stream was opened with. */
export interface StreamKey {
  accountId: string;
  keyId: string;
  expiresAt: Date | null;
}

/**
 * The keys of the event streams open on this API process. The key is checked when a stream opens,
 * but a stream can stay open for a job's whole run (hours): revoking a key or suspending its
 * account must end it too, at once, as it refuses the key's next request (API.md §2).
 */
export interface StreamCredentials {
  /**
   * Calls `end` once, with the answer the key would now get (401 INVALID_API_KEY when revoked,
   * 401 API_KEY_EXPIRED, 403 ACCOUNT_SUSPENDED), when it stops working; returns the way to stop
   * watching (the stream closed).
   */
  watch(key: StreamKey, end: (refusal: AppError) => void): () => void;
  close(): void;
}

export interface StreamCredentialsDeps {
  db: Db;
  /** The process's credential subscription: each announced account's watched keys are read again. */
  subscription: CredentialSubscription;
  clock: () => number;
  logger: FastifyBaseLogger;
  /** How often every watched key is read while announcements may be lost (the subscription not live). */
  fallbackPollMs: number;
}

interface Watch {
  key: StreamKey;
  end: (refusal: AppError) => void;
  expiry?: NodeJS.Timeout;
  ended: boolean;
}

/** Watches the keys of open streams through the credential subscription, PostgreSQL where it is not live. */
export function createStreamCredentials(deps: StreamCredentialsDeps): StreamCredentials {
  const byAccount = new Map<string, Set<Watch>>();
  /** Whether announcements may have been lost since every key was last read. */
  let missed = false;
  let poll: NodeJS.Timeout | undefined;

  const unwatch = (watch: Watch) => {
    watch.ended = true;
    clearTimeout(watch.expiry);
    const watches = byAccount.get(watch.key.accountId);
    watches?.delete(watch);
    if (watches?.size === 0) byAccount.delete(watch.key.accountId);
    if (byAccount.size === 0) {
      clearInterval(poll);
      poll = undefined;
    }
  };
  const refuse = (watch: Watch, refusal: AppError) => {
    if (watch.ended) return;
    unwatch(watch);
    watch.end(refusal);
  };

  /** Reads the keys of `watches` (one query) and ends the streams whose key no longer works. */
  const check = async (watches: Watch[]) => {
    if (watches.length === 0) return;
    const states = await findApiKeyStates(deps.db, [...new Set(watches.map((watch) => watch.key.keyId))]);
    const now = deps.clock();
    for (const watch of watches) {
      const state = states.get(watch.key.keyId);
      const refusal = state ? keyRefusal(state, now) : invalidApiKey();
      if (refusal) refuse(watch, refusal);
    }
  };
  const checkOrRetry = (watches: Watch[]) =>
    check(watches).catch((error: unknown) => {
      // PostgreSQL unreachable: the streams' own reads fail too; every key is read on the next tick.
      missed = true;
      deps.logger.warn({ err: error }, 'job events: could not check the keys of open streams');
    });
  const all = () => [...byAccount.values()].flatMap((watches) => [...watches]);

  const stopListening = deps.subscription.listen((accountId) => {
    if (accountId === null) missed = true;
    else void checkOrRetry([...(byAccount.get(accountId) ?? [])]);
  });
  // While the subscription is not live, and once more when it is again (an announcement may
  // have been lost just before), every key is read.
  const tick = () => {
    const live = deps.subscription.live();
    if (live && !missed) return;
    missed = !live;
    void checkOrRetry(all());
  };

  /** Ends the stream when its key expires (a timer's longest delay is about 24 days: it is then set again). */
  const armExpiry = (watch: Watch) => {
    const expiresAt = watch.key.expiresAt?.getTime();
    if (expiresAt === undefined) return;
    const left = expiresAt - deps.clock();
    if (left <= 0) return refuse(watch, apiKeyExpired());
    watch.expiry = setTimeout(() => armExpiry(watch), timerDelay(left)).unref();
  };

  return {
    watch(key, end) {
      const watch: Watch = { key, end, ended: false };
      const watches = byAccount.get(key.accountId) ?? new Set<Watch>();
      byAccount.set(key.accountId, watches.add(watch));
      poll ??= setInterval(tick, deps.fallbackPollMs).unref();
      armExpiry(watch);
      // The key was read when the request came in; a change announced after that read and
      // before this watch would otherwise go unnoticed.
      void checkOrRetry([watch]);
      return () => unwatch(watch);
    },
    close() {
      stopListening();
      for (const watch of all()) unwatch(watch);
    },
  };
}
