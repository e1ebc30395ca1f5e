import { z } from 'zod';

/** One seed node of a Redis Cluster; the client learns the other nodes from it. */
export interface ClusterNode {
  host: string;
  port: number;
}

/** The URL scheme that names a Redis Cluster by its seed nodes: `redis+cluster://host:port,host:port`. */
export const CLUSTER_URL_SCHEME = 'redis+cluster://';

/** How a list of cluster nodes is written, for the messages that refuse one. */
export const NODE_FORMAT = 'give a comma-separated list of host:port (e.g. 10.0.0.1:7000,10.0.0.2:7000)';

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
 * The seed nodes of the Redis Cluster the service runs on: REDIS_CLUSTER_NODES, else the nodes of
 * a `redis+cluster://` REDIS_URL; null when Redis is a single server.
 */
export function clusterNodesOf(settings: { REDIS_URL: string; REDIS_CLUSTER_NODES?: ClusterNode[] | undefined }): ClusterNode[] | null {
  if (settings.REDIS_CLUSTER_NODES) return settings.REDIS_CLUSTER_NODES;
  if (settings.REDIS_URL.startsWith(CLUSTER_URL_SCHEME)) return parseClusterNodes(settings.REDIS_URL.slice(CLUSTER_URL_SCHEME.length));
  return null;
}
