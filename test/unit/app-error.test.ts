import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/http/app-error.js';

describe('AppError', () => {
  it('keeps a stack for a 5xx only, and leaves the stack limit as it was', () => {
    const limit = Error.stackTraceLimit;
    const refused = new AppError(429, 'RATE_LIMIT_EXCEEDED', 'Per-minute rate limit exceeded.', { retry_after_seconds: 3 });
    const failed = new AppError(503, 'SERVICE_UNAVAILABLE', 'A backing service is unavailable.');
    expect(refused).toBeInstanceOf(Error);
    expect(refused).toMatchObject({ name: 'AppError', status: 429, code: 'RATE_LIMIT_EXCEEDED', extras: { retry_after_seconds: 3 } });
    expect(refused.message).toBe('Per-minute rate limit exceeded.');
    expect(refused.stack).toBe('AppError: Per-minute rate limit exceeded.');
    expect(failed.stack).toMatch(/^AppError: A backing service is unavailable\.\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
