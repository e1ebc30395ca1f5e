import type { Logger } from './logger.js';
import { dataServers, type RedisConnection } from './redis-connection.js';

/**
 * How long one server's answer is waited for: a server that hangs (stopped, or cut off with its
 * connection left open) is skipped, not waited for, as the reconciler's passes wait for this check.
 */
export const POLICY_ANSWER_TIMEOUT_MS = 2_000;

/** The server's answer to `CONFIG GET maxmemory-policy`, or a rejection once it has not come in time. */
function policyOf(server: ReturnType<typeof dataServers>[number]): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer in time')), POLICY_ANSWER_TIMEOUT_MS);
  });
  return Promise.race([server.call('CONFIG', 'GET', 'maxmemory-policy') as Promise<string[]>, late]).finally(() => clearTimeout(timer));
}

/**
 * Warns when Redis may evict keys: BullMQ needs `maxmemory-policy noeviction` to lose nothing.
 * On a cluster each master has its own setting, so each is asked, all at once and each for at
 * most {@link POLICY_ANSWER_TIMEOUT_MS}.
 */
export async function checkEvictionPolicy(redis: RedisConnection, logger: Pick<Logger, 'warn'>): Promise<void> {
  const servers = dataServers(redis);
  await Promise.all(servers.map(async (server) => {
    try {
      const reply = await policyOf(server);
      const policy = reply[1];
      if (policy && policy !== 'noeviction') {
        // On a cluster the warning names the node whose setting is wrong.
        const node = servers.length > 1 || server !== redis ? { node: `${server.options.host}:${server.options.port}` } : {};
        logger.warn({ policy, ...node }, `Redis maxmemory-policy is '${policy}': set it to 'noeviction' or queued jobs may be evicted`);
      }
    } catch {
      // CONFIG may be disabled on managed Redis (and on some cluster nodes), or the server hangs;
      // nothing to check then.
    }
  }));
}
