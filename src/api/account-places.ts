/** The requests of one account: how many run, and the resumptions of those waiting for a place, oldest first. */
interface AccountRequests {
  running: number;
  waiting: Array<() => void>;
}

/** What bounds an {@link AccountPlaces}. */
export interface AccountPlacesOptions {
  /** Requests of one account that run at once on this process. */
  perAccount: number;
  /** The longest a request waits for a place. */
  waitMs: number;
  /** The error of a request that found no place within `waitMs` (a 503 with Retry-After). */
  full: () => Error;
}

/**
 * A few places per account on one API process for requests that may hold a PostgreSQL connection
 * for long (a write waiting for a lock, a slow search): the API's pool has 10 connections, and
 * without a bound one account's such requests would take every one of them, and every other
 * account's requests would wait with them. A request beyond its account's places waits here,
 * without a connection, oldest first, at most `waitMs`; then it is refused with `full()`. A
 * request whose `signal` aborts (its client closed the connection) leaves the queue at once.
 */
export class AccountPlaces {
  private readonly ofAccount = new Map<string, AccountRequests>();

  constructor(private readonly options: AccountPlacesOptions) {}

  /** Runs `work` of the account once it has a place, and frees the place when it ends. */
  async run<T>(accountId: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.take(accountId, signal);
    try {
      return await work();
    } finally {
      this.give(accountId);
    }
  }

  private async take(accountId: string, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const requests = this.ofAccount.get(accountId) ?? { running: 0, waiting: [] };
    this.ofAccount.set(accountId, requests);
    if (requests.running < this.options.perAccount) {
      requests.running += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const leave = (error: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = requests.waiting.indexOf(resume);
        if (at >= 0) requests.waiting.splice(at, 1);
        reject(error);
      };
      const resume = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => leave(signal!.reason);
      const timer = setTimeout(() => leave(this.options.full()), this.options.waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      requests.waiting.push(resume);
    });
  }

  /** Hands the place of a request that ended to the oldest waiting one, or frees it. */
  private give(accountId: string): void {
    const requests = this.ofAccount.get(accountId)!;
    const next = requests.waiting.shift();
    if (next) return next();
    requests.running -= 1;
    if (requests.running === 0) this.ofAccount.delete(accountId);
  }
}
