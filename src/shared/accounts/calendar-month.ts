/** A calendar month (UTC): its name as 'YYYY-MM', and when the next one starts. */
export interface CalendarMonth {
  month: string;
  resetsAt: Date;
}

/** The month of the last call, with its first millisecond: every request asks for the same one. */
let last: CalendarMonth & { startsAt: number } = { month: '', resetsAt: new Date(0), startsAt: 0 };

/** The calendar month (UTC) of `nowMs` as 'YYYY-MM', and when the next one starts. */
export function calendarMonth(nowMs: number): CalendarMonth {
  if (nowMs >= last.startsAt && nowMs < last.resetsAt.getTime()) return { month: last.month, resetsAt: last.resetsAt };
  const now = new Date(nowMs);
  last = {
    month: now.toISOString().slice(0, 7),
    resetsAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)),
    startsAt: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1),
  };
  return { month: last.month, resetsAt: last.resetsAt };
}
