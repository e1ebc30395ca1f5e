/**
 * API benchmark: starts the service as a child process (ROLE=api, compiled JS as `npm start` runs
 * it) on a fresh database and queue prefix, and loads it with autocannon from this process:
 * GET /healthz, authenticated GET /v1/jobs/{id} and GET /v1/products/{ean}, POST /v1/imports with a
 * 2-row CSV, and the 429 answers of a key over its per-minute limit; then the authenticated GET at
 * half its measured maximum rate; optionally (--import-rows) the same while a worker process
 * imports a large file. Prints req/s and p50/p99 latency per scenario, and the goals.
 *
 *   npm run bench:api                                 # 10 s per scenario, 32 connections
 *   npm run bench:api -- --duration 3 --connections 16
 *   npm run bench:api -- --import-rows 1m             # also: the GET while a 1M-row import runs
 *   npm run bench:api -- --runtime tsx                # run the sources with tsx instead of compiled JS
 *
 * The accounts are ENTERPRISE with limits raised so that none is hit, except the FREE one whose
 * per-minute limit is 1 (the 429 scenario). DATABASE_URL and REDIS_URL as for bench:import. The
 * load generator shares the machine with the service: on few cores, the figures are lower bounds.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createDatabase, dropDatabase, withDatabase } from './db.js';
import { generateProductCsv } from './generate-csv.js';
import { getJob, uploadCsv } from './http.js';
import { deleteRedisKeys, printTable } from './report.js';
import { buildDist, freePort, startService, stopService, type Runtime, type ServiceProcess } from './service.js';
import { ADMIN_KEY, baseDatabaseUrl, benchSeed, parseCount, redisUrl } from './settings.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EAN = '4006381333931';
const SMALL_CSV = `ean,name,price,currency\n${EAN},Bench product,1.50,EUR\n4012345678901,Second product,2.00,EUR\n`;
const GOALS = { getShare: 0.6, importShare: 0.3, halfRateP99Ms: 25, duringImportFactor: 2 };

interface Options {
  duration: number;
  connections: number;
  runtime: 'tsx' | 'dist';
  importRows: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { duration: 10, connections: 32, runtime: 'dist', importRows: 0 };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--') continue;
    else if (flag === '--duration') options.duration = Number(value());
    else if (flag === '--connections') options.connections = Number(value());
    else if (flag === '--import-rows') options.importRows = parseCount(value());
    else if (flag === '--runtime') options.runtime = value() === 'tsx' ? 'tsx' : 'dist';
    else throw new Error(`unknown option ${flag}`);
  }
  if (!(options.duration > 0) || !(options.connections > 0)) throw new Error('--duration and --connections must be positive');
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);

/** What one autocannon run measured. */
interface Measured {
  name: string;
  rate: number;
  p50: number;
  p99: number;
  /** Responses per status code, e.g. "200×5120". */
  statuses: string;
  errors: number;
}

interface Scenario {
  name: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Requests a second for all connections together; unset: as fast as the service answers. */
  overallRate?: number;
}

async function measure(baseUrl: string, options: Options, scenario: Scenario): Promise<Measured> {
  const result = await autocannon({
    url: `${baseUrl}${scenario.path}`,
    method: scenario.method ?? 'GET',
    headers: scenario.headers,
    body: scenario.body,
    connections: options.connections,
    duration: options.duration,
    overallRate: scenario.overallRate,
  });
  const statuses = Object.entries(result.statusCodeStats ?? {})
    .map(([status, stats]) => `${status}×${stats.count ?? 0}`)
    .join(' ');
  const measured = {
    name: scenario.name, rate: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, statuses, errors: result.errors,
  };
  log(`${scenario.name}: ${measured.rate.toFixed(0)} req/s, p99 ${measured.p99} ms (${statuses})`);
  return measured;
}

/** Creates an account of `tier` through the operator API; returns its first key. */
async function account(baseUrl: string, tier: 'FREE' | 'ENTERPRISE', email: string): Promise<string> {
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const created = await fetch(`${baseUrl}/v1/admin/accounts`, { method: 'POST', headers: admin, body: JSON.stringify({ email, tier }) });
  if (created.status !== 201) throw new Error(`POST /v1/admin/accounts: HTTP ${created.status}`);
  return ((await created.json()) as { api_key: string }).api_key;
}

/** What the scenarios need: an ENTERPRISE key with a job and a product, and a FREE key over its minute. */
async function prepare(baseUrl: string, tmp: string, tag: string) {
  const key = await account(baseUrl, 'ENTERPRISE', `bench-${tag}@example.com`);
  const limited = await account(baseUrl, 'FREE', `bench-limited-${tag}@example.com`);
  const small = join(tmp, 'small.csv');
  await writeFile(small, SMALL_CSV);
  const jobId = await uploadCsv(baseUrl, key, small);
  const product = await fetch(`${baseUrl}/v1/products`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ ean: EAN, name: 'Bench product' }),
  });
  if (product.status !== 201) throw new Error(`POST /v1/products: HTTP ${product.status}`);
  await fetch(`${baseUrl}/v1/jobs`, { headers: { 'x-api-key': limited } });
  return { key, limited, jobId };
}

/** The authenticated GET at `rate` while a worker process imports `rows` rows. */
async function duringImport(service: ServiceProcess, env: Record<string, string>, runtime: Runtime, options: Options, get: Scenario, tmp: string) {
  const file = join(tmp, 'large.csv');
  await generateProductCsv(file, options.importRows, benchSeed);
  const workerPort = await freePort();
  const worker = await startService(REPO_ROOT, { ...env, ROLE: 'worker', WORKER_PORT: String(workerPort), PORT: '0' }, workerPort, runtime);
  try {
    const key = await account(service.baseUrl, 'ENTERPRISE', `bench-import-${randomBytes(3).toString('hex')}@example.com`);
    const jobId = await uploadCsv(service.baseUrl, key, file);
    const measured = await measure(service.baseUrl, options, { ...get, name: `${get.name} during a ${options.importRows}-row import` });
    const job = await getJob(service.baseUrl, key, jobId);
    if (job.status !== 'processing') log(`the import ended (${job.status}) before the measurement did: use a larger --import-rows`);
    return measured;
  } finally {
    await stopService(worker);
  }
}

const ms = (value: number) => value.toFixed(1);
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

function report(rows: Measured[], options: Options, runtime: string): void {
  console.log(`\nAPI benchmark (service: ROLE=api, ${runtime}; autocannon, ${options.connections} connections, ${options.duration} s each;`);
  console.log(`load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs: well above the CPU count, other work skewed the run)\n`);
  printTable(
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'responses', 'errors'],
    rows.map((row) => [row.name, row.rate.toFixed(0), ms(row.p50), ms(row.p99), row.statuses, String(row.errors)]),
  );
  const [health, job, , imports, , half, during] = rows as [Measured, Measured, Measured, Measured, Measured, Measured, Measured?];
  console.log('\nGoals:');
  const goal = (text: string, met: boolean) => console.log(`  ${met ? 'met ' : 'MISS'}  ${text}`);
  goal(`authenticated GET ≥ ${GOALS.getShare * 100}% of /healthz req/s: ${percent(job.rate, health.rate)}`, job.rate >= GOALS.getShare * health.rate);
  goal(`small-import POST ≥ ${GOALS.importShare * 100}% of /healthz req/s: ${percent(imports.rate, health.rate)}`, imports.rate >= GOALS.importShare * health.rate);
  goal(`p99 at half the maximum rate ≤ ${GOALS.halfRateP99Ms} ms: ${ms(half.p99)} ms`, half.p99 <= GOALS.halfRateP99Ms);
  if (during) {
    const limit = GOALS.duringImportFactor * half.p99;
    goal(`p99 during the import ≤ ${GOALS.duringImportFactor}× idle p99 (${ms(half.p99)} ms): ${ms(during.p99)} ms`, during.p99 <= limit);
  } else console.log('  (p99 during a large import: run with --import-rows 1m)');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const cleanups: Array<() => Promise<unknown>> = [];
  const tag = randomBytes(4).toString('hex');
  const database = `catalog_bench_${tag}`;
  const queuePrefix = `bench-${tag}`;
  const tmp = await mkdtemp(join(tmpdir(), 'catalog-bench-api-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  try {
    const runtime: Runtime = options.runtime === 'tsx' ? { kind: 'tsx' } : await buildDist(REPO_ROOT, join(tmp, 'build'));
    await mkdir(join(tmp, 'data'));
    await createDatabase(baseDatabaseUrl, database);
    cleanups.push(() => dropDatabase(baseDatabaseUrl, database));
    cleanups.push(async () => log(`deleted ${await deleteRedisKeys(redisUrl, queuePrefix)} Redis keys of {${queuePrefix}}`));
    const port = await freePort();
    const env = {
      DATABASE_URL: withDatabase(baseDatabaseUrl, database), REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix, DATA_DIR: join(tmp, 'data'),
      // autocannon cuts off the uploads in flight when a run ends: each would log an error.
      ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'fatal', HOST: '127.0.0.1',
      TIER_LIMITS: JSON.stringify({ FREE: { monthly: null, per_minute: 1 }, ENTERPRISE: { monthly: null, per_minute: 1_000_000_000 } }),
    };
    const service = await startService(REPO_ROOT, { ...env, ROLE: 'api', PORT: String(port) }, port, runtime);
    cleanups.push(() => stopService(service));
    const { key, limited, jobId } = await prepare(service.baseUrl, tmp, tag);
    const auth = { 'x-api-key': key };
    const get: Scenario = { name: 'GET /v1/jobs/{id}', path: `/v1/jobs/${jobId}`, headers: auth };
    const rows: Measured[] = [];
    for (const scenario of [
      { name: 'GET /healthz', path: '/healthz' },
      get,
      { name: 'GET /v1/products/{ean}', path: `/v1/products/${EAN}`, headers: auth },
      { name: 'POST /v1/imports (2 rows)', path: '/v1/imports', method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: SMALL_CSV },
      { name: '429 (over the per-minute limit)', path: '/v1/jobs', headers: { 'x-api-key': limited } },
    ] satisfies Scenario[]) rows.push(await measure(service.baseUrl, options, scenario));
    const overallRate = Math.max(1, Math.floor(rows[1]!.rate / 2));
    const half = { ...get, name: `GET /v1/jobs/{id} at ${overallRate} req/s (half)`, overallRate };
    rows.push(await measure(service.baseUrl, options, half));
    if (options.importRows > 0) rows.push(await duringImport(service, env, runtime, options, half, tmp));
    report(rows, options, runtime.kind === 'tsx' ? 'tsx' : 'compiled JS');
  } finally {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => log(`cleanup step failed: ${(error as Error).message}`));
  }
}

await main();
