import { Worker } from 'node:worker_threads';
import { turnBatch } from '../turn-batch.js';

/** A file to write whole: under `path` + the writer's partial suffix, then renamed to `path`. */
interface SmallFile {
  path: string;
  data: Uint8Array;
}

/** Why the writer could not write a file: the error's message and errno code. */
interface Failure {
  message: string;
  code?: string;
}

/**
 * The writer thread: writes each file of a batch in turn with synchronous calls (a folder gone
 * since is made again), renames it from its partial name (`workerData.partial`), and removes the
 * partial file of a write that failed. CommonJS source, so it runs the same from compiled JS and
 * from TypeScript.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { mkdirSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const PARTIAL = workerData.partial;
function writeOne({ path, data }) {
  try {
    try {
      writeFileSync(path + PARTIAL, data);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path + PARTIAL, data);
    }
    renameSync(path + PARTIAL, path);
    return null;
  } catch (error) {
    try { rmSync(path + PARTIAL, { force: true }); } catch {}
    return { message: String(error.message), code: error.code };
  }
}
parentPort.on('message', ({ id, files }) => parentPort.postMessage({ id, failures: files.map(writeOne) }));
`;

/** One writer thread and the batches it has not answered yet. */
interface WriterThread {
  worker: Worker;
  waiting: Map<number, { resolve: (failures: (Failure | null)[]) => void; reject: (error: Error) => void }>;
}

/**
 * Writes small files (whole uploads of a few KiB) on one thread of their own, the files asked for
 * in one turn of the event loop as one batch. Through libuv's thread pool a file takes four
 * hand-offs (open, write, close, rename), and on the 2-core development machine each costs tens
 * of µs of CPU in wake-ups; the pool's threads creating files in one folder at once also contend
 * for it. Measured there: 200–580 µs of CPU per file through the pool, 34 µs with synchronous
 * calls, 53 µs through this thread in batches of 12. Synchronous calls on the event loop would
 * stop every request for as long as the disk takes (the store may be a network volume); here
 * only the writer waits. The thread starts with the first file and does not keep the process
 * alive; if it stops, its batches fail and the next file starts another.
 */
export class SmallFileWriter {
  /** @param partial The suffix a file is written under until it is complete (the store's, which its cleanup looks for). */
  constructor(private readonly partial: string) {}

  private thread: WriterThread | null = null;
  private nextId = 0;
  private readonly batches = turnBatch<SmallFile, void>(async (files) => {
    const failures = await this.send(files);
    return failures.map((failure) => (failure ? Object.assign(new Error(failure.message), { code: failure.code }) : undefined));
  });

  /** Writes `data` to `path` (under the partial name, renamed when written); the folder is made if missing. */
  write(path: string, data: Uint8Array): Promise<void> {
    return this.batches.load({ path, data });
  }

  private send(files: readonly SmallFile[]): Promise<(Failure | null)[]> {
    const thread = (this.thread ??= this.start());
    const id = this.nextId++;
    // Each body copied to a buffer of its own size and handed over, not cloned: a Buffer is often
    // a view of a larger one (a socket read), which a clone would copy whole.
    const sent = files.map(({ path, data }) => ({ path, data: new Uint8Array(data) }));
    return new Promise((resolve, reject) => {
      thread.waiting.set(id, { resolve, reject });
      thread.worker.postMessage({ id, files: sent }, sent.map(({ data }) => data.buffer));
    });
  }

  private start(): WriterThread {
    const thread: WriterThread = { worker: new Worker(WRITER_SOURCE, { eval: true, workerData: { partial: this.partial } }), waiting: new Map() };
    thread.worker.unref();
    thread.worker.on('message', ({ id, failures }: { id: number; failures: (Failure | null)[] }) => {
      thread.waiting.get(id)?.resolve(failures);
      thread.waiting.delete(id);
    });
    const stopped = (error: Error) => {
      if (this.thread === thread) this.thread = null;
      for (const batch of thread.waiting.values()) batch.reject(error);
      thread.waiting.clear();
    };
    thread.worker.on('error', stopped);
    thread.worker.on('exit', (code) => stopped(new Error(`the small-file writer thread stopped (exit code ${code})`)));
    return thread;
  }

  /** Stops the thread (tests); files asked for afterwards start a new one. */
  async close(): Promise<void> {
    const thread = this.thread;
    this.thread = null;
    await thread?.worker.terminate();
  }
}
