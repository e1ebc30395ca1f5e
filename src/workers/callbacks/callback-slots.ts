import { claimCallbacks, findDueCallbacks, type CallbackCandidate, type DueCallback } from '../../shared/callbacks/callback-queries.js';
import type { Db } from '../../shared/db/pool.js';

/** How many deliveries one worker process sends at a time. */
export const SLOTS = 20;
/**
 * How many of them may go to one receiver (its origin: scheme, host and port): a receiver that
 * waits out the timeout holds 4 slots, not the deliveries to the others, while one that answers
 * at once still takes its backlog 4 at a time.
 */
export const PER_RECEIVER = 4;
/**
 * How many of them one account may hold, whichever receivers it calls (it could name a host per
 * callback): half, so an account whose receivers all stall leaves 10 slots to the other accounts,
 * and an account alone still sends to several receivers side by side.
 */
export const PER_ACCOUNT = 10;
/**
 * Candidates read per account: enough that those behind receivers already full here (at most
 * SLOTS / PER_RECEIVER receivers, PER_RECEIVER candidates each) cannot hide the ones it may send.
 */
const CANDIDATES_PER_ACCOUNT = PER_ACCOUNT + SLOTS;

/** The receiver a delivery goes to, as its slots are counted. */
function receiverOf(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : url;
}

function add(counts: Map<string, number>, key: string, change: number): void {
  const count = (counts.get(key) ?? 0) + change;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}

/**
 * The delivery slots of one worker process, counted per account and per receiver, so that a
 * receiver slow to answer, or an account with a backlog, holds only its share of them. Other
 * processes have their own slots; the claim's SKIP LOCKED keeps them from taking the same row.
 */
export class CallbackSlots {
  private underWay = 0;
  private readonly perAccount = new Map<string, number>();
  private readonly perReceiver = new Map<string, number>();

  get free(): number {
    return SLOTS - this.underWay;
  }

  /**
   * Claims, for `leaseSeconds`, the due deliveries that fit: the longest due first, as many as
   * there are free slots, skipping those whose account or receiver has its share under way. The
   * skipped ones stay due and are claimed once a slot of theirs frees. Each claimed one holds its
   * slot until `release`. Not to be called again before it resolves.
   */
  async claim(db: Db, leaseSeconds: number): Promise<DueCallback[]> {
    if (this.free <= 0) return [];
    const chosen = this.choose(await findDueCallbacks(db, PER_RECEIVER, CANDIDATES_PER_ACCOUNT));
    if (chosen.length === 0) return [];
    const claimed = await claimCallbacks(db, chosen.map((candidate) => candidate.jobId), leaseSeconds);
    for (const callback of claimed) this.count(callback, 1);
    return claimed;
  }

  /** Frees the slot a claimed delivery held. */
  release(callback: DueCallback): void {
    this.count(callback, -1);
  }

  private count(callback: Pick<CallbackCandidate, 'accountId' | 'url'>, change: number): void {
    this.underWay += change;
    add(this.perAccount, callback.accountId, change);
    add(this.perReceiver, receiverOf(callback.url), change);
  }

  private choose(candidates: readonly CallbackCandidate[]): CallbackCandidate[] {
    const perAccount = new Map(this.perAccount);
    const perReceiver = new Map(this.perReceiver);
    const chosen: CallbackCandidate[] = [];
    for (const candidate of candidates) {
      if (chosen.length >= this.free) break;
      const receiver = receiverOf(candidate.url);
      if ((perAccount.get(candidate.accountId) ?? 0) >= PER_ACCOUNT || (perReceiver.get(receiver) ?? 0) >= PER_RECEIVER) continue;
      add(perAccount, candidate.accountId, 1);
      add(perReceiver, receiver, 1);
      chosen.push(candidate);
    }
    return chosen;
  }
}
