import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** Warns when Redis may evict keys: BullMQ needs `maxmemory-policy noeviction` to lose nothing. */
export async function checkEvictionPolicy(redis: Redis, logger: Pick<Logger, 'warn'>): Promise<void> {
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn({ policy }, `Redis maxmemory-policy is '${policy}': set it to 'noeviction' or queued jobs may be evicted`);
    }
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
}
