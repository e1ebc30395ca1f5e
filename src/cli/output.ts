import type { ApiClient } from './api-client.js';
import type { JobView } from './job-view.js';
import type { ProgressOutput } from './progress.js';
import type { RunState } from './run-state.js';

/** What a command needs: the service, progress (stderr) and results (stdout). */
export interface CommandContext {
  client: ApiClient;
  progress: ProgressOutput;
  output: ResultOutput;
  /** The run's state: a command that starts a job records it here (see follow-accepted-job.ts). */
  run: RunState;
  /** Silence after which a job's event stream is reconnected (CATALOG_EVENTS_IDLE_MS). */
  eventsIdleMs: number;
  /** First back-off before a job's event stream that closed early is opened again (CATALOG_RETRY_BASE_MS). */
  retryBaseMs: number;
}

/** Results on stdout: human lines, or with --json one JSON document. */
export interface ResultOutput {
  readonly json: boolean;
  /** Prints `data` as JSON with --json, else the human `lines`. */
  result(data: unknown, lines: string[]): void;
}

/** The stdout side of a run. */
export function createResultOutput(stream: NodeJS.WritableStream, json: boolean): ResultOutput {
  return {
    json,
    result(data, lines) {
      stream.write(json ? `${JSON.stringify(data, null, 2)}\n` : lines.map((line) => `${line}\n`).join(''));
    },
  };
}

/** Seconds since `startedAt` (ms), one decimal. */
export function elapsedSeconds(startedAt: number): number {
  return Math.round((Date.now() - startedAt) / 100) / 10;
}

/** "Import completed: 2 created, 0 updated, 0 unchanged, 0 failed (job …)" and the detail line when there is one. */
export function jobSummary(job: JobView, seconds?: number): string[] {
  const { progress } = job;
  const kind = job.type[0]!.toUpperCase() + job.type.slice(1);
  const time = seconds === undefined ? '' : ` in ${seconds} s`;
  const counts =
    job.type === 'import'
      ? `${progress.rows_created} created, ${progress.rows_updated} updated, ${progress.rows_unchanged} unchanged, ${progress.rows_failed} failed`
      : `${progress.rows_processed} rows processed, ${progress.rows_failed} failed`;
  const code = job.error_code ? ` (${job.error_code})` : '';
  const lines = [`${kind} ${job.status}${code}${time}: ${counts} (job ${job.id})`];
  if (job.detail) lines.push(job.detail);
  return lines;
}
