import type { Logger } from 'pino';
import { callbackTargetProblem } from '../../shared/callbacks/callback-target.js';
import {
  CALLBACK_LEASE_SECONDS,
  markCallbackDelivered,
  markCallbackFailed,
  releaseRetriedCallback,
  type DueCallback,
} from '../../shared/callbacks/callback-queries.js';
import { RefusedCallbackAddressError } from '../../shared/callbacks/pinned-lookup.js';
import { signCallback } from '../../shared/callbacks/signature.js';
import { signingSecretsFor } from '../../shared/callbacks/signing-secrets.js';
import type { HostResolver } from '../../shared/callbacks/host-resolver.js';
import type { Db } from '../../shared/db/pool.js';
import { findJob } from '../../shared/jobs/job-queries.js';
import { toJobResource } from '../../shared/jobs/job-row.js';
import { CallbackSlots } from './callback-slots.js';
import { createCallbackAgents, postCallback, type CallbackAgents } from './post-callback.js';

/** What callback delivery needs. */
export interface CallbackDeps {
  db: Db;
  logger: Logger;
  /** CALLBACK_SECRET: signs the callbacks of accounts without their own secret. */
  fallbackSecret: string | undefined;
  allowPrivate: boolean;
  resolveHost: HostResolver;
  /** How often due deliveries are looked for. */
  pollMs?: number;
  /** First retry delay; each further attempt doubles it (capped at an hour). */
  retryBaseSeconds?: number;
  maxAttempts?: number;
  timeoutMs?: number;
}

const NO_SECRET =
  'not sent: no signing secret (the account has no callback secret, see POST /v1/callback-secret, and CALLBACK_SECRET is not set)';

/** Seconds until attempt `attempt + 1` (1-based `attempt` just failed), or null to give up. */
export function callbackRetryDelay(attempt: number, baseSeconds: number, maxAttempts: number): number | null {
  if (attempt >= maxAttempts) return null;
  return Math.min(baseSeconds * 2 ** (attempt - 1), 3600);
}

/**
 * POSTs one job's resource to its callback_url, signed, through the pinned agents: the pre-check
 * gives a clear reason early (and covers IP literals); the agents' lookup refuses a name that has
 * moved to a private address since. Answers with the problem, or null when
 * the receiver answered 2xx; `permanent` problems are not retried.
 */
async function deliver(deps: CallbackDeps, agents: CallbackAgents, due: DueCallback): Promise<{ problem: string; permanent: boolean } | null> {
  const secrets = await signingSecretsFor(deps.db, due.accountId, deps.fallbackSecret);
  // Retried: the account may still create its secret (or the operator set CALLBACK_SECRET).
  if (secrets.length === 0) return { problem: NO_SECRET, permanent: false };
  const refused = await callbackTargetProblem(due.url, deps);
  if (refused) return { problem: `callback_url refused: ${refused}`, permanent: true };
  // Read last, just before the send: a job retried since the claim is not reported as it now is
  // (processing, or the new run's end, which its own delivery reports).
  const job = await findJob(deps.db, due.accountId, due.jobId);
  if (!job) return { problem: 'the job no longer exists', permanent: true };
  if (job.finished_at !== due.run) return { problem: 'not sent: the job was retried since; its new run calls back when it ends', permanent: true };
  const body = JSON.stringify(toJobResource(job));
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const status = await postCallback(agents, due.url, {
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'catalog-jobs-callback/1',
        'x-job-id': job.id,
        'x-signature': signCallback(secrets, timestamp, body),
      },
      body,
      timeoutMs: deps.timeoutMs ?? 10_000,
    });
    if (status >= 200 && status < 300) return null;
    return { problem: `the receiver answered ${status}`, permanent: false };
  } catch (error) {
    if (error instanceof RefusedCallbackAddressError) return { problem: `callback_url refused: ${error.message}`, permanent: true };
    return { problem: `the request failed: ${(error as Error).message}`, permanent: false };
  }
}

/**
 * Sends one claimed delivery and records its outcome: delivered, retried later, or given up. An
 * outcome of a run the job has left is not recorded (its callback state is the new run's): it
 * only lets the new run's callback, held back behind it, go.
 */
async function deliverClaimed(deps: CallbackDeps, agents: CallbackAgents, callback: DueCallback): Promise<void> {
  const failure = await deliver(deps, agents, callback);
  const log = deps.logger.child({ jobId: callback.jobId, accountId: callback.accountId });
  const attempt = callback.attempts + 1;
  const retryIn = !failure || failure.permanent ? null : callbackRetryDelay(attempt, deps.retryBaseSeconds ?? 5, deps.maxAttempts ?? 10);
  const recorded = failure
    ? await markCallbackFailed(deps.db, callback, failure.problem, retryIn)
    : await markCallbackDelivered(deps.db, callback);
  if (!recorded) {
    await releaseRetriedCallback(deps.db, callback);
    log.info({ problem: failure?.problem ?? null }, "job callback of a run the job has left (retried); the new run's callback may go");
  } else if (!failure) {
    log.info('job callback delivered');
  } else {
    log.warn({ attempt, retryIn, problem: failure.problem }, retryIn === null ? 'job callback given up' : 'job callback failed; will retry');
  }
}

/**
 * Delivers the callbacks that are due now, as many as one round of the process's slots takes
 * (each account and receiver its share); returns how many were attempted.
 */
export async function deliverDueCallbacks(deps: CallbackDeps): Promise<number> {
  const due = await new CallbackSlots().claim(deps.db, CALLBACK_LEASE_SECONDS);
  const agents = createCallbackAgents(deps);
  await Promise.all(due.map((callback) => deliverClaimed(deps, agents, callback)));
  return due.length;
}

/**
 * Delivers due callbacks, up to SLOTS at a time, until the returned function is called. Each
 * delivery holds one slot, and one receiver or account only its share of them (CallbackSlots): a
 * slot that frees claims the next due delivery that fits at once, so a receiver that waits out the
 * timeout holds up its own callbacks only, never the other receivers' or accounts'. Free slots are
 * also filled on each poll, which finds the retries that have come due. The returned function stops
 * claiming and resolves once the deliveries under way (and those of a claim then under way) have
 * recorded their outcome, the receivers' answers waited for up to the timeout: the caller closes
 * the pool only then, since a delivery sent but not recorded is sent again once its claim's lease
 * runs out.
 */
export function scheduleCallbackDelivery(deps: CallbackDeps): () => Promise<void> {
  const agents = createCallbackAgents(deps);
  const slots = new CallbackSlots();
  /** The claims and deliveries under way; none of them rejects. */
  const underWay = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    underWay.add(work);
    void work.then(() => underWay.delete(work));
  };
  let stopped = false;
  let claiming = false;
  let claimAgain = false;
  const fillSlots = async (): Promise<void> => {
    // One claim at a time: slots freed meanwhile are filled by the next one, not by claims racing
    // each other past the slots or the shares.
    if (claiming) {
      claimAgain = true;
      return;
    }
    claiming = true;
    try {
      do {
        claimAgain = false;
        if (stopped) break;
        const due = await slots.claim(deps.db, CALLBACK_LEASE_SECONDS);
        for (const callback of due) start(callback);
      } while (claimAgain);
    } catch (error) {
      deps.logger.warn({ err: error }, 'claiming due callbacks failed');
    } finally {
      claiming = false;
    }
  };
  const start = (callback: DueCallback): void => {
    track(
      deliverClaimed(deps, agents, callback)
        // Unrecorded (PostgreSQL unreachable): the claim's lease runs out and the delivery is taken again.
        .catch((error: unknown) =>
          deps.logger.warn({ err: error, jobId: callback.jobId, accountId: callback.accountId }, 'job callback attempt not recorded; retried after its lease'),
        )
        .finally(() => {
          slots.release(callback);
          track(fillSlots());
        }),
    );
  };
  const timer = setInterval(() => track(fillSlots()), deps.pollMs ?? 1_000);
  return async () => {
    stopped = true;
    clearInterval(timer);
    // A claim under way starts its deliveries before it resolves: wait for those too.
    while (underWay.size > 0) await Promise.all(underWay);
  };
}
