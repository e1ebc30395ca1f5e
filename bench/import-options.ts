import { EAN_ORDERS, type EanOrder } from './generate-csv.js';
import { serviceNodeFlags } from '../src/shared/node-flags.js';
import { parseCount } from './settings.js';

const DEFAULT_ROWS = 1_000_000;

/**
 * What a run of the import benchmark measures. `first` is a first load into an empty catalog;
 * `unchanged` and `changed` re-import into the catalog it filled (the same file, and the file with
 * every tenth row changed); `scale` imports independent files with two worker processes at once,
 * against one worker process with one file.
 */
export type Scenario = 'first' | 'unchanged' | 'changed' | 'scale';
export const SCENARIOS: readonly Scenario[] = ['first', 'unchanged', 'changed', 'scale'];

export interface Options {
  sizes: number[];
  /** EAN orders the first load and re-imports run on (each on a fresh database). */
  orders: EanOrder[];
  scenarios: Set<Scenario>;
  runtime: 'tsx' | 'dist';
  cpuProf: boolean;
  /** Extra node flags for the service processes only, e.g. --node-arg=--max-old-space-size=128. */
  nodeArgs: string[];
  /** What is uploaded: the CSV file, or the same products as an .xlsx workbook. */
  format: 'csv' | 'xlsx';
}

function listOf<T extends string>(text: string, allowed: readonly T[], flag: string): T[] {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new Error(`${flag} takes ${allowed.join(', ')}; not '${item}'`);
  }
  return items as T[];
}

/**
 * Options from argv: row counts from `--sizes a,b`, positional counts, BENCH_SIZES or BENCH_ROWS
 * (else 1,000,000); `--orders file,scrambled`; `--scenarios first,unchanged,changed,scale`.
 */
export function parseOptions(argv: string[]): Options {
  const options: Options = {
    sizes: [],
    orders: [...EAN_ORDERS],
    scenarios: new Set(SCENARIOS),
    runtime: 'dist',
    cpuProf: false,
    nodeArgs: [],
    format: 'csv',
  };
  const counts = (list: string) => options.sizes.push(...list.split(',').map(parseCount));
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const equals = arg.indexOf('=');
    const [flag, inline] = equals === -1 ? [arg, undefined] : [arg.slice(0, equals), arg.slice(equals + 1)];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--') continue;
    else if (flag === '--sizes' || flag === '--rows') counts(value());
    else if (flag === '--orders') options.orders = listOf(value(), EAN_ORDERS, '--orders');
    else if (flag === '--scenarios') options.scenarios = new Set(listOf(value(), SCENARIOS, '--scenarios'));
    else if (flag === '--runtime') options.runtime = listOf(value(), ['tsx', 'dist'] as const, '--runtime')[0] ?? 'dist';
    else if (flag === '--cpu-prof') options.cpuProf = true;
    else if (flag === '--node-arg') options.nodeArgs.push(value());
    else if (flag === '--format') options.format = listOf(value(), ['csv', 'xlsx'] as const, '--format')[0] ?? 'csv';
    else if (flag.startsWith('-')) throw new Error(`unknown option ${flag}`);
    else counts(argv[i]!);
  }
  // Without --node-arg, the service runs with the node flags that `npm start` gives it.
  if (options.nodeArgs.length === 0) options.nodeArgs.push(...serviceNodeFlags(process.env.NODE_HEAP_MB ?? 128));
  if (options.sizes.length === 0) {
    const fromEnv = process.env.BENCH_SIZES || process.env.BENCH_ROWS;
    options.sizes = fromEnv ? fromEnv.split(',').map(parseCount) : [DEFAULT_ROWS];
  }
  if (options.orders.length === 0) throw new Error('--orders needs at least one of file, scrambled');
  return options;
}
