import type { Db, DbClient } from '../db/pool.js';
import { markRunTransaction } from './run-sessions.js';

/**
 * What a delivery found when it tried to claim its job's run: `taken-over` is a claim taken from a
 * run whose lease ran out without being released (its worker died or stopped, and may still hold
 * its database session).
 */
export type RunClaim = 'claimed' | 'taken-over' | 'held' | 'not-processing';

/** The claim a running delivery holds: its token, and whether it took the job over from a run whose lease ran out. */
export interface HeldRunClaim {
  token: string;
  tookOver: boolean;
}

/**
 * Claims the run of a `processing` job for `leaseMs` under `token` unless a live claim holds it:
 * `held` while another run's lease lasts, `not-processing` for a job that has ended (or is unknown).
 */
export async function claimJobRun(db: Db, jobId: string, token: string, leaseMs: number): Promise<RunClaim> {
  const { rows } = await db.query<{ claimed: boolean; processing: boolean; unreleased: boolean }>(
    `WITH job AS (SELECT id, status = 'processing' AS processing, coalesce(run_claimed_until > now(), false) AS held,
                         run_claim_token IS NOT NULL AS unreleased
                    FROM jobs WHERE id = $1 FOR UPDATE),
          claimed AS (UPDATE jobs SET run_claimed_until = now() + $3 * interval '1 millisecond', run_claim_token = $2
                        FROM job WHERE jobs.id = job.id AND job.processing AND NOT job.held
                        RETURNING jobs.id)
     SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, coalesce((SELECT processing FROM job), false) AS processing,
            coalesce((SELECT unreleased FROM job), false) AS unreleased`,
    [jobId, token, leaseMs],
  );
  const { claimed, processing, unreleased } = rows[0]!;
  if (claimed) return unreleased ? 'taken-over' : 'claimed';
  return processing ? 'held' : 'not-processing';
}

/** Extends the claim of a run that is still going; false when the run no longer holds it. */
export async function renewJobRun(db: Db, jobId: string, token: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET run_claimed_until = now() + $3 * interval '1 millisecond' WHERE id = $1 AND run_claim_token = $2`,
    [jobId, token, leaseMs],
  );
  return rowCount === 1;
}

/** Ends the claim of a run that has stopped, so the job's next delivery may run it at once. */
export async function releaseJobRun(db: Db, jobId: string, token: string): Promise<void> {
  await db.query('UPDATE jobs SET run_claimed_until = NULL, run_claim_token = NULL WHERE id = $1 AND run_claim_token = $2', [jobId, token]);
}

/** The run a `processing` job is in, and whether a run has held its claim within the last `graceMs`. */
export interface ProcessingRun {
  run: number;
  claimedWithinGrace: boolean;
}

/**
 * The run of job `jobId` while it is `processing` (null once it has ended, or for an unknown id),
 * and whether its claim is held, or ran out less than `graceMs` ago (a released claim is cleared,
 * so a run that ended cleanly counts as not holding it). PostgreSQL's clock, the one claims use.
 */
export async function processingRunOf(db: Db, jobId: string, graceMs: number): Promise<ProcessingRun | null> {
  const { rows } = await db.query<{ run: number; claimed: boolean }>(
    `SELECT run_number AS run, coalesce(run_claimed_until > now() - $2 * interval '1 millisecond', false) AS claimed
       FROM jobs WHERE id = $1 AND status = 'processing'`,
    [jobId, graceMs],
  );
  return rows[0] ? { run: rows[0].run, claimedWithinGrace: rows[0].claimed } : null;
}

/**
 * Locks a job row for a run's final transaction and says whether the job is still `processing`
 * and, given the run's claim token, whether the run still holds the claim: a run whose claim
 * another delivery took over (its lease ran out while its worker was stopped) writes nothing, since
 * that delivery runs the job again. Without a token only the status counts. The transaction is
 * marked as the run's first (see markRunTransaction): a worker stopped while it holds the row is
 * ended by the delivery taking the job over, whose claim waits for the row.
 */
export async function lockClaimedJob(client: DbClient, jobId: string, claimToken: string | undefined): Promise<boolean> {
  await markRunTransaction(client, claimToken);
  const { rows } = await client.query<{ ours: boolean }>(
    `SELECT status = 'processing' AND ($2::uuid IS NULL OR run_claim_token IS NOT DISTINCT FROM $2::uuid) AS ours
       FROM jobs WHERE id = $1 FOR UPDATE`,
    [jobId, claimToken ?? null],
  );
  return rows[0]?.ours === true;
}
