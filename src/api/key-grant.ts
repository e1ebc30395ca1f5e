import { DEFAULT_SCOPES, type Scope } from '../shared/accounts/api-keys.js';
import { AppError } from './errors.js';

/** Who creates a key: a login session, or an API key with its scopes and expiry. */
export interface KeyCreator {
  credential: 'key' | 'session';
  scopes: ReadonlySet<Scope>;
  /** The creating key's expiry; null for a key without one (ignored for a session). */
  expiresAt: Date | null;
}

/** What the new key gets. */
export interface KeyGrant {
  scopes: Scope[];
  expiresAt: Date | null;
}

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const quoted = (scopes: Scope[]) => scopes.map((scope) => `'${scope}'`).join(', ');

/**
 * The scopes and expiry of a key that `creator` asks for (`scopes`/`expiresAt` as sent: undefined
 * when left out, an `expires_at` of null for "never"). A key can never hand out more than it has:
 * only scopes it holds itself, and no later expiry than its own (so no "never" from a key that
 * expires). Left out, they default to the creator's own scopes and expiry.
 * A login session stands for the account owner and may grant any non-admin scope and any expiry.
 * Throws 403 PERMISSION_DENIED naming the scopes or the expiry that go too far.
 */
export function keyGrant(creator: KeyCreator, scopes: Scope[] | undefined, expiresAt: Date | null | undefined): KeyGrant {
  if (creator.credential === 'session') return { scopes: scopes ?? DEFAULT_SCOPES, expiresAt: expiresAt ?? null };
  const held = DEFAULT_SCOPES.filter((scope) => creator.scopes.has(scope) || creator.scopes.has('admin'));
  const granted = scopes ?? held;
  const missing = granted.filter((scope) => !held.includes(scope));
  if (missing.length > 0) {
    const what = missing.length === 1 ? `the ${quoted(missing)} scope` : `the scopes ${quoted(missing)}`;
    throw new AppError(403, 'PERMISSION_DENIED', `This key lacks ${what}: a key can create keys only with scopes it holds.`);
  }
  const ownExpiry = creator.expiresAt;
  if (ownExpiry && (expiresAt === null || (expiresAt && expiresAt.getTime() > ownExpiry.getTime()))) {
    throw new AppError(
      403,
      'PERMISSION_DENIED',
      `This key expires at ${iso(ownExpiry)}: a key can create keys only with an expires_at no later than its own.`,
    );
  }
  return { scopes: granted, expiresAt: expiresAt ?? ownExpiry };
}
