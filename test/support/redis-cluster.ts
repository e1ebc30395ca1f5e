import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisToolMissing, spawnRedisTool } from './private-redis.js';

const run = promisify(execFile);

/** How long a master may be unreachable before the cluster fails it over: small, so tests are quick. */
const NODE_TIMEOUT_MS = 2_000;

/**
 * A Redis Cluster of this test file alone: three masters with one replica each, redis-server child
 * processes on free loopback ports, without persistence, in a temporary folder. Never the shared
 * Redis on 6379.
 */
export interface PrivateRedisCluster {
  /** The value of REDIS_CLUSTER_NODES that reaches it. */
  nodes: string;
  ports: number[];
  /** The port of the master that holds `key`'s hash slot now. */
  masterOf(key: string): Promise<number>;
  /**
   * Fails over the master holding `key`'s slot: CLUSTER FAILOVER on one of its replicas, which
   * becomes master. Resolves when every node agrees and the cluster is ok; returns the new master.
   */
  failover(key: string): Promise<number>;
  /**
   * Freezes (SIGSTOP) the master holding `key`'s slot, as a hung server or a paused VM: its TCP
   * connections stay open but it answers nothing. Resolves once the other nodes have promoted its
   * replica (after cluster-node-timeout) and see the cluster ok. Call `thaw` in a `finally`.
   */
  freeze(key: string): Promise<FrozenMaster>;
  /** How many keys matching `pattern` the node at `port` holds (asked directly, not through a client of the service). */
  keyCount(port: number, pattern: string): Promise<number>;
  /** CONFIG SET on the node at `port`. */
  configSet(port: number, name: string, value: string): Promise<void>;
  /** The ports of the masters that hold slots now. */
  masters(): Promise<number[]>;
  /** Kills every node and removes the folder. */
  stop(): Promise<void>;
}

/** A master stopped by `freeze`, and the replica that took over its slots. */
export interface FrozenMaster {
  frozen: number;
  promoted: number;
  /** Resumes the frozen node (SIGCONT); it rejoins as a replica. Safe to call twice. */
  thaw(): void;
}

/** Runs one command on the node at `port` with a short-lived client. */
async function onNode<T>(port: number, command: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    return await command(client);
  } finally {
    client.disconnect();
  }
}

async function until(what: string, check: () => Promise<boolean>, failure: () => Error | undefined = () => undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failed = failure();
    if (failed) throw failed;
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function startNode(dir: string, port: number): { child: ChildProcess; failure: () => Error | undefined } {
  return spawnRedisTool('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
    '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--daemonize', 'no',
  ]);
}

/** One line of CLUSTER NODES: id, port, flags and master id of a node. */
interface NodeLine {
  id: string;
  port: number;
  master: boolean;
  masterId: string;
  slots: string[];
}

async function clusterNodes(port: number): Promise<NodeLine[]> {
  const text = await onNode(port, (client) => client.call('CLUSTER', 'NODES') as Promise<string>);
  return text.trim().split('\n').map((line) => {
    const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line.split(' ');
    return { id, port: Number(address.split(':')[1]?.split('@')[0]), master: flags.includes('master'), masterId, slots };
  });
}

const clusterOk = async (port: number) =>
  (await onNode(port, (client) => client.call('CLUSTER', 'INFO') as Promise<string>)).includes('cluster_state:ok');

/** Starts a 3-master, 3-replica cluster; call `stop()` in `afterAll`. */
export async function startRedisCluster(): Promise<PrivateRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'catalog-cluster-'));
  const ports: number[] = [];
  while (ports.length < 6) {
    const port = await freePort();
    // The cluster bus listens on port + 10000, which must be free too.
    if (port !== 6379 && port + 10_000 <= 65_535 && !ports.includes(port)) ports.push(port);
  }
  const started = ports.map((port) => startNode(dir, port));
  const children = started.map(({ child }) => child);
  const spawnFailure = () => started.map(({ failure }) => failure()).find((failure) => failure !== undefined);
  // If the test process ends without afterAll (a crash), the nodes must not outlive it.
  const killAll = () => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
  process.once('exit', killAll);
  const stop = async () => {
    await Promise.all(children.filter((child) => child.exitCode === null && child.signalCode === null).map((child) => {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      return exited;
    }));
    // Only now: a stop that never ends still leaves the exit handler to kill the nodes.
    process.off('exit', killAll);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await until(`node ${port} up`, () => onNode(port, async (client) => (await client.ping()) === 'PONG'), spawnFailure);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes']).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? redisToolMissing('redis-cli', error) : error;
    });
    await waitForHealthyCluster(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  // Nodes stopped by `freeze`: asked nothing, as they would never answer.
  const frozen = new Set<number>();
  // The nodes still running and answering (a test may have killed or frozen one).
  const live = () => ports.filter((port, index) => children[index]!.exitCode === null && children[index]!.signalCode === null && !frozen.has(port));
  const replicaOf = async (master: number) => {
    const nodes = await clusterNodes(master);
    const masterId = nodes.find((node) => node.port === master)!.id;
    const replica = nodes.find((node) => !node.master && node.masterId === masterId);
    if (!replica) throw new Error(`master ${master} has no replica`);
    return replica.port;
  };
  const untilMasterEverywhere = (port: number) => until(`node ${port} to be master on every node`, async () => {
    const views = await Promise.all(live().map(async (node) => (await clusterNodes(node)).find((line) => line.port === port)?.master));
    return views.every(Boolean) && (await Promise.all(live().map(clusterOk))).every(Boolean);
  });
  const masterOf = async (key: string) => {
    const [port] = live();
    const slot = Number(await onNode(port!, (client) => client.call('CLUSTER', 'KEYSLOT', key)));
    const owner = (await clusterNodes(port!)).find((node) => node.master && node.slots.some((range) => inRange(range, slot)));
    if (!owner) throw new Error(`no master holds slot ${slot}`);
    return owner.port;
  };
  return {
    nodes: ports.map((port) => `127.0.0.1:${port}`).join(','),
    ports,
    masterOf,
    async failover(key) {
      const replica = await replicaOf(await masterOf(key));
      await onNode(replica, (client) => client.call('CLUSTER', 'FAILOVER'));
      await untilMasterEverywhere(replica);
      return replica;
    },
    async freeze(key) {
      const master = await masterOf(key);
      const replica = await replicaOf(master);
      const child = children[ports.indexOf(master)]!;
      frozen.add(master);
      child.kill('SIGSTOP');
      const thaw = () => {
        if (!frozen.delete(master)) return;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
      };
      try {
        await untilMasterEverywhere(replica);
      } catch (error) {
        thaw();
        throw error;
      }
      return { frozen: master, promoted: replica, thaw };
    },
    configSet: async (port, name, value) => {
      await onNode(port, (client) => client.config('SET', name, value));
    },
    keyCount: (port, pattern) => onNode(port, async (client) => (await client.keys(pattern)).length),
    masters: async () => (await clusterNodes(live()[0]!)).filter((node) => node.master && node.slots.length > 0).map((node) => node.port),
    stop,
  };
}

/** Whether `slot` is in a CLUSTER NODES slot entry (`5461-10922` or `42`; migrations in `[…]` are not). */
function inRange(range: string, slot: number): boolean {
  if (range.startsWith('[')) return false;
  const [first, last = first] = range.split('-').map(Number);
  return slot >= first! && slot <= last!;
}

/** Waits until every node sees the cluster ok and every replica is in sync with its master. */
async function waitForHealthyCluster(ports: number[]): Promise<void> {
  await until('cluster_state:ok on every node', async () => (await Promise.all(ports.map(clusterOk))).every(Boolean));
  await until('every replica linked to its master', async () => {
    const nodes = await clusterNodes(ports[0]!);
    const replicas = nodes.filter((node) => !node.master);
    if (replicas.length !== 3) return false;
    const links = await Promise.all(replicas.map((node) => onNode(node.port, (client) => client.info('replication'))));
    return links.every((info) => info.includes('master_link_status:up'));
  });
}
