/**
 * Export benchmark: loads N generated products (default 1,000,000, each with two attributes)
 * into a fresh database, starts the service as a child process (ROLE=all, as `npm start` runs
 * it), reads the rows once untimed (a warm-up, so that the order of the runs does not favour
 * either), requests a CSV export over HTTP and times it until the job is completed, sampling the
 * service's RSS; then times `psql \copy (SELECT …) TO` of the same columns as the baseline, and
 * prints a table.
 *
 *   npm run bench:export                      # 1,000,000 rows
 *   npm run bench:export -- --rows 100k       # N (also 200000, 200_000, 1m, 1e6; BENCH_ROWS)
 *   npm run bench:export -- --repeat 3        # 3 alternating runs of each; reports the run with the median ratio
 *   npm run bench:export -- --runtime tsx     # run the sources with tsx instead of compiled JS
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/catalog) and REDIS_URL (default
 * redis://127.0.0.1:6379) come from the environment. Each run creates catalog_bench_<random> and
 * the queue prefix bench-<random>, and removes them.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { copyBaseline, createDatabase, dropDatabase, query, withDatabase } from './db.js';
import { codeFingerprint } from './fingerprint.js';
import { generateProductCsv } from './generate-csv.js';
import { serviceNodeFlags } from '../src/shared/node-flags.js';
import { createAccount, getJob, type JobView } from './http.js';
import { readProcMemory, RssSampler } from './proc.js';
import { ADMIN_KEY, baseDatabaseUrl, benchSeed as seed, deleteBenchKeys, parseCount, redisEnv } from './settings.js';
import { buildDist, describeExit, freePort, startService, stopService, type Runtime } from './service.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_RATIO = 1.5;
const TARGET_RSS_MB = 200;
// Completion is seen at most this late (plus one GET).
const POLL_MS = 100;
const log = (message: string) => console.error(`[bench] ${message}`);
const mb = (bytes: number) => bytes / (1024 * 1024);


function parseOptions(argv: string[]): { rows: number; repeat: number; runtime: 'tsx' | 'dist' } {
  let rows = parseCount(process.env.BENCH_ROWS || '1m');
  let repeat = 1;
  let runtime: 'tsx' | 'dist' = 'dist';
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i]!.includes('=') ? argv[i]!.split('=', 2) : [argv[i]!, undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--') continue;
    if (flag === '--rows') rows = parseCount(value());
    else if (flag === '--repeat') repeat = parseCount(value());
    else if (flag === '--runtime') runtime = value() === 'tsx' ? 'tsx' : 'dist';
    else if (!flag!.startsWith('-')) rows = parseCount(flag!);
    else throw new Error(`unknown option ${flag}`);
  }
  return { rows, repeat, runtime };
}

/** The columns the service exports by default for this catalog, as one SELECT list for \copy. */
const BASELINE_COLUMNS = 'ean, name, brand, category, description, price, currency, stock, image_url, attributes';

/** Times `psql \copy (SELECT …) TO file` of the same rows and columns; returns seconds and bytes. */
async function copyOutBaseline(url: string, accountId: string, file: string): Promise<{ seconds: number; bytes: number }> {
  const started = performance.now();
  await new Promise<void>((done, fail) => {
    const child = spawn('psql', [
      '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url,
      '-c', `\\copy (SELECT ${BASELINE_COLUMNS.replaceAll('\n', ' ')} FROM products WHERE account_id = '${accountId}') TO '${file}' WITH (FORMAT csv, HEADER true)`,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`psql exited with ${code}`))));
  });
  return { seconds: (performance.now() - started) / 1000, bytes: (await stat(file)).size };
}

/** Loads N generated products (plus color and size attributes) into the account's catalog. */
async function loadCatalog(databaseUrl: string, accountId: string, file: string): Promise<void> {
  const loaded = await copyBaseline(databaseUrl, file, { keep: true });
  await query(
    databaseUrl,
    `INSERT INTO products (account_id, ean, name, brand, category, description, price, currency, stock, attributes)
     SELECT '${accountId}', ean, name, brand, category, description, price, currency, stock,
            jsonb_build_object('color', (ARRAY['red','green','blue','black','white'])[1 + abs(hashtext(ean)) % 5],
                               'size', (ARRAY['S','M','L','XL'])[1 + abs(hashtext(name)) % 4])
     FROM bench_copy_target;
     DROP TABLE bench_copy_target;`,
  );
  await query(databaseUrl, 'VACUUM ANALYZE products');
  await query(databaseUrl, 'CHECKPOINT');
  log(`${loaded.rows} products loaded`);
}

interface Run {
  bytes: number;
  seconds: number;
  copySeconds: number;
  copyBytes: number;
  /** From the job row: created → started (API and queue), started → finished (the worker's run). */
  queuedSeconds: number;
  runSeconds: number;
  load: number;
}

interface Result extends Run {
  rows: number;
  runs: Run[];
  idleRssMb: number;
  peakRssMb: number;
  problems: string[];
}

async function runBench(rows: number, repeat: number, runtime: Runtime, cleanups: Array<() => Promise<unknown>>): Promise<Result> {
  const tag = randomBytes(4).toString('hex');
  const database = `catalog_bench_${tag}`;
  const queuePrefix = `bench-${tag}`;
  const databaseUrl = withDatabase(baseDatabaseUrl, database);
  const tmp = await mkdtemp(join(tmpdir(), 'catalog-bench-export-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const dataDir = join(tmp, 'data');
  await mkdir(dataDir);
  const csv = join(tmp, 'products.csv');
  await generateProductCsv(csv, rows, seed);

  await createDatabase(baseDatabaseUrl, database);
  cleanups.push(() => dropDatabase(baseDatabaseUrl, database));
  cleanups.push(() => deleteBenchKeys(queuePrefix));
  const port = await freePort();
  const service = await startService(
    REPO_ROOT,
    {
      ROLE: 'all', PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ...redisEnv,
      QUEUE_PREFIX: queuePrefix, DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn',
    },
    port,
    runtime,
    serviceNodeFlags(process.env.NODE_HEAP_MB ?? 128),
  );
  cleanups.push(() => stopService(service));
  const apiKey = await createAccount(service.baseUrl, ADMIN_KEY, `bench-${tag}@example.com`);
  const [account] = await query<{ id: string }>(databaseUrl, 'SELECT id FROM accounts LIMIT 1');
  await loadCatalog(databaseUrl, account!.id, csv);
  await rm(csv);
  // One untimed read of the rows first, so that neither timed run pays for the first scan after
  // the load (the \copy runs second and would otherwise always get the warmer table).
  await copyOutBaseline(databaseUrl, account!.id, '/dev/null');
  await sleep(500);
  const idle = readProcMemory(service.pid);

  const sampler = new RssSampler(service.pid, 50);
  sampler.start();
  const problems: string[] = [];
  const runs: Run[] = [];
  for (let run = 1; run <= repeat; run += 1) {
    const t0 = performance.now();
    const response = await fetch(`${service.baseUrl}/v1/exports`, {
      method: 'POST',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ format: 'csv' }),
    });
    if (response.status !== 202) throw new Error(`POST /v1/exports: ${response.status} ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    let job: JobView;
    for (;;) {
      if (service.exited) throw new Error(`the service exited during the export (${describeExit(service)})`);
      job = await getJob(service.baseUrl, apiKey, id);
      if (job.status !== 'processing') break;
      await sleep(POLL_MS);
    }
    const seconds = (performance.now() - t0) / 1000;
    const load = loadavg()[0]!;
    const [file] = await query<{ result_bytes: number; queued: number; ran: number }>(
      databaseUrl,
      `SELECT result_bytes::float8 AS result_bytes, extract(epoch FROM started_at - created_at)::float8 AS queued,
              extract(epoch FROM finished_at - started_at)::float8 AS ran FROM jobs WHERE id = '${id}'`,
    );
    if (job.status !== 'completed') problems.push(`job ${job.status}: ${job.detail}`);
    if (job.progress.rows_total !== rows) problems.push(`rows_total ${job.progress.rows_total} ≠ ${rows}`);
    log(`run ${run}/${repeat}: service export ${seconds.toFixed(2)} s (job row: queued ${file?.queued.toFixed(3)} s, ran ${file?.ran.toFixed(2)} s); timing psql \\copy`);
    const copy = await copyOutBaseline(databaseUrl, account!.id, join(tmp, 'copy.csv'));
    const bytes = file?.result_bytes ?? 0;
    if (Math.abs(bytes - copy.bytes) > copy.bytes * 0.01) problems.push(`file ${bytes} bytes, \\copy ${copy.bytes} bytes`);
    log(`run ${run}/${repeat}: psql \\copy ${copy.seconds.toFixed(2)} s, ratio ${(seconds / copy.seconds).toFixed(2)}×`);
    runs.push({
      bytes, seconds, copySeconds: copy.seconds, copyBytes: copy.bytes, queuedSeconds: file?.queued ?? NaN,
      runSeconds: file?.ran ?? NaN, load,
    });
  }
  const peakKb = Math.max(sampler.stop(), readProcMemory(service.pid)?.hwmKb ?? 0);
  await stopService(service);
  // The run with the median ratio is reported (of an even number, the higher of the middle two).
  const median = [...runs].sort((a, b) => a.seconds / a.copySeconds - b.seconds / b.copySeconds)[runs.length >> 1]!;
  return { rows, ...median, runs, idleRssMb: (idle?.rssKb ?? NaN) / 1024, peakRssMb: peakKb / 1024, problems };
}

function report(result: Result, label: string): void {
  const fixed = (value: number, digits = 2) => value.toFixed(digits);
  const rows: string[][] = [
    ['service (POST → completed)', fixed(result.seconds), fixed(result.rows / result.seconds, 0), fixed(mb(result.bytes), 1), fixed(result.peakRssMb, 0)],
    ['psql \\copy (SELECT …) TO', fixed(result.copySeconds), fixed(result.rows / result.copySeconds, 0), fixed(mb(result.copyBytes), 1), '-'],
  ];
  const header = ['', 'seconds', 'rows/s', 'file MB', 'peak RSS MB'];
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  const runs = result.runs.length;
  console.log(`\nExport benchmark: ${result.rows} products to CSV (${label})`);
  if (runs > 1) {
    const ratios = result.runs.map((run) => `${fixed(run.seconds)}/${fixed(run.copySeconds)} s = ${fixed(run.seconds / run.copySeconds)}×`);
    console.log(`${runs} runs (service/\\copy): ${ratios.join(', ')}; the run with the median ratio:`);
  }
  console.log(`load = ${result.load.toFixed(1)} on ${cpus().length} CPUs at completion; idle RSS ${fixed(result.idleRssMb, 0)} MB\n`);
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(`\nof the service's time: ${fixed(result.queuedSeconds, 3)} s from the job row's creation to its start, ` +
    `${fixed(result.runSeconds, 2)} s from its start to its end (the snapshot and COPY); the rest is the HTTP round trips and polling`);
  const ratio = result.seconds / result.copySeconds;
  console.log(`\nratio ${ratio.toFixed(2)}× (target ≤ ${TARGET_RATIO}×: ${ratio <= TARGET_RATIO ? 'MET' : 'NOT MET'}); ` +
    `peak RSS ${result.peakRssMb.toFixed(0)} MB (target ≤ ${TARGET_RSS_MB} MB: ${result.peakRssMb <= TARGET_RSS_MB ? 'MET' : 'NOT MET'})` +
    (result.problems.length > 0 ? `; VERIFICATION FAILED: ${result.problems.join('; ')}` : '; verified'));
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch((error: Error) => log(`cleanup: ${error.message}`));
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  let runtime: Runtime = { kind: 'tsx' };
  let buildDir: string | undefined;
  try {
    if (options.runtime === 'dist') {
      buildDir = await mkdtemp(join(tmpdir(), 'catalog-bench-build-'));
      runtime = await buildDist(REPO_ROOT, buildDir);
    }
    const result = await runBench(options.rows, options.repeat, runtime, cleanups);
    await cleanUp();
    report(result, `${runtime.kind === 'tsx' ? 'tsx src/main.ts' : 'compiled dist/main.js'}; ${codeFingerprint(REPO_ROOT)}`);
    return result.problems.length === 0 ? 0 : 1;
  } finally {
    await cleanUp();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error('[bench] failed:', error);
  process.exitCode = 1;
}
