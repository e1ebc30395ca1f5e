import type { Logger } from './logger.js';
import { dataServers, type RedisConnection } from './redis-connection.js';

/**
 * Warns when Redis may evict keys: BullMQ needs `maxmemory-policy noeviction` to lose nothing.
 * On a cluster each master has its own setting, so each is asked.
 */
export async function checkEvictionPolicy(redis: RedisConnection, logger: Pick<Logger, 'warn'>): Promise<void> {
  const servers = dataServers(redis);
  for (const server of servers) {
    try {
      const reply = (await server.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
      const policy = reply[1];
      if (policy && policy !== 'noeviction') {
        // On a cluster the warning names the node whose setting is wrong.
        const node = servers.length > 1 || server !== redis ? { node: `${server.options.host}:${server.options.port}` } : {};
        logger.warn({ policy, ...node }, `Redis maxmemory-policy is '${policy}': set it to 'noeviction' or queued jobs may be evicted`);
      }
    } catch {
      // CONFIG may be disabled on managed Redis (and on some cluster nodes); nothing to check then.
    }
  }
}
