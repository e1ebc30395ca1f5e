import type { Db, DbClient } from '../shared/db/pool.js';

/** Every table in the `import_staging` schema: staging and report tables of import attempts. */
export async function importStagingTables(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging'`);
  return rows.map((row) => row.tablename);
}

/** Which of these jobs are still `processing` (a running attempt may own their tables). */
export async function processingJobIds(db: Db, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'processing'`, [ids]);
  return new Set(rows.map((job) => job.id));
}

/** A job whose upload the retention removes: it ended more than `days` (a parameter such as `$1`) days ago. */
const expiredUpload = (days: string) =>
  `input_path IS NOT NULL AND status <> 'processing' AND finished_at < now() - make_interval(days => ${days})`;

/** A job whose upload the retention removes, with its place in the pass's order. */
export interface ExpiredUpload {
  id: string;
  input_path: string;
  /** `finished_at` as PostgreSQL prints it: the position's key at full precision (a Date keeps milliseconds). */
  finished_key: string;
}

/**
 * Jobs that ended more than `retentionDays` ago and still point at their upload: at most `limit`
 * of them, in the order they ended, after the position `after` (the last of the batch before).
 * They are read through jobs_upload_finished_idx (migration 031), which holds those jobs alone,
 * so a batch costs its own rows however long the history.
 */
export async function jobsWithExpiredUploads(
  db: Db,
  retentionDays: number,
  batch: { limit: number; after?: { finishedKey: string; id: string } },
): Promise<ExpiredUpload[]> {
  const after = batch.after ? 'AND (finished_at, id) > ($3::timestamptz, $4::uuid)' : '';
  const { rows } = await db.query<ExpiredUpload>(
    `SELECT id, input_path, finished_at::text AS finished_key FROM jobs
     WHERE ${expiredUpload('$1')} ${after}
     ORDER BY finished_at, id LIMIT $2`,
    [retentionDays, batch.limit, ...(batch.after ? [batch.after.finishedKey, batch.after.id] : [])],
  );
  return rows;
}

/**
 * In the transaction that removes a job's upload, forgets it: only while the row still points at
 * that upload and the job is still past the retention (a retry may have put it back to
 * `processing` since the pass chose it). The row stays locked until the transaction ends, so a
 * retry waits and then finds the upload gone (or, if the removal failed and rolled back, kept).
 * False when the upload is not to be removed (any more).
 */
export async function clearInputPath(client: Db | DbClient, jobId: string, inputPath: string, retentionDays: number): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE jobs SET input_path = NULL WHERE id = $1 AND input_path = $2 AND ${expiredUpload('$3')}`,
    [jobId, inputPath, retentionDays],
  );
  return rowCount === 1;
}

/** Jobs whose export ended more than `retentionDays` before `now` and still point at their file. */
export async function jobsWithExpiredExportResults(
  db: Db,
  now: Date,
  retentionDays: number,
): Promise<Array<{ id: string; result_path: string }>> {
  const { rows } = await db.query<{ id: string; result_path: string }>(
    `SELECT id, result_path FROM jobs
     WHERE result_path IS NOT NULL AND finished_at < $1::timestamptz - make_interval(days => $2)`,
    [now, retentionDays],
  );
  return rows;
}

/**
 * In the transaction that removes a job's export file, forgets it: the job then shows
 * `links.result: null`. Only while the row still points at that file; false when another pass
 * forgot it first.
 */
export async function clearResultPath(client: Db | DbClient, jobId: string, resultPath: string): Promise<boolean> {
  const { rowCount } = await client.query('UPDATE jobs SET result_path = NULL WHERE id = $1 AND result_path = $2', [jobId, resultPath]);
  return rowCount === 1;
}

/**
 * Files of export attempts that neither recorded nor removed them (their process died; migration
 * 022), of jobs that ended before `endedBefore`. None is a job's result: recording one takes it.
 */
export async function abandonedExportFiles(db: Db, endedBefore: Date): Promise<Array<{ job_id: string; path: string }>> {
  const { rows } = await db.query<{ job_id: string; path: string }>(
    `SELECT f.job_id, f.path FROM export_attempt_files f JOIN jobs j ON j.id = f.job_id
     WHERE j.status <> 'processing' AND j.finished_at < $1::timestamptz`,
    [endedBefore],
  );
  return rows;
}

/**
 * In the transaction that removes an abandoned export attempt's file, forgets it; the row stays
 * locked until then, so an attempt recording that file as its result waits and then records
 * nothing. False when another pass forgot it first.
 */
export async function forgetExportAttemptFile(client: Db | DbClient, jobId: string, path: string): Promise<boolean> {
  const { rowCount } = await client.query('DELETE FROM export_attempt_files WHERE job_id = $1 AND path = $2', [jobId, path]);
  return rowCount === 1;
}

/**
 * Deletes the checkpoints of enrichments that ended more than `retentionDays` ago, and with them
 * the products each took (migration 019). Returns how many jobs' checkpoints went.
 *
 * The job rows are locked, and one a retry holds is skipped: a retry puts the job back to
 * `processing` and resumes from its checkpoint in one transaction, and a delete joined to an
 * unlocked job row would, once the retry commits, check the checkpoint again but not the job's
 * new status, and take the checkpoint from under the resumed job.
 */
export async function deleteExpiredEnrichmentCheckpoints(db: Db, retentionDays: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM enrichment_checkpoints WHERE job_id IN (
       SELECT j.id FROM jobs j JOIN enrichment_checkpoints c ON c.job_id = j.id
       WHERE j.status <> 'processing' AND j.finished_at < now() - make_interval(days => $1)
       FOR UPDATE OF j SKIP LOCKED
     )`,
    [retentionDays],
  );
  return rowCount ?? 0;
}
