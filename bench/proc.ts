import { readFileSync } from 'node:fs';

/** Memory of one process as Linux reports it in /proc/<pid>/status, in KiB. */
export interface ProcMemory {
  rssKb: number;
  hwmKb: number;
}

/** Reads VmRSS and VmHWM of `pid`; null once the process is gone. */
export function readProcMemory(pid: number): ProcMemory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** The command line of `pid` (NUL-separated arguments joined by spaces). */
export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Samples a process's RSS on an interval and keeps the maximum (and the RSS when started). */
export class RssSampler {
  maxKb = 0;
  startKb = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.startKb = readProcMemory(this.pid)?.rssKb ?? 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Stops sampling; returns the maximum seen, in KiB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.maxKb;
  }

  private sample(): void {
    const memory = readProcMemory(this.pid);
    if (!memory) return;
    this.samples += 1;
    if (memory.rssKb > this.maxKb) this.maxKb = memory.rssKb;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) `pid` has used so far; null once it is gone. */
export function readCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces) start at field 3; utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
