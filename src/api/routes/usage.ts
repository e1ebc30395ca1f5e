import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { tierField } from '../../shared/accounts/account-fields.js';
import { calendarMonth } from '../../shared/accounts/calendar-month.js';
import type { TierLimits } from '../../shared/accounts/tier-limits.js';
import { principalOf } from '../plugins/auth.js';
import { AUTH_ERRORS, errorResponses } from '../schemas.js';
import { answeredInstant } from '../../shared/instant.js';

const usageSchema = z
  .object({
    tier: tierField,
    month: z.string().describe("Calendar month (UTC), 'YYYY-MM'"),
    used: z.number().int().describe('Requests counted this month, this one included'),
    limit: z.number().int().nullable().describe('Monthly quota; null: unlimited'),
    per_minute_limit: z.number().int(),
    resets_at: answeredInstant().describe('Start of the next month (UTC)'),
  })
  .meta({ id: 'Usage' });

/** GET /v1/usage (API.md §2): the account's tier, this month's count and its limits. */
export function usageRoutes(
  app: FastifyInstance,
  deps: { usedInMonth: (accountId: string, month: string) => Promise<number>; tierLimits: TierLimits; clock: () => number },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/usage',
    {
      config: { authenticated: true, sessionAllowed: true, ownerOverLimits: true },
      schema: {
        operationId: 'getUsage',
        summary: "The account's tier, this month's usage and its limits",
        response: { 200: usageSchema, ...errorResponses(...AUTH_ERRORS) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'account') throw new Error('unreachable: the operator key is refused by auth');
      const { month, resetsAt } = calendarMonth(deps.clock());
      const limits = deps.tierLimits[principal.tier];
      return {
        tier: principal.tier,
        month,
        used: await deps.usedInMonth(principal.accountId, month),
        limit: limits.monthly,
        per_minute_limit: limits.per_minute,
        resets_at: resetsAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
    },
  );
}
