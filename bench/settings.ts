import { randomBytes } from 'node:crypto';
import { deleteKeys } from '../src/shared/redis-connection.js';
import { createProducerConnection } from '../src/shared/queues.js';
import { parseClusterNodes } from '../src/shared/redis-cluster-nodes.js';

/** Settings every benchmark shares: where PostgreSQL and Redis are, and the operator key it gives its service. */
export const baseDatabaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/catalog';
export const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** `host:port,…` of a Redis Cluster to run the benchmark's service on instead (REDIS_CLUSTER_NODES). */
export const redisClusterNodes = process.env.REDIS_CLUSTER_NODES || '';
/** The Redis settings of a benchmark's service, as environment variables. */
export const redisEnv: Record<string, string> = { REDIS_URL: redisUrl, ...(redisClusterNodes ? { REDIS_CLUSTER_NODES: redisClusterNodes } : {}) };

/** Deletes the keys of a bench queue prefix (`{prefix}:*`), on every master of a cluster; returns how many went. */
export async function deleteBenchKeys(prefix: string): Promise<number> {
  const nodes = redisClusterNodes ? (parseClusterNodes(redisClusterNodes) ?? undefined) : undefined;
  const redis = createProducerConnection({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: nodes }, { enableOfflineQueue: true });
  try {
    return await deleteKeys(redis, `{${prefix}}:*`);
  } finally {
    redis.disconnect();
  }
}
/** Seed of the generated products, so that runs compare like with like. */
export const benchSeed = Number(process.env.BENCH_SEED || 20_240_601);
/** The operator key of the service a benchmark starts (a fresh one per run). */
export const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;

/** "200000", "200_000", "200k", "1m", "1e6" → a row count. */
export function parseCount(text: string): number {
  const match = /^(\d+(?:\.\d+)?(?:e\d+)?)([km]?)$/i.exec(text.trim().replaceAll('_', ''));
  const value = match ? Number(match[1]) * ({ '': 1, k: 1e3, m: 1e6 }[match[2]!.toLowerCase()] ?? 1) : NaN;
  if (!Number.isInteger(value) || value < 1) throw new Error(`not a row count: '${text}'`);
  return value;
}
/** Query parameters of the benchmark's upload, e.g. `encoding=windows-1252` to time the decoding path. */
export const importQuery = process.env.BENCH_IMPORT_QUERY || '';
