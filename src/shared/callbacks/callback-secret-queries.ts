import type { Db } from '../db/pool.js';

/**
 * Makes `secret` the account's callback signing secret. A secret it replaces stays valid for
 * `graceSeconds` as the previous one (an older previous one ends at once); returns when it stops
 * being valid, or null when the account had no secret.
 */
export async function rotateCallbackSecret(db: Db, accountId: string, secret: string, graceSeconds: number): Promise<Date | null> {
  const { rows } = await db.query<{ previous_valid_until: Date | null }>(
    `INSERT INTO callback_secrets (account_id, secret) VALUES ($1, $2)
     ON CONFLICT (account_id) DO UPDATE SET
       previous_secret = callback_secrets.secret,
       previous_valid_until = now() + make_interval(secs => $3),
       secret = EXCLUDED.secret,
       rotated_at = now()
     RETURNING previous_valid_until`,
    [accountId, secret, graceSeconds],
  );
  return rows[0]!.previous_valid_until;
}

/** True when the account has its own callback signing secret. */
export async function hasCallbackSecret(db: Db, accountId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM callback_secrets WHERE account_id = $1', [accountId]);
  return (rowCount ?? 0) > 0;
}

/** The account's current secret and, while its grace period lasts, the previous one; null: none. */
export async function findCallbackSecrets(db: Db, accountId: string): Promise<{ current: string; previous: string | null } | null> {
  const { rows } = await db.query<{ secret: string; previous: string | null }>(
    `SELECT secret, CASE WHEN previous_valid_until > now() THEN previous_secret END AS previous
     FROM callback_secrets WHERE account_id = $1`,
    [accountId],
  );
  const row = rows[0];
  return row ? { current: row.secret, previous: row.previous } : null;
}
