import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unknownBodyFields } from '../unknown-body-fields.js';
import { scopeField } from '../../shared/accounts/account-fields.js';
import { insertApiKey } from '../../shared/accounts/account-queries.js';
import { DEFAULT_SCOPES, generateApiKey, type Scope } from '../../shared/accounts/api-keys.js';
import { listApiKeys, revokeApiKey } from '../../shared/accounts/key-queries.js';
import { decodeCursor, isNewestFirstPosition, pageOf } from '../cursor.js';
import { answeredInstant, instantSchema, isBeforeYear10000 } from '../../shared/instant.js';
import type { CredentialChanges } from '../../shared/accounts/credential-changes.js';
import type { Db } from '../../shared/db/pool.js';
import { authenticationRequired, notFound, validationError } from '../errors.js';
import { rejectInvalidRequest } from '../body-validation.js';
import { keyGrant } from '../key-grant.js';
import { accountIdOf, principalOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorCodes, errorResponses, pageQueryFields, pageSchema } from '../schemas.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';


/** ISO 8601 with a time and an offset (`Z` or `±hh:mm`), as everywhere in the contract. */
const EXPIRES_AT_MESSAGE = 'The expires_at field must be an ISO 8601 date-time such as 2026-05-14T10:30:00Z.';
// The key's expires_at is answered in UTC: a later one could not be written with a four-digit year.
const expiresAtField = instantSchema(EXPIRES_AT_MESSAGE).refine(isBeforeYear10000, {
  error: 'The expires_at field must be before 10000-01-01T00:00:00Z (UTC).',
});

/** Repeated scopes collapse into one, so the bound is generous rather than the number of scopes. */
const MAX_SCOPES_LISTED = 50;

/** The admin scope's refusal: a 400 of its own, so the scopes field takes it and the route refuses it. */
const ADMIN_REFUSED = "The 'admin' scope is for operators and cannot be granted to a key.";

/** A key's scope, sent or answered: the document lists those a key may hold, every one but `admin` (no key is given it). */
const keyScopeField = scopeField.meta({ enum: DEFAULT_SCOPES });

const newKeySchema = z.object({
  name: z
    .string({ error: (issue) => (issue.input === undefined ? 'The name field is required.' : 'The name field must be a string.') })
    .trim()
    .min(1, { error: 'The name field must not be empty.' })
    .max(100, { error: 'The name field must be at most 100 characters.' }),
  scopes: z
    .array(keyScopeField, { error: 'The scopes field must be an array of scopes.' })
    .min(1, { error: 'The scopes field must list at least one scope.' })
    .max(MAX_SCOPES_LISTED, { error: `The scopes field must list at most ${MAX_SCOPES_LISTED} scopes.` })
    .optional()
    .describe(
      "Left out: the creating key's own scopes (for a login session: every scope but `admin`). Only scopes the creating key holds; " +
        `\`admin\` is for the operator key alone: a 400 VALIDATION_ERROR, \`${ADMIN_REFUSED}\``,
    ),
  expires_at: expiresAtField.nullable().optional(),
}).meta({ description: 'A name the body does not take is a 400 VALIDATION_ERROR naming it: a misspelt `scopes` would otherwise grant the default scopes.' });

/** The names a new key's body may hold; any other is refused (a misspelt `scopes` would grant them all). */
const newKeyFields = unknownBodyFields(Object.keys(newKeySchema.shape));

const keySchema = z
  .object({
    id: z.uuid(),
    prefix: z.string(),
    name: z.string(),
    scopes: z.array(keyScopeField),
    expires_at: answeredInstant().nullable(),
    created_at: answeredInstant(),
  })
  .meta({ id: 'ApiKey' });

const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The key routes of API.md §2: create (shown once), list (never the secret), revoke. */
export function keyRoutes(app: FastifyInstance, deps: { db: Db; clock: () => number; changes: CredentialChanges }): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const config = { scope: 'keys:manage' as const, sessionAllowed: true };
  // Listing and revoking keys stay open to the owner's session over the limits (see auth.ts).
  const ownerConfig = { ...config, ownerOverLimits: true };

  routes.post(
    '/v1/keys',
    {
      config,
      attachValidation: true,
      preValidation: newKeyFields.note,
      schema: {
        operationId: 'createApiKey',
        summary: 'Create an API key',
        description: 'The key itself is in this response only; the service keeps its hash.',
        body: newKeySchema,
        response: { 201: keySchema.extend({ key: z.string() }), ...errorResponses(...AUTH_ERRORS), ...errorCodes(400, 'VALIDATION_ERROR') },
      },
    },
    async (request, reply) => {
      const unknown = newKeyFields.problems(request);
      rejectInvalidRequest(request, (problems) => validationError([...problems, ...unknown]));
      if (unknown.length > 0) throw validationError(unknown);
      const { name, scopes, expires_at: expiresAtText } = request.body;
      // null (sent as null: never expires) and undefined (left out) differ for a key that expires.
      // Kept to the whole second, as key resources show it: the key stops when its expires_at says.
      const expiresAt = typeof expiresAtText === 'string' ? new Date(Math.floor(Date.parse(expiresAtText) / 1000) * 1000) : expiresAtText;
      if (expiresAt && expiresAt.getTime() <= deps.clock()) {
        throw validationError([{ field: 'expires_at', message: 'The expires_at field must be in the future.' }]);
      }
      const requested: Scope[] | undefined = scopes && [...new Set(scopes)];
      if (requested?.includes('admin')) {
        throw validationError([{ field: 'scopes', message: ADMIN_REFUSED }]);
      }
      const principal = principalOf(request);
      if (principal.kind !== 'account') throw authenticationRequired();
      const grant = keyGrant(principal, requested, expiresAt);
      const key = generateApiKey();
      const stored = await insertApiKey(deps.db, {
        accountId: principal.accountId,
        prefix: key.prefix,
        hash: key.hash,
        name,
        scopes: grant.scopes,
        expiresAt: grant.expiresAt,
      });
      return reply.code(201).send({
        id: stored.id,
        key: key.key,
        prefix: key.prefix,
        name,
        scopes: grant.scopes,
        expires_at: grant.expiresAt && iso(grant.expiresAt),
        created_at: iso(stored.created_at),
      });
    },
  );

  routes.get(
    '/v1/keys',
    {
      config: ownerConfig,
      schema: {
        operationId: 'listApiKeys',
        summary: "List the account's API keys (never their secret)",
        querystring: z.object(pageQueryFields),
        response: { 200: pageSchema(keySchema), ...errorResponses(400, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isNewestFirstPosition) : undefined;
      const rows = await listApiKeys(deps.db, accountIdOf(request), {
        limit,
        after: after && { createdAt: after[0], id: after[1] },
      });
      return pageOf(
        rows,
        limit,
        (row) => [row.created_at_key, row.id],
        (row) => ({
          id: row.id,
          prefix: row.prefix,
          name: row.name,
          scopes: row.scopes,
          expires_at: row.expires_at && iso(row.expires_at),
          created_at: iso(row.created_at),
        }),
      );
    },
  );

  routes.delete(
    '/v1/keys/:id',
    {
      config: ownerConfig,
      schema: {
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        description: 'The key stops working at once, on every API process.',
        params: z.object({ id: z.string() }),
        response: { 204: z.null().describe('The key is revoked'), ...errorResponses(404, ...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const accountId = accountIdOf(request);
      if (!UUID.test(id) || !(await revokeApiKey(deps.db, accountId, id))) throw notFound('API key not found.');
      // "Revoked at once" (API.md §2) on every API process, not only when their cached entry expires.
      await deps.changes.announce(accountId);
      return reply.code(204).send(null);
    },
  );
}
