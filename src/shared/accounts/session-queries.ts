import type { Db } from '../db/pool.js';
import type { Tier } from './account-queries.js';

/** A login session with what authentication needs of its account. */
export interface SessionRecord {
  account_id: string;
  expires_at: Date;
  email_verified: boolean;
  suspended: boolean;
  tier: Tier;
}

/** Stores a session under the hash of its token. */
export async function insertSession(db: Db, session: { accountId: string; tokenHash: Buffer; expiresAt: Date }): Promise<void> {
  await db.query('INSERT INTO sessions (token_hash, account_id, expires_at) VALUES ($1, $2, $3)', [
    session.tokenHash,
    session.accountId,
    session.expiresAt,
  ]);
}

/** The session stored under `tokenHash`, with its account's state, or null. */
export async function findSession(db: Db, tokenHash: Buffer): Promise<SessionRecord | null> {
  const { rows } = await db.query<SessionRecord>(
    `SELECT s.account_id, s.expires_at, a.email_verified, a.suspended, a.tier
     FROM sessions s JOIN accounts a ON a.id = s.account_id
     WHERE s.token_hash = $1`,
    [tokenHash],
  );
  return rows[0] ?? null;
}

/** Removes sessions that expired before `before` (called when a login creates a new one). */
export async function deleteExpiredSessions(db: Db, accountId: string, before: Date): Promise<void> {
  await db.query('DELETE FROM sessions WHERE account_id = $1 AND expires_at < $2', [accountId, before]);
}
