import type { Logger } from 'pino';
import type { Db } from '../../shared/db/pool.js';
import { catchUpSearch, searchBacklogAccounts } from './catch-up-search.js';

/**
 * Runs the search catch-ups of this worker process (see catchUpSearch): one at a time per
 * account, off the import's delivery, so an import's job ends as soon as its transaction commits.
 * A request for an account whose catch-up is running makes it run once more afterwards (an import
 * that committed during it set the mark again). Failures are logged; the mark stays and the
 * reconciler's next pass ({@link catchUpBacklog}) retries.
 */
export class CatchUpRunner {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** The pass over the marked accounts that is going, if one is. */
  private backlogPass: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly deps: { db: Db; logger: Logger }) {}

  /** Starts the account's catch-up (after an import committed); returns at once. */
  request(accountId: string): void {
    void this.run(accountId);
  }

  /**
   * Starts a pass over every account with a mark (a crash, or a failed catch-up, left it), one
   * account after another, unless a pass is still going; returns at once, so a long catch-up never
   * holds up the reconciler's other work. An account already catching up here is waited for, not
   * caught up once more.
   */
  catchUpBacklog(): void {
    if (this.backlogPass || this.closed) return;
    this.backlogPass = this.passOverBacklog()
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'product search catch-up pass failed'))
      .finally(() => {
        this.backlogPass = null;
      });
  }

  /** Stops after the current batches and waits for them; the marks left are the reconciler's. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running.values(), this.backlogPass]);
  }

  private async passOverBacklog(): Promise<void> {
    for (const accountId of await searchBacklogAccounts(this.deps.db)) {
      if (this.closed) return;
      await (this.running.get(accountId) ?? this.run(accountId));
    }
  }

  /** Runs the account's catch-up, or joins the running one (and has it run once more). */
  private run(accountId: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const current = this.running.get(accountId);
    if (current) {
      this.again.add(accountId);
      return current;
    }
    const done = this.loop(accountId).finally(() => this.running.delete(accountId));
    this.running.set(accountId, done);
    return done;
  }

  private async loop(accountId: string): Promise<void> {
    do {
      this.again.delete(accountId);
      const startedAt = Date.now();
      try {
        const result = await catchUpSearch(this.deps.db, accountId, () => this.closed);
        if (result) this.deps.logger.info({ accountId, ...result, ms: Date.now() - startedAt }, 'product search caught up');
      } catch (error) {
        this.deps.logger.warn({ err: error, accountId }, 'product search catch-up failed; the reconciler retries it');
        return;
      }
    } while (this.again.has(accountId) && !this.closed);
  }
}
