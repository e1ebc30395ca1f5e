/**
 * CSV reader benchmark: the import's reader (src/workers/import/csv-records.ts) against csv-parse
 * with the same options, on the same file, in the same process (a 128 MB heap, as the service).
 * Both read through the import's UTF-8 guard, as the worker does; nothing else runs, so the
 * figures are the readers' own. Two files: the import benchmark's (no quotes), and the same rows
 * with every name quoted and holding a delimiter and doubled quotes (the reader's slower path).
 *
 *   npm run bench:csv                 # 1,000,000 rows, 3 runs of each reader, best run shown
 *   npm run bench:csv -- 200k 5       # rows, runs
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { CsvRecordReader } from '../src/workers/import/csv-records.js';
import { csvParseOptions, type CsvReadSettings } from '../src/workers/import/csv-text.js';
import { InputGuard } from '../src/workers/import/input-guard.js';
import { generateProductCsv } from './generate-csv.js';
import { log } from './import-session.js';
import { printTable } from './report.js';
import { parseCount } from './settings.js';

const SETTINGS: CsvReadSettings = { delimiter: ',', fromLine: 1, maxRecordBytes: 1 << 20 };

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

interface Run {
  seconds: number;
  cpu: number;
  gcMs: number;
  records: number;
  /** Sum of every field's length: both readers must give the same. */
  checksum: number;
}

type Reader = 'csv-parse' | 'CsvRecordReader';

async function read(path: string, reader: Reader): Promise<Run> {
  let records = 0;
  let checksum = 0;
  const count = (record: string[]) => {
    records += 1;
    for (const field of record) checksum += field.length;
  };
  const gcBefore = gcMs;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const file = () => createReadStream(path, { highWaterMark: 1 << 20 });
  if (reader === 'csv-parse') {
    await pipeline(file(), new InputGuard(), parse(csvParseOptions(SETTINGS, false)), async (rows: AsyncIterable<string[]>) => {
      for await (const record of rows) count(record);
    });
  } else {
    const csv = new CsvRecordReader(SETTINGS);
    await pipeline(file(), new InputGuard(), (chunks: AsyncIterable<Buffer>) => csv.batches(chunks), async (batches: AsyncIterable<string[][]>) => {
      for await (const batch of batches) for (const record of batch) count(record);
    });
  }
  const cpu = process.cpuUsage(cpu0);
  return { seconds: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6, gcMs: gcMs - gcBefore, records, checksum };
}

async function main(): Promise<void> {
  const rows = parseCount(process.argv[2] ?? '1000000');
  const runs = Number(process.argv[3] ?? 3);
  const dir = await mkdtemp(join(tmpdir(), 'catalog-bench-csv-'));
  const body: string[][] = [];
  try {
    for (const quoted of [false, true]) {
      const name = quoted ? 'quoted names' : 'plain';
      const path = join(dir, `${quoted ? 'quoted' : 'plain'}.csv`);
      const bytes = await generateProductCsv(path, rows, 20_240_601, { order: 'file', quoteNames: quoted });
      log(`${name}: ${rows} rows, ${(bytes / 1e6).toFixed(1)} MB`);
      const best = new Map<Reader, Run>();
      for (let run = 0; run < runs; run += 1) {
        for (const reader of ['csv-parse', 'CsvRecordReader'] as const) {
          const result = await read(path, reader);
          log(`${name}, ${reader}: ${result.seconds.toFixed(2)} s`);
          if (!best.has(reader) || result.seconds < best.get(reader)!.seconds) best.set(reader, result);
        }
      }
      const baseline = best.get('csv-parse')!;
      const fast = best.get('CsvRecordReader')!;
      const same = baseline.records === fast.records && baseline.checksum === fast.checksum;
      for (const [reader, result] of best) {
        body.push([
          name,
          reader,
          String(result.records),
          result.seconds.toFixed(2),
          (bytes / 1e6 / result.seconds).toFixed(0),
          result.cpu.toFixed(2),
          result.gcMs.toFixed(0),
          `${(baseline.seconds / result.seconds).toFixed(2)}×`,
          same ? 'yes' : 'NO',
        ]);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\nCSV reader benchmark (${rows} rows, best of ${runs} runs, through the import's UTF-8 guard; load ${loadavg()[0]!.toFixed(1)})\n`);
  printTable(['file', 'reader', 'records', 'best s', 'MB/s', 'CPU s', 'GC ms', 'speed-up', 'same records'], body);
}

await main();
