import type { Logger } from 'pino';
import { endAdvisoryLockHoldersSql } from '../../shared/db/advisory-lock-holders.js';
import type { Db, DbClient } from '../../shared/db/pool.js';

/** The advisory lock key of a job (a bigint): attempts of one job run their transactions one at a time. */
const JOB_LOCK_KEY = `hashtextextended('import:' || $1, 0)`;

/** Takes the job's lock in the transaction at hand, waiting for as long as another session holds it. */
export const JOB_LOCK_SQL = `SELECT pg_advisory_xact_lock(${JOB_LOCK_KEY})`;

/** The sessions holding the job's lock, each ended with pg_terminate_backend. */
const END_JOB_LOCK_HOLDERS_SQL = endAdvisoryLockHoldersSql(JOB_LOCK_KEY);

/** How an import attempt takes its job's lock. */
export interface JobLockTaking {
  /** The attempt's run took the job over from a run whose claim ran out (see withRunClaim). */
  tookOver: boolean;
  /** The attempt's logger (with its jobId). */
  log?: Logger;
}

/**
 * Takes the lock of job `jobId` in the transaction open on `client` (held until it ends). An
 * attempt waits for another attempt's transaction to end, except in a run that took the job over.
 * The run it took the job from lost its claim because its worker died or was stopped (SIGSTOP, a
 * frozen VM): a stopped worker's session keeps its transaction open, idle and holding this lock,
 * until WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS (10 min), while the import shows no progress. That
 * transaction may never commit anyway (its run no longer holds the claim, see lockClaimedJob), so
 * its session is ended: PostgreSQL rolls the transaction back whole, nothing of it is kept, and this
 * attempt imports the whole file from the stored upload. Handing the delivery back instead would
 * leave the session, and the job, stuck for those 10 minutes. The takeover has usually ended that
 * transaction already, as one of its run's (see endStoppedRunSessions); this ends one that was not
 * marked as a run's (begun by a worker of an earlier version).
 */
export async function takeJobLock(db: Db, client: DbClient, jobId: string, taking: JobLockTaking): Promise<void> {
  const { rows } = await client.query<{ taken: boolean }>(`SELECT pg_try_advisory_xact_lock(${JOB_LOCK_KEY}) AS taken`, [jobId]);
  if (rows[0]!.taken) return;
  if (taking.tookOver) await endJobLockHolders(db, jobId, taking.log);
  else taking.log?.info({ jobId }, 'import waits for another attempt of the job to end its transaction');
  await client.query(JOB_LOCK_SQL, [jobId]);
}

/** Ends the sessions that hold the job's lock, logging each; one that cannot be ended is waited for. */
async function endJobLockHolders(db: Db, jobId: string, log: Logger | undefined): Promise<void> {
  try {
    const { rows } = await db.query<{ pid: number; ended: boolean }>(END_JOB_LOCK_HOLDERS_SQL, [jobId]);
    for (const { pid, ended } of rows) {
      log?.warn(
        { jobId, holderPid: pid, ended },
        "ended the database session of the job's previous run (its worker stopped), which still held the job's lock: its transaction is rolled back, this run imports the file",
      );
    }
  } catch (error) {
    log?.warn({ err: error, jobId }, "could not end the database session holding the job's lock: waiting for it to end");
  }
}
