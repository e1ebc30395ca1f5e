import type { Logger } from 'pino';
import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { finishJob, type JobOutcome } from '../../shared/jobs/job-queries.js';
import type { ImportOptions } from '../../shared/jobs/import-options.js';
import { lockClaimedJob, type HeldRunClaim } from '../../shared/jobs/run-claim-queries.js';
import { markRunTransaction } from '../../shared/jobs/run-sessions.js';
import { markSearchBacklog } from '../../shared/product/product-search.js';
import { JOB_LOCK_SQL, takeJobLock } from './job-lock.js';
import { publishReport } from './report-table.js';

/** The run an import attempt belongs to (see withRunClaim); none when a test calls the runner itself. */
export interface ImportRun {
  /** The run's claim on the job row: the attempt writes its outcome only while the run holds it. */
  claim?: HeldRunClaim;
  log?: Logger;
}

/**
 * The first-load rule. An import is a first load when the account had no products when its
 * transaction began, its mode may create products (create or upsert) and it is not a dry run:
 * then every valid row is a new product, except for EANs repeated within the file. Its chunks are
 * COPYed straight into products, as the merge would have inserted them (columns the file lacks are
 * null, timestamps are the transaction's), without a chunk table, a lookup per row or an index on
 * the chunk; repeats are caught in the worker by a filter of the file's EANs and by products' own
 * unique index (see FirstLoadRepeats). A product of another import committed meanwhile makes the
 * COPY fail with a unique violation, as the merge's INSERT would, and the attempt is retried
 * against a catalog that is no longer empty.
 */
export function isFirstLoad(catalogWasEmpty: boolean, options: ImportOptions): boolean {
  return catalogWasEmpty && options.mode !== 'update' && !options.dry_run;
}

/** The advisory lock of an account's catalog: shared by its imports, exclusive for a first load. */
const CATALOG_LOCK = `hashtextextended('catalog:' || $1, 0)`;
const catalogIsEmpty = async (client: DbClient, accountId: string) =>
  (await client.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM products WHERE account_id = $1) AS empty', [accountId])).rows[0]!
    .empty;

/**
 * Whether this transaction may load the account's empty catalog the first load's way (rows copied
 * straight into products, see {@link isFirstLoad}). Only an import alone on the account may: rows
 * another running import inserts are invisible here until it commits, and would collide with the
 * copied ones on the products' key. So a first load holds the account's catalog lock exclusively,
 * every other import holds it shared (till the transaction ends), and an import that cannot have it
 * exclusively merges as into a filled catalog, where a row that another import inserted meanwhile
 * waits for it and is then updated.
 */
async function claimFirstLoad(client: DbClient, accountId: string): Promise<boolean> {
  if (await catalogIsEmpty(client, accountId)) {
    const { rows } = await client.query<{ alone: boolean }>(`SELECT pg_try_advisory_xact_lock(${CATALOG_LOCK}) AS alone`, [accountId]);
    if (rows[0]!.alone) return catalogIsEmpty(client, accountId);
  }
  await client.query(`SELECT pg_advisory_xact_lock_shared(${CATALOG_LOCK})`, [accountId]);
  return false;
}

/**
 * The ONE transaction of an import attempt: every chunk is written in it, and the catalog changes,
 * the report and the job's final status become visible together when it commits. Attempts of one
 * job take turns (an advisory lock on the job id, see takeJobLock), only an attempt of a job that
 * is still `processing` begins or commits, and only while its run holds the job's claim.
 */
export class ImportTransaction {
  private constructor(
    /** The connection that holds the transaction: the chunk SQL runs on it. */
    readonly client: DbClient,
    private readonly jobId: string,
    private readonly accountId: string,
    /** The account had no products when the transaction began (see {@link isFirstLoad}). */
    readonly catalogWasEmpty: boolean,
    private readonly claimToken: string | undefined,
  ) {}

  /**
   * Opens the attempt's transaction, marked as its run's (see markRunTransaction: a run that takes
   * the job over ends it if this run's worker stops), waiting for any other attempt of the same job
   * to end first (a run that took the job over ends the session of the run it took it from, see
   * endStoppedRunSessions and takeJobLock). Returns null (and holds nothing) when the job is no
   * longer `processing`.
   */
  static async begin(db: Db, jobId: string, accountId: string, run: ImportRun = {}): Promise<ImportTransaction | null> {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await markRunTransaction(client, run.claim?.token);
      await takeJobLock(db, client, jobId, { tookOver: run.claim?.tookOver ?? false, log: run.log });
      const { rows } = await client.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]);
      if (rows[0]?.status !== 'processing') {
        await client.query('ROLLBACK');
        client.release();
        return null;
      }
      return new ImportTransaction(client, jobId, accountId, await claimFirstLoad(client, accountId), run.claim?.token);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  /**
   * Publishes the report, marks the account's product search as behind when products were
   * written (see migrations/010_name_search.sql), ends the job with `outcome` and commits.
   * Returns false (and rolls back) when the job had already ended meanwhile (e.g. cancelled), or
   * another run has taken the job's claim over (this run's worker was stopped past its lease).
   */
  async commit(outcome: JobOutcome, report: { table: string; productsWritten: boolean }): Promise<boolean> {
    if (!(await lockClaimedJob(this.client, this.jobId, this.claimToken))) {
      await this.rollback();
      return false;
    }
    if (report.productsWritten) await markSearchBacklog(this.client, this.accountId);
    await publishReport(this.client, report.table, this.jobId);
    await finishJob(this.client, this.jobId, outcome);
    await this.client.query('COMMIT');
    return true;
  }

  /** Undoes everything the attempt wrote in the transaction. */
  async rollback(): Promise<void> {
    await this.client.query('ROLLBACK');
  }

  /** Returns the connection to the pool; `broken` discards it, open transaction or COPY and all. */
  release(broken?: Error): void {
    this.client.release(broken);
  }
}

/**
 * Ends a job as failed in a transaction of its own, after the import's transaction was rolled
 * back, under the same job lock, status and claim check: `addToReport` adds to the report (a
 * file-level problem) before it is published. Returns false when the job had already ended.
 */
export async function failImport(
  db: Db,
  input: { jobId: string; reportTable: string; outcome: JobOutcome; claimToken?: string; addToReport?: (client: DbClient) => Promise<void> },
): Promise<boolean> {
  return withTransaction(db, async (client) => {
    await markRunTransaction(client, input.claimToken);
    await client.query(JOB_LOCK_SQL, [input.jobId]);
    if (!(await lockClaimedJob(client, input.jobId, input.claimToken))) return false;
    await input.addToReport?.(client);
    await publishReport(client, input.reportTable, input.jobId);
    await finishJob(client, input.jobId, input.outcome);
    return true;
  });
}
