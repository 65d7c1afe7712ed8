/**
 * What the load generator watches around a measurement window: the server's CPU and RSS,
 * how busy the server's and the load's cores were, whose UDP receive buffers overflowed,
 * and how much CPU processes outside the benchmark took (interference).
 */
import { readFileSync } from 'node:fs';
import {
  allProcessTimes,
  coreBusy,
  coreTimes,
  dropsSince,
  foreignCpu,
  processTree,
  sampleServer,
  udpDrops,
  type CoreTimes,
  type ProcessTimes,
  type ServerSample,
  type UdpDrops,
  type UdpLayout,
} from './proc.ts';
import { median } from './stats.ts';

/** Where the benchmark's processes, sockets and cores are. */
export interface ObserverOptions {
  readonly serverPid: number | undefined;
  readonly echoPid: number | undefined;
  readonly layout: UdpLayout;
  /** taskset-style core lists. */
  readonly serverCpus: string;
  readonly loadCpus: string;
}

/** CPU that processes outside the benchmark used in a window, per second of it. */
export interface Interference {
  /** Cores' worth of other user-space processes (another job on the machine). */
  readonly foreignBusy: number;
  /** Cores' worth of kernel threads (softirq work deferred to ksoftirqd, …). */
  readonly kernelThreadsBusy: number;
  readonly topForeignPid: number | undefined;
  /** Its command line (truncated), if it is still running. */
  readonly topForeignCommand: string | undefined;
}

/** What a window looked like from outside the generator. */
export interface WindowReport {
  readonly serverCpuSeconds: number | undefined;
  /** Server processes' CPU per second of the window. */
  readonly serverProcessBusy: number | undefined;
  /** The server core's busy fraction (/proc/stat, softirq included). */
  readonly serverCoreBusy: number | undefined;
  readonly serverRssBytes: number | undefined;
  readonly echoCpuSeconds: number | undefined;
  /** The load core's busy fraction. */
  readonly loadCoreBusy: number | undefined;
  /** Generator + echo peer CPU per second of the window. */
  readonly loadProcessesBusy: number | undefined;
  readonly udpDropped: UdpDrops;
  readonly interference: Interference;
}

/** The state at a window's start, for {@link Observer.finish}. */
export interface WindowStart {
  readonly server: ServerSample | undefined;
  readonly echoCpuSeconds: number | undefined;
  readonly drops: UdpDrops;
  readonly cores: CoreTimes;
  readonly processes: ProcessTimes;
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 160);
  } catch {
    return undefined;
  }
}

/** Reads /proc around measurement windows; see {@link WindowReport}. */
export class Observer {
  readonly #options: ObserverOptions;

  constructor(options: ObserverOptions) {
    this.#options = options;
  }

  #server(): ServerSample | undefined {
    const pid = this.#options.serverPid;
    return pid === undefined ? undefined : sampleServer(pid);
  }

  #echoCpu(): number | undefined {
    const pid = this.#options.echoPid;
    return pid === undefined ? undefined : sampleServer(pid).cpuSeconds;
  }

  /** The benchmark's own processes: the orchestrator's tree, this one's, server, echo. */
  #ourPids(): Set<number> {
    const ours = new Set([...processTree(process.ppid), ...processTree(process.pid)]);
    const { serverPid, echoPid } = this.#options;
    if (serverPid !== undefined) for (const pid of processTree(serverPid)) ours.add(pid);
    if (echoPid !== undefined) ours.add(echoPid);
    return ours;
  }

  /** Marks the start of a window. */
  start(): WindowStart {
    return {
      drops: udpDrops(this.#options.layout),
      cores: coreTimes(),
      processes: allProcessTimes(),
      server: this.#server(),
      echoCpuSeconds: this.#echoCpu(),
    };
  }

  /**
   * Ends a window of `windowSeconds` that began at `start`; `generatorCpuSeconds` is what the
   * generator itself used in it.
   */
  finish(start: WindowStart, windowSeconds: number, generatorCpuSeconds: number): WindowReport {
    const server = this.#server();
    const echoNow = this.#echoCpu();
    const cores = coreTimes();
    const seconds = Math.max(0.001, windowSeconds);
    const serverCpuSeconds =
      start.server === undefined || server === undefined
        ? undefined
        : server.cpuSeconds - start.server.cpuSeconds;
    const echoCpuSeconds =
      start.echoCpuSeconds === undefined || echoNow === undefined
        ? undefined
        : echoNow - start.echoCpuSeconds;
    const foreign = foreignCpu(start.processes, allProcessTimes(), this.#ourPids());
    return {
      serverCpuSeconds,
      serverProcessBusy: serverCpuSeconds === undefined ? undefined : serverCpuSeconds / seconds,
      serverCoreBusy: coreBusy(start.cores, cores, this.#options.serverCpus),
      serverRssBytes: server?.rssBytes,
      echoCpuSeconds,
      loadCoreBusy: coreBusy(start.cores, cores, this.#options.loadCpus),
      loadProcessesBusy:
        echoCpuSeconds === undefined ? undefined : (generatorCpuSeconds + echoCpuSeconds) / seconds,
      udpDropped: dropsSince(start.drops, udpDrops(this.#options.layout)),
      interference: {
        foreignBusy: foreign.processes / seconds,
        kernelThreadsBusy: foreign.kernelThreads / seconds,
        topForeignPid: foreign.top?.pid,
        topForeignCommand: foreign.top === undefined ? undefined : commandLine(foreign.top.pid),
      },
    };
  }

  /** Median of three server RSS readings `gapMs` apart (smooths a GC or allocator spike). */
  async settledRss(gapMs = 300): Promise<number | undefined> {
    const pid = this.#options.serverPid;
    if (pid === undefined) return undefined;
    const readings: number[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      readings.push(sampleServer(pid).rssBytes);
    }
    return median(readings);
  }
}
