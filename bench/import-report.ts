import { cpus } from 'node:os';
import type { EanOrder } from './generate-csv.js';
import { POLL_MS, type Measurement } from './import-measure.js';
import { printTable } from './report.js';

/** Goals at 1M rows: the import against `\copy` of the same file into a fresh table, and the worker's peak RSS. */
export const TARGETS = { first: 2.0, unchanged: 2.0, changed: 2.5 } as const;
export const TARGET_RSS_MB = 200;
/** A workbook's shared strings are held (outside the heap) for the whole import. */
export const TARGET_RSS_MB_XLSX = 250;

export type ImportKind = keyof typeof TARGETS;
const KIND_LABELS: Record<ImportKind, string> = { first: 'first load', unchanged: 're-import, unchanged', changed: 're-import, 10% changed' };

/** One import of one file, with its `\copy` baseline. */
export interface ImportResult {
  kind: ImportKind;
  order: EanOrder;
  rows: number;
  format: 'csv' | 'xlsx';
  bytes: number;
  measured: Measurement;
  /** Seconds of `psql \copy` of the same CSV file into a fresh table, timed right before the import. */
  copy: number;
  /** First load only: seconds of `\copy` into a table like products (its indexes too): what any import pays PostgreSQL. */
  floor: number | null;
  problems: string[];
}

/** Independent files imported by one worker process, then by two at once. */
export interface ScaleResult {
  rows: number;
  order: EanOrder;
  one: Measurement;
  two: Measurement;
  problems: string[];
}

const fixed = (value: number | null, digits = 2) => (value === null || Number.isNaN(value) ? '-' : value.toFixed(digits));
const mb = (bytes: number) => bytes / (1024 * 1024);
const peakOf = (m: Measurement) => Math.max(m.peakRssMb, m.hwmMb);
const met = (ok: boolean) => (ok ? 'MET' : 'NOT MET');

function printImports(results: ImportResult[]): void {
  printTable(
    ['rows', 'EAN order', 'import', 'MB', 'upload s', 'queued s', 'stage s', 'finalize s', 'total s', 'rows/s', '\\copy s', 'ratio', 'goal', 'floor s', 'floor ratio', 'peak RSS MB', 'load', 'verified'],
    results.map((r) => {
      const job = r.measured.jobs[0]!;
      const ratio = job.total / r.copy;
      return [
        String(r.rows), r.order, KIND_LABELS[r.kind], fixed(mb(r.bytes), 1), fixed(job.upload), fixed(job.queued), fixed(job.stage),
        job.finalize === null ? `<${POLL_MS / 1000}` : fixed(job.finalize), fixed(job.total), fixed(r.rows / job.total, 0),
        fixed(r.copy), `${fixed(ratio)}×`, `≤ ${TARGETS[r.kind].toFixed(1)}× ${met(ratio <= TARGETS[r.kind])}`,
        fixed(r.floor), r.floor === null ? '-' : `${fixed(r.floor / r.copy)}×`,
        fixed(peakOf(r.measured), 0), fixed(r.measured.load, 1), r.problems.length === 0 ? 'yes' : 'NO',
      ];
    }),
  );
}

function printWhereTimeGoes(results: ImportResult[]): void {
  console.log('\nWhere the time goes. CPU seconds (upload → completed; in brackets the part after "finalizing") of the worker');
  console.log('process and of its PostgreSQL backends; then backend-seconds per kind of statement, sampled from pg_stat_activity');
  console.log(`every ${POLL_MS} ms ("idle in tx" = an open transaction waiting for the worker). "finished_at early" = completion`);
  console.log("seen − the job's finished_at.\n");
  printTable(
    ['rows', 'EAN order', 'import', 'node CPU s', '(final.)', 'PG CPU s', '(final.)', 'COPY rows', 'dup check', 'merge', 'report', 'COMMIT', 'other SQL', 'idle in tx', 'finished_at early'],
    results.map(({ rows, order, kind, measured: m }) => [
      String(rows), order, KIND_LABELS[kind], fixed(m.cpu.node), fixed(m.cpu.nodeFinalize), fixed(m.cpu.pg), fixed(m.cpu.pgFinalize),
      fixed(m.sql.copyRows, 1), fixed(m.sql.dupCheck, 1), fixed(m.sql.merge, 1), fixed(m.sql.report, 1), fixed(m.sql.commit, 1),
      fixed(m.sql.other, 1), fixed(m.sql.idleInTx, 1), fixed(m.jobs[0]!.finishedAtEarly),
    ]),
  );
}

function printScale(results: ScaleResult[]): void {
  console.log('\nScale: an API process and ROLE=worker processes (WORKER_CONCURRENCY=1) on a fresh database; "one" imports one');
  console.log('file with one worker process, "two" two independent files (two accounts, no EAN in common) with two worker');
  console.log('processes at once. Throughput = rows of all files / (start of the uploads → last job completed).\n');
  printTable(
    ['rows per file', 'EAN order', 'one: s', 'rows/s', 'worker CPU s', 'PG CPU s', 'two: s', 'rows/s', 'worker CPU s', 'PG CPU s', 'throughput ×', 'peak RSS MB', 'load', 'verified'],
    results.map(({ rows, order, one, two, problems }) => [
      String(rows), order, fixed(one.wall), fixed(rows / one.wall, 0), fixed(one.cpu.node), fixed(one.cpu.pg),
      fixed(two.wall), fixed((2 * rows) / two.wall, 0), fixed(two.cpu.node), fixed(two.cpu.pg),
      `${fixed((2 * rows) / two.wall / (rows / one.wall))}×`, fixed(Math.max(peakOf(one), peakOf(two)), 0),
      `${fixed(one.load, 1)}/${fixed(two.load, 1)}`, problems.length === 0 ? 'yes' : 'NO',
    ]),
  );
  console.log(`\nThis machine has ${cpus().length} CPUs, shared by the worker processes and PostgreSQL's backends: the sum of`);
  console.log('worker and PostgreSQL CPU seconds over the wall time says how much of them a run kept busy.');
}

/** Prints the tables of a run and the goals with MET / NOT MET. */
export function report(imports: ImportResult[], scale: ScaleResult[], runtime: string, fingerprint: string): void {
  console.log(`\nImport benchmark (service: ${runtime}; ${fingerprint})`);
  console.log('total = start of upload → job status "completed" seen; \\copy = psql \\copy of the same CSV file into a fresh logged');
  console.log('table of the same shape with a primary key, timed right before the import; ratio = total / \\copy. EAN order "file" =');
  console.log('ascending EANs (a catalog sorted by EAN or SKU); "scrambled" = no order. Re-imports go into the catalog the');
  console.log('first load filled, once settled (product search caught up, VACUUM (ANALYZE), CHECKPOINT), as a catalog filled earlier is.');
  console.log(`load = 1-minute load average at completion (${cpus().length} CPUs): well above 1, other work skewed the run.\n`);
  if (imports.length > 0) {
    printImports(imports);
    console.log('\nupload = request start → 202; queued = 202 → job started_at; stage = started_at → phase "finalizing" first');
    console.log('seen (read, parse, validate, COPY and merge); finalize = "finalizing" → "completed" seen. The job is polled');
    console.log(`every ${POLL_MS} ms. peak RSS = max of sampled VmRSS and VmHWM (the process's lifetime: a re-import's includes its first load).`);
    console.log('floor = psql \\copy of the same file into a fresh table LIKE products INCLUDING ALL (its primary key; the search');
    console.log("indexes live in product_search, which imports do not write): PostgreSQL's part of any first load;");
    console.log('floor ratio = floor / \\copy, the lowest ratio an import that writes products can reach.');
    printWhereTimeGoes(imports);
  }
  if (scale.length > 0) printScale(scale);
  console.log(`\nGoals (ratio: first load and unchanged re-import ≤ 2.0×, 10% changed ≤ 2.5×; peak RSS ≤ ${TARGET_RSS_MB} MB, ${TARGET_RSS_MB_XLSX} MB for xlsx):`);
  for (const r of imports) {
    const ratio = r.measured.jobs[0]!.total / r.copy;
    const peak = peakOf(r.measured);
    console.log(
      `  ${String(r.rows).padStart(9)} rows, ${r.order.padEnd(9)} ${KIND_LABELS[r.kind].padEnd(22)} ratio ${ratio.toFixed(2)}× ${met(ratio <= TARGETS[r.kind])};` +
        ` peak RSS ${peak.toFixed(0)} MB ${met(peak <= (r.format === 'xlsx' ? TARGET_RSS_MB_XLSX : TARGET_RSS_MB))}` +
        (r.problems.length === 0 ? '' : `; VERIFICATION FAILED: ${r.problems.join('; ')}`),
    );
  }
  for (const r of scale) {
    if (r.problems.length > 0) console.log(`  scale ${r.rows} rows: VERIFICATION FAILED: ${r.problems.join('; ')}`);
  }
}
