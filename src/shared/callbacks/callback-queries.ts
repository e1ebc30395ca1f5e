import type { Db } from '../db/pool.js';

/** A callback delivery claimed by one worker. */
export interface DueCallback {
  jobId: string;
  accountId: string;
  url: string;
  attempts: number;
  /** The end of the run this delivery reports (`finished_at` as text): a retry makes a new run. */
  run: string;
  /** The end of the claim's lease (`callback_next_at` as text): a retry meanwhile holds the new run's callback until then. */
  leaseUntil: string;
}

/**
 * How long a claim holds a delivery: another process takes it over only after this, should the
 * claiming one die before recording the outcome. Well over a send's 10 s timeout.
 */
export const CALLBACK_LEASE_SECONDS = 60;

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
 * How many due deliveries a claim reads in the order they came due before it steps through the
 * receivers instead: fewer than that due (the usual case, however many wait out their back-off)
 * are all of them, read on migration 027's index.
 */
export const DUE_SCAN = 500;

type CandidateRow = { id: string; account_id: string; callback_url: string; receiver: string };

/**
 * The due deliveries a claim chooses from, the longest due first: of each account's deliveries to
 * one receiver, the first `perReceiver`, and of those, each account's first `perAccount`. A claim
 * takes no more than that from one receiver or account, so the rows behind them need not be read.
 * When fewer than `dueScan` deliveries are due, they are read in due order and those shares taken
 * here. When more are due, the query steps through the accounts' receivers on migration 023's
 * index instead and reads the first due rows of each, so one account's backlog in front cannot
 * hide another's delivery. (callback_url carries no user name, so the stored text's scheme, host
 * and port name the receiver; the caller counts by the parsed origin.)
 */
export async function findDueCallbacks(db: Db, perReceiver: number, perAccount: number, dueScan = DUE_SCAN): Promise<CallbackCandidate[]> {
  const due = await db.query<CandidateRow>(
    `SELECT id, account_id, callback_url, ${RECEIVER} AS receiver FROM jobs WHERE ${DUE}
     ORDER BY coalesce(callback_next_at, '-infinity'), finished_at, id LIMIT $1`,
    [dueScan],
  );
  const rows = due.rows.length < dueScan ? due.rows : await firstOfEachReceiver(db, perReceiver, perAccount);
  return withinShares(rows, perReceiver, perAccount).map((row) => ({ jobId: row.id, accountId: row.account_id, url: row.callback_url }));
}

/** The rows, in their order, that are among their receiver's first `perReceiver` and their account's first `perAccount`. */
function withinShares(rows: readonly CandidateRow[], perReceiver: number, perAccount: number): CandidateRow[] {
  const perPair = new Map<string, number>();
  const perAccountSeen = new Map<string, number>();
  return rows.filter((row) => {
    const pair = `${row.account_id} ${row.receiver}`;
    const pairCount = perPair.get(pair) ?? 0;
    const accountCount = perAccountSeen.get(row.account_id) ?? 0;
    if (pairCount >= perReceiver || accountCount >= perAccount) return false;
    perPair.set(pair, pairCount + 1);
    perAccountSeen.set(row.account_id, accountCount + 1);
    return true;
  });
}

/** The first `perReceiver` due rows of each account's receivers, its first `perAccount` of them, longest due first. */
async function firstOfEachReceiver(db: Db, perReceiver: number, perAccount: number): Promise<CandidateRow[]> {
  const { rows } = await db.query<CandidateRow>(
    `WITH RECURSIVE receivers AS (
       (SELECT account_id, ${RECEIVER} AS receiver FROM jobs WHERE ${PENDING} ORDER BY 1, 2 LIMIT 1)
       UNION ALL
       SELECT following.* FROM receivers r, LATERAL (
         SELECT account_id, ${RECEIVER} AS receiver FROM jobs
         WHERE ${PENDING} AND (account_id, ${RECEIVER}) > (r.account_id, r.receiver)
         ORDER BY 1, 2 LIMIT 1) following
     ), firsts AS (
       SELECT due.*, r.receiver FROM receivers r, LATERAL (
         SELECT id, account_id, callback_url, coalesce(callback_next_at, '-infinity') AS next_at, finished_at FROM jobs
         WHERE ${DUE} AND account_id = r.account_id AND ${RECEIVER} = r.receiver
         ORDER BY 4, 5 LIMIT $1) due
     )
     SELECT id, account_id, callback_url, receiver FROM (
       SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY next_at, finished_at, id) AS account_rank FROM firsts
     ) ranked
     WHERE account_rank <= $2
     ORDER BY next_at, finished_at, id`,
    [perReceiver, perAccount],
  );
  return rows;
}

/**
 * Claims the deliveries of `jobIds` that are still due, for `leaseSeconds`: their next attempt is
 * pushed past the lease, so another process only takes one over if this one dies before recording
 * the outcome. One another process claimed meanwhile is left out, as is one it has locked.
 */
export async function claimCallbacks(db: Db, jobIds: readonly string[], leaseSeconds: number): Promise<DueCallback[]> {
  const { rows } = await db.query<{ id: string; account_id: string; callback_url: string; callback_attempts: number; run: string; lease_until: string }>(
    `UPDATE jobs SET callback_next_at = now() + make_interval(secs => $2)
     WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND ${DUE} FOR UPDATE SKIP LOCKED)
     RETURNING id, account_id, callback_url, callback_attempts, finished_at::text AS run, callback_next_at::text AS lease_until`,
    [jobIds, leaseSeconds],
  );
  return rows.map((row) => ({
    jobId: row.id,
    accountId: row.account_id,
    url: row.callback_url,
    attempts: row.callback_attempts,
    run: row.run,
    leaseUntil: row.lease_until,
  }));
}

/**
 * A retried job's `callback_next_at` (resetJobForRetry): the callback of its new run must not
 * overtake one of an earlier run still on its way, whose claim's lease ends at callback_next_at.
 * So a pending callback's next attempt, when it is in the future, is kept, and the new run's
 * callback waits for it, or less: the old delivery's outcome releases it
 * ({@link releaseRetriedCallback}). The row does not tell a lease from a back-off wait (nothing
 * on its way), so a wait is cut to one lease: a retry delays its callback by at most that.
 */
export const CALLBACK_NEXT_AT_OF_RETRY = `CASE WHEN callback_delivered_at IS NULL AND callback_next_at > now() AND callback_next_at < 'infinity'
  THEN least(callback_next_at, now() + make_interval(secs => ${CALLBACK_LEASE_SECONDS})) END`;

/**
 * Once a delivery of a run the job has left (it was retried) is over: lets the new run's callback,
 * held until the old claim's lease ends, go at once (null: due as soon as the run ends). Only
 * while it is still held by that very lease: not once the new run's callback has been claimed.
 */
export async function releaseRetriedCallback(db: Db, callback: Pick<DueCallback, 'jobId' | 'leaseUntil'>): Promise<void> {
  await db.query(
    `UPDATE jobs SET callback_next_at = NULL
     WHERE id = $1 AND callback_next_at = $2::timestamptz AND callback_attempts = 0 AND callback_delivered_at IS NULL`,
    [callback.jobId, callback.leaseUntil],
  );
}

/**
 * Only the run a delivery was claimed for: a job retried while its callback was on the way has
 * its callback state reset for the new run, which an outcome of the old one must not overwrite.
 */
const SAME_RUN = `id = $1 AND finished_at::text = $2 AND status <> 'processing'`;

/** Records a delivered callback; false when the job has left that run (see {@link releaseRetriedCallback}). */
export async function markCallbackDelivered(db: Db, callback: Pick<DueCallback, 'jobId' | 'run'>): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET callback_delivered_at = now(), callback_attempts = callback_attempts + 1,
       callback_next_at = NULL, callback_last_error = NULL WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run],
  );
  return rowCount === 1;
}

/**
 * Records a failed attempt: the next one after `retryInSeconds`, or none (`null`: given up; the
 * delivery stays recorded with its last error). False when the job has left that run.
 */
export async function markCallbackFailed(
  db: Db,
  callback: Pick<DueCallback, 'jobId' | 'run'>,
  error: string,
  retryInSeconds: number | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_last_error = $3,
       callback_next_at = CASE WHEN $4::float8 IS NULL THEN 'infinity'::timestamptz
                               ELSE now() + make_interval(secs => $4::float8) END
     WHERE ${SAME_RUN}`,
    [callback.jobId, callback.run, error.slice(0, 500), retryInSeconds],
  );
  return rowCount === 1;
}
