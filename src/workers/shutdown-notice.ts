import { SHUTDOWN_REASON } from './job-processor.js';

/**
 * The shutdown of a worker process as its running deliveries see it before the hand-back: the
 * grace starts at `begin`, and at its end every delivery still running is aborted (reason
 * `shutdown`) and goes back to the queue. A processor that needs time to stop at a safe point
 * (an enrichment settling the lookups it has under way) starts stopping early enough with
 * {@link ShutdownNotice.before}, and ends its delivery with a `ShutdownHandBack`.
 */
export class ShutdownNotice {
  private readonly begun = new AbortController();
  private handBackAt: number | null = null;

  /** Starts the shutdown: the deliveries still running at `handBackAt` (ms since the epoch) are aborted. */
  begin(handBackAt: number): void {
    if (this.begun.signal.aborted) return;
    this.handBackAt = handBackAt;
    this.begun.abort(SHUTDOWN_REASON);
  }

  /**
   * A signal that aborts `leadMs` before the hand-back, or as the shutdown begins when its grace is
   * shorter than that; never when the process does not shut down. `clear` drops its listener and
   * timer (call it when the delivery ends).
   */
  before(leadMs: number): { signal: AbortSignal; clear: () => void } {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const start = () => {
      const waitMs = Math.max(0, (this.handBackAt ?? 0) - leadMs - Date.now());
      timer = setTimeout(() => controller.abort(SHUTDOWN_REASON), waitMs);
    };
    if (this.begun.signal.aborted) start();
    else this.begun.signal.addEventListener('abort', start, { once: true });
    return {
      signal: controller.signal,
      clear: () => {
        this.begun.signal.removeEventListener('abort', start);
        clearTimeout(timer);
      },
    };
  }
}
