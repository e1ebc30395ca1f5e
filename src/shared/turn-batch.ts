import DataLoader from 'dataloader';

/**
 * A DataLoader that sends the calls made in one turn of the event loop as one batch (at most
 * `maxBatchSize`), without caching: a busy API process makes one round trip for the requests that
 * arrived together, and a lone request waits for nothing but the end of its turn. `run` answers
 * one value (or Error) per call, in order; if it throws, every call of the batch fails with it.
 */
export function turnBatch<Call, Result>(
  run: (calls: readonly Call[]) => Promise<ArrayLike<Result | Error>>,
  maxBatchSize = 64,
): DataLoader<Call, Result> {
  return new DataLoader<Call, Result>(run, { cache: false, batchScheduleFn: (next) => setImmediate(next), maxBatchSize });
}
