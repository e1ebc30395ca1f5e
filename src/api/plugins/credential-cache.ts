import type { AccountPrincipal } from './auth.js';
import type { CredentialSubscription } from './credential-subscription.js';

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
 * is not live (start, Redis lost, reconnecting, or its own echo overdue by a second), nothing is
 * cached or served from the cache: a missed announcement can leave a revoked key or a suspended
 * account working here for a second at most.
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
  close(): void;
}

export interface CredentialCacheDeps {
  /** This process's subscription to the credential channel. */
  subscription: CredentialSubscription;
  ttlMs: number;
}

/** Creates the cache on the process's credential subscription; with `ttlMs` 0 it caches nothing. */
export function createCredentialCache(deps: CredentialCacheDeps): CredentialCache {
  const entries = new Map<string, Entry>();
  let generation = 0;
  const dropAccount = (accountId: string) => {
    generation += 1;
    for (const [key, entry] of entries) if (entry.principal.accountId === accountId) entries.delete(key);
  };
  // Once the subscription stops being live, what was cached goes: announcements may have been
  // lost meanwhile, also when it delivers again.
  const stopListening = deps.subscription.listen((accountId) => {
    if (accountId !== null) return dropAccount(accountId);
    generation += 1;
    entries.clear();
  });
  const on = () => deps.ttlMs > 0 && deps.subscription.live();

  return {
    get(digest, now) {
      if (!on()) return undefined;
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
      if (!on() || since !== generation) return;
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(digest, { principal, freshUntil: performance.now() + deps.ttlMs });
    },
    forget: dropAccount,
    close() {
      stopListening();
      entries.clear();
    },
  };
}
