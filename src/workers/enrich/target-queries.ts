import type { Db, DbClient } from '../../shared/db/pool.js';
import type { EnrichmentFilter } from '../../shared/jobs/enrichment-options.js';

/**
 * EANs per row of `enrichment_targets` (migration 019): a multiple of the job's page (200), so a
 * page reads one or two rows, and large enough that TOAST compresses each row's EANs.
 */
export const TARGETS_PER_ROW = 1000;

/** Where the products not yet taken start: after `afterEan` (null: from the first), numbered on from `position`. */
export interface TakeFrom {
  position: number;
  afterEan: string | null;
  /** Products created later than this are not part of the job; null: those the statement sees (a new job). */
  snapshotAt: Date | null;
}

/**
 * Takes the products of a whole-catalog or filter enrichment (migration 019): the account's
 * products that match `filter` now, after `from.afterEan`, in EAN order, numbered on from
 * `from.position`, in one statement (so they are the catalog of one moment, and no EAN passes
 * through the worker), {@link TARGETS_PER_ROW} to a row. A whole catalog comes in order from the
 * products' (account_id, ean) key, so nothing sorts it; a filter's products are found as the
 * planner sees fit and only they are sorted. Returns how many were taken.
 */
export async function takeCatalogTargets(
  client: DbClient,
  jobId: string,
  accountId: string,
  filter: EnrichmentFilter | null,
  from: TakeFrom,
): Promise<number> {
  // The rows are gathered by hashing their number (sorting a million places by it costs more
  // than the rest), which leaves each row's EANs in no set order: they are put back in EAN order.
  const { rows } = await client.query<{ taken: number }>(
    `WITH inserted AS (
       INSERT INTO enrichment_targets (job_id, first_ordinal, eans)
       SELECT $1, $2 + min(place), ARRAY(SELECT ean FROM unnest(array_agg(p.ean)) AS ean ORDER BY ean COLLATE "C")
       FROM (
         SELECT ean, row_number() OVER (ORDER BY ean) AS place FROM products
         WHERE account_id = $3 AND ($4::timestamptz IS NULL OR created_at <= $4) AND ($5::text IS NULL OR ean > $5)
           AND ($6::text IS NULL OR brand = $6) AND ($7::text IS NULL OR category = $7)
           AND ($8::timestamptz IS NULL OR updated_at >= $8)
       ) p
       GROUP BY (place - 1) / ${TARGETS_PER_ROW}
       RETURNING cardinality(eans) AS products
     )
     SELECT coalesce(sum(products), 0)::int AS taken FROM inserted`,
    [jobId, from.position, accountId, from.snapshotAt, from.afterEan,
      filter?.brand ?? null, filter?.category ?? null, filter?.updated_since ?? null],
  );
  return rows[0]!.taken;
}

/** One taken product: its place in the job and its EAN. */
export interface TakenTarget {
  ordinal: number;
  ean: string;
}

/**
 * The next `limit` taken products of the job after place `position`, in job order. `position`
 * may fall inside a row (an attempt handed back mid-page settles part of it): the read starts at
 * the row that holds place `position + 1`, the last one whose first place is not after it.
 */
export async function pageTakenTargets(db: Db, jobId: string, position: number, limit: number): Promise<TakenTarget[]> {
  const { rows } = await db.query<TakenTarget>(
    `SELECT t.first_ordinal + e.place - 1 AS ordinal, e.ean
     FROM enrichment_targets t CROSS JOIN LATERAL unnest(t.eans) WITH ORDINALITY AS e (ean, place)
     WHERE t.job_id = $1 AND t.first_ordinal <= $2::bigint + $3::int
       AND t.first_ordinal >= (SELECT max(first_ordinal) FROM enrichment_targets WHERE job_id = $1 AND first_ordinal <= $2::bigint + 1)
       AND t.first_ordinal + e.place - 1 > $2
     ORDER BY ordinal LIMIT $3`,
    [jobId, position, limit],
  );
  return rows;
}

/** Forgets the taken products of a job that completed: no attempt reads them again. */
export async function deleteTakenTargets(db: Db, jobId: string): Promise<void> {
  await db.query('DELETE FROM enrichment_targets WHERE job_id = $1', [jobId]);
}
