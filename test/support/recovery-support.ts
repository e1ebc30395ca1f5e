import { spawn, type ChildProcess } from 'node:child_process';
import type { Db, DbClient } from '../../src/shared/db/pool.js';
import { jobRowQuery } from '../../src/shared/jobs/job-columns.js';
import type { JobRow } from '../../src/shared/jobs/job-row.js';
import { createLogger } from '../../src/shared/logger.js';
import { serviceNodeFlags } from '../../src/shared/node-flags.js';
import { gtinCheckDigit } from '../../src/shared/product/gtin.js';
import type { ImportDeps } from '../../src/workers/import/run-import.js';
import { freePort } from './private-redis.js';
import type { TestContext } from './test-context.js';

/** A valid EAN-13 (correct GS1 check digit) made from `n`, under the 210 in-store prefix. */
export function recoveryEan(n: number): string {
  const body = `210${String(n).padStart(9, '0')}`;
  return body + String(gtinCheckDigit(body));
}

/**
 * A CSV of `count` products numbered from `first` (EAN from {@link recoveryEan}), named
 * `${label(n)} ${n}`; every other column follows from `n`, so two files that give a product the
 * same label describe it identically. Built as one Buffer: 300k rows are about 15 MB.
 */
export function productsCsv(first: number, count: number, label: string | ((n: number) => string)): Buffer {
  const labelOf = typeof label === 'string' ? () => label : label;
  const lines = ['ean,name,brand,price,currency,stock'];
  for (let n = first; n < first + count; n += 1) {
    lines.push(`${recoveryEan(n)},${labelOf(n)} ${n},Brand ${n % 97},${(n % 1000) + 0.5},EUR,${n % 50}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

/** An uncommitted product that an import reaching its EAN waits for (see {@link holdProduct}). */
export interface HeldProduct {
  /** Whether a session waits on it: an import that got that far and stopped there. */
  someoneWaits(): Promise<boolean>;
  /** Rolls the product back (the waiting import goes on) and returns the connection. */
  release(): Promise<void>;
}

/**
 * Holds an uncommitted product of the account with `ean`. An import of a file with that EAN stops
 * at its chunk, on the products' unique key, with every chunk before it written: a test can
 * interrupt it there, half-way through the file, however fast the machine reads.
 */
export async function holdProduct(db: Db, accountId: string, ean: string): Promise<HeldProduct> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(`INSERT INTO products (account_id, ean, name) VALUES ($1, $2, 'held')`, [accountId, ean]);
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  return {
    someoneWaits: async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid])).rows.length > 0,
    release: async () => {
      await holder.query('ROLLBACK');
      holder.release();
    },
  };
}

/**
 * Uploads a first load of `rows` products (see {@link productsCsv}) for `account` and runs `whileHeld`
 * with its job id once the import waits at a held product half-way through the file, then lets the
 * product go (see {@link holdProduct}). A cancel sent from `whileHeld` reaches the import while it
 * still has rows to read, however fast the machine reads. Returns the job id.
 */
export async function importHeldHalfWay(
  ctx: Pick<TestContext, 'db' | 'upload'>,
  account: { id: string; key: string },
  rows: number,
  whileHeld: (id: string) => Promise<void>,
): Promise<string> {
  const held = await holdProduct(ctx.db, account.id, recoveryEan(Math.floor(rows / 2)));
  try {
    const response = await ctx.upload(account.key, productsCsv(1, rows, 'Held'));
    if (response.statusCode !== 202) throw new Error(`upload: ${response.statusCode} ${response.body}`);
    const id = response.json<{ id: string }>().id;
    await waitFor('the import to reach the held product', async () => ((await held.someoneWaits()) ? true : undefined), 60_000);
    await whileHeld(id);
    return id;
  } finally {
    await held.release();
  }
}

/** The import runner's dependencies on a test context, logging nothing. */
export function importDeps(ctx: TestContext): ImportDeps {
  return { db: ctx.db, uploads: ctx.uploads, logger: createLogger('silent'), maxRecordBytes: 1 << 20, maxXlsxUncompressedBytes: 1 << 30 };
}

/** The job's row straight from PostgreSQL. */
/** Removes a job row, as an operator would in SQL (its upload and report go with it: ON DELETE CASCADE). */
export async function deleteJobRow(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM jobs WHERE id = $1', [id]);
}

export async function jobRow(db: Db, id: string): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(jobRowQuery('SELECT * FROM jobs WHERE id = $1', [id]));
  if (!rows[0]) throw new Error(`no job ${id}`);
  return rows[0];
}

/** What an account's catalog holds, summed up so two states compare with one `toEqual`. */
export interface CatalogSnapshot {
  count: number;
  distinctEans: number;
  /** md5 over every product's EAN and values, in EAN order (not the timestamps). */
  digest: string;
  /** The newest `updated_at`, as text: unchanged when nothing was rewritten. */
  lastUpdate: string | null;
}

export async function catalogSnapshot(db: Db, accountId: string): Promise<CatalogSnapshot> {
  const { rows } = await db.query<CatalogSnapshot>(
    `SELECT count(*)::int AS count, count(DISTINCT ean)::int AS "distinctEans",
            coalesce(md5(string_agg(ROW(ean, name, brand, category, description, price::text, currency, stock,
                                          image_url, attributes)::text, E'\\n' ORDER BY ean)), '') AS digest,
            max(updated_at)::text AS "lastUpdate"
     FROM products WHERE account_id = $1`,
    [accountId],
  );
  return rows[0]!;
}

/** Names of the staging tables of one job still in schema import_staging. */
export async function stagingTablesOf(db: Db, jobId: string): Promise<string[]> {
  const { rows } = await db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging' AND starts_with(tablename, $1)`,
    [`j${jobId.replaceAll('-', '')}_`],
  );
  return rows.map((row) => row.tablename);
}

/**
 * Polls `probe` until it returns something other than undefined; fails with `what` after
 * `timeoutMs`. For timing-dependent waits: no fixed sleeps.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A worker child process (`ROLE=worker`) running the service's entry point from source. */
export interface WorkerChild {
  process: ChildProcess;
  /** Everything it wrote to stdout and stderr (for failure messages). */
  output(): string;
  /** Resolves with the exit code or signal once it has exited. */
  exited: Promise<string>;
}

/** Starts `node --import tsx src/main.ts` in the project root with `env` added to this process's environment. */
export function spawnWorker(env: Record<string, string>): WorkerChild {
  // Test files run side by side on few cores: their workers keep the runner's priority unless a test sets one.
  return spawnService({ WORKER_NICE: '0', ...env, ROLE: 'worker' });
}

/** Starts the service's entry point from source with `env` and extra node options (e.g. a heap limit). */
export function spawnService(env: Record<string, string>, nodeOptions: string[] = []): WorkerChild {
  const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', 'src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
  });
  return { process: child, output: () => output.slice(-4000), exited };
}

/** A write of another session, in a transaction left open until {@link HeldWrite.commit}. */
export interface HeldWrite {
  /** True once another backend waits for the held transaction's lock. */
  someoneWaits(): Promise<boolean>;
  commit(): Promise<void>;
}

/** The {@link HeldWrite} of `holder`, a client of `db` in a transaction that has written. */
export async function heldWrite(db: Db, holder: DbClient): Promise<HeldWrite> {
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  return {
    someoneWaits: async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [pid])).rows.length > 0,
    commit: async () => {
      try {
        await holder.query('COMMIT');
      } finally {
        holder.release();
      }
    },
  };
}

/**
 * Uploads `csv` with `query` while `held` is open, commits it once the import waits for it (`what`
 * names that wait), and returns the job once it has ended, asserting it ended on its first attempt.
 */
export async function importAcrossHeldWrite(
  ctx: TestContext,
  key: string,
  csv: Buffer,
  query: Record<string, string>,
  held: HeldWrite,
  what: string,
) {
  let id: string;
  try {
    const response = await ctx.upload(key, csv, query);
    if (response.statusCode !== 202) throw new Error(`upload answered ${response.statusCode}: ${response.body}`);
    id = response.json<{ id: string }>().id;
    await waitFor(what, async () => ((await held.someoneWaits()) ? true : undefined), 20_000);
  } finally {
    await held.commit();
  }
  const job = await ctx.waitForJob(key, id);
  const { attempts } = await jobRow(ctx.db, id);
  if (attempts !== 1) throw new Error(`the import ended after ${attempts} attempts, not 1`);
  return job;
}

/**
 * Starts a `ROLE=worker` process from source with `env`, `npm start`'s heap of `heapMb` and its own
 * listener on a free port, once its /readyz answers 200 (it fails if the process exits first).
 * `stop` sends SIGTERM and waits for it to exit, unless it has exited already.
 */
export async function spawnReadyWorker(env: Record<string, string>, heapMb: number): Promise<{ worker: WorkerChild; stop: () => Promise<void> }> {
  const port = await freePort();
  const worker = spawnService({ ...env, ROLE: 'worker', WORKER_NICE: '0', WORKER_PORT: String(port), HOST: '127.0.0.1' }, serviceNodeFlags(heapMb));
  const stop = async () => {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
    worker.process.kill('SIGTERM');
    await worker.exited;
  };
  await waitFor('the worker process to be ready', async () => {
    if (worker.process.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
    const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return response?.status === 200 ? true : undefined;
  }, 60_000, 200);
  return { worker, stop };
}

/** Runs `body` with the context's workers (and their reconciler) started, and stops them after. */
export async function withWorkers<T>(ctx: TestContext, body: () => Promise<T>): Promise<T> {
  const workers = ctx.startWorkers();
  try {
    return await body();
  } finally {
    await workers.close();
    ctx.workers = null;
  }
}
