import { describe, expect, it } from 'vitest';
import { ProviderClient } from '../../src/workers/enrich/provider-client.js';
import type { ProviderRateLimiter } from '../../src/workers/enrich/provider-rate-limiter.js';

/** A limiter that never waits: these calls fail before they reach any provider. */
const noLimit = { acquire: async () => {}, pause: async () => {} } as unknown as ProviderRateLimiter;

describe('a call that cannot be made', () => {
  it('is reported without the URL it was for, which may carry a password', async () => {
    // Config refuses such a URL; the message of fetch's TypeError quotes it whole.
    const client = new ProviderClient({ url: 'http://user:s3cret-pass@127.0.0.1:9', apiKey: 'key', limiter: noLimit, timeoutMs: 1_000, backoffBaseMs: 1, maxAttempts: 1 });

    const outcome = await client.lookup('4006381333931', new AbortController().signal);

    expect(outcome).toMatchObject({ kind: 'failed', attempts: 1 });
    const { reason } = outcome as { reason: string };
    expect(reason).toContain('[URL]');
    expect(reason).not.toContain('s3cret-pass');
    expect(reason).not.toContain('127.0.0.1');
  });
});
