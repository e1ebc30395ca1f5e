import cliProgress from 'cli-progress';

/** What a bar counts: bytes (an upload or download) or rows (a job). */
export type BarUnit = 'bytes' | 'rows';

/** One progress display: a drawn bar on a terminal, plain lines elsewhere. */
export interface ProgressBar {
  /** `stage` is shown beside the numbers (a job's phase); a change of it is printed at once. */
  update(done: number, total: number | null, stage?: string): void;
  stop(): void;
}

/** Where progress goes: stderr, so that stdout keeps only results (and --json stays parseable). */
export interface ProgressOutput {
  bar(label: string, unit: BarUnit): ProgressBar;
  /** A notice (a retry, a wait) on its own line. */
  line(text: string): void;
}

const MB = 1024 * 1024;
/** Plain progress lines: at most one a second, besides stage changes and the last line. */
const PLAIN_LINE_MS = 1_000;

/** Rate since the first update, in units a second. */
function rateMeter(): (done: number) => number {
  let start: { at: number; done: number } | null = null;
  return (done) => {
    const now = Date.now();
    start ??= { at: now, done };
    const seconds = (now - start.at) / 1000;
    return seconds > 0 ? (done - start.done) / seconds : 0;
  };
}

/** The numbers of one update as text: "12.0/26.7 MB", "8.1 MB/s", "800/1000 rows". */
function describe(unit: BarUnit, done: number, total: number | null, rate: number) {
  if (unit === 'bytes') {
    const size = total === null ? '?' : (total / MB).toFixed(1);
    return { amount: `${(done / MB).toFixed(1)}/${size} MB`, speed: `${(rate / MB).toFixed(1)} MB/s` };
  }
  return { amount: `${done}/${total ?? '?'} rows`, speed: `${Math.round(rate)} rows/s` };
}

/** "45s", "3m07s", "1h05m": the time left at `rate`; "?" while the total or the rate is unknown. */
function timeLeft(done: number, total: number | null, rate: number): string {
  if (total === null || rate <= 0) return '?';
  const seconds = Math.max(0, Math.round((total - done) / rate));
  const pad = (value: number) => String(value).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
}

/**
 * A bar drawn by cli-progress (a terminal): bar, percentage, amount, speed, ETA. The ETA is ours:
 * cli-progress's own shows garbage ("LLs") while a job's row total is not known yet.
 */
function drawnBar(stream: NodeJS.WriteStream, label: string, unit: BarUnit): ProgressBar {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label.padEnd(7)} {bar} {percentage}% | {amount} | {speed} | ETA {time_left} {stage}`,
      hideCursor: true,
      emptyOnZero: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const rate = rateMeter();
  bar.start(0, 0, { amount: '', speed: '', time_left: '?', stage: '' });
  return {
    update(done, total, stage = '') {
      const perSecond = rate(done);
      bar.setTotal(total ?? 0);
      bar.update(total === null ? 0 : done, { ...describe(unit, done, total, perSecond), time_left: timeLeft(done, total, perSecond), stage });
    },
    stop: () => bar.stop(),
  };
}

/** Plain lines for logs and pipes (no TTY): "upload: 45% 12.0/26.7 MB, 8.1 MB/s". */
function plainBar(stream: NodeJS.WritableStream, label: string, unit: BarUnit): ProgressBar {
  const rate = rateMeter();
  let printedAt = 0;
  let lastStage: string | undefined;
  let last = '';
  const print = (text: string) => {
    stream.write(`${label}: ${text}\n`);
    printedAt = Date.now();
    last = text;
  };
  let current = '';
  return {
    update(done, total, stage) {
      const { amount, speed } = describe(unit, done, total, rate(done));
      const percent = total ? ` ${Math.floor((100 * done) / total)}%` : '';
      current = `${stage ? `${stage} ` : ''}${amount}${percent}, ${speed}`.trim();
      if (stage !== lastStage || Date.now() - printedAt >= PLAIN_LINE_MS) print(current);
      lastStage = stage;
    },
    stop() {
      if (current && current !== last) print(current);
    },
  };
}

/** The progress output of this run: bars when stderr is a terminal, plain lines otherwise. */
export function createProgressOutput(stream: NodeJS.WriteStream): ProgressOutput {
  return {
    bar: (label, unit) => (stream.isTTY ? drawnBar(stream, label, unit) : plainBar(stream, label, unit)),
    line: (text) => stream.write(`${text}\n`),
  };
}
