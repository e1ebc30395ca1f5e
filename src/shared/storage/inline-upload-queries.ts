import type { Db } from '../db/pool.js';

// The uploads kept with their job rows (migration 014), by job id: the caller holds the job's
// input_path, read from a row it found for its account (or, the retention, for every account).
// The rows are written by the statement that writes their jobs (jobInserter).

/** The upload kept with job `jobId`, or null when there is none. */
export async function inlineUpload(db: Db, jobId: string | null): Promise<Buffer | null> {
  const { rows } = await db.query<{ data: Buffer }>('SELECT data FROM inline_uploads WHERE job_id = $1', [jobId]);
  return rows[0]?.data ?? null;
}

/** The size in bytes of the upload kept with job `jobId`, or null when there is none. */
export async function inlineUploadSize(db: Db, jobId: string | null): Promise<number | null> {
  const { rows } = await db.query<{ bytes: number }>('SELECT octet_length(data) AS bytes FROM inline_uploads WHERE job_id = $1', [jobId]);
  return rows[0]?.bytes ?? null;
}

/** Removes the upload kept with job `jobId`; none is not an error. */
export async function removeInlineUpload(db: Db, jobId: string | null): Promise<void> {
  await db.query('DELETE FROM inline_uploads WHERE job_id = $1', [jobId]);
}
