/**
 * The V8 flags `npm start` and the Dockerfile give the service besides its heap limit
 * (`--max-old-space-size`, NODE_HEAP_MB, default 128). Benchmarks and tests that start the service
 * as a process use the same (a unit test keeps package.json and the Dockerfile in step).
 *
 * - `--heap-growing-percent=100`: after a full collection the old generation may grow to twice
 *   what it kept. Under a limit this small V8 grows it by only 1.3×, which leaves the service's
 *   ~40 MB of live objects less room than a young generation: V8 then starts marking the whole heap
 *   again as soon as it has finished, and objects that survive a young collection while it marks
 *   are promoted, which brings the next full collection sooner still. A 1M-row import measured
 *   13–45 full collections and 2.8–6.3 s of the worker's CPU under the default; 2–5 and 2.7–3.0 s
 *   with this flag.
 * - `--max-semi-space-size=8` (MB): half the default young generation, 16 MB less resident memory.
 *   Young collections come more often but stay cheap (an import keeps little alive for long).
 */
export const SERVICE_V8_FLAGS = ['--heap-growing-percent=100', '--max-semi-space-size=8'] as const;

/** The node flags the service runs with: a heap limit of `heapMb` (NODE_HEAP_MB, default 128) and {@link SERVICE_V8_FLAGS}. */
export function serviceNodeFlags(heapMb: string | number): string[] {
  return [`--max-old-space-size=${heapMb}`, ...SERVICE_V8_FLAGS];
}
