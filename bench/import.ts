/**
 * Import benchmark: generates product CSV files of N rows, starts the service as child processes
 * on a fresh database and queue prefix, uploads the files over HTTP and times them until their
 * jobs are completed, sampling the worker's RSS and CPU. Right before each import it times `psql
 * \copy` of the same file into a fresh logged table with a primary key as the baseline, and it
 * prints tables with the ratios and whether the goals are met.
 *
 * For each size and EAN order (`file`: ascending, as a catalog sorted by EAN or SKU; `scrambled`)
 * it runs a first load into an empty catalog, then re-imports into the catalog it filled: the same
 * file (every row unchanged) and the file with 10% of its rows changed. Then, on the first order,
 * one worker process importing one file against two worker processes importing two independent
 * files at once.
 *
 *   npm run bench:import                        # 1,000,000 rows, every scenario
 *   npm run bench:import -- 200000              # N from argv (also 200k, 1m, 1e6, 200_000)
 *   npm run bench:import -- --sizes 100k,1m     # several sizes, one table
 *   npm run bench:import -- 1m --orders file    # one EAN order only (file, scrambled)
 *   npm run bench:import -- 1m --scenarios first,scale   # first, unchanged, changed, scale
 *   npm run bench:import -- 1m --runtime tsx    # run the sources with tsx instead of tsc-compiled JS
 *   npm run bench:import -- 1m --cpu-prof       # also write V8 CPU profiles of the service processes
 *   npm run bench:import -- 1m --node-arg=--max-old-space-size=256   # node flags for the service only
 *   npm run bench:import -- 100k --format xlsx  # upload the products as an .xlsx workbook (peak RSS goal 250 MB)
 *
 * By default the service runs as `npm start` runs it: compiled JS with --max-old-space-size=128
 * (NODE_HEAP_MB).
 *   BENCH_ROWS=50000 npm run bench:import       # or BENCH_SIZES=20k,200k
 *   BENCH_IMPORT_QUERY=encoding=windows-1252 npm run bench:import   # query parameters of the upload
 *
 * DATABASE_URL (the server to use; default postgres://postgres@127.0.0.1:5432/catalog) and
 * REDIS_URL (default redis://127.0.0.1:6379) come from the environment; BENCH_SEED seeds the files.
 * Each session creates catalog_bench_<random> and the queue prefix bench-<random>, and removes them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeFingerprint } from './fingerprint.js';
import { parseOptions } from './import-options.js';
import { report, type ImportResult, type ScaleResult } from './import-report.js';
import { runCatalog, runScale, type ScenarioContext } from './import-scenarios.js';
import { Cleanups, log } from './import-session.js';
import { buildDist, type Runtime } from './service.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const cleanups = new Cleanups();
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanups.run().finally(() => process.exit(130));
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
  const imports: ImportResult[] = [];
  const scale: ScaleResult[] = [];
  let failed = false;
  try {
    if (options.runtime === 'dist') {
      buildDir = await mkdtemp(join(tmpdir(), 'catalog-bench-build-'));
      log(`compiling src/ into ${buildDir}`);
      runtime = await buildDist(REPO_ROOT, buildDir);
    }
    const context: ScenarioContext = { options, runtime, nodeArgs, repoRoot: REPO_ROOT, cleanups };
    for (const rows of options.sizes) {
      try {
        if (options.scenarios.has('first')) {
          for (const order of options.orders) imports.push(...(await runCatalog(context, rows, order)));
        }
        if (options.scenarios.has('scale')) scale.push(await runScale(context, rows, options.orders[0]!));
      } catch (error) {
        console.error(`[bench] the ${rows}-row run failed:`, error);
        failed = true;
        break;
      } finally {
        await cleanups.run();
      }
    }
  } finally {
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  }
  const entry = runtime.kind === 'tsx' ? '--import tsx src/main.ts' : 'dist/main.js (tsc into a temp dir)';
  const runtimeLabel = ['node', ...options.nodeArgs, entry].join(' ');
  if (imports.length + scale.length > 0) report(imports, scale, runtimeLabel, fingerprint);
  const verified = imports.every((r) => r.problems.length === 0) && scale.every((r) => r.problems.length === 0);
  return !failed && verified ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error('[bench] failed:', error);
  process.exitCode = 1;
}
