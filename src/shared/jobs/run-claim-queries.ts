import type { Db } from '../db/pool.js';

/** What a delivery found when it tried to claim its job's run. */
export type RunClaim = 'claimed' | 'held' | 'not-processing';

/**
 * Claims the run of a `processing` job for `leaseMs` under `token` unless a live claim holds it:
 * `held` while another run's lease lasts, `not-processing` for a job that has ended (or is unknown).
 */
export async function claimJobRun(db: Db, jobId: string, token: string, leaseMs: number): Promise<RunClaim> {
  const { rows } = await db.query<{ claimed: boolean; processing: boolean }>(
    `WITH job AS (SELECT id, status = 'processing' AS processing, coalesce(run_claimed_until > now(), false) AS held
                    FROM jobs WHERE id = $1 FOR UPDATE),
          claimed AS (UPDATE jobs SET run_claimed_until = now() + $3 * interval '1 millisecond', run_claim_token = $2
                        FROM job WHERE jobs.id = job.id AND job.processing AND NOT job.held
                        RETURNING jobs.id)
     SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, coalesce((SELECT processing FROM job), false) AS processing`,
    [jobId, token, leaseMs],
  );
  const { claimed, processing } = rows[0]!;
  if (claimed) return 'claimed';
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
