import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the scheduling priority of this process to `nice`. On Linux a nice value belongs to each
 * thread: the threads Node has already started (V8's compiler and garbage-collector helpers, the
 * libuv pool) are set one by one, and threads started later take the main thread's value. Returns
 * the threads set; elsewhere, the process as a whole (1).
 */
export function lowerProcessPriority(nice: number): number {
  let threads: string[];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    setPriority(0, nice);
    return 1;
  }
  let set = 0;
  for (const thread of threads) {
    try {
      setPriority(Number(thread), nice);
      set += 1;
    } catch {
      // The thread ended between the listing and the call.
    }
  }
  return set;
}
