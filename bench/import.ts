/**
 * Import benchmark: generates a product CSV of N rows, starts the service as a child process
 * (ROLE=all) on a fresh database and queue prefix, uploads the file over HTTP and times it until
 * the job is completed, sampling the service's RSS and CPU; then times `psql \copy` of the same
 * file into a logged table with a primary key as the baseline, and prints a table.
 *
 *   npm run bench:import                        # 1,000,000 rows
 *   npm run bench:import -- 200000              # N from argv (also 200k, 1m, 1e6, 200_000)
 *   npm run bench:import -- --sizes 100k,1m     # several runs (each on a fresh service), one table
 *   npm run bench:import -- 1m --runtime tsx    # run the sources with tsx instead of tsc-compiled JS
 *   npm run bench:import -- 1m --cpu-prof       # also write a V8 CPU profile of the service
 *   npm run bench:import -- 1m --node-arg=--max-old-space-size=256   # node flags for the service only
 *   npm run bench:import -- 100k --format xlsx  # upload the products as an .xlsx workbook (peak RSS goal 250 MB)
 *
 * By default the service runs as `npm start` runs it: compiled JS with --max-old-space-size=128
 * (NODE_HEAP_MB).
 *   BENCH_ROWS=50000 npm run bench:import       # or BENCH_SIZES=20k,200k
 *   BENCH_IMPORT_QUERY=encoding=windows-1252 npm run bench:import   # query parameters of the upload
 *
 * DATABASE_URL (the server to use; default postgres://postgres@127.0.0.1:5432/catalog) and
 * REDIS_URL (default redis://127.0.0.1:6379) come from the environment; BENCH_SEED seeds the file.
 * Each run creates catalog_bench_<random> and the queue prefix bench-<random>, and removes them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ActivityWatcher, copyBaseline, createDatabase, dropDatabase, query, withDatabase } from './db.js';
import { codeFingerprint } from './fingerprint.js';
import { generateProductCsv } from './generate-csv.js';
import { convertCsvToXlsx } from './generate-xlsx.js';
import { XLSX_MEDIA_TYPE } from '../src/shared/jobs/upload-formats.js';
import { createAccount, getJob, uploadCsv, type JobView } from './http.js';
import { readCmdline, readCpuSeconds, readProcMemory, RssSampler } from './proc.js';
import {
  buildDist,
  describeExit,
  freePort,
  startService,
  stopService,
  type Runtime,
  type ServiceProcess,
} from './service.js';
import { printTable } from './report.js';
import { ADMIN_KEY, baseDatabaseUrl, benchSeed as seed, deleteBenchKeys, importQuery, parseCount, redisEnv } from './settings.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ROWS = 1_000_000;
const TARGET_RATIO = 2.5;
const TARGET_RSS_MB = 200;
/** A workbook's shared strings are held (outside the heap) for the whole import. */
const TARGET_RSS_MB_XLSX = 250;
const POLL_MS = 100;


interface Options {
  sizes: number[];
  runtime: 'tsx' | 'dist';
  cpuProf: boolean;
  /** Extra node flags for the service process only, e.g. --node-arg=--max-old-space-size=128. */
  nodeArgs: string[];
  /** What is uploaded: the CSV file, or the same products as an .xlsx workbook. */
  format: 'csv' | 'xlsx';
}


/** Row counts from `--sizes a,b`, positional counts, BENCH_SIZES or BENCH_ROWS; else 1,000,000. */
function parseOptions(argv: string[]): Options {
  const options: Options = { sizes: [], runtime: 'dist', cpuProf: false, nodeArgs: [], format: 'csv' };
  const counts = (list: string) => options.sizes.push(...list.split(',').map(parseCount));
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const equals = arg.indexOf('=');
    const [flag, inline] = equals === -1 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--') continue;
    else if (flag === '--sizes' || flag === '--rows') counts(value());
    else if (flag === '--runtime') {
      const runtime = value();
      if (runtime !== 'tsx' && runtime !== 'dist') throw new Error(`--runtime is tsx or dist, not '${runtime}'`);
      options.runtime = runtime;
    } else if (flag === '--cpu-prof') options.cpuProf = true;
    else if (flag === '--node-arg') options.nodeArgs.push(value());
    else if (flag === '--format') {
      const format = value();
      if (format !== 'csv' && format !== 'xlsx') throw new Error(`--format is csv or xlsx, not '${format}'`);
      options.format = format;
    }
    else if (flag.startsWith('-')) throw new Error(`unknown option ${flag}`);
    else counts(argv[i]!);
  }
  // Without --node-arg, the service runs with the heap limit that `npm start` gives it.
  if (options.nodeArgs.length === 0) options.nodeArgs.push(`--max-old-space-size=${process.env.NODE_HEAP_MB ?? 128}`);
  if (options.sizes.length === 0) {
    const fromEnv = process.env.BENCH_SIZES || process.env.BENCH_ROWS;
    options.sizes = fromEnv ? fromEnv.split(',').map(parseCount) : [DEFAULT_ROWS];
  }
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);
const mb = (bytes: number) => bytes / (1024 * 1024);

/** What one run measured. Durations in seconds. */
interface RunResult {
  rows: number;
  format: Options['format'];
  bytes: number;
  upload: number;
  queued: number;
  /** started_at → phase 'finalizing' first seen (or completion, if finalizing was never seen). */
  stage: number;
  /** phase 'finalizing' first seen → status 'completed' seen; null when shorter than a poll. */
  finalize: number | null;
  total: number;
  idleRssMb: number;
  peakRssMb: number;
  hwmMb: number;
  copy: number;
  /** CPU seconds from the upload to completion, and the part of it after 'finalizing' was seen. */
  cpu: { node: number; nodeFinalize: number | null; pg: number; pgFinalize: number | null };
  sql: { copyRows: number; dupCheck: number; merge: number; report: number; commit: number; other: number; idleInTx: number };
  /** How much earlier than the observed completion the job's finished_at says it finished. */
  finishedAtEarly: number;
  /** 1-minute load average when the job completed (other work on the machine skews the timings). */
  load: number;
  problems: string[];
}

/** Cleanup steps of the current run, run once in reverse order (also on SIGINT/SIGTERM). */
let cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp(): Promise<void> {
  const steps = cleanups.reverse();
  cleanups = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      log(`cleanup step failed: ${(error as Error).message}`);
    }
  }
}

async function runOnce(rows: number, runtime: Runtime, nodeArgs: string[], format: Options['format']): Promise<RunResult> {
  const tag = randomBytes(4).toString('hex');
  const database = `catalog_bench_${tag}`;
  const queuePrefix = `bench-${tag}`;
  const databaseUrl = withDatabase(baseDatabaseUrl, database);
  const problems: string[] = [];

  const tmp = await mkdtemp(join(tmpdir(), 'catalog-bench-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const file = join(tmp, `products-${rows}.csv`);
  const dataDir = join(tmp, 'data');
  await mkdir(dataDir);

  let started = performance.now();
  let bytes = await generateProductCsv(file, rows, seed);
  log(`${rows} rows, ${mb(bytes).toFixed(1)} MB generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // The CSV stays for the \copy baseline; the service gets the same products as a workbook.
  const upload = format === 'xlsx' ? join(tmp, `products-${rows}.xlsx`) : file;
  if (format === 'xlsx') {
    started = performance.now();
    bytes = await convertCsvToXlsx(file, upload);
    log(`written as an .xlsx workbook of ${mb(bytes).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  await createDatabase(baseDatabaseUrl, database);
  cleanups.push(() => dropDatabase(baseDatabaseUrl, database));
  cleanups.push(async () => log(`deleted ${await deleteBenchKeys(queuePrefix)} Redis keys of {${queuePrefix}}`));

  const port = await freePort();
  started = performance.now();
  const service: ServiceProcess = await startService(
    REPO_ROOT,
    {
      ROLE: 'all',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      ...redisEnv,
      QUEUE_PREFIX: queuePrefix,
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
    },
    port,
    runtime,
    nodeArgs,
  );
  cleanups.push(() => stopService(service));
  const cmdline = readCmdline(service.pid);
  if (!/main\.[jt]s/.test(cmdline)) throw new Error(`pid ${service.pid} is not the service: ${cmdline}`);
  log(`service pid ${service.pid} ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${cmdline}`);

  const apiKey = await createAccount(service.baseUrl, ADMIN_KEY, `bench-${tag}@example.com`);
  await query(databaseUrl, 'CHECKPOINT');
  await sleep(500);
  const idle = readProcMemory(service.pid);

  const sampler = new RssSampler(service.pid, 100);
  const watcher = new ActivityWatcher(databaseUrl, database, 100);
  await watcher.start();
  sampler.start();
  cleanups.push(async () => {
    sampler.stop();
    await watcher.stop();
  });
  const nodeCpu0 = readCpuSeconds(service.pid) ?? 0;

  const t0 = Date.now();
  const jobId = await uploadCsv(service.baseUrl, apiKey, upload, format === 'xlsx' ? XLSX_MEDIA_TYPE : 'text/csv', importQuery);
  const accepted = Date.now();
  log(`upload accepted after ${((accepted - t0) / 1000).toFixed(2)} s: job ${jobId}`);

  let job: JobView;
  let finalizing: { at: number; nodeCpu: number; pgCpu: number } | null = null;
  let lastReport = Date.now();
  const deadline = t0 + 600_000 + rows; // 10 min + 1 ms per row
  for (;;) {
    if (service.exited) throw new Error(`the service exited during the import (${describeExit(service)})`);
    if (Date.now() > deadline) throw new Error(`job ${jobId} still processing after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    job = await getJob(service.baseUrl, apiKey, jobId);
    const now = Date.now();
    if (job.phase === 'finalizing' && !finalizing) {
      finalizing = { at: now, nodeCpu: readCpuSeconds(service.pid) ?? NaN, pgCpu: watcher.pgCpuSeconds() };
    }
    if (job.status !== 'processing') break;
    if (now - lastReport >= 10_000) {
      lastReport = now;
      log(`  ${job.phase}: ${job.progress.rows_processed} rows after ${((now - t0) / 1000).toFixed(0)} s`);
    }
    await sleep(POLL_MS);
  }
  const completed = Date.now();
  const load = loadavg()[0]!;
  const nodeCpuEnd = readCpuSeconds(service.pid) ?? NaN;
  const pgCpuEnd = watcher.pgCpuSeconds();
  const peakKb = sampler.stop();
  await watcher.stop();
  const hwmKb = readProcMemory(service.pid)?.hwmKb ?? NaN;

  const [count] = await query<{ n: number }>(databaseUrl, 'SELECT count(*)::int AS n FROM products');
  if (job.status !== 'completed') problems.push(`job ${job.status}: ${job.error_code} ${job.detail}`);
  if (job.progress.rows_created !== rows) problems.push(`rows_created ${job.progress.rows_created} ≠ ${rows}`);
  if (count?.n !== rows) problems.push(`products has ${count?.n} rows, not ${rows}`);

  await stopService(service);
  log(`service stopped (${describeExit(service)}); timing psql \\copy`);
  const copy = await copyBaseline(databaseUrl, file);
  if (copy.rows !== rows) problems.push(`\\copy loaded ${copy.rows} rows, not ${rows}`);

  const startedAt = job.started_at ? Date.parse(job.started_at) : accepted;
  const finishedAt = job.finished_at ? Date.parse(job.finished_at) : completed;
  const seconds = (ms: number) => ms / 1000;
  return {
    rows,
    format,
    bytes,
    upload: seconds(accepted - t0),
    queued: Math.max(0, seconds(startedAt - accepted)),
    stage: seconds((finalizing?.at ?? completed) - startedAt),
    finalize: finalizing && seconds(completed - finalizing.at),
    total: seconds(completed - t0),
    idleRssMb: (idle?.rssKb ?? NaN) / 1024,
    peakRssMb: peakKb / 1024,
    hwmMb: hwmKb / 1024,
    copy: copy.seconds,
    cpu: {
      node: nodeCpuEnd - nodeCpu0,
      nodeFinalize: finalizing && nodeCpuEnd - finalizing.nodeCpu,
      pg: pgCpuEnd,
      pgFinalize: finalizing && pgCpuEnd - finalizing.pgCpu,
    },
    sql: {
      copyRows: watcher.seconds('copy rows'),
      dupCheck: watcher.seconds('dup check'),
      merge: watcher.seconds('merge'),
      report: watcher.seconds('report'),
      commit: watcher.seconds('commit'),
      other: watcher.seconds('other'),
      idleInTx: watcher.seconds('idle in transaction'),
    },
    finishedAtEarly: seconds(completed - finishedAt),
    load,
    problems,
  };
}

const fixed = (value: number | null, digits = 2) => (value === null || Number.isNaN(value) ? '-' : value.toFixed(digits));

function report(results: RunResult[], runtime: string, fingerprint: string): void {
  console.log(`\nImport benchmark (service: ${runtime}; ${fingerprint})`);
  console.log('total = start of upload → job status "completed" seen; \\copy = psql \\copy into a logged table with a primary key;');
  console.log(`load = 1-minute load average at completion (${cpus().length} CPUs): well above 1, other work skewed the run.\n`);
  printTable(
    ['rows', 'format', 'MB', 'upload s', 'queued s', 'stage s', 'finalize s', 'total s', 'rows/s', 'idle RSS MB', 'peak RSS MB', 'VmHWM MB', '\\copy s', 'ratio', 'load', 'verified'],
    results.map((r) => [
      String(r.rows), r.format, fixed(mb(r.bytes), 1), fixed(r.upload), fixed(r.queued), fixed(r.stage),
      r.finalize === null ? `<${POLL_MS / 1000}` : fixed(r.finalize),
      fixed(r.total), fixed(r.rows / r.total, 0), fixed(r.idleRssMb, 0), fixed(r.peakRssMb, 0), fixed(r.hwmMb, 0),
      fixed(r.copy), fixed(r.total / r.copy) + '×', fixed(r.load, 1), r.problems.length === 0 ? 'yes' : 'NO',
    ]),
  );
  console.log('\nupload = request start → 202; queued = 202 → job started_at; stage = started_at → phase "finalizing" first');
  console.log('seen (read, parse, validate, COPY; and merging too when the worker merges as it reads); finalize =');
  console.log(`"finalizing" → "completed" seen. The job is polled every ${POLL_MS} ms.`);
  console.log('\nWhere the time goes. CPU seconds (upload → completed; in brackets the part after "finalizing") of the service');
  console.log('process and of its PostgreSQL backends; then backend-seconds per kind of statement, sampled from pg_stat_activity');
  console.log(`every ${POLL_MS} ms ("idle in tx" = an open transaction waiting for the service). "finished_at early" = completion`);
  console.log("seen − the job's finished_at.\n");
  printTable(
    ['rows', 'node CPU s', '(final.)', 'PG CPU s', '(final.)', 'COPY rows', 'dup check', 'merge', 'report', 'COMMIT', 'other SQL', 'idle in tx', 'finished_at early'],
    results.map((r) => [
      String(r.rows), fixed(r.cpu.node), fixed(r.cpu.nodeFinalize), fixed(r.cpu.pg), fixed(r.cpu.pgFinalize),
      fixed(r.sql.copyRows, 1), fixed(r.sql.dupCheck, 1), fixed(r.sql.merge, 1), fixed(r.sql.report, 1), fixed(r.sql.commit, 1),
      fixed(r.sql.other, 1), fixed(r.sql.idleInTx, 1), fixed(r.finishedAtEarly),
    ]),
  );
  console.log(`\nTargets (ratio ≤ 2.5×, peak RSS ≤ 200 MB, ${TARGET_RSS_MB_XLSX} MB for xlsx; peak = max of sampled VmRSS and VmHWM):`);
  for (const r of results) {
    const ratio = r.total / r.copy;
    const peak = Math.max(r.peakRssMb, r.hwmMb);
    const targetRss = r.format === 'xlsx' ? TARGET_RSS_MB_XLSX : TARGET_RSS_MB;
    console.log(
      `  ${String(r.rows).padStart(9)} rows: ratio ${ratio.toFixed(2)}× ${ratio <= TARGET_RATIO ? 'MET' : 'NOT MET'};` +
        ` peak RSS ${peak.toFixed(0)} MB ${peak <= targetRss ? 'MET' : 'NOT MET'}` +
        (r.problems.length === 0 ? '' : `; VERIFICATION FAILED: ${r.problems.join('; ')}`),
    );
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const fingerprint = codeFingerprint(REPO_ROOT);
  const nodeArgs: string[] = [...options.nodeArgs];
  if (options.cpuProf) {
    const profileDir = await mkdtemp(join(tmpdir(), 'catalog-bench-cpuprof-'));
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
    log(`CPU profiles of the service go to ${profileDir} (kept)`);
  }

  let runtime: Runtime = { kind: 'tsx' };
  let buildDir: string | undefined;
  const results: RunResult[] = [];
  let failed = false;
  try {
    if (options.runtime === 'dist') {
      buildDir = await mkdtemp(join(tmpdir(), 'catalog-bench-build-'));
      log(`compiling src/ into ${buildDir}`);
      runtime = await buildDist(REPO_ROOT, buildDir);
    }
    for (const rows of options.sizes) {
      try {
        results.push(await runOnce(rows, runtime, nodeArgs, options.format));
      } catch (error) {
        console.error(`[bench] the ${rows}-row run failed:`, error);
        failed = true;
        break;
      } finally {
        await cleanUp();
      }
      const last = results.at(-1)!;
      log(`${rows} rows: ${last.total.toFixed(2)} s (${(rows / last.total).toFixed(0)} rows/s), \\copy ${last.copy.toFixed(2)} s`);
    }
  } finally {
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  }
  const entry = runtime.kind === 'tsx' ? '--import tsx src/main.ts' : 'dist/main.js (tsc into a temp dir)';
  const runtimeLabel = ['node', ...options.nodeArgs, entry].join(' ');
  if (results.length > 0) report(results, runtimeLabel, fingerprint);
  return !failed && results.every((r) => r.problems.length === 0) ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error('[bench] failed:', error);
  process.exitCode = 1;
}
