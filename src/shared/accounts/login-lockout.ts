import { withTransaction, type Db } from '../db/pool.js';
import { clearLoginFailures, countLoginFailure, lockAccountForLogin, lockLogins } from './login-failure-queries.js';

/** Failed logins within this window lock the account… */
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
/** …when there are this many of them… */
export const MAX_FAILURES = 5;
/** …for this long. */
export const LOCK_MS = 15 * 60 * 1000;

/**
 * Reserves one login attempt of an account at `now`, before its password is checked. Returns the
 * end of the account's lock when it is locked (no password may be checked), else null.
 *
 * The attempt is recorded as a failure up front (a row of `login_failures`) and the lock is set by
 * the MAX_FAILURES-th attempt within FAILURE_WINDOW_MS, all under the account's row lock. Counting
 * before checking is what makes the limit hold under concurrency: however many logins arrive at
 * once, at most MAX_FAILURES of them get to the (slow) password check; the rest see the lock. An
 * attempt whose password turns out right undoes this with {@link releaseLoginAttempts}.
 */
export async function reserveLoginAttempt(db: Db, accountId: string, now: Date): Promise<Date | null> {
  return withTransaction(db, async (client) => {
    const lockedUntil = await lockAccountForLogin(client, accountId);
    if (lockedUntil && lockedUntil.getTime() > now.getTime()) return lockedUntil;
    const attempts = await countLoginFailure(client, accountId, now, new Date(now.getTime() - FAILURE_WINDOW_MS));
    if (attempts < MAX_FAILURES) return null;
    // This attempt may still be checked (it is the last one allowed), but none after it: the lock
    // replaces the counted attempts, so after it ends the account starts with a clean count.
    await lockLogins(client, accountId, new Date(now.getTime() + LOCK_MS));
    return null;
  });
}

/**
 * After a login whose password was right: forgets the account's counted attempts and lifts a lock
 * that an attempt reserved alongside this one set (this attempt was admitted before the lock, and
 * the right password resets the count, as a successful login always has).
 */
export async function releaseLoginAttempts(db: Db, accountId: string): Promise<void> {
  await clearLoginFailures(db, accountId);
}
