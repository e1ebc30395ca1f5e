import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { readJobEvents, type StreamOutcome, type StreamPosition } from './job-event-stream.js';
import { asJobView, hasEnded, type JobView } from './job-view.js';
import type { ProgressOutput } from './progress.js';

/** Short streams in a row that bring no new state of the job before the CLI gives up (exit 5). */
const MAX_STREAMS_WITHOUT_PROGRESS = 5;
/** Events that are not a job resource before the CLI gives up (exit 5): the service is not sending what API.md says. */
const MAX_MALFORMED_EVENTS = 3;
/**
 * A stream open at least this long was a healthy one (a process restart or a proxy ended it) and is
 * resumed at once. A shorter one is resumed after a back-off: each connection counts toward the
 * per-minute limit and the monthly quota, and a stream that keeps closing would spend them fast.
 */
const LONG_STREAM_MS = 60_000;
/** Longest wait before a stream is opened again. */
const MAX_RECONNECT_WAIT_MS = 30_000;

/** How a job is followed: its bar's label, the stream's idle limit, the first back-off (CATALOG_RETRY_BASE_MS). */
export interface FollowOptions {
  label: string;
  idleMs: number;
  retryBaseMs: number;
}

/** The failure after too many events that are not a job resource; `data` is the last one's. */
function malformedEvents(jobId: string, data: string): CliError {
  const shown = data.length > 80 ? `${data.slice(0, 80)}…` : data;
  return new CliError(
    `The event stream of job ${jobId} sent ${MAX_MALFORMED_EVENTS} events that are not a job (the last: ${JSON.stringify(shown)}); the service is at fault.`,
    EXIT.server,
  );
}

/** A refusal of the stream that waiting ends: the account's open streams, or its per-minute requests. */
const isLimit = (error: unknown): error is CliError => error instanceof CliError && error.errorCode === 'RATE_LIMIT_EXCEEDED';

/**
 * The job read once with GET /v1/jobs/{id}, while its stream is refused for a limit; null when that
 * read is refused for the limit too. An answer that is not a job resource is the service's error.
 */
async function readJobOnce(client: ApiClient, jobId: string): Promise<JobView | null> {
  let answer: unknown;
  try {
    answer = await client.json<unknown>('GET', `/v1/jobs/${jobId}`);
  } catch (error) {
    if (isLimit(error)) return null;
    throw error;
  }
  const job = asJobView(answer);
  if (!job) throw new CliError(`The service's answer for job ${jobId} is not a job.`, EXIT.server);
  return job;
}

/**
 * Follows a job through its event stream (no polling: the whole stream is one request toward the
 * limits) with a bar of rows processed, until it ends; returns its final state. A stream that
 * breaks off, or is silent for `idleMs`, is resumed with Last-Event-ID, after a back-off unless it
 * lasted a while. While the service refuses the stream for a limit (the account's open streams),
 * the job is read instead between tries: the job runs fine, only watching it is limited.
 */
export async function followJob(client: ApiClient, progress: ProgressOutput, jobId: string, options: FollowOptions): Promise<JobView> {
  const bar = progress.bar(options.label, 'rows');
  const position: StreamPosition = { lastEventId: null };
  const show = (job: JobView) => bar.update(job.progress.rows_processed, job.progress.rows_total, job.phase);
  const backoff = (attempts: number) => Math.min(MAX_RECONNECT_WAIT_MS, options.retryBaseMs * 2 ** attempts);
  let withoutProgress = 0;
  let shortStreams = 0;
  let malformed = 0;
  let refusals = 0;
  try {
    for (;;) {
      const seen = position.lastEventId;
      const openedAt = Date.now();
      let outcome: StreamOutcome;
      try {
        outcome = await readJobEvents(client, jobId, position, options.idleMs, show);
        refusals = 0;
      } catch (error) {
        // The client has waited out the limit's Retry-After a few times already.
        if (!isLimit(error)) throw error;
        const job = await readJobOnce(client, jobId);
        if (job) show(job);
        if (job && hasEnded(job)) return job;
        const wait = backoff(refusals++);
        progress.line(`${error.message.replace(/[.\s]*$/, '')}; reading the job instead, and trying its event stream again in ${wait / 1000} s`);
        await sleep(wait);
        continue;
      }
      if (outcome.kind === 'ended') {
        show(outcome.job);
        return outcome.job;
      }
      if (outcome.kind === 'malformed' && (malformed += 1) >= MAX_MALFORMED_EVENTS) throw malformedEvents(jobId, outcome.data);
      if (Date.now() - openedAt >= LONG_STREAM_MS) {
        shortStreams = 0;
        withoutProgress = 0;
        continue;
      }
      withoutProgress = position.lastEventId !== seen ? 0 : withoutProgress + 1;
      if (withoutProgress >= MAX_STREAMS_WITHOUT_PROGRESS) {
        throw new CliError(`The event stream of job ${jobId} keeps closing before the job ends.`, EXIT.server);
      }
      const wait = backoff(shortStreams++);
      progress.line(`the event stream of job ${jobId} closed; reconnecting in ${wait / 1000} s`);
      await sleep(wait);
    }
  } finally {
    bar.stop();
  }
}
