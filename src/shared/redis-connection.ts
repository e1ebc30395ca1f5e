import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import { clusterNodesOf } from './redis-cluster-nodes.js';
import { unixSocketOptions } from './redis-url.js';

/**
 * A connection to the service's Redis: one server, or a Redis Cluster. Every key the service
 * uses in one command or script carries the queue prefix's hash tag (`{catalog}`), so the same
 * code runs on both.
 */
export type RedisConnection = Redis | Cluster;

/** Where Redis is: the configuration's settings, or a REDIS_URL alone (`redis+cluster://…` included). */
export type RedisSettings = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'> | string;

/**
 * Creates a connection to the configured Redis: an `ioredis` Cluster when REDIS_CLUSTER_NODES (or
 * a `redis+cluster://` REDIS_URL) names cluster nodes, else one server, over TCP or over the Unix
 * socket a `unix:///path` REDIS_URL names. The single place that
 * creates Redis connections, so every use follows the deployment's choice. `options` are those of
 * each server connection; `enableOfflineQueue` applies to the cluster as a whole.
 */
export function createRedisConnection(settings: RedisSettings, options: RedisOptions = {}): RedisConnection {
  const where = typeof settings === 'string' ? { REDIS_URL: settings } : settings;
  const nodes = clusterNodesOf(where);
  if (!nodes) {
    // As with a URL, options given here win over those the URL names.
    const socket = unixSocketOptions(where.REDIS_URL);
    return socket ? new Redis({ ...socket, ...options }) : new Redis(where.REDIS_URL, options);
  }
  const { enableOfflineQueue, lazyConnect, ...redisOptions } = options;
  return new Cluster(nodes, {
    redisOptions,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...failoverRetries(options),
    slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS,
    slotsRefreshTimeout: SLOTS_REFRESH_TIMEOUT_MS,
  });
}

/**
 * How often a cluster asks for the slot map. ioredis otherwise asks only on MOVED or a closed
 * connection, and a master that hangs (SIGSTOP, a paused VM, a partition that leaves TCP open)
 * sends neither: after its replica took over, commands would keep going to the frozen node until
 * it came back. With this, the service reaches the promoted replica within a few seconds.
 */
const SLOTS_REFRESH_INTERVAL_MS = 3_000;
/** How long one node may take to answer CLUSTER SLOTS before a refresh asks the next: a frozen node never answers. */
const SLOTS_REFRESH_TIMEOUT_MS = 1_000;

/** How long a worker's command waits out a failover before it fails (a master's cluster-node-timeout and the election). */
const WORKER_FAILOVER_WAIT_MS = 60_000;
const FAILOVER_RETRY_DELAY_MS = 200;

/**
 * How a cluster retries a command whose master is failing over. A worker connection (unlimited
 * retries per request, as BullMQ needs) waits up to a minute: a job's completion or its account
 * slot's release must not be lost to a failover of a few seconds. Other connections keep
 * ioredis's ~3 s, so the API answers 503 soon rather than holding a request.
 */
function failoverRetries(options: RedisOptions) {
  const waits = options.maxRetriesPerRequest === null;
  return {
    retryDelayOnFailover: FAILOVER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_DELAY_MS,
    ...(waits ? { maxRedirections: WORKER_FAILOVER_WAIT_MS / FAILOVER_RETRY_DELAY_MS } : {}),
  };
}

/**
 * The servers that hold data: the connection itself, or every master of a cluster that is
 * connected or not connected yet. Server-wide commands (CONFIG GET, SCAN) reach one server only,
 * so they are run on each of these. A cluster connects to a master when a command first goes
 * there (`wait`, as most are just after start): such a master is connected by the command, or
 * fails it at once, as a cluster's node connections do not retry. A master that went down (its
 * slots now served by a promoted replica) is left out, as a command queued for it would wait for
 * its return.
 */
export function dataServers(connection: RedisConnection): Redis[] {
  if (!(connection instanceof Cluster)) return [connection];
  return connection.nodes('master').filter((node) => node.status === 'ready' || node.status === 'wait');
}

/** Every key matching `pattern` on one server. */
async function scanServer(server: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * Deletes every key matching `pattern` (on every master of a cluster); returns how many went. Each
 * master deletes the keys it holds, one DEL per key in a pipeline: one DEL of several keys of
 * different hash tags would be refused (CROSSSLOT).
 */
export async function deleteKeys(connection: RedisConnection, pattern: string): Promise<number> {
  let deleted = 0;
  for (const server of dataServers(connection)) {
    const keys = await scanServer(server, pattern);
    if (keys.length === 0) continue;
    const pipeline = server.pipeline();
    for (const key of keys) pipeline.del(key);
    for (const [error, count] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      deleted += Number(count);
    }
  }
  return deleted;
}
