import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../shared/db/pool.js';
import { findApiKeyByPrefix } from '../../shared/accounts/account-queries.js';
import { keyMatches, lookupPrefix, type Scope } from '../../shared/accounts/api-keys.js';
import {
  accountSuspended,
  AppError,
  apiKeyExpired,
  authenticationRequired,
  emailNotVerified,
  invalidApiKey,
  permissionDenied,
} from '../../shared/errors.js';

/** Who is calling: an account's key, or the operator key from ADMIN_API_KEY. */
export type Principal =
  | { kind: 'account'; accountId: string; keyId: string; scopes: ReadonlySet<Scope> }
  | { kind: 'admin' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public. */
    scope?: Scope;
  }
}

/** The key of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : header.trim();
  }
  const apiKey = request.headers['x-api-key'];
  return (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim() || null;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Authenticates every request to a route that declares `config.scope`, and checks the scope.
 * Unknown, revoked and mismatched keys all get the same 401 INVALID_API_KEY.
 */
export function registerAuth(app: FastifyInstance, deps: { db: Db; adminApiKey?: string }): void {
  const adminHash = deps.adminApiKey ? sha256(deps.adminApiKey) : null;
  app.decorateRequest('principal', null);

  const authenticate = async (key: string): Promise<Principal> => {
    if (adminHash && timingSafeEqual(sha256(key), adminHash)) return { kind: 'admin' };
    const record = await findApiKeyByPrefix(deps.db, lookupPrefix(key));
    if (!record || record.revoked_at || !keyMatches(key, record.key_hash)) throw invalidApiKey();
    if (record.expires_at && record.expires_at.getTime() <= Date.now()) throw apiKeyExpired();
    if (record.suspended) throw accountSuspended();
    if (!record.email_verified) throw emailNotVerified();
    return { kind: 'account', accountId: record.account_id, keyId: record.id, scopes: new Set(record.scopes) };
  };

  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (!scope) return;
    const key = presentedKey(request);
    if (!key) throw authenticationRequired();
    const principal = await authenticate(key);
    if (principal.kind === 'account' && !principal.scopes.has(scope) && !principal.scopes.has('admin')) {
      throw permissionDenied(scope);
    }
    if (principal.kind === 'admin' && scope !== 'admin') {
      throw new AppError(403, 'PERMISSION_DENIED', "The operator key has no catalog of its own: use an account's API key.");
    }
    request.principal = principal;
    if (principal.kind === 'account') request.log = request.log.child({ accountId: principal.accountId });
  });
}

/** The account id of an authenticated account request (routes with an account scope only). */
export function accountIdOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'account') throw authenticationRequired();
  return principal.accountId;
}
