import type pg from 'pg';
import { boundedRows, byteBoundedPage, type BoundedRow, type BoundedRows } from '../db/byte-bounded-page.js';
import type { Db } from '../db/pool.js';
import { JOB_COLUMNS, JOB_FIELDS, jobRowQuery } from './job-columns.js';
import { JOB_STATUSES, JOB_TYPES, type JobRow, type JobStatus, type JobType } from './job-row.js';

/** Filters and page of a job listing. */
export interface JobListQuery {
  type?: JobType;
  status?: JobStatus;
  /** The runs of this export schedule alone (jobs keep naming a schedule after it is deleted). */
  scheduleId?: string;
  limit: number;
  /** The position after which to continue: the `created_at` (as PostgreSQL prints it) and id of the last job seen. */
  after?: { createdAt: string; id: string };
}

const NEWEST_FIRST = 'ORDER BY created_at DESC, id DESC';

/**
 * The statement of a page of jobs, newest first, plus one row to tell whether there is more: the
 * account's (`accountId`), or every account's (null, the operator's view).
 *
 * Each filter is read through an index whose order is the page's, so a page costs its own rows
 * whatever the history holds: a schedule's runs through jobs_schedule_created_idx (migration
 * 025), an account's jobs through jobs_account_created_idx (001); with a type or status, an
 * account's through jobs_account_type_status_created_idx (030) and every account's through
 * jobs_type_status_created_idx (029), one range per type and ended status the filters let
 * through, merged in order (a UNION ALL of ranges each ordered and limited: PostgreSQL merges
 * them and reads about a page in all), where one walk of the account's jobs would pass over all
 * of them to find a rare type or status. Jobs still `processing` are in neither index, so that
 * accepting a job writes no entry to them: they come from jobs_processing_idx (001), the jobs in
 * flight, whatever the history. The type and status values are the constants of
 * {@link JOB_TYPES} and {@link JOB_STATUSES}, never the client's text.
 */
export function jobListStatement(accountId: string | null, query: JobListQuery): pg.QueryConfig {
  const values: unknown[] = [];
  const param = (value: unknown, type: string) => `$${values.push(value)}::${type}`;
  const common: string[] = [];
  if (accountId !== null) common.push(`account_id = ${param(accountId, 'uuid')}`);
  if (query.scheduleId) common.push(`schedule_id = ${param(query.scheduleId, 'uuid')}`);
  if (query.after) {
    common.push(`(created_at, id) < (${param(query.after.createdAt, 'timestamptz')}, ${param(query.after.id, 'uuid')})`);
  }
  const fetched = param(query.limit + 1, 'int');
  const limit = `LIMIT ${fetched}`;
  const bounded = (text: string) => byteBoundedPage(text, JOB_FIELDS, 'created_at DESC, id DESC', fetched);
  const select = (conditions: string[]) => {
    const where = [...common, ...conditions];
    return `SELECT ${JOB_COLUMNS} FROM jobs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
  };
  const unfilteredAccount = accountId !== null && !query.type && !query.status;
  const ranges = query.scheduleId || unfilteredAccount ? [{ conditions: filterConditions(query), inFlight: false }] : typeStatusRanges(query);
  if (ranges.length === 1) return jobRowQuery(bounded(`${select(ranges[0]!.conditions)} ${NEWEST_FIRST} ${limit}`), values);
  // The jobs in flight are read whole and sorted (there are few): ordered and limited, that
  // branch could be read by walking the account's jobs for a `processing` one, all of them once
  // there is none left, where jobs_processing_idx gives them at once.
  const branches = ranges.map((range) => `(${select(range.conditions)}${range.inFlight ? '' : ` ${NEWEST_FIRST} ${limit}`})`);
  return jobRowQuery(bounded(`SELECT * FROM (${branches.join(' UNION ALL ')}) AS page ${NEWEST_FIRST} ${limit}`), values);
}

/** The listing's type and status filters as conditions on the rows. */
function filterConditions(query: JobListQuery): string[] {
  return [
    ...(query.type ? [`type = '${JOB_TYPES.find((type) => type === query.type)}'`] : []),
    ...(query.status ? [`status = '${JOB_STATUSES.find((status) => status === query.status)}'`] : []),
  ];
}

/**
 * The listing's filters as ranges of migration 029's and 030's indexes, one per type and ended
 * status they let through, and the jobs in flight (`processing`) as one more.
 */
function typeStatusRanges(query: JobListQuery): Array<{ conditions: string[]; inFlight: boolean }> {
  const types = JOB_TYPES.filter((type) => query.type === undefined || type === query.type);
  const statuses = JOB_STATUSES.filter((status) => query.status === undefined || status === query.status);
  const ranges = statuses
    .filter((status) => status !== 'processing')
    .flatMap((status) => types.map((type) => ({ conditions: [`type = '${type}'`, `status = '${status}'`], inFlight: false })));
  if (statuses.includes('processing')) {
    ranges.push({ conditions: [...(query.type ? [`type = '${types[0]}'`] : []), `status = 'processing'`], inFlight: true });
  }
  return ranges;
}

/**
 * The account's jobs, newest first, one page and whether there is more. A row's
 * `created_at` is PostgreSQL's full-precision text ({@link jobRowQuery}), the cursor's key as it is.
 */
export async function listJobs(db: Db, accountId: string, query: JobListQuery): Promise<BoundedRows<JobRow>> {
  const { rows } = await db.query<BoundedRow<JobRow>>(jobListStatement(accountId, query));
  return boundedRows(rows);
}

/**
 * Jobs of every account, newest first: the operator's view of GET /v1/jobs, with the same
 * filters and page as an account's own listing ({@link listJobs}).
 */
export async function listJobsOfEveryAccount(db: Db, query: JobListQuery): Promise<BoundedRows<JobRow>> {
  const { rows } = await db.query<BoundedRow<JobRow>>(jobListStatement(null, query));
  return boundedRows(rows);
}
