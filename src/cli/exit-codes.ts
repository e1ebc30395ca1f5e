/** The exit codes of the `catalog` command (documented in the README). */
export const EXIT = {
  /** The command did what was asked; a followed job completed. */
  done: 0,
  /** A followed job ended failed or cancelled. */
  jobFailed: 1,
  /** Wrong arguments, an unreadable file, a request the service refused as invalid (other 4xx), or a redirect (a wrong base URL). */
  usage: 2,
  /** No key, or the service refused it (401, 403). */
  auth: 3,
  /** The per-minute limit (after waiting out Retry-After) or the monthly quota (429). */
  limit: 4,
  /** The service answered 5xx, or could not be reached, after the retries; or a job's event stream that is no use. */
  server: 5,
  /** Stopped by SIGHUP (its terminal closed): 128 + the signal's number, as a shell reports it. */
  hungUp: 129,
  /** Stopped by Ctrl+C (SIGINT), as a shell reports an interrupted command. */
  interrupted: 130,
  /** Stopped by SIGTERM (a CI timeout, `timeout`, `docker stop`): 128 + 15, as a shell reports it. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure that ends the command with `exitCode`; `errorCode` is the service's error_code when it answered. */
export class CliError extends Error {
  override name = 'CliError';
  /**
   * A send of the request failed on the network (this failure, or one before the service's final
   * answer): that send may have reached the service and done its work, its answer lost on the way.
   */
  afterLostAnswer = false;

  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly errorCode: string | null = null,
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

/** The exit code of an HTTP error answer of the service. */
export function exitCodeOfStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 429) return EXIT.limit;
  if (status >= 500) return EXIT.server;
  return EXIT.usage;
}
