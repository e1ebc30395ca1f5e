/**
 * The V8 flags `npm start` and the Dockerfile give the service besides its heap limit
 * (`--max-old-space-size`, NODE_HEAP_MB, default 128). Benchmarks and tests that start the service
 * as a process use the same (a unit test keeps package.json and the Dockerfile in step).
 *
 * `--max-semi-space-size=8` (MB) halves the young generation: 16 MB less resident memory and,
 * under the 128 MB limit, far fewer full collections. V8 starts marking the whole heap once the
 * room left under its limit is smaller than a young generation. Under a small limit it lets the
 * heap grow only 1.3× past what a full collection kept, which for the service's ~35 MB of live
 * objects is about a 16 MB young generation's worth: it marked again and again, and objects
 * surviving a young collection while it marks are promoted, which brings the next one sooner.
 * The upload and import of a 1M-row file measured 10–42 full collections and 2.8–6.3 s of the
 * worker's CPU with 16 MB semi-spaces; with 8 MB, 8–10 and 2.9–3.6 s.
 * Young collections come more often but stay cheap: an import keeps little alive for long.
 *
 * Measured and not taken:
 * - `--heap-growing-percent=100` (room to double after a full collection) saved the worker another
 *   0.1–0.4 s per 1M-row import but took a re-import's peak RSS to 187–207 MB, against 151–176 MB
 *   without it.
 * - `--no-incremental-marking` (in the worker's process only, set at run time). A marking cycle
 *   begun during a large import can still leave V8 marking all through it: `bench:import` has
 *   such runs, with 44–56 full collections, 363 MB promoted instead of 26–30 MB, and 6.5–10 s
 *   of the worker's CPU for a 1M-row first load instead of 3.3–4.5 s; once in it, the process
 *   stays in it for the next imports. Without incremental marking every run had 4–5 full
 *   collections (25–40 ms pauses) and 3.3–4.4 s, but a 10%-changed re-import's peak RSS reached
 *   214–229 MB, over the 200 MB the service keeps to.
 */
export const SERVICE_V8_FLAGS = ['--max-semi-space-size=8'] as const;

/**
 * The environment `npm start` and the Dockerfile give the service (benchmarks too): glibc's malloc
 * keeps its threshold for giving an allocation its own mapping at its starting value, 128 KiB.
 * By default it raises the threshold to the largest block freed (up to 32 MiB), so Node's 256 KiB
 * file reads and 1 MiB chunks, freed only when V8 collects their objects, soon came from its heap,
 * which keeps the pages long after a 95 MB upload or a re-import's read-back has gone through them.
 * Held at 128 KiB, those get their own mapping, returned to the system when freed.
 *
 * The threshold was 32 KiB in an earlier round, which also mapped each 64 KiB socket read. On
 * this 2-core virtual machine an unmapping cost 120 µs (strace), and a 95 MB upload made about a
 * thousand: the 1M-row first load's upload took 1.08–1.41 s in `bench:import` (four runs), against
 * 0.74–0.87 s with the threshold just over 64 KiB (four) and 0.53–0.89 s at 128 KiB (three), and
 * most of that round's lower peak RSS is kept (below).
 *
 * Peak RSS of the scrambled 1M-row first load, unchanged and 10%-changed re-imports, one after
 * another in one process: 141–154, 157–166 and 175–186 MB at 128 KiB (three runs); 146–148,
 * 160–163 and 175–189 MB at 64 KiB + 48 (two runs); 137–140, 152–156 and 163–179 MB at 32 KiB and
 * 155–156, 175–186 and 186–199 MB with glibc's default, an earlier round's runs. An operator's own
 * value wins.
 */
export const SERVICE_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' } as const;

/** The node flags the service runs with: a heap limit of `heapMb` (NODE_HEAP_MB, default 128) and {@link SERVICE_V8_FLAGS}. */
export function serviceNodeFlags(heapMb: string | number): string[] {
  return [`--max-old-space-size=${heapMb}`, ...SERVICE_V8_FLAGS];
}
