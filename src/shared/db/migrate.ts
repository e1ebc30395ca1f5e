import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MigrationError } from './migration-error.js';
import type { Db } from './pool.js';

/** The folder of numbered `.sql` migrations, at the repository root (same depth from src/ and dist/). */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

/** Any fixed number works; every process of this service takes the same lock. */
const MIGRATION_LOCK_ID = 7_410_221;

/**
 * Creates the database named in `connectionString` when it does not exist, by connecting to the
 * server's `postgres` database. Safe to race: a concurrent creator's "already exists" is ignored.
 * A server that takes the connection and never answers fails it after `connectTimeoutMs`
 * (DB_CONNECT_TIMEOUT_MS, as the pools' connections), instead of holding the start for ever.
 */
export async function ensureDatabase(connectionString: string, connectTimeoutMs = 10_000): Promise<void> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) return;
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: connectTimeoutMs });
  await client.connect().catch((error: unknown) => {
    // pg's own words for it ('timeout expired') do not say how long it waited, nor what sets that.
    if ((error as Error).message !== 'timeout expired') throw error;
    throw new Error(`no answer within ${connectTimeoutMs} ms (DB_CONNECT_TIMEOUT_MS)`, { cause: error });
  });
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    // 42P04 duplicate_database, 23505 unique_violation: another process created it first.
    const code = (error as { code?: string }).code;
    if (code !== '42P04' && code !== '23505') throw error;
  } finally {
    await client.end();
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in file-name order, each in its
 * own transaction, under an advisory lock so that several processes starting together apply
 * each migration once. Returns the names applied; one that fails throws a {@link MigrationError}.
 */
export async function migrate(db: Db): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort();
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ name: string }>('SELECT name FROM schema_migrations');
    const done = new Set(rows.map((row) => row.name));
    for (const file of files.filter((name) => !done.has(name))) {
      const sql = await readFile(MIGRATIONS_DIR + file, 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new MigrationError(file, error);
      }
      applied.push(file);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    client.release();
  }
  return applied;
}
