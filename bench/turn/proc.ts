/**
 * What the benchmark reads from Linux /proc about a server: its process tree (Rampart runs a
 * primary and workers), CPU time (utime + stime of every process; /proc/<pid>/stat already
 * sums a process's threads) and resident memory (VmRSS).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clockTicksPerSecond: number | undefined;

/** sysconf(_SC_CLK_TCK): the unit of utime and stime in /proc/<pid>/stat. */
function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const parsed = Number(text);
    clockTicksPerSecond = Number.isInteger(parsed) && parsed > 0 ? parsed : 100;
  }
  return clockTicksPerSecond;
}

/**
 * The fields of /proc/<pid>/stat after the command name, which is in parentheses and may
 * itself contain spaces and parentheses. Index 0 is field 3 (state). Undefined if the process
 * is gone.
 */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  return text
    .slice(close + 2)
    .trim()
    .split(' ');
}

/** `root` and every live descendant of it, root first. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const fields = statFields(pid);
    if (fields === undefined) continue;
    const parent = Number(fields[1]); // field 4: ppid
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [pid]);
    else list.push(pid);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (statFields(pid) === undefined) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** User + system CPU seconds consumed so far by `pids` (each with all its threads). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields === undefined) continue;
    ticks += Number(fields[11]) + Number(fields[12]); // fields 14 and 15: utime, stime
  }
  return ticks / clockTicks();
}

/** Sum of VmRSS over `pids`, in bytes (0 for a process that is gone). */
export function rssBytes(pids: readonly number[]): number {
  let kilobytes = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
    if (match !== null) kilobytes += Number(match[1]);
  }
  return kilobytes * 1024;
}

/** Pins every thread of every process in `pids` to `cpuList` (`taskset -a -p -c`). */
export function pinProcesses(pids: readonly number[], cpuList: string): void {
  for (const pid of pids) {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  }
}

/** A snapshot of a server's process tree: CPU seconds and RSS bytes. */
export interface ServerSample {
  readonly pids: readonly number[];
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

/** Reads CPU and RSS of `root` and its descendants now. */
export function sampleServer(root: number): ServerSample {
  const pids = processTree(root);
  return { pids, cpuSeconds: cpuSeconds(pids), rssBytes: rssBytes(pids) };
}

/** Datagrams the kernel dropped (full receive buffer) per socket owner, from /proc/net/udp. */
export interface UdpDrops {
  /** The server's listening port and its relay range. */
  readonly server: number;
  /** Client sockets: connected to the server's port. */
  readonly generator: number;
  readonly echo: number;
  readonly other: number;
}

/** Where the benchmark's sockets are, to attribute drops. */
export interface UdpLayout {
  readonly serverPort: number;
  readonly echoPort: number;
  readonly relayMinPort: number;
  readonly relayMaxPort: number;
}

/**
 * Sums the `drops` column of /proc/net/udp by owner (sockets closed since are not counted:
 * take deltas over a window in which none closes).
 */
export function udpDrops(layout: UdpLayout): UdpDrops {
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return { server: 0, generator: 0, echo: 0, other: 0 };
  }
  const totals = { server: 0, generator: 0, echo: 0, other: 0 };
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const drops = Number(fields[fields.length - 1]);
    if (!(drops > 0)) continue;
    const localPort = parseInt((fields[1] ?? '').split(':')[1] ?? '', 16);
    const remotePort = parseInt((fields[2] ?? '').split(':')[1] ?? '', 16);
    if (localPort === layout.echoPort) totals.echo += drops;
    else if (remotePort === layout.serverPort) totals.generator += drops;
    else if (
      localPort === layout.serverPort ||
      (localPort >= layout.relayMinPort && localPort <= layout.relayMaxPort)
    ) {
      totals.server += drops;
    } else totals.other += drops;
  }
  return totals;
}

/** `after - before`, field by field. */
export function dropsSince(before: UdpDrops, after: UdpDrops): UdpDrops {
  return {
    server: after.server - before.server,
    generator: after.generator - before.generator,
    echo: after.echo - before.echo,
    other: after.other - before.other,
  };
}

/** Per-core jiffies from /proc/stat: busy (all but idle and iowait) and total. */
export type CoreTimes = ReadonlyMap<number, { readonly busy: number; readonly total: number }>;

/** Reads per-core times now. */
export function coreTimes(): CoreTimes {
  const times = new Map<number, { busy: number; total: number }>();
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return times;
  }
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const fields = (match[2] as string).split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    times.set(Number(match[1]), { busy: total - idle, total });
  }
  return times;
}

/** Fraction of the time cores in `cpuList` (e.g. '0' or '0,2-3') were busy between samples. */
export function coreBusy(before: CoreTimes, after: CoreTimes, cpuList: string): number | undefined {
  let busy = 0;
  let total = 0;
  for (const core of parseCpuList(cpuList)) {
    const a = before.get(core);
    const b = after.get(core);
    if (a === undefined || b === undefined) continue;
    busy += b.busy - a.busy;
    total += b.total - a.total;
  }
  return total > 0 ? busy / total : undefined;
}

/** The cores of a taskset-style list: '0', '1,3', '0-2'. */
export function parseCpuList(cpuList: string): number[] {
  const cores: number[] = [];
  for (const part of cpuList.split(',')) {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    const last = to !== undefined && Number.isInteger(to) ? to : from;
    for (let core = from; core <= last; core++) cores.push(core);
  }
  return cores;
}

/** CPU ticks of every process now, and which are kernel threads (children of kthreadd). */
export type ProcessTimes = ReadonlyMap<
  number,
  { readonly ticks: number; readonly kernel: boolean }
>;

/** Reads utime + stime of every process in /proc. */
export function allProcessTimes(): ProcessTimes {
  const times = new Map<number, { ticks: number; kernel: boolean }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const fields = statFields(pid);
    if (fields === undefined) continue;
    const ppid = Number(fields[1]);
    times.set(pid, {
      ticks: Number(fields[11]) + Number(fields[12]),
      kernel: pid === 2 || ppid === 2,
    });
  }
  return times;
}

/** CPU seconds used between two snapshots by processes outside `ours`: user space and kernel threads. */
export interface ForeignCpu {
  /** Other user-space processes: interference from outside the benchmark. */
  readonly processes: number;
  /** Kernel threads (ksoftirqd, kworkers…): partly the benchmark's own network load. */
  readonly kernelThreads: number;
  /** The busiest foreign process, for the log. */
  readonly top: { readonly pid: number; readonly seconds: number } | undefined;
}

/** What processes other than `ours` consumed between `before` and `after`. */
export function foreignCpu(
  before: ProcessTimes,
  after: ProcessTimes,
  ours: ReadonlySet<number>,
): ForeignCpu {
  let processes = 0;
  let kernelThreads = 0;
  let top: { pid: number; seconds: number } | undefined;
  const ticks = clockTicks();
  for (const [pid, now] of after) {
    if (ours.has(pid)) continue;
    const seconds = (now.ticks - (before.get(pid)?.ticks ?? 0)) / ticks;
    if (seconds <= 0) continue;
    if (now.kernel) kernelThreads += seconds;
    else {
      processes += seconds;
      if (top === undefined || seconds > top.seconds) top = { pid, seconds };
    }
  }
  return { processes, kernelThreads, top };
}
