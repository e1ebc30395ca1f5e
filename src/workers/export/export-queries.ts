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

/** Records the export file written for the job (its path in the file store and its size). */
export async function saveExportResult(client: DbClient, jobId: string, resultPath: string, bytes: number): Promise<void> {
  await client.query('UPDATE jobs SET result_path = $2, result_bytes = $3 WHERE id = $1', [jobId, resultPath, bytes]);
}
