import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActivityWatcher, query } from './db.js';
import { getJob, uploadCsv, type JobView } from './http.js';
import { checkAlive, log, type Session } from './import-session.js';
import { readCpuSeconds, readProcMemory, RssSampler } from './proc.js';
import { importQuery } from './settings.js';

export const POLL_MS = 100;

/** One file to upload, to the account of `apiKey`. */
export interface Upload {
  apiKey: string;
  file: string;
  rows: number;
  contentType: string;
}

/** How one job went. Durations in seconds. */
export interface JobTiming {
  job: JobView;
  upload: number;
  queued: number;
  /** started_at → phase 'finalizing' first seen (or completion, if finalizing was never seen). */
  stage: number;
  /** phase 'finalizing' first seen → status 'completed' seen; null when shorter than a poll. */
  finalize: number | null;
  /** Start of its upload → status 'completed' seen. */
  total: number;
  /** How much earlier than the observed completion the job's finished_at says it finished. */
  finishedAtEarly: number;
}

/** What one set of uploads measured, from the start of the uploads until every job had ended. */
export interface Measurement {
  jobs: JobTiming[];
  /** Start of the uploads → the last job seen completed, in seconds. */
  wall: number;
  /** Of the worker processes: RSS before the uploads, sampled peak RSS (max over processes), VmHWM (lifetime). */
  idleRssMb: number;
  peakRssMb: number;
  hwmMb: number;
  /** CPU seconds from the upload to completion; in brackets the part after 'finalizing' (one job only). */
  cpu: { node: number; nodeFinalize: number | null; pg: number; pgFinalize: number | null };
  sql: Record<'copyRows' | 'dupCheck' | 'merge' | 'report' | 'commit' | 'other' | 'idleInTx', number>;
  /** 1-minute load average when the last job completed. */
  load: number;
}

const mb = (kb: number) => kb / 1024;
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** CPU seconds the worker processes have used so far. */
const workerCpu = (session: Session) => sum(session.workerPids.map((pid) => readCpuSeconds(pid) ?? NaN));

/**
 * Uploads every file at once and polls their jobs until all have ended, sampling the worker
 * processes' RSS and CPU and PostgreSQL's activity meanwhile.
 */
export async function measureImports(session: Session, uploads: Upload[]): Promise<Measurement> {
  await query(session.databaseUrl, 'CHECKPOINT');
  await sleep(500);
  const idleKb = Math.max(...session.workerPids.map((pid) => readProcMemory(pid)?.rssKb ?? NaN));
  const samplers = session.workerPids.map((pid) => new RssSampler(pid, 100));
  const watcher = new ActivityWatcher(session.databaseUrl, session.database, 100);
  await watcher.start();
  samplers.forEach((sampler) => sampler.start());
  try {
    const cpu0 = workerCpu(session);
    const t0 = Date.now();
    const accepted = await Promise.all(
      uploads.map(async (upload) => {
        const started = Date.now();
        const id = await uploadCsv(session.baseUrl, upload.apiKey, upload.file, upload.contentType, importQuery);
        return { id, started, accepted: Date.now() };
      }),
    );
    log(`uploads accepted after ${((Date.now() - t0) / 1000).toFixed(2)} s: ${accepted.map((job) => job.id).join(', ')}`);
    const ended: Array<{ job: JobView; at: number; finalizingAt: number | null }> = [];
    let finalizing: { nodeCpu: number; pgCpu: number } | null = null;
    const finalizingAt: Array<number | null> = accepted.map(() => null);
    let lastReport = Date.now();
    const deadline = t0 + 600_000 + sum(uploads.map((upload) => upload.rows)); // 10 min + 1 ms per row
    while (ended.filter(Boolean).length < uploads.length) {
      checkAlive(session);
      if (Date.now() > deadline) throw new Error(`jobs still processing after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      for (const [index, { id }] of accepted.entries()) {
        if (ended[index]) continue;
        const job = await getJob(session.baseUrl, uploads[index]!.apiKey, id);
        const now = Date.now();
        if (job.phase === 'finalizing' && finalizingAt[index] === null) {
          finalizingAt[index] = now;
          if (uploads.length === 1) finalizing = { nodeCpu: workerCpu(session), pgCpu: watcher.pgCpuSeconds() };
        }
        if (job.status !== 'processing') ended[index] = { job, at: now, finalizingAt: finalizingAt[index]! };
        else if (now - lastReport >= 10_000) {
          lastReport = now;
          log(`  ${job.phase}: ${job.progress.rows_processed} rows after ${((now - t0) / 1000).toFixed(0)} s`);
        }
      }
      await sleep(POLL_MS);
    }
    const completed = Math.max(...ended.map((entry) => entry.at));
    const load = loadavg()[0]!;
    const nodeCpuEnd = workerCpu(session);
    const pgCpuEnd = watcher.pgCpuSeconds();
    const peakKb = Math.max(...samplers.map((sampler) => sampler.stop()));
    const hwmKb = Math.max(...session.workerPids.map((pid) => readProcMemory(pid)?.hwmKb ?? NaN));
    const seconds = (ms: number) => ms / 1000;
    return {
      jobs: ended.map(({ job, at, finalizingAt: finalAt }, index) => {
        const startedAt = job.started_at ? Date.parse(job.started_at) : accepted[index]!.accepted;
        return {
          job,
          upload: seconds(accepted[index]!.accepted - accepted[index]!.started),
          queued: Math.max(0, seconds(startedAt - accepted[index]!.accepted)),
          stage: seconds((finalAt ?? at) - startedAt),
          finalize: finalAt && seconds(at - finalAt),
          total: seconds(at - accepted[index]!.started),
          finishedAtEarly: seconds(at - (job.finished_at ? Date.parse(job.finished_at) : at)),
        };
      }),
      wall: seconds(completed - t0),
      idleRssMb: mb(idleKb),
      peakRssMb: mb(peakKb),
      hwmMb: mb(hwmKb),
      cpu: {
        node: nodeCpuEnd - cpu0,
        nodeFinalize: finalizing && nodeCpuEnd - finalizing.nodeCpu,
        pg: pgCpuEnd,
        pgFinalize: finalizing && pgCpuEnd - finalizing.pgCpu,
      },
      sql: {
        copyRows: watcher.seconds('copy rows'),
        dupCheck: watcher.seconds('dup check'),
        merge: watcher.seconds('merge'),
        report: watcher.seconds('report'),
        commit: watcher.seconds('commit'),
        other: watcher.seconds('other'),
        idleInTx: watcher.seconds('idle in transaction'),
      },
      load,
    };
  } finally {
    samplers.forEach((sampler) => sampler.stop());
    await watcher.stop();
  }
}
