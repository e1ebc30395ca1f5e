import { z } from 'zod';
import { ConfigError } from '../config.js';
import type { Tier } from './account-queries.js';

/** Limits of one tier; `monthly: null` is unlimited. */
export interface TierLimit {
  monthly: number | null;
  per_minute: number;
}

export type TierLimits = Record<Tier, TierLimit>;

/** The tier table of API.md §2. */
export const DEFAULT_TIER_LIMITS: TierLimits = {
  FREE: { monthly: 1_000, per_minute: 60 },
  PRO: { monthly: 100_000, per_minute: 600 },
  ENTERPRISE: { monthly: null, per_minute: 6_000 },
};

const limitOverride = z
  .object({
    monthly: z.number().int().min(0).nullable().optional(),
    per_minute: z.number().int().min(1).optional(),
  })
  .strict();
const overridesSchema = z
  .object({ FREE: limitOverride.optional(), PRO: limitOverride.optional(), ENTERPRISE: limitOverride.optional() })
  .strict();

/**
 * The tier limits: `TIER_LIMITS` (JSON such as `{"FREE":{"monthly":1000,"per_minute":60}}`) merged
 * over the defaults, field by field. A wrong value fails naming the variable, at start.
 */
export function parseTierLimits(raw: string | undefined): TierLimits {
  if (!raw) return DEFAULT_TIER_LIMITS;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError('Invalid configuration: TIER_LIMITS: not valid JSON');
  }
  const parsed = overridesSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${['TIER_LIMITS', ...issue.path].join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const merged = { ...DEFAULT_TIER_LIMITS };
  for (const tier of Object.keys(merged) as Tier[]) {
    const override = parsed.data[tier];
    if (override) merged[tier] = { ...merged[tier], ...override } as TierLimit;
  }
  return merged;
}
