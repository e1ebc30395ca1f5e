import type { Db, DbClient } from '../db/pool.js';

/** Stores a verification token (by its hash) for `accountId`. */
export async function insertVerification(
  db: Db | DbClient,
  verification: { accountId: string; tokenHash: Buffer; expiresAt: Date },
): Promise<void> {
  await db.query('INSERT INTO email_verifications (token_hash, account_id, expires_at) VALUES ($1, $2, $3)', [
    verification.tokenHash,
    verification.accountId,
    verification.expiresAt,
  ]);
}

/**
 * Uses the token stored under `tokenHash` if it is unused and not expired at `now`, and marks its
 * account verified, in one statement (a token works once even under concurrent requests).
 * Returns the account id, or null for an unknown, used or expired token.
 */
export async function consumeVerification(db: Db, tokenHash: Buffer, now: Date): Promise<string | null> {
  const { rows } = await db.query<{ account_id: string }>(
    `WITH used AS (
       UPDATE email_verifications SET used_at = $2
       WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
       RETURNING account_id
     )
     UPDATE accounts a SET email_verified = true, updated_at = now()
     FROM used WHERE a.id = used.account_id
     RETURNING a.id AS account_id`,
    [tokenHash, now],
  );
  return rows[0]?.account_id ?? null;
}

/**
 * Stores a new verification token for `accountId` if its email is still unverified and none of its
 * tokens expires after `unlessExpiringAfter` (every token lives as long, so such a token is a recent
 * one). The account's row is locked first: of concurrent calls, one stores a token. Run it in a
 * transaction; returns whether a token was stored.
 */
export async function insertVerificationUnlessRecent(
  client: DbClient,
  verification: { accountId: string; tokenHash: Buffer; expiresAt: Date; unlessExpiringAfter: Date },
): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM accounts WHERE id = $1 AND NOT email_verified FOR UPDATE', [verification.accountId]);
  if (rows.length === 0) return false;
  const inserted = await client.query(
    `INSERT INTO email_verifications (token_hash, account_id, expires_at)
     SELECT $1, $2, $3
     WHERE NOT EXISTS (SELECT 1 FROM email_verifications WHERE account_id = $2 AND expires_at > $4)`,
    [verification.tokenHash, verification.accountId, verification.expiresAt, verification.unlessExpiringAfter],
  );
  return inserted.rowCount === 1;
}
