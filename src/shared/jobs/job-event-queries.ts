import type { Db } from '../db/pool.js';
import { JOB_COLUMNS, jobRowQuery } from './job-columns.js';
import type { JobRow } from './job-row.js';

/** A job row with the version of its visible state (bumped by the jobs table's trigger on each change). */
export type VersionedJobRow = JobRow & { event_version: number };

/** One job of the account with its event version, or null (also for another account's job). */
export async function findVersionedJob(db: Db, accountId: string, id: string): Promise<VersionedJobRow | null> {
  const { rows } = await db.query<VersionedJobRow>(
    jobRowQuery(`SELECT ${JOB_COLUMNS}, event_version FROM jobs WHERE account_id = $1 AND id = $2`, [accountId, id]),
  );
  return rows[0] ?? null;
}
