import type { FastifyReply } from 'fastify';
import { serviceUnavailable } from '../shared/http/app-error.js';
import { rateLimitExceeded } from './errors.js';

/** How long a client refused for too many open responses is asked to wait. */
const RETRY_AFTER_SECONDS = 5;

/** How many responses of one kind may be open at a time: per account, and on the whole process. */
export interface StreamBounds {
  perAccount: number;
  perProcess: number;
}

/**
 * The long-lived responses of one kind open on this API process (event streams; report and file
 * downloads), per account and in all. Each holds memory for as long as its client keeps it open:
 * an event stream for the job's whole run, a download whose client stops reading until the
 * connection's timeout. Without a bound one account could open enough to exhaust the process's
 * heap; past one the request is refused before anything is read: 429 RATE_LIMIT_EXCEEDED past the
 * account's, 503 SERVICE_UNAVAILABLE past the process's, both with a Retry-After.
 */
export class OpenStreams {
  private readonly ofAccount = new Map<string, number>();
  private total = 0;

  constructor(
    /** What is counted, in the plural: "event streams", "downloads". */
    private readonly what: string,
    private readonly bounds: StreamBounds,
  ) {}

  /**
   * Counts the response of `reply` for the account until it closes; throws past a bound. False when
   * the client left while the route was reading: its 'close' has come already, so nothing would
   * ever end what the route opened for it, and it must open nothing.
   */
  open(accountId: string, reply: FastifyReply): boolean {
    if (reply.raw.destroyed) return false;
    const count = this.ofAccount.get(accountId) ?? 0;
    if (count >= this.bounds.perAccount) {
      throw rateLimitExceeded(
        `Too many open ${this.what} for this account: at most ${this.bounds.perAccount} at a time. Close one, or retry in ${RETRY_AFTER_SECONDS} seconds.`,
        RETRY_AFTER_SECONDS,
      );
    }
    if (this.total >= this.bounds.perProcess) {
      throw serviceUnavailable(`This server has too many open ${this.what}; retry in ${RETRY_AFTER_SECONDS} seconds.`);
    }
    this.ofAccount.set(accountId, count + 1);
    this.total += 1;
    reply.raw.once('close', () => {
      this.total -= 1;
      const left = this.ofAccount.get(accountId)! - 1;
      if (left === 0) this.ofAccount.delete(accountId);
      else this.ofAccount.set(accountId, left);
    });
    return true;
  }

  /** How many are open now. */
  get size(): number {
    return this.total;
  }
}
