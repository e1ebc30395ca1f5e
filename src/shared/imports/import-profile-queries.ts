import type { Db } from '../db/pool.js';
import type { BoundedRows } from '../db/byte-bounded-page.js';
import { newestFirstPage, type NewestFirstAfter } from '../db/newest-first-page.js';
import type { ImportProfileSettings } from './import-profile.js';

/** A row of `import_profiles`. */
export interface ImportProfileRow {
  id: string;
  account_id: string;
  name: string;
  settings: ImportProfileSettings;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, account_id, name, settings, created_at, updated_at';

/** PostgreSQL's unique_violation: a profile of that name exists in the account. */
export const isDuplicateName = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && 'code' in error && error.code === '23505';

/** Stores a new profile; throws a unique_violation ({@link isDuplicateName}) for a name taken. */
export async function insertImportProfile(
  db: Db,
  accountId: string,
  profile: { id: string; name: string; settings: ImportProfileSettings },
): Promise<ImportProfileRow> {
  const { rows } = await db.query<ImportProfileRow>(
    `INSERT INTO import_profiles (id, account_id, name, settings) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [profile.id, accountId, profile.name, profile.settings],
  );
  return rows[0]!;
}

/** Replaces a profile's name and settings; null when the account has no such profile. */
export async function updateImportProfile(
  db: Db,
  accountId: string,
  profile: { id: string; name: string; settings: ImportProfileSettings },
): Promise<ImportProfileRow | null> {
  const { rows } = await db.query<ImportProfileRow>(
    `UPDATE import_profiles SET name = $3, settings = $4, updated_at = now()
     WHERE account_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [accountId, profile.id, profile.name, profile.settings],
  );
  return rows[0] ?? null;
}

/** One profile of the account by id, else by name (any case: a name shaped like an id finds its profile too); null when none. */
export async function findImportProfile(
  db: Db,
  accountId: string,
  key: { id: string | null; name: string },
): Promise<ImportProfileRow | null> {
  const { rows } = await db.query<ImportProfileRow>(
    `SELECT ${COLUMNS} FROM import_profiles
     WHERE account_id = $1 AND (id = $2::uuid OR lower(name) = lower($3))
     ORDER BY id = $2::uuid DESC NULLS LAST LIMIT 1`,
    [accountId, key.id, key.name],
  );
  return rows[0] ?? null;
}

/** The account's profiles, newest first: one page, at most `limit` and PAGE_BYTE_BUDGET bytes of them, and whether there is more. */
export async function listImportProfiles(
  db: Db,
  accountId: string,
  query: { limit: number; after?: NewestFirstAfter },
): Promise<BoundedRows<ImportProfileRow & { created_at_key: string }>> {
  return newestFirstPage<ImportProfileRow>(db, 'import_profiles', COLUMNS, accountId, query);
}

/** Deletes one profile of the account; false when there was none. */
export async function deleteImportProfile(db: Db, accountId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM import_profiles WHERE account_id = $1 AND id = $2', [accountId, id]);
  return (rowCount ?? 0) > 0;
}
