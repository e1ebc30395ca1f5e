import type { Db, DbClient } from '../../shared/db/pool.js';

/** Bytes of the account's export files still stored (results not yet removed by the retention). */
export async function storedExportBytes(db: Db | DbClient, accountId: string): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>(
    'SELECT coalesce(sum(result_bytes), 0)::text AS bytes FROM jobs WHERE account_id = $1 AND result_path IS NOT NULL',
    [accountId],
  );
  return Number(rows[0]!.bytes);
}

/**
 * Locks the account's row until the transaction ends, so that two exports recording their files
 * at once count each other's bytes.
 */
export async function lockAccountRow(client: DbClient, accountId: string): Promise<void> {
  await client.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
}

/**
 * Notes the file an attempt of export job `jobId` is about to write (migration 022), so that the
 * periodic cleanup finds it if the attempt's process dies before it records or removes it.
 */
export async function noteExportAttemptFile(db: Db, jobId: string, path: string): Promise<void> {
  await db.query('INSERT INTO export_attempt_files (job_id, path) VALUES ($1, $2) ON CONFLICT DO NOTHING', [jobId, path]);
}

/**
 * Records the export file written for the job (its path in the file store and its size), taking
 * it from the attempts' files in the same statement: a result is never one the cleanup removes.
 * False when the cleanup already took that file (its job had ended long ago): nothing recorded.
 */
export async function saveExportResult(client: DbClient, jobId: string, resultPath: string, bytes: number): Promise<boolean> {
  const { rowCount } = await client.query(
    `WITH taken AS (DELETE FROM export_attempt_files WHERE job_id = $1 AND path = $2 RETURNING job_id)
     UPDATE jobs SET result_path = $2, result_bytes = $3 FROM taken WHERE jobs.id = taken.job_id`,
    [jobId, resultPath, bytes],
  );
  return rowCount === 1;
}
