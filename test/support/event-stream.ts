import { parseEventStream, type ServerSentEvent } from '../../src/cli/sse-parser.js';
import type { JobResource } from '../../src/shared/jobs/job-row.js';

/** An open GET /v1/jobs/{id}/events over a real socket, read one item at a time. */
export interface OpenEventStream {
  response: Response;
  /** The next event (comments skipped); null when the server closed the stream. */
  next(): Promise<(ServerSentEvent & { job: JobResource }) | null>;
  /** The next heartbeat comment; null when the server closed the stream. */
  nextComment(): Promise<string | null>;
  close(): void;
}

/** Opens the event stream of job `id` at `baseUrl` (a listening app). */
export async function openEvents(baseUrl: string, key: string, id: string, lastEventId?: string): Promise<OpenEventStream> {
  const abort = new AbortController();
  const headers: Record<string, string> = { 'x-api-key': key, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) };
  const response = await fetch(`${baseUrl}/v1/jobs/${id}/events`, { headers, signal: abort.signal });
  const items = response.body ? parseEventStream(response.body) : (async function* () {})();
  const take = async <T>(pick: (item: Awaited<ReturnType<typeof items.next>>['value']) => T | undefined): Promise<T | null> => {
    for (;;) {
      const { value, done } = await items.next();
      if (done) return null;
      const picked = pick(value);
      if (picked !== undefined) return picked;
    }
  };
  return {
    response,
    next: () => take((item) => (item.kind === 'event' ? { ...item.event, job: JSON.parse(item.event.data) as JobResource } : undefined)),
    nextComment: () => take((item) => (item.kind === 'comment' ? item.text : undefined)),
    close: () => abort.abort(),
  };
}

/** The base URL of an app after `listen` on an ephemeral loopback port. */
export function baseUrlOf(address: string | { port: number } | null): string {
  if (!address || typeof address === 'string') throw new Error('the app is not listening on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}
