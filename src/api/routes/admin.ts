import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { insertAccount, insertApiKey } from '../../shared/accounts/account-queries.js';
import { DEFAULT_SCOPES, generateApiKey } from '../../shared/accounts/api-keys.js';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import { AppError, validationError } from '../../shared/errors.js';

const newAccountSchema = z.object({
  email: z.email({ error: 'The email field must be a valid email address.' }).max(320),
  tier: z.enum(['FREE', 'PRO', 'ENTERPRISE'], { error: 'The tier must be FREE, PRO or ENTERPRISE.' }).default('FREE'),
});

/** Operator routes of API.md §2 (onboarding; the rest comes with the accounts work). */
export function adminRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.post('/v1/admin/accounts', { config: { scope: 'admin' } }, async (request, reply) => {
    const parsed = newAccountSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => ({
        field: issue.path.join('.') || 'body',
        message: issue.path.length === 0 ? 'The body must be a JSON object.' : issue.message,
      }));
      throw validationError(problems);
    }
    const { email, tier } = parsed.data;
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
      if ((error as { code?: string }).code === '23505') {
        throw new AppError(409, 'EMAIL_TAKEN', 'An account with this email already exists.');
      }
      throw error;
    });
    return reply.code(201).send({
      id: account.id,
      email: account.email,
      tier: account.tier,
      email_verified: account.email_verified,
      api_key: key.key,
    });
  });
}
