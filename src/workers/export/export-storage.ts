import type { Db, DbClient } from '../../shared/db/pool.js';
import type { JobOutcome } from '../../shared/jobs/job-queries.js';
import { lockAccountRow, storedExportBytes } from './export-queries.js';

/**
 * The per-account cap of stored export bytes (EXPORT_STORAGE_BYTES_PER_ACCOUNT). Past it a new
 * export fails rather than older results being removed: a result a user has not downloaded yet
 * is never lost to make room; space comes back as results pass EXPORT_RETENTION_DAYS.
 */
export interface ExportStorageLimit {
  maxBytes: number;
  retentionDays: number;
}

/**
 * In the transaction that would record a new result of `newBytes`: locks the account's row (so
 * two exports finishing at once count each other) and returns the failure outcome when the
 * result does not fit under the limit, or null when it does.
 */
export async function refuseOverLimit(
  client: DbClient,
  accountId: string,
  newBytes: number,
  limit: ExportStorageLimit,
): Promise<JobOutcome | null> {
  await lockAccountRow(client, accountId);
  const stored = await storedExportBytes(client, accountId);
  if (stored + newBytes <= limit.maxBytes) return null;
  return failure(
    `This export (${newBytes} bytes) and the account's stored export files (${stored} bytes) would exceed its limit of ` +
      `${limit.maxBytes} bytes, so the file was not kept.`,
    limit,
  );
}

/** The failure of an export started while the account's stored files already fill the limit; null otherwise. */
export async function refuseWhenFull(db: Db, accountId: string, limit: ExportStorageLimit): Promise<JobOutcome | null> {
  const stored = await storedExportBytes(db, accountId);
  if (stored < limit.maxBytes) return null;
  return failure(`The account's stored export files (${stored} bytes) fill its limit of ${limit.maxBytes} bytes, so the export was not run.`, limit);
}

function failure(reason: string, limit: ExportStorageLimit): JobOutcome {
  return {
    status: 'failed',
    errorCode: 'EXPORT_FAILED',
    detail: `${reason} Existing results are kept; each is removed ${limit.retentionDays} days after its export finished. Retry this job once space is free.`,
  };
}
