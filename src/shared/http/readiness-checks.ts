import { z } from 'zod';

/** The state of one dependency of GET /readyz. */
export const checkStateSchema = z.enum(['ok', 'unavailable']);

/** What GET /readyz checked: in its 200, and in its 503's error envelope. */
export const readinessChecksSchema = z.object({
  postgres: checkStateSchema,
  redis: checkStateSchema,
  workers: checkStateSchema.optional().describe('Only where this process runs workers'),
});
