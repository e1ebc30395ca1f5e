/**
 * Enrichment benchmark: starts the lookup-provider stand-in (test/support/fake-provider.ts) with a
 * per-minute limit of N, and the service (ROLE=all, from source) on a fresh database and queue
 * prefix with ENRICH_PROVIDER_RATE_PER_MINUTE=N; imports P products, enriches them all and prints
 * the achieved call rate as a share of the allowed rate (target ≥ 95%) and how many 429s the
 * provider had to send (target 0).
 *
 *   npm run bench:enrich                          # 2,000 products at 2,400/min (about 50 s)
 *   npm run bench:enrich -- --products 500 --rate 1200
 *   BENCH_PROVIDER_DELAY_MS=20 npm run bench:enrich   # a provider taking 20 ms per answer
 *
 * DATABASE_URL and REDIS_URL come from the environment (defaults: the local servers). The run
 * creates catalog_bench_enrich_<random> and the queue prefix bench-enrich-<random>, and removes them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gtinCheckDigit } from '../src/shared/product/gtin.js';
import { FakeProvider } from '../test/support/fake-provider.js';
import { createDatabase, dropDatabase, withDatabase } from './db.js';
import { createAccount, getJob, uploadCsv, type JobView } from './http.js';
import { freePort, startService, stopService } from './service.js';
import { ADMIN_KEY, baseDatabaseUrl, deleteBenchKeys, redisEnv } from './settings.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_SHARE = 0.95;

const { values: args } = parseArgs({
  options: { products: { type: 'string', default: '2000' }, rate: { type: 'string', default: '2400' } },
});
const PRODUCTS = Number(args.products);
const RATE = Number(args.rate);
const env = process.env;
const PROVIDER_DELAY_MS = Number(env.BENCH_PROVIDER_DELAY_MS ?? 0);

function ean(n: number): string {
  const body = `400${String(n).padStart(9, '0')}`;
  return body + String(gtinCheckDigit(body));
}

async function waitForJob(baseUrl: string, key: string, id: string): Promise<JobView> {
  for (;;) {
    const job = await getJob(baseUrl, key, id);
    if (job.status !== 'processing') return job;
    await sleep(200);
  }
}

async function main(): Promise<void> {
  const suffix = randomBytes(5).toString('hex');
  const database = `catalog_bench_enrich_${suffix}`;
  const queuePrefix = `bench-enrich-${suffix}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'catalog-bench-enrich-'));
  const provider = await FakeProvider.start({ rateLimit: { perMinute: RATE }, delayMs: PROVIDER_DELAY_MS });
  await createDatabase(baseDatabaseUrl, database);
  const port = await freePort();
  const service = await startService(
    REPO_ROOT,
    {
      ROLE: 'all',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: withDatabase(baseDatabaseUrl, database),
      ...redisEnv,
      QUEUE_PREFIX: queuePrefix,
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      ENRICH_PROVIDER_URL: provider.url,
      ENRICH_PROVIDER_RATE_PER_MINUTE: String(RATE),
    },
    port,
  );
  try {
    const key = await createAccount(service.baseUrl, ADMIN_KEY, `bench-${suffix}@example.com`);
    const csvPath = join(dataDir, 'products.csv');
    const lines = ['ean,name'];
    for (let n = 0; n < PRODUCTS; n += 1) {
      lines.push(`${ean(n)},Product ${n}`);
      provider.products.set(ean(n), { name: `Product ${n}`, brand: `Brand ${n % 50}`, category: 'Office', description: `Product number ${n}` });
    }
    await writeFile(csvPath, lines.join('\n') + '\n');
    const imported = await waitForJob(service.baseUrl, key, await uploadCsv(service.baseUrl, key, csvPath));
    if (imported.status !== 'completed') throw new Error(`import ${imported.status}: ${imported.detail}`);

    const started = Date.now();
    const response = await fetch(`${service.baseUrl}/v1/enrichments`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: '{}',
    });
    if (response.status !== 202) throw new Error(`POST /v1/enrichments: ${response.status} ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    const job = (await waitForJob(service.baseUrl, key, id)) as JobView & {
      progress: { rows_succeeded: number; rows_unchanged: number };
    };
    const wallSeconds = (Date.now() - started) / 1000;

    const times = provider.calls.map((call) => call.at).sort((a, b) => a - b);
    const callSeconds = (times.at(-1)! - times[0]!) / 1000;
    const achievedPerMinute = ((times.length - 1) / callSeconds) * 60;
    const share = achievedPerMinute / RATE;
    const tooMany = provider.count(429);
    const row = (label: string, value: string) => console.log(`${label.padEnd(34)} ${value}`);
    console.log('\nEnrichment benchmark');
    row('products', PRODUCTS.toLocaleString('en'));
    row('allowed rate (per minute)', RATE.toLocaleString('en'));
    row('provider answer delay', `${PROVIDER_DELAY_MS} ms`);
    row('job', `${job.status}, ${job.progress.rows_succeeded} changed, ${job.progress.rows_failed} failed`);
    row('provider calls', provider.count().toLocaleString('en'));
    row('first → last call', `${callSeconds.toFixed(1)} s`);
    row('POST → completed', `${wallSeconds.toFixed(1)} s`);
    row('achieved rate (per minute)', achievedPerMinute.toFixed(0));
    row('share of the allowed rate', `${(share * 100).toFixed(1)}% (target ≥ ${TARGET_SHARE * 100}%) ${share >= TARGET_SHARE ? 'OK' : 'BELOW TARGET'}`);
    row('429s sent by the provider', `${tooMany} (target 0) ${tooMany === 0 ? 'OK' : 'ABOVE TARGET'}`);
    if (job.status !== 'completed') process.exitCode = 1;
  } finally {
    await stopService(service);
    await provider.close();
    await dropDatabase(baseDatabaseUrl, database).catch(() => {});
    await deleteBenchKeys(queuePrefix);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
