import { randomUUID } from 'node:crypto';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { followAcceptedJob } from '../follow-accepted-job.js';
import { acceptedResult, type JobAccepted, type JobView } from '../job-view.js';
import { jobSummary, type CommandContext } from '../output.js';

/** Options of `catalog jobs list`. */
export interface ListOptions {
  type?: string;
  status?: string;
  limit: string;
}

interface RowError {
  row: number;
  ean: string | null;
  field: string | null;
  code: string;
  message: string;
}

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** One line of the job list: id, type, status, phase, rows, created. */
function listLine(job: JobView): string {
  const rows = `${job.progress.rows_processed}/${job.progress.rows_total ?? '?'}`;
  return [job.id, job.type.padEnd(10), job.status.padEnd(10), job.phase.padEnd(10), rows.padEnd(15), job.created_at].join('  ');
}

/** `catalog jobs list`: the newest jobs first. */
export async function listJobsCommand(context: CommandContext, options: ListOptions): Promise<ExitCode> {
  const query = { type: options.type, status: options.status, limit: options.limit };
  const page = await context.client.json<{ data: JobView[]; next_cursor: string | null }>('GET', '/v1/jobs', { query });
  const lines = page.data.length === 0 ? ['No jobs.'] : page.data.map(listLine);
  context.output.result(page, lines);
  return EXIT.done;
}

/** `catalog jobs show ID`: the job resource. */
export async function showJobCommand(context: CommandContext, id: string): Promise<ExitCode> {
  const job = await context.client.json<JobView>('GET', jobPath(id));
  const lines = [...jobSummary(job), `phase ${job.phase}, created ${job.created_at}, finished ${job.finished_at ?? '-'}`];
  context.output.result(job, lines);
  return EXIT.done;
}

/** `catalog jobs errors ID`: the per-row report, page after page up to `limit` problems. */
export async function jobErrorsCommand(context: CommandContext, id: string, options: { limit: string }): Promise<ExitCode> {
  const wanted = Number(options.limit);
  const errors: RowError[] = [];
  let cursor: string | undefined;
  do {
    const limit = String(Math.min(500, wanted - errors.length));
    const page = await context.client.json<{ data: RowError[]; next_cursor: string | null }>('GET', `${jobPath(id)}/errors`, {
      query: { limit, cursor },
    });
    errors.push(...page.data);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && errors.length < wanted);
  const lines = errors.map((error) => `row ${error.row}  ${error.ean ?? '-'}  ${error.field ?? '-'}  ${error.code}  ${error.message}`);
  context.output.result({ data: errors, more: Boolean(cursor) }, lines.length > 0 ? lines : ['No row errors.']);
  return EXIT.done;
}

/** `catalog jobs cancel ID`: the job as the cancel left it. */
export async function cancelJobCommand(context: CommandContext, id: string): Promise<ExitCode> {
  const job = await context.client.json<JobView>('POST', `${jobPath(id)}/cancel`);
  context.output.result(job, jobSummary(job));
  return EXIT.done;
}

/**
 * Asks for a retry with one Idempotency-Key for every send: a send whose answer was lost is sent
 * again like any request, and the service answers a repeat with the job as it is instead of
 * running it again (the job may have failed again meanwhile, which a second run would hide).
 */
function requestRetry(context: CommandContext, id: string): Promise<JobAccepted> {
  return context.client.json<JobAccepted>('POST', `${jobPath(id)}/retry`, { headers: { 'idempotency-key': randomUUID() } });
}

/** `catalog jobs retry ID`: runs a failed or cancelled job again and, unless --no-wait, follows it. */
export async function retryJobCommand(context: CommandContext, id: string, options: { wait: boolean }): Promise<ExitCode> {
  const accepted = await requestRetry(context, id);
  if (!options.wait) {
    context.output.result(acceptedResult(accepted), [`Retry accepted: job ${accepted.id}`]);
    return EXIT.done;
  }
  const job = await followAcceptedJob(context, accepted.id, { kind: 'Retry', label: 'job' });
  context.output.result(job, jobSummary(job));
  return job.status === 'completed' ? EXIT.done : EXIT.jobFailed;
}
