import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every key starts with this, so a leaked key is recognisable in logs and by secret scanners. */
export const KEY_PREFIX = 'ck_';
/** Random bytes of the key's lookup id, written as hex (12 characters: no `_` inside). */
const LOOKUP_ID_BYTES = 6;
/** Random bytes of the secret part, which is never stored. */
const SECRET_BYTES = 32;
/** Characters of the key (after `ck_`) stored in clear to find its row: the lookup id. */
const LOOKUP_CHARS = LOOKUP_ID_BYTES * 2;

/** Scopes of API.md §2; `admin` implies all. */
export const SCOPES = [
  'products:read',
  'products:write',
  'imports:write',
  'exports:write',
  'enrichments:write',
  'jobs:read',
  'keys:manage',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** The scopes of a key created without `scopes`: all but `admin`. */
export const DEFAULT_SCOPES: Scope[] = SCOPES.filter((scope) => scope !== 'admin');

/** A newly generated key: the secret shown once, and what is stored of it. */
export interface GeneratedKey {
  key: string;
  prefix: string;
  hash: Buffer;
}

/**
 * Generates a key `ck_<lookup id>_<secret>`: the prefix `ck_<lookup id>` (12 hex characters) is
 * stored in clear to find the key's row and is shown in key lists; the secret, 32 random bytes
 * (43 base64url characters), is never stored: only a hash of the whole key is.
 */
export function generateApiKey(): GeneratedKey {
  const prefix = KEY_PREFIX + randomBytes(LOOKUP_ID_BYTES).toString('hex');
  const key = `${prefix}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/**
 * The stored lookup prefix of a presented key: its first characters, so keys issued before the
 * lookup id had its own part (`ck_<43 chars>`, prefix = its first 15 characters) still resolve.
 */
export function lookupPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + LOOKUP_CHARS);
}

/**
 * SHA-256 of a credential, in base64: keys are 256-bit random, so a fast hash is enough (no
 * password KDF needed). Every request hashes its key, in one call (crypto.hash) and to a string:
 * on Node 20 that takes a fifth of the time of the same digest as a Buffer (0.25 against 1.3 µs).
 */
export function credentialDigest(credential: string): string {
  return hash('sha256', credential, 'base64');
}

/** SHA-256 of a key as stored: {@link credentialDigest} as bytes. */
export function hashApiKey(key: string): Buffer {
  return Buffer.from(credentialDigest(key), 'base64');
}

/** Whether two digests of {@link credentialDigest} are equal, in time that does not depend on where they differ. */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index += 1) difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  return difference === 0;
}

/** Compares a presented key with a stored hash in constant time. */
export function keyMatches(key: string, storedHash: Buffer): boolean {
  const presented = hashApiKey(key);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}

/** Session tokens (from POST /v1/login) start with this, so auth tells them from keys at a glance. */
export const SESSION_PREFIX = 'cs_';

/** True when `credential` has the form of a login session token. */
export function isSessionToken(credential: string): boolean {
  return credential.startsWith(SESSION_PREFIX);
}

/** A random single-use secret (session or verification token) and the SHA-256 that is stored of it. */
export function generateToken(prefix = ''): { token: string; hash: Buffer } {
  const token = prefix + randomBytes(32).toString('base64url');
  return { token, hash: hashApiKey(token) };
}
