import type { ExitCode } from './exit-codes.js';

/** A job the service accepted during this run (its 202 came), and whether the command saw it end. */
export interface StartedJob {
  id: string;
  ended: boolean;
}

/**
 * What main.ts needs to know of a run, also when it stops early (a failure, Ctrl+C): its exit code
 * and the job it started, so that a user told of a failure does not start that job a second time.
 */
export interface RunState {
  exitCode: ExitCode;
  job: StartedJob | null;
  /**
   * Files of this run's that exist now and are not whole yet (downloads' `.part` files, a name
   * reserved for one): a signal that stops the CLI removes them, so none is left behind.
   */
  partialFiles: Set<string>;
}

/** What to tell the user about the run's job when the command stops before the end it promised. */
export function startedJobNotice(job: StartedJob): string {
  const check = `check it with: catalog jobs show ${job.id}`;
  return job.ended
    ? `Job ${job.id} has ended on the service; ${check}`
    : `Job ${job.id} was accepted and goes on on the service (do not start it again); ${check}`;
}
