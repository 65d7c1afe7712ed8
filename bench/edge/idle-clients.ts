/**
 * The idle-connection client of `npm run bench:edge`, in a process of its own (started with
 * `fork` by run.ts, so its sockets cost the edge's processes nothing). On `open` it opens that
 * many TLS connections to the edge from 127.0.0.2…, at most <in-flight> handshakes at a time; each completes its handshake (the edge's certificate verified against the CA) and sends
 * one CRLFCRLF keep-alive ping (RFC 5626 §4.4.1), which the edge answers with a CRLF pong. The
 * connections then stay open and quiet until `close`. `status` counts the open ones without a
 * byte sent; `check` pings every open connection once more and counts the pongs. Every phase is bounded in time.
 *
 * Usage (by run.ts): idle-clients.ts <host> <port> <ca-file> <source-addresses> <in-flight>
 */
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { countPongs, sourceAddress } from './report.ts';
import type { ClientCommand, ClientReport } from './report.ts';

/** One handshake's deadline. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long an `open` may take in all, and how long pongs are awaited. */
const OPEN_DEADLINE_MS = 180_000;
const PONG_WAIT_MS = 10_000;
/** Most connections one process may hold (its descriptor limit is the real bound). */
const MAX_CONNECTIONS = 60_000;

const [host = '127.0.0.1', portText = '', caFile = '', addressesText = '100', inFlightText = '1'] =
  process.argv.slice(2);
const inFlight = Math.max(1, Math.min(1000, Number(inFlightText) || 1));
const port = Number(portText);
const addressCount = Number(addressesText);
const ca = readFileSync(caFile);

interface Idle {
  readonly socket: TLSSocket;
  /** Pongs received so far. */
  pongs: number;
  /** Called on every pong and on close, while someone awaits this connection. */
  wake: (() => void) | undefined;
}

const open = new Set<Idle>();
let opened = 0;
let closedByServer = 0;
let closing = false;
/** What the first handshake negotiated. */
let negotiated: { protocol: string | null; cipher: string | null } | undefined;

function send(report: ClientReport): void {
  process.send?.(report);
}

/** Opens one connection; resolves with it, or with why it failed. */
function openOne(index: number): Promise<Idle | string> {
  return new Promise((resolve) => {
    // TCP first: tls.connect takes no source address of its own.
    const tcp = connectTcp({ host, port, localAddress: sourceAddress(index, addressCount) });
    const socket = connect({ socket: tcp, host, ca });
    const idle: Idle = { socket, pongs: 0, wake: undefined };
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('handshake timeout');
    }, HANDSHAKE_TIMEOUT_MS);
    socket.setEncoding('latin1');
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      negotiated ??= {
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().standardName,
      };
      open.add(idle);
      socket.write('\r\n\r\n');
      resolve(idle);
    });
    socket.on('data', (chunk: string) => {
      idle.pongs += countPongs(chunk);
      idle.wake?.();
    });
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      resolve(error.message);
    });
    socket.once('close', () => {
      if (open.delete(idle) && !closing) closedByServer++;
      idle.wake?.();
    });
  });
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function openMany(count: number): Promise<void> {
  const started = Date.now();
  const wanted = Math.min(count, MAX_CONNECTIONS - opened);
  const mine: Idle[] = [];
  const errors = new Set<string>();
  let failed = 0;
  let next = 0;
  const deadline = started + OPEN_DEADLINE_MS;
  const lane = async (): Promise<void> => {
    while (next < wanted && Date.now() < deadline) {
      const index = opened + next++;
      const result = await openOne(index);
      if (typeof result === 'string') {
        failed++;
        if (errors.size < 5) errors.add(result);
      } else {
        mine.push(result);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, Math.max(1, wanted)) }, lane));
  opened += next;
  failed += wanted - next; // not even tried before the deadline
  await waitFor(() => mine.every((idle) => idle.pongs >= 1), PONG_WAIT_MS);
  send({
    type: 'opened',
    requested: count,
    established: mine.length,
    ponged: mine.filter((idle) => idle.pongs >= 1).length,
    open: open.size,
    failed,
    errors: [...errors],
    milliseconds: Date.now() - started,
    protocol: negotiated?.protocol ?? null,
    cipher: negotiated?.cipher ?? null,
  });
}

/** Pings one open connection and waits for its pong: true if it came. */
function pingOne(idle: Idle): Promise<boolean> {
  return new Promise((resolve) => {
    if (!open.has(idle)) {
      resolve(false);
      return;
    }
    const before = idle.pongs;
    const settle = (answered: boolean): void => {
      clearTimeout(timer);
      idle.wake = undefined;
      resolve(answered);
    };
    const timer = setTimeout(() => {
      settle(false);
    }, PONG_WAIT_MS);
    idle.wake = () => {
      if (idle.pongs > before) settle(true);
      else if (!open.has(idle)) settle(false);
    };
    idle.socket.write('\r\n\r\n');
  });
}

/**
 * A second ping on every open connection, at most <in-flight> at a time (all at once would be
 * 5,000 idle connections waking in the same millisecond: a storm, not a liveness check).
 */
async function check(): Promise<void> {
  const targets = [...open];
  let next = 0;
  let ponged = 0;
  const deadline = Date.now() + OPEN_DEADLINE_MS;
  const lane = async (): Promise<void> => {
    while (next < targets.length && Date.now() < deadline) {
      const idle = targets[next++];
      if (idle !== undefined && (await pingOne(idle))) ponged++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, Math.max(1, targets.length)) }, lane));
  send({ type: 'checked', open: open.size, ponged, closedByServer });
}

function closeAll(): void {
  closing = true;
  for (const idle of open) idle.socket.destroy();
  open.clear();
  if (process.connected) process.disconnect();
}

process.on('message', (message: ClientCommand) => {
  switch (message.type) {
    case 'open':
      void openMany(message.count);
      break;
    case 'status':
      send({ type: 'status', open: open.size, closedByServer });
      break;
    case 'check':
      void check();
      break;
    case 'close':
      closeAll();
      break;
  }
});
// Bounded lifetime whatever happens to the benchmark.
setTimeout(() => process.exit(0), 30 * 60_000).unref();
// The benchmark went away: do not keep the edge's connections open.
process.on('disconnect', () => {
  closing = true;
  for (const idle of open) idle.socket.destroy();
  setTimeout(() => process.exit(0), 100).unref();
});
