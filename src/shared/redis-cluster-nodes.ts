import { z } from 'zod';

/** One seed node of a Redis Cluster; the client learns the other nodes from it. */
export interface ClusterNode {
  host: string;
  port: number;
}

/** The URL scheme that names a Redis Cluster by its seed nodes: `redis+cluster://host:port,host:port`. */
const CLUSTER_URL_SCHEME = 'redis+cluster://';

const REDIS_SCHEMES = 'expected redis://host:port, rediss://host:port (TLS) or redis+cluster://host:port,host:port';

const NODE_FORMAT = 'give a comma-separated list of host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)';

/** Parses `host:port` (IPv6 in brackets: `[::1]:7000`); null when it is not one. */
function parseNode(entry: string): ClusterNode | null {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry.trim());
  if (!match) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return null;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Parses a comma-separated node list; null when any entry is not `host:port` or the list is empty. */
export function parseClusterNodes(list: string): ClusterNode[] | null {
  const entries = list.split(',').filter((entry) => entry.trim() !== '');
  if (entries.length === 0) return null;
  const nodes = entries.map(parseNode);
  return nodes.every((node) => node !== null) ? (nodes as ClusterNode[]) : null;
}

/** REDIS_CLUSTER_NODES: the seed nodes of a Redis Cluster, parsed; a wrong entry fails at start. */
export const clusterNodesSetting = z.string().transform((value, context): ClusterNode[] => {
  const nodes = parseClusterNodes(value);
  if (nodes) return nodes;
  context.addIssue({ code: 'custom', message: `'${value}' is not a node list; ${NODE_FORMAT}` });
  return z.NEVER;
});

/**
 * REDIS_URL: a `redis://` or `rediss://` URL of one server, or `redis+cluster://host:port,…` for a
 * Redis Cluster (not a URL that `new URL` accepts, so it is checked as a node list).
 */
export const redisUrlSetting = z.string().superRefine((value, context) => {
  if (value.startsWith(CLUSTER_URL_SCHEME)) {
    if (!parseClusterNodes(value.slice(CLUSTER_URL_SCHEME.length))) {
      context.addIssue({ code: 'custom', message: `'${value}' names no cluster nodes; after ${CLUSTER_URL_SCHEME} ${NODE_FORMAT}` });
    }
    return;
  }
  if (!z.string().url().safeParse(value).success) {
    context.addIssue({ code: 'custom', message: `Invalid URL; ${REDIS_SCHEMES}` });
    return;
  }
  // ioredis takes any other URL for a socket path, and the start then fails blaming an unreachable
  // Redis. The scheme alone is named: the URL may hold the password.
  const { protocol } = new URL(value);
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    context.addIssue({ code: 'custom', message: `'${protocol}' is not a Redis scheme; ${REDIS_SCHEMES}` });
  }
});

/**
 * The seed nodes of the Redis Cluster the service runs on: REDIS_CLUSTER_NODES, else the nodes of
 * a `redis+cluster://` REDIS_URL; null when Redis is a single server.
 */
export function clusterNodesOf(settings: { REDIS_URL: string; REDIS_CLUSTER_NODES?: ClusterNode[] | undefined }): ClusterNode[] | null {
  if (settings.REDIS_CLUSTER_NODES) return settings.REDIS_CLUSTER_NODES;
  if (settings.REDIS_URL.startsWith(CLUSTER_URL_SCHEME)) return parseClusterNodes(settings.REDIS_URL.slice(CLUSTER_URL_SCHEME.length));
  return null;
}
