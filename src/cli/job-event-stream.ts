import type { ApiClient } from './api-client.js';
import { CliError, EXIT, exitCodeOfStatus } from './exit-codes.js';
import { parseJobView, type JobView } from './job-view.js';
import { parseEventStream } from './sse-parser.js';

/** Where the follower is in a job's stream, kept across connections. */
export interface StreamPosition {
  lastEventId: string | null;
}

/** How one connection of a job's event stream ended. */
export type StreamOutcome =
  /** The `end` event came, with the job's final state. */
  | { kind: 'ended'; job: JobView }
  /** The stream closed, broke off or went silent before the end: the caller resumes it. */
  | { kind: 'closed' }
  /** An event that is not a job resource (its `data` is kept for the message): the connection is dropped. */
  | { kind: 'malformed'; data: string };

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

/**
 * The chunks of `body`, touching `watchdog` at each: any byte, a heartbeat comment too, is a sign
 * of life. A body that breaks off (the network, or the watchdog's abort) just ends: the caller
 * resumes the stream. Only the body's failures end it so; the CLI's own errors are not hidden here.
 */
async function* watched(body: AsyncIterable<Uint8Array>, watchdog: { touch(): void }): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) {
      watchdog.touch();
      yield chunk;
    }
  } catch {
    // Broken off or silent: the stream is over, and resumed with Last-Event-ID.
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
 * Reads one connection of GET /v1/jobs/{id}/events, calling `onJob` with each state before the
 * end; throws when the service refuses the stream, at its start or by an `error` event. A body
 * silent for `idleMs` counts as closed: a connection that dies without FIN or RST would otherwise
 * hold the CLI until the HTTP client's own body timeout, minutes later; the service's heartbeats
 * keep a live one busy.
 */
export async function readJobEvents(
  client: ApiClient,
  jobId: string,
  position: StreamPosition,
  idleMs: number,
  onJob: (job: JobView) => void,
): Promise<StreamOutcome> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (position.lastEventId) headers['last-event-id'] = position.lastEventId;
  const watchdog = idleWatchdog(idleMs);
  try {
    // Watched from the answer on: before it, the client's own waits (a 429's Retry-After, the
    // back-off after a 5xx) may be longer than idleMs and are no sign of a dead connection.
    const response = await client.send('GET', `/v1/jobs/${jobId}/events`, { headers, signal: watchdog.signal });
    watchdog.start();
    if (!response.body) return { kind: 'closed' };
    for await (const item of parseEventStream(watched(response.body, watchdog))) {
      if (item.kind !== 'event') continue;
      if (item.event.event === 'error') throw streamRefusal(item.event.data);
      const job = parseJobView(item.event.data);
      if (!job) return { kind: 'malformed', data: item.event.data };
      position.lastEventId = item.event.id;
      if (item.event.event === 'end') return { kind: 'ended', job };
      onJob(job);
    }
    return { kind: 'closed' };
  } finally {
    watchdog.stop();
  }
}
