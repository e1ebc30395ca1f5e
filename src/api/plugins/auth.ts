import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../shared/db/pool.js';
import { findApiKeyByPrefix, type ApiKeyRecord, type Tier } from '../../shared/accounts/account-queries.js';
import {
  credentialDigest,
  DEFAULT_SCOPES,
  isSessionToken,
  keyMatches,
  lookupPrefix,
  sameDigest,
  type Scope,
} from '../../shared/accounts/api-keys.js';
import { findSession } from '../../shared/accounts/session-queries.js';
import {
  accountSuspended,
  AppError,
  apiKeyExpired,
  authenticationRequired,
  emailNotVerified,
  invalidApiKey,
  permissionDenied,
} from '../errors.js';
import type { CredentialCache } from './credential-cache.js';
import type { CredentialAttempts } from '../../shared/http/credential-attempts.js';
import type { RequestLimits } from './limits.js';
import { startPrefetch } from '../prefetch.js';
import { bindAccount } from '../../shared/logger.js';

/** Who is calling: an account (by API key or login session), or the operator key from ADMIN_API_KEY. */
export type Principal =
  | {
      kind: 'account';
      accountId: string;
      tier: Tier;
      /** The API key's id; null for a login session. */
      keyId: string | null;
      credential: 'key' | 'session';
      scopes: ReadonlySet<Scope>;
      /** When the key or session stops working; null for a key without expiry. */
      expiresAt: Date | null;
    }
  | { kind: 'admin' };

/** The principal of an account's key or session. */
export type AccountPrincipal = Extract<Principal, { kind: 'account' }>;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs. Routes with neither `scope` nor `authenticated` are public. */
    scope?: Scope;
    /** The route needs an account's credential but no particular scope (e.g. GET /v1/usage). */
    authenticated?: boolean;
    /** A login session (POST /v1/login) is accepted too; elsewhere only API keys are. */
    sessionAllowed?: boolean;
    /**
     * Who may call a route with `authenticated` whose handler checks a scope that depends on the
     * resource (a job's type), as the OpenAPI document says it: "a key with …".
     */
    scopeChecked?: string;
    /** The operator key may call this account route too (e.g. to look across accounts); the principal is then `admin`. */
    adminAllowed?: boolean;
    /**
     * A login session gets through the account's used-up minute or month here (listing and
     * revoking keys, reading the usage): see {@link overLimitsAllowed}.
     */
    ownerOverLimits?: boolean;
  }
}

/** `Authorization: Bearer <credential>`, the scheme in any case; what follows it is the credential as sent. */
const BEARER = /^Bearer\s+(\S.*)$/i;

/**
 * The credential of a request: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. An
 * Authorization header of another scheme (Basic, added by a proxy in front) carries no key: it
 * neither hides an X-API-Key nor counts as an invalid key.
 */
function presentedKey(request: FastifyRequest): string | null {
  const bearer = BEARER.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1]!.trim();
  const apiKey = request.headers['x-api-key'];
  return (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim() || null;
}

export interface AuthDeps {
  db: Db;
  adminApiKey?: string;
  limits: RequestLimits;
  /** The per-address limit on invalid keys, checked before a credential is (API.md §1). */
  attempts: CredentialAttempts;
  /** Resolved keys and sessions of this process, dropped on every change announced by any process. */
  credentials: CredentialCache;
  clock: () => number;
}

/** Why the account state every credential shares refuses it (suspension first, then verification), or null. */
function accountRefusal(account: { suspended: boolean; email_verified: boolean }): AppError | null {
  if (account.suspended) return accountSuspended();
  if (!account.email_verified) return emailNotVerified();
  return null;
}

/**
 * Why a stored key no longer admits its bearer at `now`, or null: revoked (401 INVALID_API_KEY, as
 * for an unknown key), expired, its account suspended or not verified. Also asked of the key of
 * an open event stream whenever its account's credentials change.
 */
export function keyRefusal(
  record: Pick<ApiKeyRecord, 'revoked_at' | 'expires_at' | 'suspended' | 'email_verified'>,
  now: number,
): AppError | null {
  if (record.revoked_at) return invalidApiKey();
  if (record.expires_at && record.expires_at.getTime() <= now) return apiKeyExpired();
  return accountRefusal(record);
}

/**
 * Why the route does not admit the principal (missing scope, session or operator key where not
 * allowed), or null. `sessionRoutes` names the routes that take a login session, for its refusal.
 */
function refusal(principal: Principal, config: FastifyRequest['routeOptions']['config'], sessionRoutes: string): AppError | null {
  const scope = config.scope;
  if (principal.kind === 'admin') {
    return scope !== 'admin' && !config.adminAllowed
      ? new AppError(403, 'PERMISSION_DENIED', "The operator key has no catalog of its own: use an account's API key.")
      : null;
  }
  if (principal.credential === 'session' && !config.sessionAllowed) {
    return new AppError(
      403,
      'PERMISSION_DENIED',
      `A login session is valid only for ${sessionRoutes}: create an API key for this route.`,
    );
  }
  if (scope && !principal.scopes.has(scope) && !principal.scopes.has('admin')) return permissionDenied(scope);
  return null;
}

function sendRateLimitHeaders(reply: FastifyReply, state: { limit: number; remaining: number; resetSeconds: number }) {
  reply.header('x-ratelimit-limit', String(state.limit));
  reply.header('x-ratelimit-remaining', String(state.remaining));
  reply.header('x-ratelimit-reset', String(state.resetSeconds));
}

/**
 * Authenticates every request to a route that declares `config.scope` or `config.authenticated`,
 * counts it toward the account's limits, and checks the scope. Unknown, revoked and mismatched
 * keys all get the same 401 INVALID_API_KEY. Requests without a key and invalid keys are also
 * counted per client address (API.md §1); past the invalid-key limit, keys are not checked.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  const adminDigest = deps.adminApiKey ? credentialDigest(deps.adminApiKey) : null;
  app.decorateRequest('principal', null);
  app.decorateRequest('prefetch', null);

  // The paths of the routes that take a login session, as registered (`/v1/keys/{id}`), so that
  // the refusal of a session elsewhere names every one of them.
  const sessionPaths = new Set<string>();
  app.addHook('onRoute', (route) => {
    if (route.config?.sessionAllowed) sessionPaths.add(route.url.replace(/:(\w+)/g, '{$1}'));
  });
  let sessionRoutes = '';
  app.addHook('onReady', async () => {
    const paths = [...sessionPaths];
    sessionRoutes = paths.length > 1 ? `${paths.slice(0, -1).join(', ')} and ${paths.at(-1)}` : (paths[0] ?? 'no route');
  });

  const authenticateKey = async (key: string): Promise<AccountPrincipal> => {
    const record = await findApiKeyByPrefix(deps.db, lookupPrefix(key));
    if (!record || !keyMatches(key, record.key_hash)) throw invalidApiKey();
    const refused = keyRefusal(record, deps.clock());
    if (refused) throw refused;
    const scopes = new Set(record.scopes);
    return {
      kind: 'account', accountId: record.account_id, tier: record.tier, keyId: record.id, credential: 'key', scopes, expiresAt: record.expires_at,
    };
  };

  /** The session of a token by its hash (sessions are stored by the hash of their token). */
  const authenticateSession = async (tokenHash: Buffer): Promise<AccountPrincipal> => {
    const session = await findSession(deps.db, tokenHash);
    if (!session) throw invalidApiKey();
    if (session.expires_at.getTime() <= deps.clock()) throw apiKeyExpired();
    const refused = accountRefusal(session);
    if (refused) throw refused;
    const scopes = new Set(DEFAULT_SCOPES);
    return {
      kind: 'account', accountId: session.account_id, tier: session.tier, keyId: null, credential: 'session', scopes, expiresAt: session.expires_at,
    };
  };

  /** The principal of a credential: the operator key, a cached one, or looked up. */
  const resolve = async (credential: string, digest: string): Promise<Principal> => {
    if (adminDigest && sameDigest(digest, adminDigest)) return { kind: 'admin' };
    const cached = deps.credentials.get(digest, deps.clock());
    if (cached) return cached;
    // Taken before the lookup: a change announced while it runs keeps its result out of the cache.
    const generation = deps.credentials.generation();
    const principal = await (isSessionToken(credential) ? authenticateSession(Buffer.from(digest, 'base64')) : authenticateKey(credential));
    deps.credentials.remember(digest, principal, generation);
    return principal;
  };

  /**
   * The principal of `credential` presented from `address`. Past the address's invalid-key limit a
   * credential that has not passed from there before is refused unchecked (429), the operator key
   * too: so the limit stops a guess, right or wrong, before it costs a lookup.
   */
  const authenticate = async (credential: string, address: string): Promise<Principal> => {
    const digest = credentialDigest(credential);
    const admission = deps.attempts.admit(address, digest);
    const redisDown = admission ? await admission : undefined;
    const principal = await resolve(credential, digest).catch(async (error: unknown) => {
      if (error instanceof AppError && error.code === 'INVALID_API_KEY') await deps.attempts.failed(address, digest);
      throw error;
    });
    deps.attempts.passed(address, digest);
    // An account's request needs Redis next (its admission): answered now, not after a second wait
    // of REDIS_COMMAND_TIMEOUT_MS. The operator key needs no Redis of its own.
    if (redisDown && principal.kind === 'account') throw redisDown;
    return principal;
  };

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const credential = presentedKey(request);
    if (!config.scope && !config.authenticated) {
      // Public /v1 routes (signup, login, …) and unknown /v1 paths count as unauthenticated requests.
      if (request.url.startsWith('/v1/')) await deps.limits.countUnauthenticated(request.ip);
      return;
    }
    if (!credential) {
      await deps.limits.countUnauthenticated(request.ip);
      throw authenticationRequired();
    }
    const principal = await authenticate(credential, request.ip);
    // Answered after admission: a refused request counts toward the limits all the same.
    const refused = refusal(principal, config, sessionRoutes);
    if (principal.kind === 'account') {
      bindAccount(request.log, principal.accountId);
      // An account that was refused at its last admission (over a limit) costs PostgreSQL no lookup.
      if (config.prefetch && !refused && deps.limits.hadRoom(principal.accountId)) {
        startPrefetch(request, config.prefetch, principal.accountId);
      }
      const admitted = deps.limits.admitAccount(principal.accountId, principal.tier, (state) => sendRateLimitHeaders(reply, state));
      await (principal.credential === 'session' && config.ownerOverLimits ? admitted.catch(overLimitsAllowed) : admitted);
    }
    if (refused) throw refused;
    request.principal = principal;
  });
}

/**
 * A login session (the owner's password) goes through an account's used-up minute or month on the
 * routes that list and revoke keys and read the usage (`ownerOverLimits`), counted while there is
 * room: a leaked key that uses up the limits must not keep its owner from revoking it. Creating
 * keys stays limited. Anything but a 429 (Redis down: 503) still refuses it.
 */
function overLimitsAllowed(error: unknown): void {
  if (!(error instanceof AppError) || error.status !== 429) throw error;
}

/** The authenticated principal of a request (routes that declare `scope` or `authenticated` only). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw authenticationRequired();
  return request.principal;
}

/** The principal of a request authenticated by an API key (routes that take no login session nor the operator key). */
export function apiKeyPrincipalOf(request: FastifyRequest): AccountPrincipal & { keyId: string } {
  const principal = request.principal;
  if (principal?.kind !== 'account' || principal.keyId === null) throw authenticationRequired();
  return { ...principal, keyId: principal.keyId };
}

/** The account id of an authenticated account request (routes with an account scope only). */
export function accountIdOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind !== 'account') throw authenticationRequired();
  return principal.accountId;
}
