import { UnrecoverableError } from 'bullmq';

/**
 * How a delivery whose job was cancelled ends: not retried (UnrecoverableError), and not settled
 * either, since the cancel request already ended the job row `cancelled` (and a retry may have
 * started the job's next run since).
 */
export class JobCancelledError extends UnrecoverableError {
  constructor() {
    super('The job was cancelled.');
    this.name = 'JobCancelledError';
  }
}
