import { createHmac, randomBytes } from 'node:crypto';

/** Every per-account secret starts with this, so a leaked one is recognisable by secret scanners. */
export const CALLBACK_SECRET_PREFIX = 'cbs_';

/** A new callback signing secret: `cbs_` and 32 random bytes in base64url (43 characters). */
export function generateCallbackSecret(): string {
  return `${CALLBACK_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Raised instead of signing with no key: a delivery is never sent with an unkeyed signature. */
export class MissingSigningSecretError extends Error {
  override name = 'MissingSigningSecretError';
}

/**
 * The `X-Signature` of a callback: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over `<t>.<body>`, one
 * `v1=` per secret (the account's current one first, then the previous one during its grace
 * period), so a receiver still holding the old secret verifies too. The timestamp lets a receiver
 * refuse replays of old deliveries.
 */
export function signCallback(secrets: readonly string[], timestampSeconds: number, body: string): string {
  if (secrets.length === 0 || secrets.some((secret) => secret === '')) {
    throw new MissingSigningSecretError('no callback signing secret');
  }
  const signatures = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`,
  );
  return [`t=${timestampSeconds}`, ...signatures].join(',');
}
