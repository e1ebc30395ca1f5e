/** What bench:api reports: each scenario's measurement, the goals, and which runs they compare. */
import { cpus, loadavg } from 'node:os';
import { printTable } from './report.js';

export const GOALS = { getShare: 0.6, importShare: 0.3, halfRateP99Ms: 25, duringImportFactor: 2 };

/** What one autocannon run measured. */
export interface Measured {
  name: string;
  rate: number;
  p50: number;
  p99: number;
  /** Responses per status code, e.g. "200×5120". */
  statuses: string;
  errors: number;
  /** CPU microseconds per answered request: the API process, the PostgreSQL backends of its database, Redis, autocannon. */
  apiCpuUs: number;
  pgCpuUs: number;
  redisCpuUs: number;
  loadCpuUs: number;
}

/** The scenarios run twice, the second time named with {@link AGAIN}. */
export const HEALTH = 'GET /healthz';
export const JOB = 'GET /v1/jobs/{id}';
export const PRODUCT = 'GET /v1/products/{ean}';
export const AGAIN = ' (again)';

/**
 * The faster of a scenario's two runs. The machine's speed changes from one moment to the next
 * (here, `/healthz` from 14k to 25k req/s within one run), and the goals' ratios compare the
 * faster run of each side, so a slow moment during either does not decide them.
 */
export function fastest(rows: Measured[], name: string): Measured | undefined {
  return rows.filter((row) => row.name === name || row.name === `${name}${AGAIN}`).sort((a, b) => b.rate - a.rate)[0];
}

/** Names of the two scenarios that the goals compare: the GET at half its maximum rate, idle and during an import. */
export const HALF = 'GET /v1/jobs/{id} at half rate';
export const DURING = 'GET /v1/jobs/{id} at half rate, during';

const ms = (value: number) => value.toFixed(1);
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

export function report(rows: Measured[], options: { connections: number; duration: number; logLevel: string }, runtime: string): void {
  const load = loadavg()[0]!;
  const busy = load > cpus().length ? ': above the CPU count, other work skewed the run' : '';
  console.log(`\nAPI benchmark (service: ROLE=api, ${runtime}, LOG_LEVEL=${options.logLevel}; autocannon, ${options.connections} connections,`);
  console.log(`${options.duration} s each; load average ${load.toFixed(2)} on ${cpus().length} CPUs${busy})\n`);
  printTable(
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'API µs/req', 'PG µs/req', 'Redis µs/req', 'load µs/req', 'responses', 'errors'],
    rows.map((row) => [
      row.name, row.rate.toFixed(0), ms(row.p50), ms(row.p99), row.apiCpuUs.toFixed(0), row.pgCpuUs.toFixed(0),
      row.redisCpuUs.toFixed(0), row.loadCpuUs.toFixed(0), row.statuses, String(row.errors),
    ]),
  );
  console.log('(µs/req: CPU time per answered request of the API process, of the PostgreSQL backends of its database,');
  console.log(' of the whole Redis server, and of autocannon in this process)');
  const named = (prefix: string) => rows.find((row) => row.name.startsWith(prefix));
  const [imports, half] = ['POST /v1/imports', HALF].map((prefix) => named(prefix)) as Measured[];
  const [health, job, product] = [HEALTH, JOB, PRODUCT].map((name) => fastest(rows, name));
  const during = named(DURING);
  if (!health || !job || !product || !imports || !half) return;
  console.log('\nGoals:');
  const goal = (text: string, met: boolean) => console.log(`  ${met ? 'met ' : 'MISS'}  ${text}`);
  for (const read of [job, product]) {
    const share = `${read.name.replace(AGAIN, '')} ≥ ${GOALS.getShare * 100}% of /healthz req/s: ${percent(read.rate, health.rate)}`;
    goal(`authenticated ${share}`, read.rate >= GOALS.getShare * health.rate);
  }
  goal(`small-import POST ≥ ${GOALS.importShare * 100}% of /healthz req/s: ${percent(imports.rate, health.rate)}`, imports.rate >= GOALS.importShare * health.rate);
  goal(`p99 at half the maximum rate ≤ ${GOALS.halfRateP99Ms} ms: ${ms(half.p99)} ms`, half.p99 <= GOALS.halfRateP99Ms);
  if (during) {
    const limit = GOALS.duringImportFactor * half.p99;
    goal(`p99 during the import ≤ ${GOALS.duringImportFactor}× idle p99 (${ms(half.p99)} ms): ${ms(during.p99)} ms`, during.p99 <= limit);
  } else console.log('  (p99 during a large import: left out by --import-rows 0)');
}
