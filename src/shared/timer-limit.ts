/**
 * The longest delay Node's timers keep (2^31 − 1 ms, about 24.8 days): setTimeout and setInterval
 * turn a longer one into 1 ms, so a delay that can grow past it must be capped by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms`, at most {@link MAX_TIMER_MS}: a delay past the limit waits the longest a timer can, instead of 1 ms. */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
