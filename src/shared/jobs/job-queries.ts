import { releaseExpiredIdempotencyKey } from '../db/idempotency-keys.js';
import { batchedLookup } from '../db/batched-lookup.js';
import { turnBatch } from '../turn-batch.js';
import type { Db, DbClient } from '../db/pool.js';
import { JOB_ARRAY, JOB_COLUMNS, jobRowQuery } from './job-columns.js';
import type { JobCounts, JobErrorCode, JobRow, JobStatus, JobType } from './job-row.js';

/** What the API knows of a job when it accepts it. */
export interface NewJob {
  id: string;
  accountId: string;
  type: JobType;
  options: Record<string, unknown>;
  inputPath?: string | null;
  inputBytes?: number | null;
  /** A small upload kept with the row (table inline_uploads); `inputPath` is then its inlinePath. */
  inputData?: Buffer | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  /** Where the job resource is POSTed when the job ends. */
  callbackUrl?: string | null;
}

/** A job as the API answers its acceptance (202): its id and status. */
export type AcceptedJob = Pick<JobRow, 'id' | 'status'>;

const INSERT_COLUMNS = 'id, account_id, type, options, input_path, input_bytes, idempotency_key, request_hash, callback_url';

/** A job another job of the account already holds the Idempotency-Key of (PostgreSQL's unique_violation code). */
const duplicateKey = () => Object.assign(new Error('A job of the account already holds this Idempotency-Key.'), { code: '23505' });

/**
 * Writes the rows of accepted jobs (status processing, phase queued), before they are queued: the
 * jobs accepted in one turn of the event loop share one statement and one commit, and so do the
 * small uploads kept with them (`inputData`). Each gets back what the 202 tells the client, its id
 * and status, not the whole row. A job whose Idempotency-Key is taken fails with code 23505, as a
 * lone INSERT would, and its upload is not kept. If the statement fails, each job is written
 * alone, so that one job's value PostgreSQL refuses fails only its request.
 */
export function jobInserter(db: Db): (job: NewJob) => Promise<AcceptedJob> {
  const insertAll = async (jobs: readonly NewJob[]) => {
    const { rows } = await db.query<AcceptedJob>({
      name: 'insert-jobs',
      // The batch as one JSON document: JSON.stringify is native, where nine array parameters
      // were escaped element by element. An upload travels as base64.
      text: `WITH j AS (
         SELECT * FROM json_to_recordset($1::json) AS j(id uuid, account_id uuid, type text, options jsonb,
           input_path text, input_bytes bigint, idempotency_key text, request_hash text, callback_url text, input_data text)
       ), written AS (
         INSERT INTO jobs (${INSERT_COLUMNS}) SELECT ${INSERT_COLUMNS} FROM j
         ON CONFLICT DO NOTHING RETURNING id, status
       ), kept AS (
         INSERT INTO inline_uploads (job_id, data)
         SELECT j.id, decode(j.input_data, 'base64') FROM j JOIN written USING (id) WHERE j.input_data IS NOT NULL
       )
       SELECT id, status FROM written`,
      values: [
        JSON.stringify(
          jobs.map((job) => ({
            id: job.id, account_id: job.accountId, type: job.type, options: job.options, input_path: job.inputPath ?? null,
            input_bytes: job.inputBytes ?? null, idempotency_key: job.idempotencyKey ?? null, request_hash: job.requestHash ?? null,
            callback_url: job.callbackUrl ?? null, input_data: job.inputData ? job.inputData.toString('base64') : null,
          })),
        ),
      ],
    });
    const written = new Map(rows.map((row) => [row.id, row]));
    return jobs.map((job) => written.get(job.id) ?? duplicateKey());
  };
  const inserts = turnBatch<NewJob, AcceptedJob>(async (jobs) => {
    if (jobs.length === 1) return insertAll(jobs);
    return insertAll(jobs).catch(() =>
      Promise.all(jobs.map((job) => insertAll([job]).then(([row]) => row!, (error: unknown) => error as Error))),
    );
  });
  return (job) => inserts.load(job);
}

/**
 * One job of the account, or null (also for another account's job). A named (prepared) statement:
 * it is what clients poll, and each pooled session parses and plans it once instead of per poll.
 */
export async function findJob(db: Db, accountId: string, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    jobRowQuery(`SELECT ${JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND id = $2`, [accountId, id], 'find-job'),
  );
  return rows[0] ?? null;
}

/**
 * {@link findJob} for many requests at once: the lookups of one turn of the event loop share one
 * query (see {@link batchedLookup}).
 */
export function jobFinder(db: Db): (accountId: string, id: string) => Promise<JobRow | null> {
  const find = batchedLookup<{ job: string }>(
    db,
    'find-jobs',
    `SELECT k.n, ${JOB_ARRAY.array} AS job
     FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(account_id, id, n) JOIN jobs USING (account_id, id)`,
  );
  return async (accountId, id) => {
    const found = await find(accountId, id);
    return found && JOB_ARRAY.read(found.job);
  };
}

/** A job of any account: the operator's, once the caller may see every account's jobs. */
export async function findJobOfAnyAccount(db: Db, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(jobRowQuery(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`, [id]));
  return rows[0] ?? null;
}

/**
 * A job started with this idempotency key in the last 24 hours, with the hash of the request
 * that started it; older keys are released so the key can be used again.
 */
export async function findJobByIdempotencyKey(
  db: Db,
  accountId: string,
  key: string,
): Promise<{ job: JobRow; requestHash: string | null } | null> {
  await releaseExpiredIdempotencyKey(db, 'jobs', accountId, key);
  const { rows } = await db.query<JobRow & { request_hash: string | null }>(
    jobRowQuery(`SELECT ${JOB_COLUMNS}, request_hash FROM jobs WHERE account_id = $1 AND idempotency_key = $2`, [accountId, key]),
  );
  const row = rows[0];
  return row ? { job: row, requestHash: row.request_hash } : null;
}

/** Every job PostgreSQL has as `processing`, with its run, oldest first: what the queues should hold. */
export async function listProcessingJobs(db: Db): Promise<Array<{ id: string; type: JobType; run: number }>> {
  const { rows } = await db.query<{ id: string; type: JobType; run: number }>(
    `SELECT id, type, run_number AS run FROM jobs WHERE status = 'processing' ORDER BY created_at`,
  );
  return rows;
}

/** Whose a job still `processing` is, whether that account is suspended, and the job's detail. */
export interface ProcessingJobAccount {
  accountId: string;
  suspended: boolean;
  detail: string | null;
}

/** The account of a job that is still `processing` (see {@link ProcessingJobAccount}); null for an ended or unknown job. */
export async function accountOfProcessingJob(db: Db, id: string): Promise<ProcessingJobAccount | null> {
  const { rows } = await db.query<{ account_id: string; suspended: boolean; detail: string | null }>(
    `SELECT j.account_id, a.suspended, j.detail FROM jobs j JOIN accounts a ON a.id = j.account_id
     WHERE j.id = $1 AND j.status = 'processing'`,
    [id],
  );
  return rows[0] ? { accountId: rows[0].account_id, suspended: rows[0].suspended, detail: rows[0].detail } : null;
}

/** The counts an attempt resets: an import or an export does its whole work again. */
const RESET_COUNTS = `rows_total = NULL, rows_processed = 0, rows_succeeded = 0, rows_failed = 0, rows_created = 0,
  rows_updated = 0, rows_unchanged = 0,`;

/**
 * Starts an attempt of a job that is still `processing`: phase running, the detail of a wait (see
 * {@link markJobQueued}) gone, and counts reset (a new attempt counts from zero) unless `counts`
 * is `kept`: an enrichment resumes from its checkpoint and writes the checkpoint's counts next,
 * so its settled products never show as undone meanwhile. Returns null when the job has already
 * ended, so a duplicate run (BullMQ is at-least-once) does nothing.
 */
export async function startJobAttempt(db: Db, id: string, counts: 'reset' | 'kept' = 'reset'): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    jobRowQuery(
      `UPDATE jobs SET phase = 'running', started_at = coalesce(started_at, now()), attempts = attempts + 1,
         ${counts === 'reset' ? RESET_COUNTS : ''} detail = NULL, updated_at = now()
       WHERE id = $1 AND status = 'processing'
       RETURNING ${JOB_COLUMNS}`,
      [id],
    ),
  );
  return rows[0] ?? null;
}

/**
 * Puts a job that goes back to its queue (handed back at shutdown, held while its account is
 * suspended, run again after a deadlock) in phase `queued`, with `detail` saying why it waits
 * (null: no reason to give). A row that already says so is not written again: a held job is looked
 * at every few seconds. `resetCounts`: the attempt's counts are gone too (its writes were rolled
 * back, the next attempt counts from zero).
 */
export async function markJobQueued(db: Db, id: string, detail: string | null = null, resetCounts = false): Promise<void> {
  await db.query(
    `UPDATE jobs SET phase = 'queued', ${resetCounts ? RESET_COUNTS : ''} detail = $2, updated_at = now()
     WHERE id = $1 AND status = 'processing' AND (phase <> 'queued' OR detail IS DISTINCT FROM $2)`,
    [id, detail],
  );
}

/** Writes running counts (called about once a second, never per row). */
export async function saveProgress(
  db: Db,
  id: string,
  progress: { phase?: 'running' | 'finalizing'; rowsTotal?: number | null; rowsProcessed: number; rowsFailed: number },
): Promise<void> {
  await db.query(
    `UPDATE jobs SET phase = coalesce($2, phase), rows_total = coalesce($3, rows_total),
       rows_processed = $4, rows_failed = $5, updated_at = now()
     WHERE id = $1 AND status = 'processing'`,
    [id, progress.phase ?? null, progress.rowsTotal ?? null, progress.rowsProcessed, progress.rowsFailed],
  );
}

/**
 * Locks a job row for the final transaction and says whether it is still `processing`; a
 * concurrent attempt that got there first (or a cancel) makes this one write nothing.
 */
export async function lockProcessingJob(client: DbClient, id: string): Promise<boolean> {
  const { rows } = await client.query<{ status: JobStatus }>('SELECT status FROM jobs WHERE id = $1 FOR UPDATE', [id]);
  return rows[0]?.status === 'processing';
}

/** How a job ended. */
export interface JobOutcome {
  status: Exclude<JobStatus, 'processing'>;
  errorCode?: JobErrorCode | null;
  detail?: string | null;
  counts?: Partial<JobCounts>;
  /** A dry-run import's: its counts say what it would have written, and it wrote nothing. */
  dryRun?: boolean;
}

/** Ends a job still `processing` (in run `run` if given, see migration 016); false once it ended or was retried. */
export async function finishJob(db: Db | DbClient, id: string, outcome: JobOutcome, run?: number): Promise<boolean> {
  const counts = outcome.counts ?? {};
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = $2, phase = 'done', error_code = $3, detail = $4,
       rows_total = coalesce($5, rows_total), rows_processed = coalesce($6, rows_processed),
       rows_succeeded = coalesce($7, rows_succeeded), rows_failed = coalesce($8, rows_failed),
       rows_created = coalesce($9, rows_created), rows_updated = coalesce($10, rows_updated),
       rows_unchanged = coalesce($11, rows_unchanged), finished_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE id = $1 AND status = 'processing' AND ($12::int IS NULL OR run_number = $12)`,
    [id, outcome.status, outcome.errorCode ?? null, outcome.detail ?? null, counts.rowsTotal ?? null,
      counts.rowsProcessed ?? null, counts.rowsSucceeded ?? null, counts.rowsFailed ?? null,
      counts.rowsCreated ?? null, counts.rowsUpdated ?? null, counts.rowsUnchanged ?? null, run ?? null],
  );
  return (rowCount ?? 0) > 0;
}
