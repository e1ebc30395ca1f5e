import { spawn } from 'node:child_process';
import pg from 'pg';
import { readCpuSeconds } from './proc.js';

/** `base` with its database name replaced by `name`. */
export function withDatabase(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

async function onServer<T>(base: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(base, 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(base: string, name: string): Promise<void> {
  await onServer(base, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
}

/** Drops the database, disconnecting whoever is still in it (PostgreSQL 13+). */
export async function dropDatabase(base: string, name: string): Promise<void> {
  await onServer(base, (client) => client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
}

/** Runs `sql` on the database at `url` and returns the rows. */
export async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Runs a command and resolves with its stdout; rejects with its stderr on a non-zero exit. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

/**
 * The baseline: `psql \copy` of the file into a fresh logged table with a primary key, shaped like
 * the product columns, dropped once counted unless `keep` (a caller that loads its rows from it
 * drops it). Returns the seconds psql took (process start to exit) and the rows loaded.
 */
export async function copyBaseline(url: string, file: string, { keep = false } = {}): Promise<{ seconds: number; rows: number }> {
  await query(
    url,
    `DROP TABLE IF EXISTS bench_copy_target;
     CREATE TABLE bench_copy_target (
       ean text PRIMARY KEY, name text NOT NULL, brand text, category text, description text,
       price numeric, currency text, stock integer
     );
     CHECKPOINT;`,
  );
  const started = performance.now();
  await run('psql', [
    '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url,
    '-c', `\\copy bench_copy_target FROM '${file.replaceAll("'", "''")}' WITH (FORMAT csv, HEADER true)`,
  ]);
  const seconds = (performance.now() - started) / 1000;
  const [row] = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM bench_copy_target');
  if (!keep) await query(url, 'DROP TABLE bench_copy_target');
  return { seconds, rows: row?.n ?? 0 };
}

/**
 * The floor of any import that writes products: `psql \copy` of the file into a fresh table made
 * `LIKE products INCLUDING ALL` (its columns, defaults, checks, primary key and any other index
 * products has), every row under one account. Returns the seconds psql took.
 */
export async function copyProductsFloor(url: string, file: string): Promise<{ seconds: number; rows: number }> {
  await query(
    url,
    `DROP TABLE IF EXISTS bench_copy_products;
     CREATE TABLE bench_copy_products (LIKE products INCLUDING ALL);
     ALTER TABLE bench_copy_products ALTER COLUMN account_id SET DEFAULT '00000000-0000-4000-8000-000000000000';
     CHECKPOINT;`,
  );
  const started = performance.now();
  await run('psql', [
    '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url,
    '-c', `\\copy bench_copy_products (ean, name, brand, category, description, price, currency, stock) FROM '${file.replaceAll("'", "''")}' WITH (FORMAT csv, HEADER true)`,
  ]);
  const seconds = (performance.now() - started) / 1000;
  const [row] = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM bench_copy_products');
  await query(url, 'DROP TABLE bench_copy_products');
  return { seconds, rows: row?.n ?? 0 };
}

/** What the service's PostgreSQL sessions were doing, by kind of statement. */
export type ActivityKind = 'copy rows' | 'dup check' | 'merge' | 'report' | 'commit' | 'other' | 'idle in transaction';

/**
 * Statement kinds, for both designs of the worker: a staging table merged at the end, or chunks
 * merged one by one in one transaction. COPYs into the report/errors table are left out: such a
 * COPY stays "active" while it waits for rows, so its time says nothing of PostgreSQL's work.
 */
const KINDS: Array<[RegExp, ActivityKind | null]> = [
  [/^\s*COPY\s+(import_chunk|import_staging\.\S+_rows)\b/i, 'copy rows'],
  // A first load COPYs chunks straight into products: that is the merge.
  [/^\s*COPY\s+products\b/i, 'merge'],
  [/^\s*COPY\b/i, null],
  [/import_seen|WITH firsts AS/i, 'dup check'],
  // The re-import merge is one long statement: pg_stat_activity keeps only its first 1 KiB.
  [/INSERT INTO products|UPDATE products|^\s*WITH (fits|matched) AS/i, 'merge'],
  [/job_row_errors|count\(DISTINCT row\)/i, 'report'],
  [/^\s*COMMIT/i, 'commit'],
];

function kindOf(state: string, query: string): ActivityKind | null {
  if (state === 'idle in transaction') return 'idle in transaction';
  if (state !== 'active') return null;
  const match = KINDS.find(([pattern]) => pattern.test(query));
  return match ? match[1] : 'other';
}

/**
 * Polls pg_stat_activity of the bench database every `intervalMs` and estimates, by sampling, how
 * long the service's backends spent on each kind of statement (each poll credits the time since the
 * previous poll to what every backend was doing), so many short statements add up as well as long
 * ones. It also remembers the backends, to add up the CPU time PostgreSQL spent for the service
 * (when PostgreSQL runs on this host).
 */
export class ActivityWatcher {
  private readonly time = new Map<ActivityKind, number>();
  /** backend pid → CPU seconds when first seen (0 for backends that started while watching) and last read. */
  private readonly backends = new Map<number, { first: number; last: number }>();
  private polls = 0;
  private lastPollAt = 0;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly url: string,
    private readonly database: string,
    private readonly intervalMs = 100,
  ) {}

  async start(): Promise<void> {
    this.client = new pg.Client({ connectionString: this.url });
    await this.client.connect();
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  /** Stops polling and disconnects; safe to call more than once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((resolve) => setTimeout(resolve, 10));
    const client = this.client;
    this.client = undefined;
    await client?.end();
  }

  /** CPU seconds the service's backends have used since the watch started (backends that ended count until last seen). */
  pgCpuSeconds(): number {
    let total = 0;
    for (const [pid, cpu] of this.backends) {
      cpu.last = readCpuSeconds(pid) ?? cpu.last;
      total += cpu.last - cpu.first;
    }
    return total;
  }

  /** Estimated backend-seconds spent on `kind` while watching. */
  seconds(kind: ActivityKind): number {
    return this.time.get(kind) ?? 0;
  }

  private async poll(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ pid: number; state: string; query: string }>(
        `SELECT pid, state, left(query, 200) AS query
         FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        [this.database],
      );
      const now = performance.now();
      const elapsed = this.polls === 0 ? 0 : (now - this.lastPollAt) / 1000;
      this.lastPollAt = now;
      for (const [pid, cpu] of this.backends) cpu.last = readCpuSeconds(pid) ?? cpu.last;
      const first = this.polls === 0;
      this.polls += 1;
      for (const row of rows) {
        if (!this.backends.has(row.pid)) {
          const cpu = readCpuSeconds(row.pid) ?? 0;
          this.backends.set(row.pid, { first: first ? cpu : 0, last: cpu });
        }
        const kind = kindOf(row.state, row.query);
        if (kind) this.time.set(kind, (this.time.get(kind) ?? 0) + elapsed);
      }
    } catch {
      // a missed poll only makes the estimate coarser
    } finally {
      this.busy = false;
    }
  }
}
