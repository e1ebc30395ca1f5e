import { endAdvisoryLockHoldersSql } from '../db/advisory-lock-holders.js';
import type { Db, DbClient } from '../db/pool.js';

/** The advisory lock key (a bigint) of the run whose claim token the expression gives. */
const runLockKey = (tokenSql: string) => `hashtextextended('run:' || (${tokenSql})::uuid::text, 0)`;

/**
 * Marks the transaction open on `client` as one of the run with claim `token` (see withRunClaim)
 * until it ends: a shared advisory lock on a key of the token, which nothing takes exclusively, so
 * it never waits. A run that takes the job over finds the run's open transactions by it (see
 * {@link endStoppedRunSessions}). Without a token (a test calling a runner itself) nothing is marked.
 */
export async function markRunTransaction(client: DbClient, token: string | undefined): Promise<void> {
  if (token === undefined) return;
  await client.query(`SELECT pg_advisory_xact_lock_shared(${runLockKey('$1')})`, [token]);
}

/** Job `$1` is `processing` under a claim that ran out without being released. */
const STOPPED_RUN_CLAIM = `FROM jobs WHERE id = $1 AND status = 'processing' AND run_claim_token IS NOT NULL
                             AND NOT coalesce(run_claimed_until > now(), false)`;

/** The sessions in a transaction of job `$1`'s run whose claim ran out unreleased, each ended with pg_terminate_backend. */
const END_STOPPED_RUN_SESSIONS_SQL = endAdvisoryLockHoldersSql(runLockKey(`SELECT run_claim_token ${STOPPED_RUN_CLAIM}`));

/** A session of a stopped run that {@link endStoppedRunSessions} found, and whether it was ended. */
export interface StoppedRunSession {
  pid: number;
  ended: boolean;
}

/**
 * Ends the sessions still in a transaction of job `jobId`'s previous run when its claim ran out
 * unreleased: its worker died or was stopped (SIGSTOP, a frozen VM), and a stopped worker's session
 * keeps its transaction open, idle and holding its locks, until WORKER_IDLE_IN_TRANSACTION_TIMEOUT_MS
 * (10 min). Any of them may hold up the run taking the job over: the job's row (the run's short final
 * transaction locks it, and the takeover's claim waits for it), an import's job lock and products,
 * an enrichment's checkpoint. PostgreSQL rolls those transactions back whole (one past its final
 * claim check too: the run taking over does the job again), and none would commit once the claim is
 * taken over anyway (see lockClaimedJob). Reads the job row without locking it.
 */
export async function endStoppedRunSessions(db: Db, jobId: string): Promise<StoppedRunSession[]> {
  // Reading pg_locks takes every lock-table partition's lock: only done for a claim that ran out.
  const stale = await db.query(`SELECT 1 ${STOPPED_RUN_CLAIM}`, [jobId]);
  if (stale.rows.length === 0) return [];
  const { rows } = await db.query<StoppedRunSession>(END_STOPPED_RUN_SESSIONS_SQL, [jobId]);
  return rows;
}
