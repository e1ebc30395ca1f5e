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
