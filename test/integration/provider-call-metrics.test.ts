import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createMetrics, PROVIDER_CALL_RESULTS } from '../../src/shared/metrics.js';
import { ProviderClient } from '../../src/workers/enrich/provider-client.js';
import { ProviderRateLimiter } from '../../src/workers/enrich/provider-rate-limiter.js';
import { FakeProvider } from '../support/fake-provider.js';

// catalog_enrich_provider_calls_total: what an operator watches to see the lookup provider failing
// (each lookup of a failing provider is retried for a while before its job reports it).

let redis: Redis;
let provider: FakeProvider;
const prefix = `{provider-calls-${randomBytes(4).toString('hex')}}`;

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'));
  provider = await FakeProvider.start();
});
afterAll(async () => {
  await provider?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

it('counts every call to the provider by what it answered, retries included', async () => {
  const metrics = createMetrics();
  const client = new ProviderClient({
    url: provider.url,
    apiKey: 'key',
    limiter: new ProviderRateLimiter(redis, prefix, undefined),
    timeoutMs: 300,
    backoffBaseMs: 1,
    maxAttempts: 2,
    onCall: (result) => metrics.providerCalls.inc({ result }),
  });
  provider.script('4006381333931', { status: 200, body: { name: 'Pen' } });
  provider.script('96385074', { status: 404 });
  provider.script('4000000000013', { status: 503 }, { status: 503 });
  provider.script('4000000000020', { status: 403, error: 'Invalid API key' });
  provider.script('4000000000037', { status: 429, quota: { limit: 10, tier: 'FREE' } });
  provider.script('4000000000044', { status: 200, raw: '<html></html>', contentType: 'text/html' }, { status: 0 });
  provider.script('4000000000051', { status: 200, body: { ean: '4006381333931', name: 'Other' } });
  provider.script('4000000000068', { status: 200, body: {}, delayMs: 1_000 }, { status: 302, json: {}, headers: { location: '/elsewhere' } });
  const signal = new AbortController().signal;
  for (const ean of ['4006381333931', '96385074', '4000000000013', '4000000000020', '4000000000037', '4000000000044', '4000000000051', '4000000000068']) {
    await client.lookup(ean, signal);
  }

  const counted = Object.fromEntries((await metrics.providerCalls.get()).values.map((value) => [value.labels.result, value.value]));
  expect(counted).toEqual({
    ...Object.fromEntries(PROVIDER_CALL_RESULTS.map((result) => [result, 0])),
    found: 1,
    not_found: 1,
    server_error: 2,
    refused: 1,
    quota: 1,
    invalid: 1,
    network: 1,
    other_ean: 1,
    timeout: 1,
    redirect: 1,
  });
  expect(await metrics.registry.metrics()).toContain('catalog_enrich_provider_calls_total{result="server_error"} 2');
});
