/**
 * API benchmark: starts the service as a child process (ROLE=api, compiled JS with the node flags
 * `npm start` gives it) on a fresh database and queue prefix, and loads it with autocannon from
 * this process: GET /healthz, authenticated GET /v1/jobs/{id} and GET /v1/products/{ean} in turns
 * (--turns rounds of the three, together as long as two runs of --duration each: the machine's
 * speed changes from one moment to the next, and each goal's share compares scenarios that met
 * the same moments), the 429 answers of a key over its per-minute limit; then the authenticated
 * GET at half its measured maximum rate, idle and while a worker process imports a large file (3M
 * rows, uploaded through the same API: it outlasts the measured window); last, POST /v1/imports
 * with a 2-row CSV. Each scenario runs 2 s unmeasured first (JIT warm-up). Prints req/s, p50/p99
 * latency and the CPU each request costs the API process, PostgreSQL, Redis and the load
 * generator, per scenario, the rates of each turn, and the goals.
 *
 *   npm run bench:api                                 # 10 s per scenario, 32 connections, 3M-row import
 *   npm run bench:api -- --duration 3 --connections 16 --import-rows 0   # quick: no import scenario
 *   npm run bench:api -- --turns 4                    # the three reads in 4 turns (default 8)
 *   npm run bench:api -- --log-level info             # with the service's default request logging
 *   npm run bench:api -- --cpu-prof-dir prof          # V8 CPU profile of the API process (node --cpu-prof)
 *   npm run bench:api -- --runtime tsx                # run the sources with tsx instead of compiled JS
 *
 * The accounts are ENTERPRISE with limits raised so that none is hit, except the FREE one whose
 * per-minute limit is 1 (the 429 scenario). DATABASE_URL and REDIS_URL as for bench:import. The
 * load generator shares the machine with the service: on few cores, the figures are lower bounds,
 * and the CPU per request is the steadier figure when other work runs on the machine.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCpuMeter, untilDatabaseQuiet, writeProductCsv, type MeteredServices } from './api-load.js';
import { createDatabase, dropDatabase, withDatabase } from './db.js';
import { getJob, uploadCsv } from './http.js';
import { combineRuns, DURING, HALF, HEALTH, JOB, PRODUCT, report, turnSeconds, type Measured, type Run } from './api-report.js';
import { buildDist, freePort, startService, stopService, type Runtime } from './service.js';
import { ADMIN_KEY, baseDatabaseUrl, deleteBenchKeys, parseCount, redisUrl } from './settings.js';
import { serviceNodeFlags } from '../src/shared/node-flags.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The service's processes run with the node flags `npm start` gives them (heap limit, young generation). */
const NODE_FLAGS = serviceNodeFlags(process.env.NODE_HEAP_MB ?? 128);
const EAN = '4006381333931';
const SMALL_CSV = `ean,name,price,currency\n${EAN},Bench product,1.50,EUR\n4012345678901,Second product,2.00,EUR\n`;

interface Options {
  duration: number;
  connections: number;
  /** Rounds of the three reads run in turns. */
  turns: number;
  runtime: 'tsx' | 'dist';
  importRows: number;
  /** The service's LOG_LEVEL: `fatal` by default (autocannon cuts off uploads in flight when a run ends, each would log an error); `info` is the service's default. */
  logLevel: string;
  /** Where the API process writes a V8 CPU profile (node --cpu-prof) when it stops; unset: none. */
  cpuProfDir: string;
}

/** A row count, or 0 for none. */
const rowsOrNone = (text: string) => (/^0+$/.test(text.trim()) ? 0 : parseCount(text));

function parseOptions(argv: string[]): Options {
  const options: Options = { duration: 10, connections: 32, turns: 8, runtime: 'dist', importRows: 3_000_000, cpuProfDir: '', logLevel: 'fatal' };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--') continue;
    else if (flag === '--duration') options.duration = Number(value());
    else if (flag === '--connections') options.connections = Number(value());
    else if (flag === '--turns') options.turns = Number(value());
    else if (flag === '--import-rows') options.importRows = rowsOrNone(value());
    else if (flag === '--log-level') options.logLevel = value();
    else if (flag === '--cpu-prof-dir') options.cpuProfDir = resolve(value());
    else if (flag === '--runtime') options.runtime = value() === 'tsx' ? 'tsx' : 'dist';
    else throw new Error(`unknown option ${flag}`);
  }
  if (!(options.duration > 0) || !(options.connections > 0) || !Number.isInteger(options.turns) || options.turns < 1) {
    throw new Error('--duration, --connections and --turns must be positive (--turns a whole number)');
  }
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);

/** The service under load: where it answers, and what {@link startCpuMeter} needs to find its processes. */
interface Target extends MeteredServices {
  baseUrl: string;
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

/** Seconds each scenario runs unmeasured first, so that its code paths are compiled (JIT) before it counts. */
const WARM_UP_SECONDS = 2;

/** One measured autocannon run of `scenario` for `seconds`. */
async function run(target: Target, options: Options, scenario: Scenario, seconds: number): Promise<Run> {
  const stopMeter = await startCpuMeter(target);
  const result = await load(target, options, scenario, seconds);
  const cpu = await stopMeter();
  const statuses = new Map(Object.entries(result.statusCodeStats ?? {}).map(([status, stats]) => [status, stats.count ?? 0]));
  const { p50, p99 } = result.latency;
  return { requests: result.requests.total, seconds: result.duration, p50, p99, statuses, errors: result.errors, cpu };
}

function load(target: Target, options: Options, scenario: Scenario, seconds: number) {
  return autocannon({
    url: `${target.baseUrl}${scenario.path}`,
    method: scenario.method ?? 'GET',
    headers: scenario.headers,
    body: scenario.body,
    connections: options.connections,
    duration: seconds,
    overallRate: scenario.overallRate,
  });
}

function logged(measured: Measured): Measured {
  log(`${measured.name}: ${measured.rate.toFixed(0)} req/s, p99 ${measured.p99} ms (${measured.statuses}), load ${loadavg()[0]!.toFixed(1)}`);
  return measured;
}

async function measure(target: Target, options: Options, scenario: Scenario): Promise<Measured> {
  await load(target, options, scenario, WARM_UP_SECONDS);
  return logged(combineRuns(scenario.name, [await run(target, options, scenario, options.duration)]));
}

/**
 * The scenarios in `options.turns` rounds, each scenario's turn {@link turnSeconds} long, after a
 * warm-up of each; every other round in reverse order, so that no scenario always follows the same one.
 */
async function measureInTurns(target: Target, options: Options, scenarios: Scenario[]): Promise<Measured[]> {
  for (const scenario of scenarios) await load(target, options, scenario, WARM_UP_SECONDS);
  const runs: Run[][] = scenarios.map(() => []);
  for (let turn = 0; turn < options.turns; turn += 1) {
    const round = [...scenarios.keys()];
    for (const index of turn % 2 ? round.reverse() : round) {
      runs[index]!.push(await run(target, options, scenarios[index]!, turnSeconds(options)));
    }
  }
  return scenarios.map((scenario, index) => logged(combineRuns(scenario.name, runs[index]!)));
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

/** Polls the job until the worker is running it (its rows are being read), so the load meets the import itself. */
async function untilRunning(baseUrl: string, key: string, jobId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await getJob(baseUrl, key, jobId);
    if (job.status !== 'processing') throw new Error(`the import ended (${job.status}) before the measurement started`);
    if (job.phase !== 'queued' && job.progress.rows_processed > 0) return;
    if (Date.now() > deadline) throw new Error('the import did not start within 120 s');
    await sleep(100);
  }
}

/**
 * The authenticated GET at `get.overallRate` while a worker process imports a file of
 * `options.importRows` rows: uploaded through the API under test, measured once the worker reads rows.
 */
async function duringImport(target: Target, env: Record<string, string>, runtime: Runtime, options: Options, get: Scenario, tmp: string) {
  const file = join(tmp, 'large.csv');
  log(`writing a ${options.importRows}-row CSV`);
  await writeProductCsv(file, options.importRows);
  const workerPort = await freePort();
  const worker = await startService(REPO_ROOT, { ...env, ROLE: 'worker', WORKER_PORT: String(workerPort), PORT: '0' }, workerPort, runtime, NODE_FLAGS);
  try {
    const key = await account(target.baseUrl, 'ENTERPRISE', `bench-import-${randomBytes(3).toString('hex')}@example.com`);
    const jobId = await uploadCsv(target.baseUrl, key, file);
    await untilRunning(target.baseUrl, key, jobId);
    const measured = await measure(target, options, { ...get, name: `${DURING} a ${options.importRows}-row import` });
    const job = await getJob(target.baseUrl, key, jobId);
    log(`import after the measurement: ${job.status}, ${job.phase}, ${job.progress.rows_processed} rows read; cancelling it`);
    if (job.status !== 'processing') log('the import ended before the measurement did: use a larger --import-rows');
    // The scenarios after this one meet an idle service again.
    await fetch(`${target.baseUrl}/v1/jobs/${jobId}/cancel`, { method: 'POST', headers: { 'x-api-key': key } });
    return measured;
  } finally {
    await stopService(worker);
    log(`waited ${(await untilDatabaseQuiet(target.databaseUrl, target.database)).toFixed(1)} s for the database to be quiet`);
  }
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
    cleanups.push(async () => log(`deleted ${await deleteBenchKeys(queuePrefix)} Redis keys of {${queuePrefix}}`));
    const port = await freePort();
    const env = {
      DATABASE_URL: withDatabase(baseDatabaseUrl, database), REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix, DATA_DIR: join(tmp, 'data'),
      ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: options.logLevel, HOST: '127.0.0.1',
      TIER_LIMITS: JSON.stringify({ FREE: { monthly: null, per_minute: 1 }, ENTERPRISE: { monthly: null, per_minute: 1_000_000_000 } }),
    };
    const profile = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
    const service = await startService(REPO_ROOT, { ...env, ROLE: 'api', PORT: String(port) }, port, runtime, [...NODE_FLAGS, ...profile]);
    cleanups.push(() => stopService(service));
    const target: Target = { baseUrl: service.baseUrl, apiPid: service.pid, databaseUrl: env.DATABASE_URL, database, redisUrl };
    const { key, limited, jobId } = await prepare(service.baseUrl, tmp, tag);
    const auth = { 'x-api-key': key };
    const get: Scenario = { name: JOB, path: `/v1/jobs/${jobId}`, headers: auth };
    const reads: Scenario[] = [
      { name: HEALTH, path: '/healthz' },
      get,
      { name: PRODUCT, path: `/v1/products/${EAN}`, headers: auth },
    ];
    const rows = await measureInTurns(target, options, reads);
    rows.push(await measure(target, options, { name: '429 (over the per-minute limit)', path: '/v1/jobs', headers: { 'x-api-key': limited } }));
    const overallRate = Math.max(1, Math.floor(rows.find((row) => row.name === JOB)!.rate / 2));
    const half = { ...get, name: `${HALF} (${overallRate} req/s)`, overallRate };
    rows.push(await measure(target, options, half));
    if (options.importRows > 0) rows.push(await duringImport(target, env, runtime, options, half, tmp));
    // Last: the accepted imports stay queued (no worker runs beside this API) and must not reach the one above.
    const upload = { name: 'POST /v1/imports (2 rows)', path: '/v1/imports', method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: SMALL_CSV };
    rows.push(await measure(target, options, upload as Scenario));
    report(rows, options, runtime.kind === 'tsx' ? 'tsx' : 'compiled JS');
  } finally {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => log(`cleanup step failed: ${(error as Error).message}`));
  }
}

await main();
