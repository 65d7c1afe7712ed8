/**
 * Memory of a registrar under test: RSS and PSS summed over its processes, plus its own
 * shared-pool accounting when it has one. Kamailio's workers all map one shared-memory pool,
 * so summed RSS counts each touched shared page once per process; PSS divides a shared page
 * between the processes that map it, so summed PSS is the memory the server really holds.
 */
import { readFileSync } from 'node:fs';
import { rssBytes } from '../turn/proc.ts';
import type { RegistrarUnderTest } from './servers.ts';

/** The `Pss:` line of /proc/<pid>/smaps_rollup, in bytes (undefined if absent). */
export function parseSmapsRollupPss(text: string): number | undefined {
  const match = /^Pss:\s+(\d+) kB$/m.exec(text);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** Sum of PSS over `pids`, in bytes (0 for a process that is gone or unreadable). */
export function pssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue;
    }
    total += parseSmapsRollupPss(text) ?? 0;
  }
  return total;
}

/** One reading of a server's memory. */
export interface MemorySample {
  readonly processes: number;
  readonly rssBytes: number;
  readonly pssBytes: number;
  readonly sharedPoolBytes: number | undefined;
  readonly bindings: number | undefined;
}

/** Reads the server's memory now. */
export async function sampleMemory(server: RegistrarUnderTest): Promise<MemorySample> {
  const pids = server.pid();
  return {
    processes: pids.length,
    rssBytes: rssBytes(pids),
    pssBytes: pssBytes(pids),
    sharedPoolBytes: await server.sharedPoolBytes?.(),
    bindings: await server.bindingCount?.(),
  };
}
