import type { Logger } from 'pino';
import type { Db } from '../../shared/db/pool.js';
import { saveJobCounts, type Checkpoint, type EnrichmentCounts } from './enrich-queries.js';
import type { TargetEntry } from './enrichment-targets.js';
import { enrichProduct } from './fill.js';
import { settledCount, type EntryResult } from './page-lookups.js';

/** How often running counts are written to the job row (as imports and exports do). */
const PROGRESS_INTERVAL_MS = 1_000;

/** A page whose lookups are under way: its entries, and their results as they come (null: none yet). */
export interface LivePage {
  entries: TargetEntry[];
  results: Array<EntryResult | null>;
}

/**
 * The counts of the checkpoint plus those of the live pages' products that have their result, up
 * to the first that has none (the part a settle would take). A product's change is foreseen from
 * the page's read of it; the settle, which reads it again under lock, has the last word.
 */
export function runningCounts(checkpoint: Checkpoint, pages: Iterable<LivePage>, overwrite: boolean): EnrichmentCounts {
  const counts: EnrichmentCounts = {
    rows_total: checkpoint.rows_total,
    position: checkpoint.position,
    rows_changed: checkpoint.rows_changed,
    rows_unchanged: checkpoint.rows_unchanged,
    rows_failed: checkpoint.rows_failed,
  };
  for (const { entries, results } of pages) {
    const done = settledCount(results);
    for (let index = 0; index < done; index += 1) {
      const result = results[index]!;
      const product = entries[index]!.product;
      counts.position += 1;
      if (result.kind === 'outcome' || !product) counts.rows_failed += 1;
      else if (enrichProduct(product, result.fields, overwrite)?.changed) counts.rows_changed += 1;
      else counts.rows_unchanged += 1;
    }
  }
  return counts;
}

/**
 * Writes an enrichment's running counts to its job row about once a second while its pages are
 * looked up, so that `rows_processed` moves between the settles of its pages (one per 200
 * products). Settles and these writes never overlap: a write computed before a settle would
 * otherwise land after it with the counts of before. The settle writes the exact counts with
 * the checkpoint, and a resumed attempt starts from the checkpoint's, so nothing counts twice;
 * a write to a job no longer running (cancelled, ended) does nothing.
 */
export class EnrichmentProgress {
  private readonly pages = new Set<LivePage>();
  private readonly timer: NodeJS.Timeout;
  private write = Promise.resolve();
  private settling = false;
  /** The counts last written (as JSON): unchanged counts are not written again. */
  private written: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly jobId: string,
    private readonly checkpoint: Checkpoint,
    private readonly overwrite: boolean,
    private readonly log: Logger,
    intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  /** Counts `page`'s results from now on, until it is settled. */
  track(page: LivePage): void {
    this.pages.add(page);
  }

  /**
   * Runs `settle` (which advances the checkpoint) once the write under way has landed, with no
   * write meanwhile; `page` is no longer counted afterwards, settled or not.
   */
  async settle<T>(page: LivePage, settle: () => Promise<T>): Promise<T> {
    this.settling = true;
    try {
      await this.write;
      return await settle();
    } finally {
      this.pages.delete(page);
      this.written = null;
      this.settling = false;
    }
  }

  /** Stops the writes and waits for the one under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.write;
  }

  private tick(): void {
    if (this.settling) return;
    const counts = runningCounts(this.checkpoint, this.pages, this.overwrite);
    const key = JSON.stringify(counts);
    if (key === this.written) return;
    this.written = key;
    this.write = this.write
      .then(() => saveJobCounts(this.db, this.jobId, counts))
      .catch((error: unknown) => {
        this.written = null;
        this.log.warn({ err: error }, 'could not save enrichment progress');
      });
  }
}
