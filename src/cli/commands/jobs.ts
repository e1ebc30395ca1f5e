import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
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

/** Times the retry is sent when each send's answer is lost and the job shows no new run. */
const RETRY_SENDS = 5;

/**
 * Asks for a retry, with one Idempotency-Key for every send. A service of the release before
 * ignores the key on a retry (a second send reruns a job that failed again meanwhile, or is
 * refused because the first one's run completed), so the POST is never sent again blindly: after
 * a lost answer the job is read, and a job running again or ended at another time than before had
 * the retry accepted. Only a job that did not move gets the POST once more, with the same key. A
 * key that may not read jobs sends it again like any request: only the key guards it then.
 */
async function requestRetry(context: CommandContext, id: string): Promise<JobAccepted> {
  const headers = { 'idempotency-key': randomUUID() };
  // The retry needs only the job type's write scope: a key that may not read jobs retries as the
  // client sends any request, again after a network error.
  const before = await context.client.json<JobView>('GET', jobPath(id)).catch((error: unknown) => {
    if (error instanceof CliError && error.errorCode === 'PERMISSION_DENIED') return null;
    throw error;
  });
  if (!before) return context.client.json<JobAccepted>('POST', `${jobPath(id)}/retry`, { headers });
  for (let sends = 1; ; sends += 1) {
    try {
      return await context.client.json<JobAccepted>('POST', `${jobPath(id)}/retry`, { headers, resend: false });
    } catch (error) {
      if (!(error instanceof CliError && error.afterLostAnswer) || sends >= RETRY_SENDS) throw error;
      context.progress.line(`${error.message.replace(/\.$/, '')}; reading the job to see whether the retry reached the service`);
      const job = await context.client.json<JobView>('GET', jobPath(id));
      if (job.status === 'processing' || job.finished_at !== before.finished_at) {
        context.progress.line('the retry sent before the network error was accepted: the job runs again');
        return { id: job.id, status: job.status };
      }
      await sleep(Math.min(8_000, 500 * 2 ** (sends - 1)));
    }
  }
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
