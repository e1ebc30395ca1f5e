import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Redis } from 'ioredis';
import { query } from './db.js';
import { readCpuSeconds } from './proc.js';
import { gtinCheckDigit } from '../src/shared/product/gtin.js';

/**
 * What bench:api needs beside its scenarios: the CPU a request costs in the API process, in the
 * PostgreSQL backends of its database, in Redis and in the load generator (less sensitive to other
 * load on the machine than req/s, and where the machine's cores go), and the large file of the
 * "during an import" scenario.
 */

/** CPU seconds (user + system) of `pid`, or 0 once it is gone. */
const cpuSeconds = (pid: number) => readCpuSeconds(pid) ?? 0;

/** pg_stat_activity's condition for the backends of `database` other than the asking one. */
const ofDatabase = (database: string) => `datname = '${database.replaceAll("'", "''")}' AND pid <> pg_backend_pid()`;

/** The pids of the PostgreSQL backends connected to `database` (the service's pools). */
async function backendPids(databaseUrl: string, database: string): Promise<number[]> {
  const rows = await query<{ pid: number }>(
    databaseUrl,
    `SELECT pid FROM pg_stat_activity WHERE ${ofDatabase(database)}`,
  );
  return rows.map((row) => row.pid);
}

/**
 * Waits (at most `timeoutMs`) until no backend of `database` is at work: the statements a cancelled
 * import leaves running, and the autovacuum its rows set off, would otherwise share the machine
 * with the next scenario. Returns the seconds waited.
 */
export async function untilDatabaseQuiet(databaseUrl: string, database: string, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const [busy] = await query<{ count: number }>(
      databaseUrl,
      `SELECT count(*)::int AS count FROM pg_stat_activity
       WHERE ${ofDatabase(database)} AND (state = 'active' OR backend_type = 'autovacuum worker')`,
    );
    const waited = (performance.now() - started) / 1000;
    if (busy!.count === 0 || waited * 1000 > timeoutMs) return waited;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** CPU used between {@link startCpuMeter} and the returned function's call, in seconds. */
export interface CpuUsed {
  api: number;
  postgres: number;
  /** The whole Redis server (INFO cpu), whoever else uses it. */
  redis: number;
  /** This process: autocannon runs in it. */
  loadGenerator: number;
}

/** CPU seconds the Redis server has used, user and system, main and background threads (INFO cpu). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** Where {@link startCpuMeter} finds the processes it measures. */
export interface MeteredServices {
  apiPid: number;
  databaseUrl: string;
  database: string;
  redisUrl: string;
}

/**
 * Starts measuring the CPU of the API process, of the backends of the database, of Redis and of
 * this process; the returned function stops and reports. Backends that come or go meanwhile count
 * from when seen.
 */
export async function startCpuMeter(services: MeteredServices): Promise<() => Promise<CpuUsed>> {
  const { apiPid, databaseUrl, database } = services;
  const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: 1 });
  const redisStart = await redisCpuSeconds(redis);
  const ownStart = process.cpuUsage();
  const apiStart = cpuSeconds(apiPid);
  const backends = new Map((await backendPids(databaseUrl, database)).map((pid) => [pid, cpuSeconds(pid)]));
  return async () => {
    const api = cpuSeconds(apiPid) - apiStart;
    const own = process.cpuUsage(ownStart);
    try {
      const redisUsed = (await redisCpuSeconds(redis)) - redisStart;
      let postgres = 0;
      for (const pid of await backendPids(databaseUrl, database)) postgres += cpuSeconds(pid) - (backends.get(pid) ?? 0);
      return { api, postgres, redis: redisUsed, loadGenerator: (own.user + own.system) / 1e6 };
    } finally {
      redis.disconnect();
    }
  };
}

/** The `index`-th EAN-13 of a generated file: prefix 4, 11 digits of the index, GS1 check digit. */
function ean(index: number): string {
  const body = `4${String(index).padStart(11, '0')}`;
  return `${body}${gtinCheckDigit(body)}`;
}

/** Writes a product CSV of `rows` valid rows (distinct EANs) to `file`, streaming, with backpressure. */
export async function writeProductCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  let chunk = 'ean,name,brand,category,price,currency,stock\n';
  for (let index = 0; index < rows; index += 1) {
    chunk += `${ean(index)},Product ${index},Brand ${index % 97},Category ${index % 13},${1 + (index % 100)}.${String(index % 97).padStart(2, '0')},EUR,${index % 500}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished(out);
}
