import type { Db, DbClient } from '../db/pool.js';
import type { Scope } from './api-keys.js';

export type Tier = 'FREE' | 'PRO' | 'ENTERPRISE';

export interface AccountRow {
  id: string;
  email: string;
  tier: Tier;
  email_verified: boolean;
  suspended: boolean;
}

/** A stored key with what authentication needs of its account. */
export interface ApiKeyRecord {
  id: string;
  account_id: string;
  key_hash: Buffer;
  scopes: Scope[];
  expires_at: Date | null;
  revoked_at: Date | null;
  email_verified: boolean;
  suspended: boolean;
  tier: Tier;
}

/** What a login needs of an account. */
export interface LoginAccountRow extends AccountRow {
  password_hash: string | null;
}

const ACCOUNT_COLUMNS = 'id, email, tier, email_verified, suspended';

/** Creates an account; a taken email (any case) raises PostgreSQL's unique violation (23505). */
export async function insertAccount(
  db: Db | DbClient,
  account: { email: string; tier: Tier; emailVerified: boolean; passwordHash?: string },
): Promise<AccountRow> {
  const { rows } = await db.query<AccountRow>(
    `INSERT INTO accounts (email, tier, email_verified, password_hash) VALUES ($1, $2, $3, $4)
     RETURNING ${ACCOUNT_COLUMNS}`,
    [account.email, account.tier, account.emailVerified, account.passwordHash ?? null],
  );
  return rows[0]!;
}

/** Stores a key's prefix and hash (never the key). */
export async function insertApiKey(
  db: Db | DbClient,
  key: { accountId: string; prefix: string; hash: Buffer; name: string; scopes: Scope[]; expiresAt?: Date | null },
): Promise<{ id: string; created_at: Date }> {
  const { rows } = await db.query<{ id: string; created_at: Date }>(
    `INSERT INTO api_keys (account_id, prefix, key_hash, name, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`,
    [key.accountId, key.prefix, key.hash, key.name, key.scopes, key.expiresAt ?? null],
  );
  return rows[0]!;
}

/** The key stored under `prefix`, with its account's state, or null. */
export async function findApiKeyByPrefix(db: Db, prefix: string): Promise<ApiKeyRecord | null> {
  const { rows } = await db.query<ApiKeyRecord>(
    `SELECT k.id, k.account_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at, a.email_verified, a.suspended, a.tier
     FROM api_keys k JOIN accounts a ON a.id = k.account_id
     WHERE k.prefix = $1`,
    [prefix],
  );
  return rows[0] ?? null;
}

/** What decides whether a stored key still admits its bearer (keyRefusal in src/api/plugins/auth.ts). */
export type ApiKeyState = Pick<ApiKeyRecord, 'id' | 'expires_at' | 'revoked_at' | 'email_verified' | 'suspended'>;

/** The state of the keys `ids` with their accounts', by key id (a key that is gone is missing). */
export async function findApiKeyStates(db: Db, ids: string[]): Promise<Map<string, ApiKeyState>> {
  const { rows } = await db.query<ApiKeyState>(
    `SELECT k.id, k.expires_at, k.revoked_at, a.email_verified, a.suspended
     FROM api_keys k JOIN accounts a ON a.id = k.account_id
     WHERE k.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** The account `id`, or null. */
export async function findAccount(db: Db | DbClient, id: string): Promise<AccountRow | null> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** The account registered under `emailKey` (an email as loginEmailKey gives it), or null. */
export async function findAccountOfEmail(db: Db | DbClient, emailKey: string): Promise<AccountRow | null> {
  const { rows } = await db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE lower(email) = $1`, [emailKey]);
  return rows[0] ?? null;
}

/**
 * The account registered under `emailKey` (an email as loginEmailKey gives it), with its password
 * hash, or null (its lock is read under the attempt's row lock).
 */
export async function findAccountByEmail(db: Db | DbClient, emailKey: string): Promise<LoginAccountRow | null> {
  const { rows } = await db.query<LoginAccountRow>(
    `SELECT ${ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE lower(email) = $1`,
    [emailKey],
  );
  return rows[0] ?? null;
}

/** Changes an account's verification, suspension or tier; returns the account, or null when unknown. */
export async function updateAccount(
  db: Db | DbClient,
  id: string,
  changes: { emailVerified?: boolean; suspended?: boolean; tier?: Tier },
): Promise<AccountRow | null> {
  const { rows } = await db.query<AccountRow>(
    `UPDATE accounts SET email_verified = coalesce($2, email_verified), suspended = coalesce($3, suspended),
       tier = coalesce($4, tier), updated_at = now()
     WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
    [id, changes.emailVerified ?? null, changes.suspended ?? null, changes.tier ?? null],
  );
  return rows[0] ?? null;
}
