import type { JobResource } from '../shared/jobs/job-row.js';

/**
 * The job resource as the CLI reads it (API.md §4): the service's own type, except that
 * `rows_csv` may be missing (it is offered on failed imports by newer services only).
 */
export type JobView = Omit<JobResource, 'links'> & {
  links: Omit<JobResource['links'], 'rows_csv'> & { rows_csv?: string | null };
};

/** `202 {id, status}` of a job-starting request. */
export interface JobAccepted {
  id: string;
  status: string;
}

/**
 * What `--no-wait --json` prints of an accepted job: its id in `job_id`, the field a failure's
 * JSON names it by, and in `id` as well, which the 202 answer itself was once printed with.
 */
export function acceptedResult(accepted: JobAccepted): { job_id: string; id: string; status: string } {
  return { job_id: accepted.id, id: accepted.id, status: accepted.status };
}

/** The states a job ends in (API.md §4). */
const ENDED_STATUSES = ['completed', 'failed', 'cancelled'];

/** Whether `job` has ended: nothing about it changes any more. */
export function hasEnded(job: JobView): boolean {
  return ENDED_STATUSES.includes(job.status);
}

/**
 * `text` as a job resource, or null when it is not one: not JSON, or without the fields the CLI
 * shows and reads (id, type, status, phase, counts, links). What the service sends as a job is
 * checked before it is shown, so that a wrong one is the service's error, never a crash of the CLI.
 */
export function parseJobView(text: string): JobView | null {
  try {
    return asJobView(JSON.parse(text));
  } catch {
    return null;
  }
}

/** `value` (parsed JSON) as a job resource, or null when it is not one (see {@link parseJobView}). */
export function asJobView(value: unknown): JobView | null {
  if (typeof value !== 'object' || value === null) return null;
  const job = value as Record<string, unknown>;
  const progress = job.progress as Record<string, unknown> | null | undefined;
  const nonEmpty = (field: unknown) => typeof field === 'string' && field !== '';
  const counts =
    typeof progress === 'object' &&
    progress !== null &&
    typeof progress.rows_processed === 'number' &&
    (progress.rows_total === null || typeof progress.rows_total === 'number');
  const described = nonEmpty(job.id) && nonEmpty(job.type) && nonEmpty(job.status) && nonEmpty(job.phase);
  return described && counts && typeof job.links === 'object' && job.links !== null ? (value as JobView) : null;
}
