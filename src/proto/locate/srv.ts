import type { SrvRecord } from './types.ts';

/**
 * Orders SRV records for trial as RFC 2782 ("Usage rules") requires: ascending priority;
 * within a priority, a weighted random permutation where weight-0 records get a small
 * chance. `random` returns a number in [0, 1) and is injected so tests are deterministic.
 * Records whose target is "." are dropped: "the service is decidedly not available".
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const usable = records.filter((r) => r.name !== '.' && r.name !== '');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const ordered: SrvRecord[] = [];
  for (const priority of priorities) {
    // RFC 2782: "arrange all SRV RRs (that have not been ordered yet) in any order, except
    // that all those with weight 0 are placed at the beginning of the list."
    const group = usable
      .filter((r) => r.priority === priority)
      .sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (group.length > 0) {
      const total = group.reduce((sum, r) => sum + r.weight, 0);
      // "Then choose a uniform random number between 0 and the sum computed (inclusive),
      // and select the RR whose running sum value is the first in the selected order
      // which is greater than or equal to the random number selected."
      const pick = Math.min(Math.floor(random() * (total + 1)), total);
      let running = 0;
      let index = group.length - 1;
      for (let i = 0; i < group.length; i++) {
        running += group[i]?.weight ?? 0;
        if (running >= pick) {
          index = i;
          break;
        }
      }
      const [chosen] = group.splice(index, 1);
      if (chosen !== undefined) ordered.push(chosen);
    }
  }
  return ordered;
}
