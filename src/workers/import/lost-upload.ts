import type { Db } from '../../shared/db/pool.js';
import type { JobOutcome } from '../../shared/jobs/job-queries.js';
import { failImport } from './import-transaction.js';

/** The detail of an import whose stored upload is gone (API.md §4: IMPORT_FAILED, a detail that names the problem). */
export const LOST_UPLOAD_DETAIL =
  'The upload of this import is missing from storage, so it could not be read; no rows were imported. Upload the file again.';

const lostUploadOutcome: JobOutcome = {
  status: 'failed',
  errorCode: 'IMPORT_FAILED',
  detail: LOST_UPLOAD_DETAIL,
  // Nothing was imported, and no row problem is reported: the rows were never (all) read.
  counts: { rowsProcessed: 0, rowsSucceeded: 0, rowsFailed: 0, rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 0 },
};

/**
 * Fails import `jobId` whose stored upload is not there (a DATA_DIR restored from an older copy,
 * an object deleted from the bucket): no attempt would ever find it, so it fails now rather than
 * after JOB_ATTEMPTS attempts blamed on an internal error, and tells the client to upload the file
 * again. The import's own transaction must have ended (rolled back) first. Returns the outcome, or
 * null when the job had already ended (or another run holds its claim).
 */
export async function failLostUpload(db: Db, jobId: string, claimToken?: string): Promise<JobOutcome | null> {
  const ended = await failImport(db, { jobId, reportTable: null, outcome: lostUploadOutcome, claimToken });
  return ended ? lostUploadOutcome : null;
}
