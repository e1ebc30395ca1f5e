import type { Db, DbClient } from '../../shared/db/pool.js';
import type { EnrichmentFilter } from '../../shared/jobs/enrichment-options.js';

/** Where the products not yet taken start: after `afterEan` (null: from the first), numbered on from `position`. */
export interface TakeFrom {
  position: number;
  afterEan: string | null;
  /** Products created later than this are not part of the job. */
  snapshotAt: Date;
}

/**
 * Takes the products of a whole-catalog or filter enrichment (migration 019): the account's
 * products that match `filter` now, after `from.afterEan`, in EAN order, numbered on from
 * `from.position`, in one statement (so they are the catalog of one moment, and no EAN passes
 * through the worker). Returns how many were taken.
 */
export async function takeCatalogTargets(
  client: DbClient,
  jobId: string,
  accountId: string,
  filter: EnrichmentFilter | null,
  from: TakeFrom,
): Promise<number> {
  const { rowCount } = await client.query(
    `INSERT INTO enrichment_targets (job_id, ordinal, ean)
     SELECT $1, $2 + row_number() OVER (ORDER BY ean), ean FROM products
     WHERE account_id = $3 AND created_at <= $4 AND ($5::text IS NULL OR ean > $5)
       AND ($6::text IS NULL OR brand = $6) AND ($7::text IS NULL OR category = $7)
       AND ($8::timestamptz IS NULL OR updated_at >= $8)`,
    [jobId, from.position, accountId, from.snapshotAt, from.afterEan,
      filter?.brand ?? null, filter?.category ?? null, filter?.updated_since ?? null],
  );
  return rowCount ?? 0;
}

/** One taken product: its place in the job and its EAN. */
export interface TakenTarget {
  ordinal: number;
  ean: string;
}

/** The next `limit` taken products of the job after place `position`, in job order. */
export async function pageTakenTargets(db: Db, jobId: string, position: number, limit: number): Promise<TakenTarget[]> {
  const { rows } = await db.query<TakenTarget>(
    'SELECT ordinal, ean FROM enrichment_targets WHERE job_id = $1 AND ordinal > $2 ORDER BY ordinal LIMIT $3',
    [jobId, position, limit],
  );
  return rows;
}

/** Forgets the taken products of a job that completed: no attempt reads them again. */
export async function deleteTakenTargets(db: Db, jobId: string): Promise<void> {
  await db.query('DELETE FROM enrichment_targets WHERE job_id = $1', [jobId]);
}
