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
