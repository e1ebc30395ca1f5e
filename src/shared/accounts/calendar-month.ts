/** The calendar month (UTC) of `nowMs` as 'YYYY-MM', and when the next one starts. */
export function calendarMonth(nowMs: number): { month: string; resetsAt: Date } {
  const now = new Date(nowMs);
  const month = now.toISOString().slice(0, 7);
  return { month, resetsAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)) };
}
