import type { JobRow } from '../shared/jobs/job-row.js';
import { UUID_PATTERN as UUID } from '../shared/uuid.js';
import { jobNotFound } from './errors.js';

/**
 * The job `id` as `find` reads it (the caller's account's, or any account's for the operator);
 * 404 for a malformed id or a job `find` does not give, never a 400.
 */
export async function jobOr404(id: string, find: (id: string) => Promise<JobRow | null>): Promise<JobRow> {
  const job = UUID.test(id) ? await find(id) : null;
  if (!job) throw jobNotFound();
  return job;
}
