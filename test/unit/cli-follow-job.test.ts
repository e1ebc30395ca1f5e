import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/cli/api-client.js';
import { CliError, EXIT } from '../../src/cli/exit-codes.js';
import { followJob } from '../../src/cli/follow-job.js';
import type { JobView } from '../../src/cli/job-view.js';
import type { ProgressOutput } from '../../src/cli/progress.js';

// How `catalog import` follows a job when the event stream misbehaves: a stand-in service on a
// real port, so that every reconnection is a request the account would pay for.

const JOB_ID = '0b6f1c1e-2f0a-4f43-9a53-5e3f7d1c2a10';
const EVENTS = `/v1/jobs/${JOB_ID}/events`;

/** A job resource as the service sends it, `status` and `rows_processed` as given. */
function job(status: string, rowsProcessed: number): JobView {
  const self = `/v1/jobs/${JOB_ID}`;
  return {
    id: JOB_ID,
    type: 'import',
    status,
    phase: status === 'processing' ? 'writing' : 'done',
    error_code: null,
    detail: null,
    progress: { rows_total: 10, rows_processed: rowsProcessed, rows_succeeded: rowsProcessed, rows_failed: 0, rows_created: rowsProcessed, rows_updated: 0, rows_unchanged: 0 },
    options: {},
    schedule_id: null,
    created_at: '2026-05-14T10:30:00.000Z',
    started_at: '2026-05-14T10:30:00.000Z',
    finished_at: status === 'processing' ? null : '2026-05-14T10:30:05.000Z',
    links: { self, errors: `${self}/errors`, errors_csv: `${self}/errors.csv`, result: null, rows_csv: null },
  } as unknown as JobView;
}

/** One server-sent event as the service writes it. */
const sse = (event: string, id: string | null, data: unknown) => `${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

let server: Server | null = null;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = null;
});

/** A stand-in service: `answer` handles the n-th request (from 0) to `path` kinds; returns its URL and the requests with their times. */
async function standIn(
  answer: (request: IncomingMessage, response: ServerResponse, index: number) => void,
): Promise<{ url: string; requests: Array<{ url: string; at: number; lastEventId: string | undefined }> }> {
  const requests: Array<{ url: string; at: number; lastEventId: string | undefined }> = [];
  server = createServer((request, response) => {
    requests.push({ url: request.url!, at: Date.now(), lastEventId: request.headers['last-event-id'] as string | undefined });
    answer(request, response, requests.length - 1);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, requests };
}

/** Progress that keeps its notices and the rows each bar update showed. */
function recordedProgress(): ProgressOutput & { lines: string[]; rows: number[] } {
  const lines: string[] = [];
  const rows: number[] = [];
  return { lines, rows, bar: () => ({ update: (done) => rows.push(done), stop: () => undefined }), line: (text) => lines.push(text) };
}

/** Follows the job at `url` as `catalog import` does, with a back-off starting at `retryBaseMs`. */
function follow(url: string, progress: ProgressOutput, retryBaseMs = 50): Promise<JobView> {
  const client = createApiClient({ baseUrl: url, apiKey: 'secret-key', retries: 3, retryBaseMs, eventsIdleMs: 45_000, answerTimeoutMs: 60_000 }, (line) =>
    progress.line(line),
  );
  return followJob(client, progress, JOB_ID, { label: 'import', idleMs: 45_000, retryBaseMs });
}

/** The outcome of `promise` within `ms`: its value or error, or 'still running'. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), ms)));
  try {
    return await Promise.race([promise.catch((error: unknown) => error), late]);
  } finally {
    clearTimeout(timer);
  }
}

const eventsOpen = (response: ServerResponse) => response.writeHead(200, { 'content-type': 'text/event-stream' });

describe('following a job whose event stream sends what is not a job', () => {
  for (const [name, event] of [
    ['an empty object', sse('job', '1', '{}')],
    ['null', 'data: null\n\n'],
  ] as const) {
    it(`stops with exit 5 after a few events of ${name}, instead of reconnecting forever`, async () => {
      const stand = await standIn((_request, response) => eventsOpen(response).end(event));
      const progress = recordedProgress();
      const outcome = await within(follow(stand.url, progress), 10_000);

      expect(outcome).toBeInstanceOf(CliError);
      expect(outcome).toMatchObject({ exitCode: EXIT.server });
      expect((outcome as CliError).message).toMatch(new RegExp(`^The event stream of job ${JOB_ID} sent 3 events that are not a job`));
      expect(stand.requests).toHaveLength(3);
    });
  }
});

describe('following a job whose event stream keeps closing', () => {
  it('waits longer before each reconnection, and gives up (exit 5) when the streams bring nothing new', async () => {
    // Each stream sends the job's state once (always the same one) and closes.
    const stand = await standIn((_request, response) => eventsOpen(response).end(sse('job', '7', job('processing', 3))));
    const progress = recordedProgress();
    const outcome = await within(follow(stand.url, progress), 10_000);

    expect(outcome).toMatchObject({ exitCode: EXIT.server, message: `The event stream of job ${JOB_ID} keeps closing before the job ends.` });
    // The first stream, then five that brought no new state.
    expect(stand.requests).toHaveLength(6);
    expect(stand.requests.slice(1).every((request) => request.lastEventId === '7')).toBe(true);
    const gaps = stand.requests.slice(1).map((request, index) => request.at - stand.requests[index]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[4]).toBeGreaterThanOrEqual(750);
    expect(progress.lines[0]).toBe(`the event stream of job ${JOB_ID} closed; reconnecting in 0.05 s`);
  });

  it('backs off also when each stream brings a new state, and returns the job at its end', async () => {
    const stand = await standIn((_request, response, index) =>
      eventsOpen(response).end(index < 4 ? sse('job', String(index + 1), job('processing', index + 1)) : sse('end', '5', job('completed', 10))),
    );
    const progress = recordedProgress();
    const outcome = await within(follow(stand.url, progress), 10_000);

    expect(outcome).toMatchObject({ status: 'completed' });
    expect(stand.requests).toHaveLength(5);
    const gaps = stand.requests.slice(1).map((request, index) => request.at - stand.requests[index]!.at);
    expect(gaps.map((gap, index) => gap >= 50 * 2 ** index - 5)).toEqual([true, true, true, true]);
    expect(progress.rows).toEqual([1, 2, 3, 4, 10]);
  });
});

describe('following a job while the account has too many event streams open', () => {
  it("quotes the service's refusal and reads the job instead until it ends, rather than failing with exit 4", async () => {
    const refusal = {
      error: 'Too many open event streams for this account: at most 100 at a time. Close one, or retry in 5 seconds.',
      error_code: 'RATE_LIMIT_EXCEEDED',
      timestamp: '2026-05-14T10:30:00Z',
    };
    let reads = 0;
    const stand = await standIn((request, response) => {
      if (request.url === EVENTS) {
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify(refusal));
        return;
      }
      reads += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reads < 3 ? job('processing', reads) : job('completed', 10)));
    });
    const progress = recordedProgress();
    const outcome = await within(follow(stand.url, progress, 20), 15_000);

    expect(outcome).toMatchObject({ status: 'completed', progress: { rows_processed: 10 } });
    expect(reads).toBe(3);
    expect(progress.lines).toContain(`${refusal.error} Waiting 0 s (Retry-After).`);
    expect(progress.lines).toContain(
      'Too many open event streams for this account: at most 100 at a time. Close one, or retry in 5 seconds; reading the job instead, and trying its event stream again in 0.02 s',
    );
    expect(progress.lines.join('\n')).not.toMatch(/per-minute/);
    expect(progress.rows).toEqual([1, 2, 10]);
  });
});
