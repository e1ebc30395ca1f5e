import type { ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import type { JobView } from './job-view.js';
import type { ProgressOutput } from './progress.js';
import { parseEventStream } from './sse-parser.js';

/** Streams in a row that may end without an event before the CLI stops reconnecting. */
const MAX_EMPTY_STREAMS = 5;

/**
 * Reads one connection of GET /v1/jobs/{id}/events; returns the final job when the `end` event
 * came, null when the stream broke off first (the caller resumes with Last-Event-ID).
 */
async function readStream(
  client: ApiClient,
  jobId: string,
  position: { lastEventId: string | null; events: number },
  onJob: (job: JobView) => void,
): Promise<JobView | null> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (position.lastEventId) headers['last-event-id'] = position.lastEventId;
  const response = await client.send('GET', `/v1/jobs/${jobId}/events`, { headers });
  if (!response.body) return null;
  try {
    for await (const item of parseEventStream(response.body)) {
      if (item.kind !== 'event') continue;
      const job = JSON.parse(item.event.data) as JobView;
      position.lastEventId = item.event.id;
      position.events += 1;
      if (item.event.event === 'end') return job;
      onJob(job);
    }
  } catch {
    // The connection broke mid-stream: resumed by the caller.
  }
  return null;
}

/**
 * Follows a job through its event stream (no polling: the whole stream is one request toward the
 * limits) with a bar of rows processed, until it ends; returns its final state. A stream that
 * breaks off is resumed with Last-Event-ID.
 */
export async function followJob(client: ApiClient, progress: ProgressOutput, jobId: string, label: string): Promise<JobView> {
  const bar = progress.bar(label, 'rows');
  const position = { lastEventId: null as string | null, events: 0 };
  const show = (job: JobView) => bar.update(job.progress.rows_processed, job.progress.rows_total, job.phase);
  try {
    for (let emptyStreams = 0; emptyStreams < MAX_EMPTY_STREAMS; ) {
      const seen = position.events;
      const final = await readStream(client, jobId, position, show);
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
