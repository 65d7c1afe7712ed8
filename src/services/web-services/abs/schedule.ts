/** When the address book is generated next: the daily time (UTC) or the interval, whichever comes first. */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The schedule settings (`web-services.abs`). */
export interface AbsSchedule {
  /** `HH:MM` UTC, or null. */
  readonly dailyAt: string | null;
  /** Minutes between generations; 0: none. */
  readonly intervalMinutes: number;
}

/** The next generation time after `nowMs`, or undefined when nothing is scheduled. */
export function nextGenerationAt(nowMs: number, schedule: AbsSchedule): number | undefined {
  const candidates: number[] = [];
  if (schedule.intervalMinutes > 0) candidates.push(nowMs + schedule.intervalMinutes * MINUTE_MS);
  if (schedule.dailyAt !== null) {
    const [hours = 0, minutes = 0] = schedule.dailyAt.split(':').map(Number);
    const dayStart = nowMs - (nowMs % DAY_MS);
    let at = dayStart + hours * 3_600_000 + minutes * MINUTE_MS;
    if (at <= nowMs) at += DAY_MS;
    candidates.push(at);
  }
  return candidates.length === 0 ? undefined : Math.min(...candidates);
}
