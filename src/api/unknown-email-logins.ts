import { hash, randomUUID } from 'node:crypto';
import type { RedisConnection } from '../shared/redis-connection.js';
import { FAILURE_WINDOW_MS, LOCK_MS, MAX_FAILURES } from '../shared/accounts/login-lockout.js';

/**
 * Reserves a failed login of an email no account has (KEYS[1]: its failures, a sorted set by
 * time; KEYS[2]: its lock). Answers the lock's remaining milliseconds, or 0 when the attempt may
 * go on; the MAX_FAILURES-th attempt within the window sets the lock, as for an account.
 */
const RESERVE_SCRIPT = `
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return locked end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
end
return 0`;

type ReserveRedis = RedisConnection & {
  reserveUnknownLogin(failures: string, lock: string, now: number, windowMs: number, max: number, lockMs: number, id: string): Promise<number>;
};

/**
 * The login lockout of emails that have no account (or no password), counted in Redis as an
 * account's are in PostgreSQL (see login-lockout.ts): the same five failures in 15 minutes lock
 * them for 15 minutes, so a 423 never tells that an email has an account. Emails are kept only as
 * a SHA-256 of the form the account lookup uses (loginEmailKey), and every key expires with its window.
 */
export interface UnknownEmailLogins {
  /** Counts a failed login of `emailKey` (loginEmailKey's form) at `now`; the seconds it stays locked, or 0 when not locked. */
  reserve(email: string, now: number): Promise<number>;
}

export function createUnknownEmailLogins(redis: RedisConnection, keyPrefix: string): UnknownEmailLogins {
  if (!('reserveUnknownLogin' in redis)) redis.defineCommand('reserveUnknownLogin', { numberOfKeys: 2, lua: RESERVE_SCRIPT });
  const commands = redis as ReserveRedis;
  return {
    async reserve(emailKey, now) {
      const digest = hash('sha256', emailKey, 'base64url');
      const lockedMs = await commands.reserveUnknownLogin(
        `${keyPrefix}:login-failures:${digest}`, `${keyPrefix}:login-lock:${digest}`, now, FAILURE_WINDOW_MS, MAX_FAILURES, LOCK_MS, randomUUID(),
      );
      return Math.ceil(Number(lockedMs) / 1000);
    },
  };
}
