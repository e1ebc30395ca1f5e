import type { Db } from '../db/pool.js';

/** A callback delivery claimed by one worker. */
export interface DueCallback {
  jobId: string;
  accountId: string;
  url: string;
  attempts: number;
  /** The end of the run this delivery reports (`finished_at` as text): a retry makes a new run. */
  run: string;
}

/** A delivery not yet delivered nor given up, of an ended job (migration 023's index holds these). */
const PENDING = `callback_url IS NOT NULL AND callback_delivered_at IS NULL AND status <> 'processing'
  AND coalesce(callback_next_at, '-infinity') < 'infinity'`;
/** A pending delivery whose next attempt (or the lease of its claim) has come. */
const DUE = `${PENDING} AND coalesce(callback_next_at, '-infinity') <= now()`;
/** A delivery's receiver as the index groups it: its URL's scheme, host and port as stored, lowercased. */
const RECEIVER = `lower(substring(callback_url FROM '^[^/]*//[^/?#]*'))`;

/** A due delivery a worker may claim: whose it is and where it goes. */
export interface CallbackCandidate {
  jobId: string;
  accountId: string;
  url: string;
}

/**
 * The due deliveries a claim chooses from, the longest due first: of each account's deliveries to
 * one receiver, the first `perReceiver`, and of those, each account's first `perAccount`. A claim
 * takes no more than that from one receiver or account, so the rows behind them are not read:
 * the query steps through the accounts' receivers on migration 023's index, however long one
 * account's backlog grows. (callback_url carries no user name, so the stored text's scheme, host
 * and port name the receiver; the caller counts by the parsed origin.)
 */
export async function findDueCallbacks(db: Db, perReceiver: number, perAccount: number): Promise<CallbackCandidate[]> {
  const { rows } = await db.query<{ id: string; account_id: string; callback_url: string }>(
    `WITH RECURSIVE receivers AS (
       (SELECT account_id, ${RECEIVER} AS receiver FROM jobs WHERE ${PENDING} ORDER BY 1, 2 LIMIT 1)
       UNION ALL
       SELECT following.* FROM receivers r, LATERAL (
         SELECT account_id, ${RECEIVER} AS receiver FROM jobs
         WHERE ${PENDING} AND (account_id, ${RECEIVER}) > (r.account_id, r.receiver)
         ORDER BY 1, 2 LIMIT 1) following
     ), firsts AS (
       SELECT due.* FROM receivers r, LATERAL (
         SELECT id, account_id, callback_url, coalesce(callback_next_at, '-infinity') AS next_at, finished_at FROM jobs
         WHERE ${DUE} AND account_id = r.account_id AND ${RECEIVER} = r.receiver
         ORDER BY 4, 5 LIMIT $1) due
     )
     SELECT id, account_id, callback_url FROM (
       SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY next_at, finished_at, id) AS account_rank FROM firsts
     ) ranked
     WHERE account_rank <= $2
     ORDER BY next_at, finished_at, id`,
    [perReceiver, perAccount],
  );
  return rows.map((row) => ({ jobId: row.id, accountId: row.account_id, url: row.callback_url }));
}

/**
 * Claims the deliveries of `jobIds` that are still due, for `leaseSeconds`: their next attempt is
 * pushed past the lease, so another process only takes one over if this one dies before recording
 * the outcome. One another process claimed meanwhile is left out, as is one it has locked.
 */
export async function claimCallbacks(db: Db, jobIds: readonly string[], leaseSeconds: number): Promise<DueCallback[]> {
  const { rows } = await db.query<{ id: string; account_id: string; callback_url: string; callback_attempts: number; run: string }>(
    `UPDATE jobs SET callback_next_at = now() + make_interval(secs => $2)
     WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND ${DUE} FOR UPDATE SKIP LOCKED)
     RETURNING id, account_id, callback_url, callback_attempts, finished_at::text AS run`,
    [jobIds, leaseSeconds],
  );
  return rows.map((row) => ({ jobId: row.id, accountId: row.account_id, url: row.callback_url, attempts: row.callback_attempts, run: row.run }));
}

/**
 * Only the run a delivery was claimed for: a job retried while its callback was on the way has
 * its callback state reset for the new run, which an outcome of the old one must not overwrite.
 */
const SAME_RUN = `id = $1 AND finished_at::text = $2 AND status <> 'processing'`;

/** Records a delivered callback. */
export async function markCallbackDelivered(db: Db, callback: Pick<DueCallback, 'jobId' | 'run'>): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_delivered_at = now(), callback_attempts = callback_attempts + 1,
       callback_next_at = NULL, callback_last_error = NULL WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run],
  );
}

/**
 * Records a failed attempt: the next one after `retryInSeconds`, or none (`null`: given up; the
 * delivery stays recorded with its last error).
 */
export async function markCallbackFailed(
  db: Db,
  callback: Pick<DueCallback, 'jobId' | 'run'>,
  error: string,
  retryInSeconds: number | null,
): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_last_error = $3,
       callback_next_at = CASE WHEN $4::float8 IS NULL THEN 'infinity'::timestamptz
                               ELSE now() + make_interval(secs => $4::float8) END
     WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run, error.slice(0, 500), retryInSeconds],
  );
}
