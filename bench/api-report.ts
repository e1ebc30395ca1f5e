/** What bench:api reports: each scenario's measurement, the goals, and which runs they compare. */
import { cpus, loadavg } from 'node:os';
import { printTable } from './report.js';

export const GOALS = { getShare: 0.6, importShare: 0.3, halfRateP99Ms: 25, duringImportFactor: 2 };

/** What one scenario measured: one autocannon run, or the runs of its turns ({@link combineRuns}). */
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
  /** The req/s of each turn, when the scenario ran in turns with others. */
  turns?: number[];
}

/** What one autocannon run of a scenario measured, with the CPU the run cost. */
export interface Run {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  statuses: Map<string, number>;
  errors: number;
  /** CPU seconds of the API process, the PostgreSQL backends, Redis and autocannon during the run. */
  cpu: { api: number; postgres: number; redis: number; loadGenerator: number };
}

/**
 * A scenario's runs as one measurement: req/s over all of them, CPU per request over all of them,
 * the median of their p50 and the highest of their p99.
 */
export function combineRuns(name: string, runs: Run[]): Measured {
  const sum = (value: (run: Run) => number) => runs.reduce((total, run) => total + value(run), 0);
  const answered = Math.max(1, sum((run) => run.requests));
  const statuses = new Map<string, number>();
  for (const run of runs) for (const [status, count] of run.statuses) statuses.set(status, (statuses.get(status) ?? 0) + count);
  const p50s = runs.map((run) => run.p50).sort((a, b) => a - b);
  return {
    name, rate: sum((run) => run.requests) / sum((run) => run.seconds), p50: p50s[Math.floor(p50s.length / 2)]!,
    p99: Math.max(...runs.map((run) => run.p99)), errors: sum((run) => run.errors),
    statuses: [...statuses].map(([status, count]) => `${status}×${count}`).join(' '),
    apiCpuUs: (sum((run) => run.cpu.api) * 1e6) / answered, pgCpuUs: (sum((run) => run.cpu.postgres) * 1e6) / answered,
    redisCpuUs: (sum((run) => run.cpu.redis) * 1e6) / answered, loadCpuUs: (sum((run) => run.cpu.loadGenerator) * 1e6) / answered,
    ...(runs.length > 1 && { turns: runs.map((run) => run.requests / run.seconds) }),
  };
}

/** The scenarios run in turns, whose rates the goals' shares compare. */
export const HEALTH = 'GET /healthz';
export const JOB = 'GET /v1/jobs/{id}';
export const PRODUCT = 'GET /v1/products/{ean}';

/** Names of the two scenarios that the goals compare: the GET at half its maximum rate, idle and during an import. */
export const HALF = 'GET /v1/jobs/{id} at half rate';
export const DURING = 'GET /v1/jobs/{id} at half rate, during';

const ms = (value: number) => value.toFixed(1);
/** Seconds of each turn of the scenarios run in turns: together as long as two runs of `duration`. */
export const turnSeconds = (options: { duration: number; turns: number }) => (2 * options.duration) / options.turns;
const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

type ReportOptions = { connections: number; duration: number; turns: number; logLevel: string };

export function report(rows: Measured[], options: ReportOptions, runtime: string): void {
  const load = loadavg()[0]!;
  const busy = load > cpus().length ? ': above the CPU count, other work skewed the run' : '';
  console.log(`\nAPI benchmark (service: ROLE=api, ${runtime}, LOG_LEVEL=${options.logLevel}; autocannon, ${options.connections} connections,`);
  const inTurns = `the first three in ${options.turns} turns of ${turnSeconds(options)} s`;
  console.log(`${options.duration} s each, ${inTurns}; load average ${load.toFixed(2)} on ${cpus().length} CPUs${busy})\n`);
  printTable(
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'API µs/req', 'PG µs/req', 'Redis µs/req', 'load µs/req', 'responses', 'errors'],
    rows.map((row) => [
      row.name, row.rate.toFixed(0), ms(row.p50), ms(row.p99), row.apiCpuUs.toFixed(0), row.pgCpuUs.toFixed(0),
      row.redisCpuUs.toFixed(0), row.loadCpuUs.toFixed(0), row.statuses, String(row.errors),
    ]),
  );
  console.log('(µs/req: CPU time per answered request of the API process, of the PostgreSQL backends of its database,');
  console.log(' of the whole Redis server, and of autocannon in this process; scenarios run in turns: p50 the median');
  console.log(" of the turns', p99 the highest)");
  const named = (prefix: string) => rows.find((row) => row.name.startsWith(prefix));
  const [imports, half] = ['POST /v1/imports', HALF].map((prefix) => named(prefix)) as Measured[];
  const [health, job, product] = [HEALTH, JOB, PRODUCT].map((name) => rows.find((row) => row.name === name));
  const during = named(DURING);
  if (!health || !job || !product || !imports || !half) return;
  console.log('\nEach turn (req/s, and the share of the health check of the same turn):');
  for (const row of [health, job, product]) {
    const turns = (row.turns ?? [row.rate]).map((rate, turn) => {
      const share = row === health ? '' : ` (${percent(rate, health.turns?.[turn] ?? health.rate)})`;
      return `${rate.toFixed(0)}${share}`;
    });
    console.log(`  ${row.name}: ${turns.join(', ')}`);
  }
  console.log('\nGoals:');
  const goal = (text: string, met: boolean) => console.log(`  ${met ? 'met ' : 'MISS'}  ${text}`);
  for (const read of [job, product]) {
    const share = `${read.name} ≥ ${GOALS.getShare * 100}% of /healthz req/s: ${percent(read.rate, health.rate)}`;
    goal(`authenticated ${share}`, read.rate >= GOALS.getShare * health.rate);
  }
  goal(`small-import POST ≥ ${GOALS.importShare * 100}% of /healthz req/s: ${percent(imports.rate, health.rate)}`, imports.rate >= GOALS.importShare * health.rate);
  goal(`p99 at half the maximum rate ≤ ${GOALS.halfRateP99Ms} ms: ${ms(half.p99)} ms`, half.p99 <= GOALS.halfRateP99Ms);
  if (during) {
    const limit = GOALS.duringImportFactor * half.p99;
    goal(`p99 during the import ≤ ${GOALS.duringImportFactor}× idle p99 (${ms(half.p99)} ms): ${ms(during.p99)} ms`, during.p99 <= limit);
  } else console.log('  (p99 during a large import: left out by --import-rows 0)');
}
