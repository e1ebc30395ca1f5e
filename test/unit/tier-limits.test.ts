import { describe, expect, it } from 'vitest';
import { DEFAULT_TIER_LIMITS, parseTierLimits } from '../../src/shared/accounts/tier-limits.js';

describe('TIER_LIMITS', () => {
  it('is the table of API.md §2 when unset', () => {
    expect(parseTierLimits(undefined)).toEqual({
      FREE: { monthly: 1_000, per_minute: 60 },
      PRO: { monthly: 100_000, per_minute: 600 },
      ENTERPRISE: { monthly: null, per_minute: 6_000 },
    });
  });

  it('merges field by field over the defaults: an override of one field keeps the other', () => {
    const limits = parseTierLimits('{"FREE":{"per_minute":5},"ENTERPRISE":{"monthly":2000000}}');
    expect(limits.FREE).toEqual({ monthly: 1_000, per_minute: 5 });
    expect(limits.PRO).toEqual(DEFAULT_TIER_LIMITS.PRO);
    expect(limits.ENTERPRISE).toEqual({ monthly: 2_000_000, per_minute: 6_000 });
  });

  it('takes monthly: null as unlimited', () => {
    expect(parseTierLimits('{"PRO":{"monthly":null}}').PRO).toEqual({ monthly: null, per_minute: 600 });
  });

  it('fails at start naming the variable for JSON it cannot read', () => {
    expect(() => parseTierLimits('{FREE')).toThrow('TIER_LIMITS: not valid JSON');
  });

  it('fails naming the tier and field of a wrong value, and an unknown tier', () => {
    expect(() => parseTierLimits('{"FREE":{"per_minute":0}}')).toThrow(/TIER_LIMITS\.FREE\.per_minute/);
    expect(() => parseTierLimits('{"FREE":{"monthly":-1}}')).toThrow(/TIER_LIMITS\.FREE\.monthly/);
    expect(() => parseTierLimits('{"GOLD":{"monthly":1}}')).toThrow(/TIER_LIMITS/);
  });
});
