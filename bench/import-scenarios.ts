import { join } from 'node:path';
import { copyBaseline, copyProductsFloor, query } from './db.js';
import { generateProductCsv, type EanOrder, type FileShape } from './generate-csv.js';
import { convertCsvToXlsx } from './generate-xlsx.js';
import type { JobView } from './http.js';
import { measureImports, type Measurement, type Upload } from './import-measure.js';
import type { Options } from './import-options.js';
import type { ImportKind, ImportResult, ScaleResult } from './import-report.js';
import { log, newAccount, startSession, stopSession, type Cleanups, type Session } from './import-session.js';
import type { Runtime } from './service.js';
import { benchSeed as seed } from './settings.js';
import { XLSX_MEDIA_TYPE } from '../src/shared/jobs/upload-formats.js';

/** What every scenario needs besides its own parameters. */
export interface ScenarioContext {
  options: Options;
  runtime: Runtime;
  nodeArgs: string[];
  repoRoot: string;
  cleanups: Cleanups;
}

/** Re-import with this share of rows changed: every CHANGE_EVERY-th row gets another stock. */
const CHANGE_EVERY = 10;

const mb = (bytes: number) => bytes / (1024 * 1024);

/** A CSV file of `rows` products shaped by `shape`, and what is uploaded for it (the CSV, or it as a workbook). */
async function prepareFile(dir: string, name: string, rows: number, shape: FileShape, format: Options['format']) {
  const csv = join(dir, `${name}.csv`);
  let started = performance.now();
  let bytes = await generateProductCsv(csv, rows, seed, shape);
  log(`${name}: ${rows} rows, ${mb(bytes).toFixed(1)} MB generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (format === 'csv') return { csv, upload: csv, bytes, contentType: 'text/csv' };
  const upload = join(dir, `${name}.xlsx`);
  started = performance.now();
  bytes = await convertCsvToXlsx(csv, upload);
  log(`${name}: written as an .xlsx workbook of ${mb(bytes).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { csv, upload, bytes, contentType: XLSX_MEDIA_TYPE };
}

/** What a job of `kind` over `rows` rows must have done; problems found, else none. */
function verify(job: JobView, kind: ImportKind, rows: number): string[] {
  const problems: string[] = [];
  if (job.status !== 'completed') problems.push(`job ${job.status}: ${job.error_code} ${job.detail}`);
  const changed = Math.ceil(rows / CHANGE_EVERY);
  const expected = {
    first: { rows_created: rows, rows_updated: 0, rows_unchanged: 0 },
    unchanged: { rows_created: 0, rows_updated: 0, rows_unchanged: rows },
    changed: { rows_created: 0, rows_updated: changed, rows_unchanged: rows - changed },
  }[kind];
  const progress = job.progress as unknown as Record<string, number>;
  for (const [key, value] of Object.entries(expected)) {
    if (progress[key] !== value) problems.push(`${key} ${progress[key]} ≠ ${value}`);
  }
  return problems;
}

/** How long a first load's product search catch-up may take before the bench gives up. */
const SEARCH_CATCH_UP_WAIT_MS = 15 * 60_000;

async function countProducts(session: Session): Promise<number> {
  const [count] = await query<{ n: number }>(session.databaseUrl, 'SELECT count(*)::int AS n FROM products');
  return count?.n ?? NaN;
}

/**
 * A catalog is re-imported long after it was filled: by then the worker has caught product search
 * up (it runs once the first load's job has completed), autovacuum has set the hint bits and the
 * visibility map, and analyzed the tables. Right after a first load all of that is still to do,
 * and doing it during the re-import would be timed as the re-import's.
 */
async function settleCatalog(session: Session): Promise<void> {
  const started = performance.now();
  for (;;) {
    const [row] = await query<{ n: number }>(session.databaseUrl, 'SELECT count(*)::int AS n FROM product_search_backlog');
    if (row?.n === 0) break;
    if (performance.now() - started > SEARCH_CATCH_UP_WAIT_MS) throw new Error('product search did not catch up after the first load');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  log(`product search caught up ${((performance.now() - started) / 1000).toFixed(1)} s after the first load completed`);
  await query(session.databaseUrl, 'VACUUM (ANALYZE) products, product_search');
  await query(session.databaseUrl, 'CHECKPOINT');
  log(`settled after the first load: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * On a fresh database and service (ROLE=all, as `npm start`): a first load of `rows` products in
 * EAN `order`, then (as the options ask) a re-import of the same file and one with 10% of its rows
 * changed, into the catalog the first load filled. Each import's `\copy` baseline (and a first
 * load's floor) is timed right before it, into a fresh table dropped at once, while the service
 * is idle: the machine's speed changes from one minute to the next, and a ratio compares the two
 * at the same moment.
 */
export async function runCatalog(context: ScenarioContext, rows: number, order: EanOrder): Promise<ImportResult[]> {
  const { options, cleanups } = context;
  const session = await startSession({ ...context, layout: { kind: 'all' } });
  const base = await prepareFile(session.tmp, `products-${order}-${rows}`, rows, { order }, options.format);
  const apiKey = await newAccount(session);
  const done: ImportResult[] = [];
  const importFile = async (kind: ImportKind, file: typeof base) => {
    log(`timing psql \\copy of ${file.csv}`);
    const copy = await copyBaseline(session.databaseUrl, file.csv);
    // The floor of a first load: the same file into a table shaped like products, indexes and all.
    const floor = kind === 'first' ? (await copyProductsFloor(session.databaseUrl, file.csv)).seconds : null;
    log(`${order} order, ${kind}: importing ${rows} rows`);
    const measured = await measureImports(session, [{ apiKey, file: file.upload, rows, contentType: file.contentType }]);
    const problems = verify(measured.jobs[0]!.job, kind, rows);
    const count = await countProducts(session);
    if (count !== rows) problems.push(`products has ${count} rows, not ${rows}`);
    if (copy.rows !== rows) problems.push(`\\copy loaded ${copy.rows} rows, not ${rows}`);
    done.push({ kind, order, rows, format: options.format, bytes: file.bytes, measured, copy: copy.seconds, floor, problems });
    log(`${order} order, ${kind}: ${measured.jobs[0]!.total.toFixed(2)} s (load ${measured.load.toFixed(1)})`);
    const rss = (value: number) => value.toFixed(0);
    log(`RSS: ${rss(measured.idleRssMb)} MB before the upload, ${rss(measured.peakRssMb)} MB at most while sampled, ${rss(measured.hwmMb)} MB lifetime high-water mark`);
  };
  // Re-imports need the first load (and only go on when it went through).
  await importFile('first', base);
  const reimport = done[0]!.problems.length === 0;
  if (reimport && (options.scenarios.has('unchanged') || options.scenarios.has('changed'))) await settleCatalog(session);
  if (reimport && options.scenarios.has('unchanged')) await importFile('unchanged', base);
  if (reimport && options.scenarios.has('changed')) {
    const changed = await prepareFile(session.tmp, `products-${order}-${rows}-changed`, rows, { order, changeEvery: CHANGE_EVERY }, options.format);
    await importFile('changed', changed);
  }
  await stopSession(session);
  await cleanups.run();
  return done;
}

/**
 * Throughput of one worker process importing one file, against two worker processes importing
 * two independent files (two accounts, no EAN in common) at once; each on a fresh database.
 */
export async function runScale(context: ScenarioContext, rows: number, order: EanOrder): Promise<ScaleResult> {
  const problems: string[] = [];
  const measure = async (workers: number): Promise<Measurement> => {
    const session = await startSession({ ...context, layout: { kind: 'split', workers } });
    try {
      const uploads: Upload[] = [];
      for (let i = 0; i < workers; i += 1) {
        const file = await prepareFile(session.tmp, `products-${order}-${rows}-${i}`, rows, { order, eanOffset: i * rows }, context.options.format);
        uploads.push({ apiKey: await newAccount(session), file: file.upload, rows, contentType: file.contentType });
      }
      log(`scale: ${workers} worker process(es) importing ${workers} file(s) of ${rows} rows`);
      const measured = await measureImports(session, uploads);
      for (const { job } of measured.jobs) problems.push(...verify(job, 'first', rows).map((problem) => `${workers} workers: ${problem}`));
      const count = await countProducts(session);
      if (count !== rows * workers) problems.push(`${workers} workers: products has ${count} rows, not ${rows * workers}`);
      log(`scale: ${workers} worker process(es): ${measured.wall.toFixed(2)} s (load ${measured.load.toFixed(1)})`);
      return measured;
    } finally {
      await context.cleanups.run();
    }
  };
  const one = await measure(1);
  const two = await measure(2);
  return { rows, order, one, two, problems };
}
