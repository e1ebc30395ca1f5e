import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { rotateCallbackSecret } from '../../shared/callbacks/callback-secret-queries.js';
import { generateCallbackSecret } from '../../shared/callbacks/signature.js';
import type { Db } from '../../shared/db/pool.js';
import { accountIdOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses } from '../schemas.js';
import { answeredInstant } from '../../shared/instant.js';

const callbackSecretSchema = z
  .object({
    secret: z.string().describe("The account's callback signing secret; shown only in this response"),
    previous_valid_until: answeredInstant()
      .nullable()
      .describe('Until when deliveries are also signed with the secret this one replaced; null: there was none'),
  })
  .meta({ id: 'CallbackSecret' });

/**
 * POST /v1/callback-secret (API.md §7): creates or rotates the account's callback signing secret.
 * Same credentials as the key routes: a key with `keys:manage`, or a login session.
 */
export function callbackSecretRoutes(app: FastifyInstance, deps: { db: Db; graceHours: number }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/callback-secret',
    {
      config: { scope: 'keys:manage', sessionAllowed: true },
      schema: {
        operationId: 'rotateCallbackSecret',
        summary: 'Create or rotate the callback signing secret',
        description: 'The new secret is in this response only; deliveries are also signed with the one it replaces until `previous_valid_until`.',
        response: { 201: callbackSecretSchema, ...errorResponses(...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const secret = generateCallbackSecret();
      const previousValidUntil = await rotateCallbackSecret(deps.db, accountIdOf(request), secret, deps.graceHours * 3600);
      return reply.code(201).send({
        secret,
        previous_valid_until: previousValidUntil && previousValidUntil.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    },
  );
}
