import type { Db } from '../db/pool.js';
import type { Scope } from './api-keys.js';

/** A key as listed to its account: never the secret nor its hash. */
export interface ApiKeyListRow {
  id: string;
  prefix: string;
  name: string;
  scopes: Scope[];
  expires_at: Date | null;
  created_at: Date;
  /** created_at as text with microseconds, for an exact keyset cursor. */
  created_at_key: string;
}

/** The account's keys that are not revoked, newest first, `limit + 1` rows from after `after`. */
export async function listApiKeys(
  db: Db,
  accountId: string,
  page: { limit: number; after?: { createdAt: string; id: string } },
): Promise<ApiKeyListRow[]> {
  const { rows } = await db.query<ApiKeyListRow>(
    `SELECT id, prefix, name, scopes, expires_at, created_at, created_at::text AS created_at_key
     FROM api_keys
     WHERE account_id = $1 AND revoked_at IS NULL
       AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $4`,
    [accountId, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit + 1],
  );
  return rows;
}

/** Revokes the account's key `id`; false when the account has no such key (or it is already revoked). */
export async function revokeApiKey(db: Db, accountId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE api_keys SET revoked_at = now() WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL',
    [accountId, id],
  );
  return (rowCount ?? 0) > 0;
}
