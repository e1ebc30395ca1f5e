import type { ApiClient } from './api-client.js';
import { CliError, EXIT, exitCodeOfStatus } from './exit-codes.js';
import type { JobView } from './job-view.js';
import type { ProgressOutput } from './progress.js';
import { parseEventStream } from './sse-parser.js';

/** Streams in a row that may end without an event before the CLI stops reconnecting. */
const MAX_EMPTY_STREAMS = 5;

/** Where the follower is in a job's stream, kept across connections. */
interface StreamPosition {
  lastEventId: string | null;
  events: number;
}

/** Once started, aborts its signal when `touch` has not been called for `idleMs`. */
function idleWatchdog(idleMs: number): { signal: AbortSignal; start(): void; touch(): void; stop(): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  return {
    signal: controller.signal,
    start: () => (timer = setTimeout(() => controller.abort(new Error(`silent for ${idleMs} ms`)), idleMs)),
    touch: () => timer?.refresh(),
    stop: () => timer && clearTimeout(timer),
  };
}

/** The chunks of `body`, touching `watchdog` at each: any byte, a heartbeat comment too, is a sign of life. */
async function* watched(body: AsyncIterable<Uint8Array>, watchdog: { touch(): void }): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    watchdog.touch();
    yield chunk;
  }
}

/**
 * The failure an `error` event carries: the service ended the stream because the key stopped
 * working (revoked, expired, its account suspended). Its data is the error envelope that a new
 * connection would get, with that answer's status: reconnecting would only be refused.
 */
function streamRefusal(data: string): CliError {
  let envelope: { error?: unknown; error_code?: unknown; status?: unknown } = {};
  try {
    envelope = JSON.parse(data) as typeof envelope;
  } catch {
    // Not the service's envelope: the event still ends the stream.
  }
  const message = typeof envelope.error === 'string' ? envelope.error : 'The service ended the event stream with an error.';
  const exitCode = typeof envelope.status === 'number' ? exitCodeOfStatus(envelope.status) : EXIT.server;
  return new CliError(message, exitCode, typeof envelope.error_code === 'string' ? envelope.error_code : null);
}

/**
 * Reads one connection of GET /v1/jobs/{id}/events; returns the final job when the `end` event
 * came, null when the stream broke off first or its body went silent for `idleMs` (the caller resumes with
 * Last-Event-ID); throws when the service refuses the stream, at its start or by an `error` event.
 * A connection that dies without FIN or RST would otherwise hold the CLI until
 * the HTTP client's own body timeout, minutes later; the service's heartbeats keep a live one busy.
 */
async function readStream(
  client: ApiClient,
  jobId: string,
  position: StreamPosition,
  idleMs: number,
  onJob: (job: JobView) => void,
): Promise<JobView | null> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (position.lastEventId) headers['last-event-id'] = position.lastEventId;
  const watchdog = idleWatchdog(idleMs);
  try {
    // Watched from the answer on: before it, the client's own waits (a 429's Retry-After, the
    // back-off after a 5xx) may be longer than idleMs and are no sign of a dead connection.
    const response = await client.send('GET', `/v1/jobs/${jobId}/events`, { headers, signal: watchdog.signal });
    watchdog.start();
    if (!response.body) return null;
    for await (const item of parseEventStream(watched(response.body, watchdog))) {
      if (item.kind !== 'event') continue;
      if (item.event.event === 'error') throw streamRefusal(item.event.data);
      const job = JSON.parse(item.event.data) as JobView;
      position.lastEventId = item.event.id;
      position.events += 1;
      if (item.event.event === 'end') return job;
      onJob(job);
    }
  } catch (error) {
    // The service's refusal (or no service after the retries) ends the command; a connection
    // that broke or went silent mid-stream is resumed by the caller.
    if (error instanceof CliError) throw error;
  } finally {
    watchdog.stop();
  }
  return null;
}

/**
 * Follows a job through its event stream (no polling: the whole stream is one request toward the
 * limits) with a bar of rows processed, until it ends; returns its final state. A stream that
 * breaks off, or is silent for `idleMs`, is resumed with Last-Event-ID.
 */
export async function followJob(
  client: ApiClient,
  progress: ProgressOutput,
  jobId: string,
  options: { label: string; idleMs: number },
): Promise<JobView> {
  const bar = progress.bar(options.label, 'rows');
  const position: StreamPosition = { lastEventId: null, events: 0 };
  const show = (job: JobView) => bar.update(job.progress.rows_processed, job.progress.rows_total, job.phase);
  try {
    for (let emptyStreams = 0; emptyStreams < MAX_EMPTY_STREAMS; ) {
      const seen = position.events;
      const final = await readStream(client, jobId, position, options.idleMs, show);
      if (final) {
        show(final);
        return final;
      }
      emptyStreams = position.events > seen ? 0 : emptyStreams + 1;
    }
  } finally {
    bar.stop();
  }
  throw new CliError(`The event stream of job ${jobId} keeps closing before the job ends.`, EXIT.server);
}
