import pg from 'pg';
import type { Config } from '../config.js';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

// int8 (counts) as JS numbers: row counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/**
 * Server-side limits of a pool's sessions, in milliseconds (0: none): how long a connection may
 * take to open, one statement may run, one statement may wait for a lock, and a transaction may
 * sit idle.
 */
export interface SessionLimits {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/**
 * The API's sessions: no request waits on PostgreSQL longer than API_STATEMENT_TIMEOUT_MS for
 * one statement (the query is cancelled and the client gets 503), nor longer than
 * API_LOCK_TIMEOUT_MS for a lock (55P03, 503 too): a running import holds the rows it has written
 * until it commits, minutes on end, and a write waiting for one would hold one of the API's few
 * connections all that while, stalling every other account's requests.
 */
export function apiSessionLimits(config: Config): SessionLimits {
  return {
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.API_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.API_LOCK_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.API_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/**
 * The workers' sessions (and migrations): no statement timeout, since an import's merge of a
 * large file is one long statement in one long transaction, and an idle-in-transaction limit
 * long enough for the parsing between its statements.
 */
export function workerSessionLimits(config: Config): SessionLimits {
  return {
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: 0,
    lockTimeoutMs: 0,
    idleInTransactionTimeoutMs: config.WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/** Creates a connection pool whose sessions have `limits`; the caller owns it and ends it on shutdown. */
export function createPool(connectionString: string, max = 10, limits?: SessionLimits): Db {
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 30_000,
    // Imports keep each file's EANs in a temporary table; the default 8 MB of temp buffers would
    // spill it to disk. Only a session that uses temporary tables allocates them. Sessions in UTC:
    // timestamps read as text print in the form isoTimestamp slices.
    options: '-c temp_buffers=256MB -c TimeZone=UTC',
    ...(limits && {
      connectionTimeoutMillis: limits.connectTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      lock_timeout: limits.lockTimeoutMs,
      idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    }),
  });
  // A client losing its connection must not crash the process: an idle one is replaced by the
  // pool, a checked-out one fails its pending query, which is where the caller handles it.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs `work` inside one transaction on one client, committing on success. */
export async function withTransaction<T>(db: Db, work: (client: DbClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
