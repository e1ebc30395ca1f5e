import type { Logger } from 'pino';
import { withTransaction, type Db } from '../../shared/db/pool.js';
import { enrichmentOptionsSchema } from '../../shared/jobs/enrichment-options.js';
import { finishJob, startJobAttempt, type JobOutcome } from '../../shared/jobs/job-queries.js';
import { lockClaimedJob } from '../../shared/jobs/run-claim-queries.js';
import {
  clearOutcomesAfter,
  findProductsByEan,
  insertOutcomes,
  jobStatus,
  loadCheckpoint,
  moveCallbackUrlToOutbox,
  saveCheckpoint,
  type Checkpoint,
  type ProductOutcome,
  type ProductWrite,
  writeProducts,
} from './enrich-queries.js';
import { enrichmentTargets, type TargetEntry } from './enrichment-targets.js';
import { deleteTakenTargets } from './target-queries.js';
import { EnrichmentProgress, type LivePage } from './enrichment-progress.js';
import { enrichProduct } from './fill.js';
import { ShutdownHandBack } from '../shutdown-hand-back.js';
import { leftByQuota, lookUpPage, newLookupState, settledCount, type EntryResult, type LookupState } from './page-lookups.js';
import type { ProviderClient } from './provider-client.js';

/** What an enrichment attempt needs from the process. */
export interface EnrichDeps {
  db: Db;
  logger: Logger;
  /** The lookup provider; null when ENRICH_PROVIDER_URL is unset (local derivations only). */
  provider: ProviderClient | null;
  /** Lookups one job keeps in flight (each still waits for its slot of the shared rate). */
  lookupConcurrency: number;
  /** Products per page: each page is looked up, then settled in one transaction. */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 200;

/**
 * Runs one attempt of enrichment job `jobId`. Page by page: look the products up, then in one
 * transaction write their new values and derivations, their report entries and the checkpoint,
 * so a later attempt resumes after the last settled page and never calls the provider twice for
 * a settled product; meanwhile the running counts are written about once a second (see
 * {@link EnrichmentProgress}). Returns the outcome, or null when the job already ended (a duplicate
 * delivery, or a cancellation seen in the job row). Throws when `signal` aborts (a cancel, or the
 * end of the shutdown's grace): the lookups not yet settled are lost. When `stop` aborts (the
 * shutdown began), no lookup is started any more; the attempt waits for those under way, settles
 * the page up to the first product not looked up, and throws a `ShutdownHandBack`. Given the run's
 * claim token (see withRunClaim), a page is settled only while the run holds the claim: a run
 * whose claim another run took over (its worker was stopped past its lease) stops at its next page.
 */
export async function runEnrichment(
  deps: EnrichDeps,
  jobId: string,
  signal: AbortSignal,
  stop: AbortSignal,
  claimToken?: string,
): Promise<JobOutcome | null> {
  const job = await startJobAttempt(deps.db, jobId, 'kept');
  if (!job) return null;
  if (Object.hasOwn(job.options, 'callback_url')) await moveCallbackUrlToOutbox(deps.db, jobId);
  const options = enrichmentOptionsSchema.parse(job.options);
  const log = deps.logger.child({ jobId, accountId: job.account_id, attempt: job.attempts });
  const targets = enrichmentTargets(deps.db, job.account_id, jobId, options);
  const checkpoint = await loadCheckpoint(deps.db, jobId, targets.take, claimToken);
  await clearOutcomesAfter(deps.db, jobId, checkpoint.position);
  await saveCheckpoint(deps.db, jobId, checkpoint);
  log.info({ options: { ...options, eans: options.eans?.length }, resumeAt: checkpoint.position }, 'enrichment started');

  const state = newLookupState(checkpoint.quota_detail);
  const pageSize = deps.pageSize ?? DEFAULT_PAGE_SIZE;
  // Lookups of the next page run while the current one is settled, so the provider's rate is
  // not left unused at page boundaries; they stop when this attempt ends, however it ends.
  const attempt = new AbortController();
  const lookups = AbortSignal.any([signal, attempt.signal]);
  // Counts move about once a second while a page is looked up, not only when it is settled.
  const progress = new EnrichmentProgress(deps.db, jobId, checkpoint, options.overwrite, log);
  const startPage = async (after: Checkpoint) => {
    const entries = await targets.nextPage(after, pageSize);
    const live: LivePage = { entries, results: new Array<EntryResult | null>(entries.length).fill(null) };
    progress.track(live);
    const results = lookUpPage(entries, {
      provider: deps.provider,
      overwrite: options.overwrite,
      concurrency: deps.lookupConcurrency,
      signal: lookups,
      stop,
      state,
      log,
    }, live.results);
    results.catch(() => {});
    return { entries, results, live };
  };
  try {
    let page = await startPage(checkpoint);
    while (page.entries.length > 0) {
      signal.throwIfAborted();
      const results = await page.results;
      // A cancel from another process ends the job row: stop calling the provider now.
      if ((await jobStatus(deps.db, jobId)) !== 'processing') return null;
      // Short of the page's end once the provider refused or `stop` aborted, or once the page's
      // answers held MAX_PAGE_HELD_BYTES: then the next page starts after its last settled product.
      const settled = settledCount(results);
      // After a refusal, or once the shutdown began, no page is started: the attempt settles the
      // answers it has (they are paid for) and fails the job, or hands it back.
      const stopping = state.refused !== null || stop.aborted || settled === 0;
      const last = page.entries[settled - 1]!;
      const next = stopping ? null : await startPage({ ...checkpoint, position: last.row, last_ean: last.ean });
      const context = { jobId, accountId: job.account_id, overwrite: options.overwrite, signal, claimToken };
      const settling = { entries: page.entries.slice(0, settled), results: results.slice(0, settled) };
      const write = async () => settled === 0 || settlePage(deps.db, context, checkpoint, settling.entries, settling.results, state);
      if (!(await progress.settle(page.live, write))) return null;
      if (state.refused) return await refuse(deps, jobId, checkpoint, state.refused, log);
      if (!next) {
        log.info({ position: checkpoint.position }, 'enrichment stopped for the shutdown; the rest goes back to the queue');
        throw new ShutdownHandBack();
      }
      page = next;
    }
  } finally {
    attempt.abort();
    await progress.stop();
  }
  const outcome: JobOutcome = {
    status: 'completed',
    detail: completedDetail(jobId, checkpoint, deps.provider !== null),
    counts: countsOf(checkpoint),
  };
  const finished = await finishJob(deps.db, jobId, outcome);
  // A completed job is never run again: its taken products are not needed (the cleanup takes
  // them with the checkpoint later if this fails).
  if (finished) {
    await deleteTakenTargets(deps.db, jobId).catch((error: unknown) =>
      log.warn({ err: error }, 'could not delete the products taken for the enrichment; the cleanup will'),
    );
  }
  log.info({ counts: outcome.counts, quota: checkpoint.quota_detail }, finished ? 'enrichment finished' : 'enrichment already ended elsewhere');
  return finished ? outcome : null;
}

interface PageContext {
  jobId: string;
  accountId: string;
  overwrite: boolean;
  signal: AbortSignal;
  claimToken: string | undefined;
}

/**
 * Writes one page in one transaction, after checking under the job row's lock that the job is
 * still running and this run still holds its claim: once a cancel has ended the row, or another
 * run has taken the job over, nothing more is written. Advances `checkpoint`,
 * noting the place before its first product left by the monthly quota (see {@link markQuota}).
 */
async function settlePage(
  db: Db,
  page: PageContext,
  checkpoint: Checkpoint,
  entries: TargetEntry[],
  results: Array<EntryResult | null>,
  state: LookupState,
): Promise<boolean> {
  return withTransaction(db, async (client) => {
    if (!(await lockClaimedJob(client, page.jobId, page.claimToken))) return false;
    page.signal.throwIfAborted();
    const eans = entries.filter((entry) => entry.product).map((entry) => entry.ean);
    const current = new Map((await findProductsByEan(client, page.accountId, eans, 'lock')).map((p) => [p.ean, p]));
    const writes: ProductWrite[] = [];
    const outcomes: ProductOutcome[] = [];
    const next = { ...checkpoint };
    entries.forEach((entry, index) => {
      const result = results[index]!;
      if (leftByQuota(result)) markQuota(next);
      const product = entry.product ? current.get(entry.ean) : undefined;
      // Derivations are written for every product in the catalog, whatever the provider said.
      const write = product ? enrichProduct(product, result.kind === 'fill' ? result.fields : null, page.overwrite) : null;
      if (write) writes.push(write);
      if (result.kind === 'outcome' || (entry.product && !product)) {
        const outcome = result.kind === 'outcome' ? result : { code: 'NOT_FOUND' as const, message: 'The product was deleted during the enrichment.' };
        outcomes.push({ row: entry.row, ean: entry.ean, code: outcome.code, message: outcome.message });
        next.rows_failed += 1;
      } else if (write?.changed) next.rows_changed += 1;
      else next.rows_unchanged += 1;
      next.position = entry.row;
      next.last_ean = entry.ean;
    });
    next.quota_detail = state.quotaDetail;
    await writeProducts(client, page.accountId, writes);
    await insertOutcomes(client, page.jobId, outcomes);
    await saveCheckpoint(client, page.jobId, next);
    Object.assign(checkpoint, next);
    return true;
  });
}

/**
 * Notes where the job stands (`next`, before the product at hand is counted) as the place before
 * the first product the monthly quota left not looked up, unless one is noted already. The quota
 * may have come in this attempt or an earlier one (then every product is left without a call):
 * either way a retry, which forgets the quota, resumes there and looks those products up.
 */
function markQuota(next: Checkpoint): void {
  if (next.quota_position !== null) return;
  next.quota_position = next.position;
  next.quota_last_ean = next.last_ean;
  next.quota_rows_changed = next.rows_changed;
  next.quota_rows_unchanged = next.rows_unchanged;
  next.quota_rows_failed = next.rows_failed;
}

function countsOf(checkpoint: Checkpoint): JobOutcome['counts'] {
  return {
    rowsTotal: checkpoint.rows_total,
    rowsProcessed: checkpoint.position,
    rowsSucceeded: checkpoint.rows_changed,
    rowsUpdated: checkpoint.rows_changed,
    rowsCreated: 0,
    rowsUnchanged: checkpoint.rows_unchanged,
    rowsFailed: checkpoint.rows_failed,
  };
}

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

function completedDetail(jobId: string, checkpoint: Checkpoint, hasProvider: boolean): string | null {
  const report = `See /v1/jobs/${jobId}/errors.`;
  if (!hasProvider) {
    return 'No lookup provider is configured (ENRICH_PROVIDER_URL): only the local derivations were made.' +
      (checkpoint.rows_failed > 0 ? ` ${plural(checkpoint.rows_failed, 'product')} could not be enriched. ${report}` : '');
  }
  if (checkpoint.quota_detail) {
    return `The lookup provider's monthly quota is exceeded: ${checkpoint.quota_detail}. The remaining products were not ` +
      `looked up (PROVIDER_QUOTA_EXCEEDED); the local derivations were made for every product. ` +
      `${plural(checkpoint.rows_failed, 'product')} not fully enriched. ${report}`;
  }
  if (checkpoint.rows_failed > 0) {
    return `${checkpoint.rows_failed} of ${plural(checkpoint.position, 'product')} were not fully enriched. ${report}`;
  }
  return null;
}

async function refuse(
  deps: EnrichDeps,
  jobId: string,
  checkpoint: Checkpoint,
  refused: { status: number; error: string },
  log: Logger,
): Promise<JobOutcome | null> {
  const outcome: JobOutcome = {
    status: 'failed',
    errorCode: 'ENRICHMENT_FAILED',
    detail:
      `The lookup provider refused the request (HTTP ${refused.status}: "${refused.error}"). Enrichment stopped after ` +
      `${checkpoint.position} of ${plural(checkpoint.rows_total, 'product')}; the products enriched before keep their changes.`,
    counts: countsOf(checkpoint),
  };
  log.warn({ status: refused.status, error: refused.error }, 'lookup provider refused the enrichment');
  return (await finishJob(deps.db, jobId, outcome)) ? outcome : null;
}
