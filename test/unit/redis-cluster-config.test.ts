import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { configError } from '../support/config-error.js';
import { createRedisConnection } from '../../src/shared/redis-connection.js';


describe('REDIS_CLUSTER_NODES and redis+cluster:// URLs', () => {
  it('parses the node list, IPv6 in brackets included', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,[::1]:7002' }).REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(loadConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('fails naming REDIS_CLUSTER_NODES for an entry without a port or with a bad one', () => {
    for (const value of ['10.0.0.1', '10.0.0.1:7000,10.0.0.2', 'a:0', 'a:70000', 'redis://a:7000', ',']) {
      expect(configError({ REDIS_CLUSTER_NODES: value }), value).toMatch(/^Invalid configuration: REDIS_CLUSTER_NODES: .*host:port/);
    }
  });

  it('takes a redis+cluster:// REDIS_URL and fails naming REDIS_URL when it names no nodes', () => {
    expect(loadConfig({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' }).REDIS_URL).toBe('redis+cluster://10.0.0.1:7000,10.0.0.2:7000');
    expect(configError({ REDIS_URL: 'redis+cluster://' })).toMatch(/\bREDIS_URL\b/);
    expect(configError({ REDIS_URL: 'redis+cluster://10.0.0.1' })).toMatch(/\bREDIS_URL\b/);
    expect(configError({ REDIS_URL: 'not a url' })).toMatch(/\bREDIS_URL\b/);
  });

  it('creates a cluster client for cluster settings and a server client otherwise', () => {
    const connections = [
      createRedisConnection(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }), { lazyConnect: true }),
      createRedisConnection(loadConfig({ REDIS_URL: 'redis+cluster://127.0.0.1:7000' }), { lazyConnect: true }),
      createRedisConnection(loadConfig({}), { lazyConnect: true }),
    ];
    try {
      expect(connections.map((connection) => connection instanceof Cluster)).toEqual([true, true, false]);
      expect(connections[2]).toBeInstanceOf(Redis);
    } finally {
      for (const connection of connections) connection.disconnect();
    }
  });

  it('lets API commands give up on a failing-over master within seconds', () => {
    const cluster = createRedisConnection(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }), { lazyConnect: true, maxRetriesPerRequest: 1 }) as Cluster;
    try {
      expect(cluster.options.maxRedirections! * cluster.options.retryDelayOnFailover!).toBeLessThanOrEqual(5_000);
    } finally {
      cluster.disconnect();
    }
  });

  it('gives a cluster the per-server options where BullMQ looks for them', () => {
    const cluster = createRedisConnection(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }), {
      lazyConnect: true, maxRetriesPerRequest: null, enableOfflineQueue: false,
    }) as Cluster;
    try {
      expect(cluster.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null });
      expect(cluster.options.enableOfflineQueue).toBe(false);
      // A worker's commands wait out a failover (~60 s of retries); the API's fail within seconds.
      expect(cluster.options.maxRedirections! * cluster.options.retryDelayOnFailover!).toBeGreaterThanOrEqual(60_000);
    } finally {
      cluster.disconnect();
    }
  });
});
