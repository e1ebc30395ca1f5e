import type { RedisOptions } from 'ioredis';
import { z } from 'zod';
import { CLUSTER_URL_SCHEME, NODE_FORMAT, parseClusterNodes } from './redis-cluster-nodes.js';

const REDIS_SCHEMES =
  'expected redis://host:port, rediss://host:port (TLS), redis+cluster://host:port,host:port or unix:///path/to/redis.sock';

/**
 * The socket path of a `unix:` URL (`unix:///run/redis/redis.sock`): its path, percent-escapes
 * decoded (a space is `%20` in a URL); null when it names none (`unix:`, `unix:///`, or
 * `unix://redis.sock`, whose `redis.sock` is a host).
 */
function socketPath(url: URL): string | null {
  if (url.pathname === '' || url.pathname === '/') return null;
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    // A `%` that starts no escape is a character of the path.
    return url.pathname;
  }
}

/**
 * Why REDIS_URL cannot be used, or null when it can: a `redis://` or `rediss://` URL of one
 * server, `redis+cluster://host:port,…` for a Redis Cluster (not a URL that `new URL` accepts, so
 * it is checked as a node list), or `unix:///path` for a server's Unix socket. ioredis would take
 * any other URL for a socket path, and the start would then fail blaming an unreachable Redis.
 * Only the scheme is named: the URL may hold the password.
 */
export function redisUrlProblem(value: string): string | null {
  if (value.startsWith(CLUSTER_URL_SCHEME)) {
    return parseClusterNodes(value.slice(CLUSTER_URL_SCHEME.length))
      ? null
      : `'${value}' names no cluster nodes; after ${CLUSTER_URL_SCHEME} ${NODE_FORMAT}`;
  }
  if (!z.string().url().safeParse(value).success) return `Invalid URL; ${REDIS_SCHEMES}`;
  const url = new URL(value);
  if (url.protocol === 'unix:') {
    return socketPath(url) === null ? "'unix:' names no socket path; expected unix:///path/to/redis.sock (the path after three slashes)" : null;
  }
  return url.protocol === 'redis:' || url.protocol === 'rediss:' ? null : `'${url.protocol}' is not a Redis scheme; ${REDIS_SCHEMES}`;
}

/** The socket path a REDIS_URL names, or null when it is not a `unix:` URL. */
export function socketPathOf(value: string): string | null {
  if (!URL.canParse(value)) return null;
  const url = new URL(value);
  return url.protocol === 'unix:' ? socketPath(url) : null;
}

/**
 * The connection options of a `unix:` REDIS_URL, or null for any other. ioredis reads such a URL
 * as a host named `unix` and a path of `///…` with its escapes left in: the socket path is taken
 * from the URL's path here instead. Query items are options, as ioredis reads them after a socket
 * path (`/run/redis/redis.sock?db=2&password=…`).
 */
export function unixSocketOptions(value: string): RedisOptions | null {
  const path = socketPathOf(value);
  if (path === null) return null;
  // ioredis turns a `db` (and `port`) given as a string into a number, as it does for a URL's.
  const queryOptions = Object.fromEntries(new URL(value).searchParams) as RedisOptions;
  return { ...queryOptions, path };
}
