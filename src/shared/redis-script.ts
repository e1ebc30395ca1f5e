import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis-connection.js';

/** A Lua script run by its SHA1 (EVALSHA), so a request sends a few bytes instead of the script. */
export interface RedisScript {
  /** Runs the script on `redis` with `keys` and `args`, loading it first where Redis lost it. */
  run(redis: RedisConnection, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown>;
}

/**
 * Wraps `source` for EVALSHA. Redis keeps scripts in a cache that a restart, a failover or SCRIPT
 * FLUSH empties: then it answers NOSCRIPT, and the script is sent once whole with EVAL, which
 * caches it again (on that node of a cluster). The script runs once either way: NOSCRIPT means
 * nothing ran.
 */
export function redisScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
