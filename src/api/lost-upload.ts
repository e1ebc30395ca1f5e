import type { FastifyBaseLogger } from 'fastify';
import { isoTimestamp } from '../shared/db/timestamps.js';
import type { JobRow } from '../shared/jobs/job-row.js';
import type { FileStore } from '../shared/storage/file-store.js';
import { isMissingFile } from '../shared/storage/storage-errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What telling an upload the retention removed from a lost one needs. */
export interface UploadRetention {
  /** UPLOAD_RETENTION_DAYS: an upload missing sooner than this after its import ended was lost, not removed. */
  days: number;
  /** The current time (ms since the epoch). */
  clock: () => number;
}

/**
 * Whether the upload of ended import `job`, found missing from storage, went with the retention.
 * The cleanup removes an upload UPLOAD_RETENTION_DAYS after its import ended, then forgets its
 * path: a read between the two finds no file, past the retention. Sooner, the upload was lost (a
 * DATA_DIR restored from an older copy, an object deleted from the bucket, a worker or API on
 * another store): not the client's doing, and logged at error for an operator to notice.
 */
export function uploadExpired(job: JobRow, retention: UploadRetention, log: FastifyBaseLogger): boolean {
  const ended = job.finished_at === null ? null : Date.parse(isoTimestamp(job.finished_at));
  if (ended !== null && retention.clock() - ended >= retention.days * DAY_MS) return true;
  log.error({ jobId: job.id, accountId: job.account_id, path: job.input_path }, 'import upload missing from storage before its retention ended');
  return false;
}

/**
 * False when the store says the upload at `path` is not stored. A store that cannot answer says
 * nothing of the file (see isMissingFile): true then, the import's own attempts wait for the store.
 */
export async function uploadIsStored(uploads: FileStore, path: string): Promise<boolean> {
  try {
    await uploads.head(path, 1);
    return true;
  } catch (error) {
    return !isMissingFile(error);
  }
}
