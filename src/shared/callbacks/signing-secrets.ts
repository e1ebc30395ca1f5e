import type { Db } from '../db/pool.js';
import { findCallbackSecrets } from './callback-secret-queries.js';

/**
 * The secrets an account's callbacks are signed with: its own (current, then previous during the
 * grace period), else the operator-wide CALLBACK_SECRET, else none. The fallback never signs
 * beside an account's own secret: an account that made its own no longer trusts the shared one.
 */
export async function signingSecretsFor(db: Db, accountId: string, fallback: string | undefined): Promise<string[]> {
  const own = await findCallbackSecrets(db, accountId);
  if (own) return own.previous ? [own.current, own.previous] : [own.current];
  return fallback ? [fallback] : [];
}
