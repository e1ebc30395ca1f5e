import { followJob } from './follow-job.js';
import type { JobView } from './job-view.js';
import type { CommandContext } from './output.js';

/**
 * Follows a job the service has just accepted (`kind` names it: "Import", `label` heads its bar). Its id is said at once on stderr and kept in the
 * run's state, so that a failure or Ctrl+C while following names the job, which goes on without
 * the CLI: a user who only saw an error would upload again and start a duplicate.
 */
export async function followAcceptedJob(context: CommandContext, jobId: string, what: { kind: string; label: string }): Promise<JobView> {
  context.progress.line(`${what.kind} accepted: job ${jobId}`);
  const started = { id: jobId, ended: false };
  context.run.job = started;
  const options = { label: what.label, idleMs: context.eventsIdleMs, retryBaseMs: context.retryBaseMs };
  const job = await followJob(context.client, context.progress, jobId, options);
  started.ended = true;
  return job;
}
