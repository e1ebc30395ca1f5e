import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unknownBodyFields } from '../unknown-body-fields.js';
import { accountSchema, emailField, loginEmailKey, tierField } from '../../shared/accounts/account-fields.js';
import { findAccountOfEmail, insertAccount, insertApiKey, updateAccount, type AccountRow } from '../../shared/accounts/account-queries.js';
import { DEFAULT_SCOPES, generateApiKey } from '../../shared/accounts/api-keys.js';
import type { CredentialChanges } from '../../shared/accounts/credential-changes.js';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import { badRequestBody, emailTaken, notFound, validationError } from '../errors.js';
import { rejectInvalidRequest } from '../body-validation.js';
import type { FieldProblem } from '../../shared/field-problems.js';
import { AUTH_ERRORS, errorCodes, errorResponses, errorSentences } from '../schemas.js';
import { UUID_PATTERN as UUID } from '../../shared/uuid.js';

const accountParams = z.object({ id: z.string() });

/** The email of an account lookup: given once, bounded like an account's email. */
const emailQuery = z
  .string({ error: (issue) => (issue.input === undefined ? 'The email parameter is required.' : 'The email parameter must be given once.') })
  .max(320, { error: 'The email parameter must be at most 320 characters.' });
const noAccountOfEmail = () => notFound('No account has this email.');

type AdminDeps = { db: Db; changes: CredentialChanges };

/**
 * Applies `changes` to the account `id` and tells every API process to drop what it cached of the
 * account's keys and sessions; 404 for an unknown or malformed id.
 */
async function changeAccount(deps: AdminDeps, id: string, changes: Parameters<typeof updateAccount>[2]): Promise<AccountRow> {
  const account = UUID.test(id) ? await updateAccount(deps.db, id, changes) : null;
  if (!account) throw notFound('Account not found.');
  await deps.changes.announce(account.id);
  return account;
}

/**
 * The 400 of an onboarding body (API.md §1): a bad or missing email is VALIDATION_ERROR, as at
 * signup (listing an unknown tier beside it too); an unknown tier alone is an unknown enum value,
 * BAD_REQUEST, as the change of tier answers it. Names the body does not take (`unknown`) are
 * listed after the others, without changing which of the two it is.
 */
const onboardingProblem = (problems: FieldProblem[], unknown: FieldProblem[]) =>
  problems.every((problem) => problem.field === 'tier') ? badRequestBody([...problems, ...unknown]) : validationError([...problems, ...unknown]);

/** The names an onboarding body may hold; any other is refused (a misspelt `tier` would open a FREE account). */
const onboardingFields = unknownBodyFields(['email', 'tier']);

/** Operator account routes of API.md §2: onboarding, lookup by email, verification, suspension, tier. */
export function adminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const config = { scope: 'admin' as const };

  routes.post(
    '/v1/admin/accounts',
    {
      config,
      attachValidation: true,
      preValidation: onboardingFields.note,
      schema: {
        operationId: 'createAccount',
        summary: 'Create an account (operators)',
        description: 'Onboarding: the account starts with its email verified and a first key of all non-admin scopes, shown once.',
        body: z.object({ email: emailField, tier: tierField.default('FREE') }),
        response: {
          201: z.object({
            id: z.uuid(),
            email: z.string(),
            tier: tierField,
            email_verified: z.boolean(),
            api_key: z.string().describe('The first key (all non-admin scopes); shown once'),
          }),
          ...errorResponses(...AUTH_ERRORS),
          ...errorCodes(400, 'VALIDATION_ERROR'),
          ...errorCodes(409, 'EMAIL_TAKEN'),
        },
      },
    },
    async (request, reply) => {
      const unknown = onboardingFields.problems(request);
      rejectInvalidRequest(request, (problems) => onboardingProblem(problems, unknown));
      if (unknown.length > 0) throw validationError(unknown);
      const { email, tier } = request.body;
      const key = generateApiKey();
      const account = await withTransaction(deps.db, async (client) => {
        const created = await insertAccount(client, { email, tier, emailVerified: true });
        await insertApiKey(client, {
          accountId: created.id,
          prefix: key.prefix,
          hash: key.hash,
          name: 'first key',
          scopes: DEFAULT_SCOPES,
        });
        return created;
      }).catch((error: unknown) => {
        if ((error as { code?: string }).code === '23505') throw emailTaken();
        throw error;
      });
      return reply.code(201).send({
        id: account.id,
        email: account.email,
        tier: account.tier,
        email_verified: account.email_verified,
        api_key: key.key,
      });
    },
  );

  routes.get(
    '/v1/admin/accounts',
    {
      config,
      schema: {
        operationId: 'findAccountByEmail',
        summary: 'Find an account by email (operators)',
        description:
          'The account whose email is `email`, matched as a login matches it: without surrounding white space, in any ' +
          'case. 404 NOT_FOUND when no account has it.',
        querystring: z.object({ email: emailQuery.describe('the email the account signed up or was onboarded with') }),
        response: { 200: accountSchema, ...errorResponses(400, ...AUTH_ERRORS), ...errorSentences(404, 'NOT_FOUND', noAccountOfEmail().message) },
      },
    },
    async (request) => {
      const account = await findAccountOfEmail(deps.db, loginEmailKey(request.query.email));
      if (!account) throw noAccountOfEmail();
      return account;
    },
  );

  const accountAction = (path: string, operationId: string, summary: string, changes: Parameters<typeof updateAccount>[2]) =>
    routes.post(
      `/v1/admin/accounts/:id/${path}`,
      { config, schema: { operationId, summary, params: accountParams, response: { 200: accountSchema, ...errorResponses(404, ...AUTH_ERRORS) } } },
      async (request) => changeAccount(deps, request.params.id, changes),
    );
  accountAction('verify', 'verifyAccount', "Mark an account's email verified (operators)", { emailVerified: true });
  accountAction('suspend', 'suspendAccount', 'Suspend an account (operators)', { suspended: true });
  accountAction('unsuspend', 'unsuspendAccount', 'Lift the suspension of an account (operators)', { suspended: false });

  routes.patch(
    '/v1/admin/accounts/:id',
    {
      config,
      attachValidation: true,
      schema: {
        operationId: 'changeAccountTier',
        summary: "Change an account's tier (operators)",
        params: accountParams,
        body: z.object({ tier: tierField }),
        response: { 200: accountSchema, ...errorResponses(400, 404, ...AUTH_ERRORS) },
      },
    },
    async (request) => {
      // API.md §1 keeps VALIDATION_ERROR for signup and key creation (and an onboarding's email): a
      // change of tier that names an unknown one is an unknown enum value, 400 BAD_REQUEST.
      rejectInvalidRequest(request, badRequestBody);
      return changeAccount(deps, request.params.id, { tier: request.body.tier });
    },
  );
}
