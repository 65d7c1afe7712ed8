// The hostile traffic hostile-agent.ts sends from inside a namespace: raw payloads (the
// RFC 4475 corpus), a UDP flood, and groups of connections held open (idle TLS sessions,
// slowloris). Every loop is bounded in count and in time.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { SipStreamFramer } from '../../src/codec/sip/stream-framer.ts';
import type { AgentOps, ExchangeOutcome, HeldConnection } from './hostile-protocol.ts';

type Args<K extends keyof AgentOps> = AgentOps[K]['args'];
type Result<K extends keyof AgentOps> = AgentOps[K]['result'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `task` for every item, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? String(error);
}

function exchangeUdp(host: string, port: number, data: Buffer, waitMs: number) {
  return new Promise<ExchangeOutcome>((resolve) => {
    const socket = createSocket('udp4');
    const responses: string[] = [];
    let error: string | undefined;
    socket.on('message', (message) => responses.push(message.toString('latin1')));
    socket.on('error', (e) => (error = errorCode(e)));
    socket.send(data, port, host);
    setTimeout(() => {
      socket.close();
      resolve({ responses, closedByPeer: false, ...(error === undefined ? {} : { error }) });
    }, waitMs);
  });
}

function exchangeStream(
  transport: 'tcp' | 'tls',
  host: string,
  port: number,
  ca: Buffer | undefined,
  data: Buffer,
  waitMs: number,
) {
  return new Promise<ExchangeOutcome>((resolve) => {
    const socket: Socket =
      transport === 'tls'
        ? tlsConnect({ host, port, ...(ca === undefined ? {} : { ca }) })
        : tcpConnect({ host, port });
    const framer = new SipStreamFramer();
    const responses: string[] = [];
    let closedByPeer = false;
    let error: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses, closedByPeer, ...(error === undefined ? {} : { error }) });
    };
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      socket.write(data);
      timer = setTimeout(finish, waitMs);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const out of framer.push(chunk))
        if (out.type === 'message') responses.push(out.data.toString('latin1'));
    });
    socket.on('error', (e) => (error ??= errorCode(e)));
    socket.on('close', () => {
      // Closed before our timer: the peer (or the network) ended it.
      closedByPeer = !done;
      finish();
    });
  });
}

/** `exchange`: one socket or connection per payload. */
export async function exchange(args: Args<'exchange'>): Promise<Result<'exchange'>> {
  const ca = args.caFile === undefined ? undefined : readFileSync(args.caFile);
  const outcomes: Record<string, ExchangeOutcome> = {};
  await eachLimited(args.payloads, args.concurrency, async ({ key, data }) => {
    const bytes = Buffer.from(data, 'base64');
    outcomes[key] =
      args.transport === 'udp'
        ? await exchangeUdp(args.host, args.port, bytes, args.waitMs)
        : await exchangeStream(args.transport, args.host, args.port, ca, bytes, args.waitMs);
  });
  return outcomes;
}

/** `flood`: datagrams at a fixed rate from one socket, bounded by count and time. */
export async function flood(args: Args<'flood'>): Promise<Result<'flood'>> {
  const socket = createSocket('udp4');
  let answered = 0;
  let lastAnswerAt: number | undefined;
  socket.on('message', () => {
    answered++;
    lastAnswerAt = Date.now();
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.bind(0, resolve);
  });
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((args.ratePerSecond * tickMs) / 1000));
  const startedAt = Date.now();
  let sent = 0;
  while (sent < args.maxCount && Date.now() - startedAt < args.durationMs) {
    const due = Math.min(
      args.maxCount,
      Math.ceil(((Date.now() - startedAt + tickMs) * args.ratePerSecond) / 1000),
    );
    for (let n = 0; n < perTick * 4 && sent < due; n++, sent++)
      socket.send(args.text.replaceAll('{i}', String(sent)), args.port, args.host);
    await sleep(tickMs);
  }
  const endedAt = Date.now();
  // Answers still on their way.
  await sleep(300);
  socket.close();
  return { sent, startedAt, endedAt, answered, lastAnswerAt };
}

interface MutableHeld {
  source: string;
  openedAt: number;
  readyAt?: number;
  closedAt?: number;
  bytesSent: number;
  bytesReceived: number;
  error?: string;
}

/** A group of connections held open; `close()` ends them all. */
export class HoldGroup {
  private readonly held: MutableHeld[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly deadline: NodeJS.Timeout;
  private closed = false;

  constructor(maxHoldMs: number) {
    this.deadline = setTimeout(() => {
      this.close();
    }, maxHoldMs);
  }

  /** Opens the connections; resolves when each is ready or failed. */
  async start(args: Args<'hold.start'>): Promise<Result<'hold.start'>> {
    const ca = args.caFile === undefined ? undefined : readFileSync(args.caFile);
    const text = Buffer.from(args.text ?? '', 'latin1');
    const slots = args.sources.flatMap((source) =>
      Array.from({ length: args.perSource }, () => source),
    );
    let ready = 0;
    let failed = 0;
    await eachLimited(slots, args.concurrency, async (source) => {
      if (this.closed) return;
      const ok = await this.open(args, source, ca, text);
      if (ok) ready++;
      else failed++;
    });
    return { ready, failed, endedAt: Date.now() };
  }

  private open(
    args: Args<'hold.start'>,
    source: string,
    ca: Buffer | undefined,
    text: Buffer,
  ): Promise<boolean> {
    const entry: MutableHeld = { source, openedAt: Date.now(), bytesSent: 0, bytesReceived: 0 };
    this.held.push(entry);
    const raw = tcpConnect({ host: args.host, port: args.port, localAddress: source });
    raw.on('error', (error) => (entry.error ??= errorCode(error)));
    const socket: Socket =
      args.kind === 'tls-idle'
        ? tlsConnect({ socket: raw, host: args.host, ...(ca === undefined ? {} : { ca }) })
        : raw;
    this.sockets.add(socket);
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        resolve(ok);
      };
      socket.on('data', (chunk: Buffer) => (entry.bytesReceived += chunk.length));
      socket.on('error', (error) => (entry.error ??= errorCode(error)));
      socket.on('close', () => {
        entry.closedAt = Date.now();
        this.sockets.delete(socket);
        settle(false);
      });
      socket.once(args.kind === 'tls-idle' ? 'secureConnect' : 'connect', () => {
        entry.readyAt = Date.now();
        this.feed(args, socket, entry, text);
        settle(true);
      });
    });
  }

  private write(socket: Socket, entry: MutableHeld, bytes: Buffer): void {
    if (bytes.length === 0 || socket.destroyed) return;
    socket.write(bytes);
    entry.bytesSent += bytes.length;
  }

  /** What the connection sends once open. */
  private feed(args: Args<'hold.start'>, socket: Socket, entry: MutableHeld, text: Buffer): void {
    switch (args.kind) {
      case 'tls-idle':
        return;
      case 'tls-stall':
        this.write(socket, entry, text);
        return;
      case 'tcp-stall':
        this.write(socket, entry, text.subarray(0, args.stallAfterBytes ?? text.length));
        return;
      case 'tcp-trickle': {
        let offset = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || offset >= text.length) {
            clearInterval(timer);
            this.timers.delete(timer);
            return;
          }
          this.write(socket, entry, text.subarray(offset, offset + 1));
          offset++;
        }, args.intervalMs ?? 1000);
        this.timers.add(timer);
        this.write(socket, entry, text.subarray(0, 1));
        offset = 1;
        return;
      }
    }
  }

  status(): Result<'hold.status'> {
    return { connections: this.held.map((entry): HeldConnection => ({ ...entry })) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadline);
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
