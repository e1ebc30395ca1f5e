import { withTransaction, type Db, type DbClient } from '../../shared/db/pool.js';
import { markRunTransaction } from '../../shared/jobs/run-sessions.js';
import { lockSearchShared, putSearchRows } from '../../shared/product/product-search.js';
import type { LocalDerivations } from './derivations.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/** The product values an enrichment reads, fills and derives from. */
export interface StoredProduct {
  ean: string;
  name: string;
  brand: string | null;
  category: string | null;
  description: string | null;
  image_url: string | null;
  attributes: Record<string, string | number | boolean>;
  gtin14: string | null;
  ean_check_digit_valid: boolean | null;
  gs1_prefix: string | null;
  gs1_prefix_country: string | null;
  name_normalized: string | null;
  brand_normalized: string | null;
  derived_at: Date | null;
}

const STORED_COLUMNS = `ean, name, brand, category, description, image_url, attributes, gtin14, ean_check_digit_valid,
  gs1_prefix, gs1_prefix_country, name_normalized, brand_normalized, derived_at`;

/** Where an attempt of an enrichment job starts: what earlier attempts already settled. */
export interface Checkpoint {
  position: number;
  last_ean: string | null;
  snapshot_at: Date;
  rows_total: number;
  rows_changed: number;
  rows_unchanged: number;
  rows_failed: number;
  quota_detail: string | null;
  /** The job's products are taken (see {@link loadCheckpoint}): `rows_total` counts them. */
  targets_taken: boolean;
  /**
   * Where the job stood just before the first product the monthly quota left not looked up (all
   * null until then, and again after a retry): a retry resumes there (migration 019).
   */
  quota_position: number | null;
  quota_last_ean: string | null;
  quota_rows_changed: number | null;
  quota_rows_unchanged: number | null;
  quota_rows_failed: number | null;
}

/**
 * Takes the job's products after checkpoint `from` in the checkpoint's transaction, and returns
 * how many; `isNew` when the checkpoint was created just now (the job's first attempt), false for
 * one written before migration 019, whose products are those of its `snapshot_at`.
 */
export type TakeTargets = (client: DbClient, from: Checkpoint, isNew: boolean) => Promise<number>;

/**
 * The checkpoint of job `jobId`. The first attempt creates it and takes the job's products
 * (`take`, which returns how many it took after the checkpoint's place), so that `rows_total` is
 * known up front; both commit together, and a concurrent attempt waits for them. A checkpoint
 * whose products were never taken (written before migration 019) has the rest taken now. The
 * transaction is marked as the run's with claim `claimToken` (see markRunTransaction): a worker
 * stopped in it is ended by the run taking the job over, which would otherwise wait for it.
 */
export async function loadCheckpoint(db: Db, jobId: string, take: TakeTargets, claimToken?: string): Promise<Checkpoint> {
  const existing = await db.query<Checkpoint>('SELECT * FROM enrichment_checkpoints WHERE job_id = $1', [jobId]);
  if (existing.rows[0]?.targets_taken) return existing.rows[0];
  return withTransaction(db, async (client) => {
    await markRunTransaction(client, claimToken);
    const created = await client.query(
      'INSERT INTO enrichment_checkpoints (job_id, rows_total) VALUES ($1, 0) ON CONFLICT (job_id) DO NOTHING',
      [jobId],
    );
    const { rows } = await client.query<Checkpoint>('SELECT * FROM enrichment_checkpoints WHERE job_id = $1 FOR UPDATE', [jobId]);
    const checkpoint = rows[0]!;
    if (checkpoint.targets_taken) return checkpoint;
    const taken = await take(client, checkpoint, created.rowCount === 1);
    const updated = await client.query<Checkpoint>(
      'UPDATE enrichment_checkpoints SET rows_total = $2, targets_taken = true WHERE job_id = $1 RETURNING *',
      [jobId, checkpoint.position + taken],
    );
    return updated.rows[0]!;
  });
}

/** How a read of products treats their rows: `read` only, or `lock` them until the transaction ends. */
export type RowAccess = 'read' | 'lock';

/**
 * The products of the account with these EANs (those that exist), in EAN order; with `lock`,
 * their rows stay locked until the transaction ends.
 */
export async function findProductsByEan(
  db: Db | DbClient,
  accountId: string,
  eans: string[],
  access: RowAccess = 'read',
): Promise<StoredProduct[]> {
  const { rows } = await db.query<StoredProduct>(
    `SELECT ${STORED_COLUMNS} FROM products WHERE account_id = $1 AND ean = ANY($2::text[])
     ORDER BY ean ${access === 'lock' ? 'FOR UPDATE' : ''}`,
    [accountId, eans],
  );
  return rows;
}

/** The new state of one product: its values and derivations, and whether its data changed. */
export interface ProductWrite {
  ean: string;
  values: Pick<StoredProduct, 'name' | 'brand' | 'category' | 'description' | 'image_url' | 'attributes'>;
  derivations: LocalDerivations;
  /** The product's data changed: `updated_at` is bumped. Derivations alone do not bump it. */
  changed: boolean;
}

/**
 * Writes the new state of these products in one statement, and the search rows of those whose
 * data changed (a filled name, brand or category), in the caller's transaction.
 */
export async function writeProducts(client: DbClient, accountId: string, writes: ProductWrite[]): Promise<void> {
  if (writes.length === 0) return;
  await lockSearchShared(client, accountId);
  const column = <T>(pick: (write: ProductWrite) => T) => writes.map(pick);
  await client.query(
    `UPDATE products p SET name = v.name, brand = v.brand, category = v.category, description = v.description,
       image_url = v.image_url, attributes = v.attributes, gtin14 = v.gtin14,
       ean_check_digit_valid = v.check_valid, gs1_prefix = v.gs1_prefix, gs1_prefix_country = v.gs1_country,
       name_normalized = v.name_normalized, brand_normalized = v.brand_normalized, derived_at = now(),
       updated_at = CASE WHEN v.changed THEN now() ELSE p.updated_at END
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::text[],
                 $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[], $15::boolean[])
       AS v(ean, name, brand, category, description, image_url, attributes, gtin14, check_valid, gs1_prefix,
            gs1_country, name_normalized, brand_normalized, changed)
     WHERE p.account_id = $1 AND p.ean = v.ean`,
    [
      accountId,
      column((w) => w.ean),
      column((w) => w.values.name),
      column((w) => w.values.brand),
      column((w) => w.values.category),
      column((w) => w.values.description),
      column((w) => w.values.image_url),
      column((w) => JSON.stringify(w.values.attributes)),
      column((w) => w.derivations.gtin14),
      column((w) => w.derivations.checkDigitValid),
      column((w) => w.derivations.gs1Prefix),
      column((w) => w.derivations.gs1PrefixCountry),
      column((w) => w.derivations.nameNormalized),
      column((w) => w.derivations.brandNormalized),
      column((w) => w.changed),
    ],
  );
  const changed = writes.filter((write) => write.changed);
  await putSearchRows(client, accountId, changed.map(({ ean, values }) => ({ ean, name: values.name, brand: values.brand, category: values.category })));
}

/** One product outcome for the job's report. */
export interface ProductOutcome {
  row: number;
  ean: string;
  code: RowErrorCode;
  message: string;
}

/** Adds products' outcomes to the job's report (`job_row_errors`). */
export async function insertOutcomes(client: DbClient, jobId: string, outcomes: ProductOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await client.query(
    `INSERT INTO job_row_errors (job_id, row, ordinal, ean, field, code, message)
     SELECT $1, row, 1, ean, NULL, code, message
     FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS o(row, ean, code, message)`,
    [jobId, outcomes.map((o) => o.row), outcomes.map((o) => o.ean), outcomes.map((o) => o.code), outcomes.map((o) => o.message)],
  );
}

/** Drops report rows of products after `position`: an interrupted attempt may have left none, but a retry redoes them. */
export async function clearOutcomesAfter(db: Db, jobId: string, position: number): Promise<void> {
  await db.query('DELETE FROM job_row_errors WHERE job_id = $1 AND row > $2', [jobId, position]);
}

/** Records what is settled, on the checkpoint and in the job's progress, in the page's transaction. */
export async function saveCheckpoint(client: Db | DbClient, jobId: string, checkpoint: Checkpoint): Promise<void> {
  await client.query(
    `UPDATE enrichment_checkpoints SET position = $2, last_ean = $3, rows_changed = $4, rows_unchanged = $5,
       rows_failed = $6, quota_detail = $7, quota_position = $8, quota_last_ean = $9, quota_rows_changed = $10,
       quota_rows_unchanged = $11, quota_rows_failed = $12 WHERE job_id = $1`,
    [jobId, checkpoint.position, checkpoint.last_ean, checkpoint.rows_changed, checkpoint.rows_unchanged,
      checkpoint.rows_failed, checkpoint.quota_detail, checkpoint.quota_position, checkpoint.quota_last_ean,
      checkpoint.quota_rows_changed, checkpoint.quota_rows_unchanged, checkpoint.quota_rows_failed],
  );
  await saveJobCounts(client, jobId, checkpoint);
}

/** The counts of an enrichment as the job row shows them: `position` is `rows_processed`. */
export type EnrichmentCounts = Pick<Checkpoint, 'rows_total' | 'position' | 'rows_changed' | 'rows_unchanged' | 'rows_failed'>;

/** Writes the job's progress (settled counts, or running ones while a page is looked up) while it is still running. */
export async function saveJobCounts(client: Db | DbClient, jobId: string, counts: EnrichmentCounts): Promise<void> {
  await client.query(
    `UPDATE jobs SET rows_total = $2, rows_processed = $3, rows_succeeded = $4, rows_updated = $4,
       rows_unchanged = $5, rows_failed = $6, updated_at = now()
     WHERE id = $1 AND status = 'processing'`,
    [jobId, counts.rows_total, counts.position, counts.rows_changed, counts.rows_unchanged, counts.rows_failed],
  );
}

/** The job's status now (null: no such job). */
export async function jobStatus(db: Db, jobId: string): Promise<string | null> {
  const { rows } = await db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]);
  return rows[0]?.status ?? null;
}

/**
 * Moves the callback_url of enrichment `jobId` out of its options into the callback outbox, as
 * migration 020 did for the jobs it found: a previous release's API, still serving beside this
 * release's workers during an upgrade, kept it in both. The job is under way, so the outbox calls
 * it back when it ends; a callback_url already there is kept.
 */
export async function moveCallbackUrlToOutbox(db: Db, jobId: string): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_url = coalesce(callback_url, options->>'callback_url'), options = options - 'callback_url'
     WHERE id = $1 AND options ? 'callback_url'`,
    [jobId],
  );
}
