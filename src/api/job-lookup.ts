import type { FastifyRequest } from 'fastify';
import { toJobResource, toOperatorJobResource, type JobRow } from '../shared/jobs/job-row.js';
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

/**
 * How the job resource is written for the caller: with the job's `account_id` for the operator key,
 * as API.md defines it (without) for an account's key or session.
 */
export const jobResourceFor = (request: FastifyRequest) => (request.principal?.kind === 'admin' ? toOperatorJobResource : toJobResource);
