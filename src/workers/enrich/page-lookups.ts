import type { Logger } from 'pino';
import { isValidGtin, hasGtinShape } from '../../shared/product/gtin.js';
import type { TargetEntry } from './enrichment-targets.js';
import { nothingToFill } from './fill.js';
import type { LookupOutcome, ProviderClient } from './provider-client.js';
import { FILLABLE_FIELDS, type ProviderFields } from './provider-fields.js';
import type { RowErrorCode } from '../../shared/jobs/row-error-codes.js';

/** What the job knows about one product after the lookup step: fields to fill, or why there are none. */
export type EntryResult =
  | { kind: 'fill'; fields: ProviderFields | null }
  | { kind: 'outcome'; code: RowErrorCode; message: string };

/** Lookup state shared by the pages of one attempt. */
export interface LookupState {
  /** Set by the first 429 quota answer: no more calls for this job. */
  quotaDetail: string | null;
  /** Set by a 401/403/other 4xx: the job stops. */
  refused: { status: number; error: string } | null;
  /** Set once a product ended PROVIDER_ERROR and that was logged: the others are in the report only. */
  failureLogged?: boolean;
  /**
   * Aborted with the first quota answer or refusal: a lookup waiting for its slot, a back-off or a
   * Retry-After then makes no call, as the provider's contract has no more calls for the job.
   */
  callsEnded: AbortController;
}

/** The lookup state of a new attempt; `quotaDetail` is the quota answer an earlier attempt met. */
export function newLookupState(quotaDetail: string | null): LookupState {
  const callsEnded = new AbortController();
  if (quotaDetail) callsEnded.abort();
  return { quotaDetail, refused: null, callsEnded };
}

export interface PageLookupDeps {
  provider: ProviderClient | null;
  overwrite: boolean;
  concurrency: number;
  signal: AbortSignal;
  /** Aborted when the process shuts down: no lookup is started after it, those under way finish. */
  stop: AbortSignal;
  state: LookupState;
  log: Logger;
}

const QUOTA_MESSAGE = "Not looked up: the lookup provider's monthly quota is used up.";

/** True for a product the monthly quota left not looked up (reported PROVIDER_QUOTA_EXCEEDED). */
export function leftByQuota(result: EntryResult): boolean {
  return result.kind === 'outcome' && result.code === 'PROVIDER_QUOTA_EXCEEDED';
}

function localResult(entry: TargetEntry, deps: PageLookupDeps): EntryResult | null {
  if (!hasGtinShape(entry.ean)) return { kind: 'outcome', code: 'INVALID_EAN', message: 'The EAN must be 8, 12, 13 or 14 digits.' };
  if (!entry.product) return { kind: 'outcome', code: 'NOT_FOUND', message: 'No product with this EAN in the catalog.' };
  if (!isValidGtin(entry.ean)) {
    return { kind: 'outcome', code: 'INVALID_EAN', message: 'The EAN check digit is invalid; it was not looked up.' };
  }
  if (!deps.provider || nothingToFill(entry.product, deps.overwrite)) return { kind: 'fill', fields: null };
  if (deps.state.quotaDetail) return { kind: 'outcome', code: 'PROVIDER_QUOTA_EXCEEDED', message: QUOTA_MESSAGE };
  return null;
}

function quotaDetail(outcome: Extract<LookupOutcome, { kind: 'quota' }>): string {
  const extras = [outcome.limit !== null ? `limit ${outcome.limit}` : null, outcome.tier ? `tier ${outcome.tier}` : null].filter(Boolean);
  return `"${outcome.error}"${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`;
}

function resultOf(outcome: LookupOutcome, state: LookupState): EntryResult | null {
  switch (outcome.kind) {
    case 'found':
      return { kind: 'fill', fields: outcome.fields };
    case 'not_found':
      return { kind: 'outcome', code: 'NOT_FOUND_AT_PROVIDER', message: 'The lookup provider has no product with this EAN.' };
    case 'other_ean':
      return { kind: 'outcome', code: 'PROVIDER_ERROR', message: `The lookup provider answered for another EAN (${outcome.ean}); not enriched.` };
    case 'quota':
      state.quotaDetail ??= quotaDetail(outcome);
      state.callsEnded.abort();
      return { kind: 'outcome', code: 'PROVIDER_QUOTA_EXCEEDED', message: QUOTA_MESSAGE };
    case 'refused':
      state.refused ??= { status: outcome.status, error: outcome.error };
      state.callsEnded.abort();
      return null;
    case 'stopped':
      // Stopped by another lookup's quota answer: reported like the products after it.
      return state.quotaDetail ? { kind: 'outcome', code: 'PROVIDER_QUOTA_EXCEEDED', message: QUOTA_MESSAGE } : null;
    case 'failed':
      return {
        kind: 'outcome',
        code: 'PROVIDER_ERROR',
        message: `The lookup provider failed ${outcome.attempts} times (last: ${outcome.reason}); not enriched.`,
      };
  }
}

/**
 * The most the results of one page hold, in bytes (two per UTF-16 unit, as V8 may store text): past
 * it the page starts no lookup, and is settled up to there. A product's fields come from an answer
 * of up to 1 MiB (MAX_ANSWER_BYTES), so a page of 200 could hold 200 MB, more than the worker's
 * heap (`npm start`: 128 MB); a page is looked up while the one before is settled, and the lookups
 * under way finish (ENRICH_LOOKUP_CONCURRENCY answers of up to 1 MiB each), so that is about twice
 * this plus those answers.
 */
export const MAX_PAGE_HELD_BYTES = 8 * 1024 * 1024;

/** About the bytes `result` holds: its text, two bytes per UTF-16 unit. */
export function heldBytes(result: EntryResult): number {
  if (result.kind === 'outcome') return 2 * result.message.length;
  const fields = result.fields;
  if (!fields) return 0;
  let units = 0;
  for (const field of FILLABLE_FIELDS) units += fields[field]?.length ?? 0;
  for (const [name, value] of Object.entries(fields.attributes ?? {})) units += name.length + (typeof value === 'string' ? value.length : 8);
  return 2 * units;
}

/**
 * Looks up the products of one page, `concurrency` at a time and in page order (each call still
 * waits for its slot of the shared rate). Returns each entry's result; an entry left null was not
 * settled: the provider refused the job's calls (`state.refused`), `stop` aborted before its
 * lookup got an answer to keep, or the page's results passed {@link MAX_PAGE_HELD_BYTES} before
 * it was started (it is the next page's). After a quota answer no lookup calls again, and those
 * that got no answer to keep are PROVIDER_QUOTA_EXCEEDED like the products after them. Once `stop`
 * aborts, or the page holds enough, the lookups under way are waited for and no other is started,
 * so the entries that have a result before the first null are the ones settled (see
 * {@link settledCount}). Results are put in `results` as they come (the job's progress reads them
 * while the page is under way). Rejects when `signal` aborts.
 */
export async function lookUpPage(
  entries: TargetEntry[],
  deps: PageLookupDeps,
  results = new Array<EntryResult | null>(entries.length).fill(null),
): Promise<Array<EntryResult | null>> {
  let next = 0;
  let held = 0;
  const stop = AbortSignal.any([deps.stop, deps.state.callsEnded.signal]);
  const lane = async () => {
    while (next < entries.length && !deps.state.refused && held < MAX_PAGE_HELD_BYTES) {
      const index = next++;
      const entry = entries[index]!;
      const local = localResult(entry, deps);
      if (local) {
        results[index] = local;
        continue;
      }
      deps.signal.throwIfAborted();
      if (deps.stop.aborted) return;
      const outcome = await deps.provider!.lookup(entry.ean, deps.signal, stop);
      if (outcome.kind === 'failed' && !deps.state.failureLogged) {
        // Once per attempt: a provider that fails every product would otherwise flood the log.
        deps.state.failureLogged = true;
        deps.log.warn({ ean: entry.ean, attempts: outcome.attempts, reason: outcome.reason }, 'lookup provider failed for a product (PROVIDER_ERROR); further failures are in the job report only');
      }
      // A quota answer seen by another lane meanwhile does not undo a product already found.
      const result = resultOf(outcome, deps.state);
      results[index] = result;
      if (result === null) return;
      held += heldBytes(result);
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.max(1, deps.concurrency) }, lane));
  const failure = lanes.find((lane): lane is PromiseRejectedResult => lane.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}

/**
 * How many entries of a page, from its start, have a result: the part of the page that can be
 * settled (the checkpoint is a position, so a result after a gap waits for the next attempt).
 */
export function settledCount(results: Array<EntryResult | null>): number {
  const gap = results.indexOf(null);
  return gap < 0 ? results.length : gap;
}
