import pg from 'pg';

export type Db = pg.Pool;
export type DbClient = pg.PoolClient;

// int8 (counts) as JS numbers: row counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/** Creates a connection pool; the caller owns it and ends it on shutdown. */
export function createPool(connectionString: string, max = 10): Db {
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 30_000,
    // Imports keep each file's EANs in a temporary table; the default 8 MB of temp buffers would
    // spill it to disk. Only a session that uses temporary tables allocates them.
    options: '-c temp_buffers=256MB',
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
