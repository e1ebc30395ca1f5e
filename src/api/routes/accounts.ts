import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { UnknownEmailLogins } from '../unknown-email-logins.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { emailField, loginEmailKey, newPasswordField, requiredOr, tierField } from '../../shared/accounts/account-fields.js';
import { findAccountByEmail, insertAccount } from '../../shared/accounts/account-queries.js';
import { generateToken, hashApiKey, SESSION_PREFIX } from '../../shared/accounts/api-keys.js';
import { releaseLoginAttempts, reserveLoginAttempt } from '../../shared/accounts/login-lockout.js';
import { decoyHash, hashPassword, type PasswordVerifier } from '../../shared/accounts/passwords.js';
import { deleteExpiredSessions, insertSession } from '../../shared/accounts/session-queries.js';
import {
  consumeVerification,
  insertVerification,
  insertVerificationUnlessRecent,
} from '../../shared/accounts/verification-queries.js';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import {
  accountLocked,
  accountSuspended,
  emailNotVerified,
  emailTaken,
  invalidCredentials,
  validationError,
} from '../errors.js';
import type { Mailer } from '../../shared/mail/mailer.js';
import { rejectInvalidRequest } from '../body-validation.js';
import { errorCodes, errorResponses } from '../schemas.js';
import { answeredInstant } from '../../shared/instant.js';

const SESSION_MS = 60 * 60 * 1000;
const VERIFICATION_MS = 24 * 60 * 60 * 1000;
/** An unverified account's login mails a new link at most this often. */
const RELINK_MS = 15 * 60 * 1000;

export interface AccountRoutesDeps {
  db: Db;
  mailer: Mailer;
  clock: () => number;
  /** Base URL of the API, for the link in the verification mail. */
  publicUrl: string;
  /** The password check of a login (the slow scrypt step that the lockout rations). */
  verifyPassword: PasswordVerifier;
  /** The lockout of logins to emails without an account, which must look like an account's. */
  unknownEmailLogins: UnknownEmailLogins;
}

const PUBLIC_ERRORS = [429, 500, 503] as const;
const MAX_TOKEN_LENGTH = 200;

/** A verification token, as a body field or (the mail's link) a query parameter given once. */
const tokenField = (otherwise: (input: unknown) => string) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'The token field is required.' : otherwise(issue.input)) })
    .min(1, { error: 'The token field must not be empty.' })
    .max(MAX_TOKEN_LENGTH, { error: `The token field must be at most ${MAX_TOKEN_LENGTH} characters.` });
const tokenBody = z.object({ token: tokenField(() => 'The token field must be a string.') });
const tokenQuery = z.object({
  token: tokenField((input) => (Array.isArray(input) ? 'The token parameter must be given once.' : 'The token field must be a string.')),
});

/**
 * A login's fields: bounded like signup's, but any password is checked (a weak one is just wrong).
 * Each problem has its own message, "required" only for a field left out.
 */
const loginBody = z.object({
  email: z
    .string({ error: requiredOr('email', 'The email field must be a string.') })
    .max(320, { error: 'The email field must be at most 320 characters.' }),
  password: z
    .string({ error: requiredOr('password', 'The password field must be a string.') })
    .max(1024, { error: 'The password must be at most 1024 characters long.' }),
});

/** The verification mail: a link (GET) and the same token for POST /v1/verify-email. */
function verificationMail(publicUrl: string, token: string): { subject: string; text: string } {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    subject: 'Confirm your email address',
    text: [
      'Confirm your email address within 24 hours by opening this link:',
      '',
      `${base}/v1/verify-email?token=${token}`,
      '',
      `or with POST ${base}/v1/verify-email and the body {"token":"${token}"}.`,
    ].join('\n'),
  };
}

/** Self-service account routes of API.md §2: signup, email verification, login. */
export function accountRoutes(app: FastifyInstance, deps: AccountRoutesDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  // The account exists already: a mail that cannot be sent is logged rather than failing the request.
  const mailVerification = (to: string, token: string, log: FastifyBaseLogger) =>
    deps.mailer
      .send({ to, ...verificationMail(deps.publicUrl, token) })
      .catch((error: unknown) => log.error({ err: error }, 'verification mail not sent'));

  /**
   * After the right password of an unverified account: a new link (the earlier ones keep working
   * until they expire), unless one went out within RELINK_MS. Only the password's owner gets this
   * far, and the link goes to the account's own address.
   */
  const relinkUnverified = async (account: { id: string; email: string }, now: number, log: FastifyBaseLogger) => {
    const verification = generateToken();
    const expiresAt = new Date(now + VERIFICATION_MS);
    const unlessExpiringAfter = new Date(expiresAt.getTime() - RELINK_MS);
    const stored = await withTransaction(deps.db, (client) =>
      insertVerificationUnlessRecent(client, { accountId: account.id, tokenHash: verification.hash, expiresAt, unlessExpiringAfter }));
    if (stored) await mailVerification(account.email, verification.token, log);
  };

  routes.post(
    '/v1/signup',
    {
      attachValidation: true,
      schema: {
        operationId: 'signUp',
        security: [],
        summary: 'Sign up for an account',
        description: 'Creates a FREE account with its email not yet verified and mails a verification link; log in once it is verified.',
        body: z.object({ email: emailField, password: newPasswordField }),
        response: {
          201: z.object({ id: z.uuid(), email: z.string(), tier: tierField, email_verified: z.boolean() }),
          ...errorResponses(...PUBLIC_ERRORS),
          ...errorCodes(400, 'VALIDATION_ERROR'),
          ...errorCodes(409, 'EMAIL_TAKEN'),
        },
      },
    },
    async (request, reply) => {
      rejectInvalidRequest(request);
      const { email, password } = request.body;
      const passwordHash = await hashPassword(password);
      const verification = generateToken();
      const account = await withTransaction(deps.db, async (client) => {
        const created = await insertAccount(client, { email, tier: 'FREE', emailVerified: false, passwordHash });
        const expiresAt = new Date(deps.clock() + VERIFICATION_MS);
        await insertVerification(client, { accountId: created.id, tokenHash: verification.hash, expiresAt });
        return created;
      }).catch((error: unknown) => {
        if ((error as { code?: string }).code === '23505') throw emailTaken();
        throw error;
      });
      await mailVerification(account.email, verification.token, request.log);
      return reply.code(201).send({ id: account.id, email: account.email, tier: account.tier, email_verified: false });
    },
  );

  const verify = async (token: string) => {
    const accountId = await consumeVerification(deps.db, hashApiKey(token), new Date(deps.clock()));
    if (!accountId) {
      throw validationError([{ field: 'token', message: 'The verification token is unknown, already used or expired.' }]);
    }
    return { email_verified: true as const };
  };
  const verifyResponse = {
    200: z.object({ email_verified: z.literal(true) }),
    ...errorResponses(...PUBLIC_ERRORS),
    ...errorCodes(400, 'VALIDATION_ERROR'),
  };

  routes.post(
    '/v1/verify-email',
    {
      attachValidation: true,
      schema: { operationId: 'verifyEmail', security: [], summary: 'Verify an email address with its token', body: tokenBody, response: verifyResponse },
    },
    async (request) => {
      rejectInvalidRequest(request);
      return verify(request.body.token);
    },
  );

  // The link in the verification mail: the same as the POST, for a click in a mail client.
  routes.get(
    '/v1/verify-email',
    {
      attachValidation: true,
      // The token is in the URL here: the logger's request serializer redacts it (shared/logger.ts).
      schema: {
        operationId: 'verifyEmailLink',
        security: [],
        summary: 'Verify an email address (the link in the verification mail)',
        querystring: tokenQuery,
        response: verifyResponse,
      },
    },
    async (request) => {
      rejectInvalidRequest(request);
      return verify(request.query.token);
    },
  );

  routes.post(
    '/v1/login',
    {
      attachValidation: true,
      schema: {
        operationId: 'logIn',
        security: [],
        summary: 'Log in for a session token',
        description:
          'The session token lasts 1 hour; it is a Bearer credential for /v1/keys, /v1/callback-secret and /v1/usage only. ' +
          'The right password of an account whose email is not verified answers 403 EMAIL_NOT_VERIFIED and mails a new ' +
          'verification link, at most one every 15 minutes.',
        body: loginBody,
        response: {
          200: z.object({ token: z.string(), expires_at: answeredInstant() }),
          ...errorResponses(423, ...PUBLIC_ERRORS),
          ...errorCodes(400, 'VALIDATION_ERROR'),
          ...errorCodes(401, 'INVALID_CREDENTIALS'),
          ...errorCodes(403, 'EMAIL_NOT_VERIFIED', 'ACCOUNT_SUSPENDED'),
        },
      },
    },
    async (request) => {
      rejectInvalidRequest(request);
      const { password } = request.body;
      // One form of the email for the account lookup and the unknown-email lockout alike.
      const email = loginEmailKey(request.body.email);
      const now = deps.clock();
      const account = await findAccountByEmail(deps.db, email);
      if (!account?.password_hash) {
        // Same work and the same answers as a wrong password, the lock after five included: the
        // response never tells whether the email exists.
        const lockedSeconds = await deps.unknownEmailLogins.reserve(email, now);
        if (lockedSeconds > 0) throw accountLocked(lockedSeconds);
        await deps.verifyPassword(password, await decoyHash());
        throw invalidCredentials();
      }
      // The attempt is counted (and the lock set) before the password is checked, so concurrent
      // logins cannot get more checks than the lockout allows.
      const lockedUntil = await reserveLoginAttempt(deps.db, account.id, new Date(now));
      if (lockedUntil) throw accountLocked(Math.ceil((lockedUntil.getTime() - now) / 1000));
      if (!(await deps.verifyPassword(password, account.password_hash))) throw invalidCredentials();
      await releaseLoginAttempts(deps.db, account.id);
      if (account.suspended) throw accountSuspended();
      if (!account.email_verified) {
        await relinkUnverified(account, now, request.log);
        throw emailNotVerified();
      }
      const session = generateToken(SESSION_PREFIX);
      const expiresAt = new Date(now + SESSION_MS);
      await deleteExpiredSessions(deps.db, account.id, new Date(now));
      await insertSession(deps.db, { accountId: account.id, tokenHash: session.hash, expiresAt });
      return { token: session.token, expires_at: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') };
    },
  );
}
