/**
 * The invalid-STUN flood: datagrams a TURN server must reject cheaply, sent at a fixed rate
 * from a few sockets, bounded by count and time. Each datagram passes the cheap "is this
 * STUN?" check (RFC 8489 §5 header, magic cookie, length) so the server has to look further.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  MAGIC_COOKIE,
  Nonce,
  Realm,
  RequestedTransport,
  STUN_ATTR,
  STUN_METHOD,
  TRANSPORT_PROTOCOL,
  Username,
  encodeMessageType,
  encodeStun,
  longTermKey,
  newTransactionId,
  rawAttribute,
} from '../../src/codec/stun/index.ts';

/** A STUN header with the given type and body (the body is copied). */
function stunWithBody(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(20 + body.length);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(body.length, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  newTransactionId().copy(out, 8);
  body.copy(out, 20);
  return out;
}

/**
 * The kinds of invalid STUN the flood cycles through, by name:
 * - `truncated-attribute`: a Binding request whose SOFTWARE claims more bytes than the message has.
 * - `bad-integrity-length`: MESSAGE-INTEGRITY of 8 bytes (RFC 8489 §14.5 says 20).
 * - `unknown-required-attribute`: a Binding request with comprehension-required type 0x7777
 *   (RFC 8489 §6.3.1: answered with 420).
 * - `wrong-credentials`: an Allocate with a made-up nonce and a MESSAGE-INTEGRITY under a
 *   wrong key (answered with 401 or 438).
 * - `fragmented-header`: a 20-byte header that announces 64 bytes of attributes.
 */
export function invalidStunDatagrams(realm: string): ReadonlyMap<string, Buffer> {
  const bindingRequest = encodeMessageType(STUN_METHOD.Binding, 'request');
  const truncated = Buffer.alloc(8);
  truncated.writeUInt16BE(STUN_ATTR.SOFTWARE, 0);
  truncated.writeUInt16BE(200, 2);
  const badIntegrity = Buffer.alloc(12);
  badIntegrity.writeUInt16BE(STUN_ATTR.MESSAGE_INTEGRITY, 0);
  badIntegrity.writeUInt16BE(8, 2);
  const announced = stunWithBody(bindingRequest, Buffer.alloc(0));
  announced.writeUInt16BE(64, 2);
  const wrongCredentials = encodeStun(
    {
      method: STUN_METHOD.Allocate,
      cls: 'request',
      transactionId: newTransactionId(),
      attributes: [
        RequestedTransport.of(TRANSPORT_PROTOCOL.UDP),
        Username.of('4102444800:flood'),
        Realm.of(realm),
        Nonce.of(randomBytes(12).toString('hex')),
      ],
    },
    { integrity: { key: longTermKey('4102444800:flood', realm, 'wrong'), algorithm: 'sha1' } },
  );
  return new Map([
    ['truncated-attribute', stunWithBody(bindingRequest, truncated)],
    ['bad-integrity-length', stunWithBody(bindingRequest, badIntegrity)],
    [
      'unknown-required-attribute',
      encodeStun({
        method: STUN_METHOD.Binding,
        cls: 'request',
        transactionId: newTransactionId(),
        attributes: [rawAttribute(0x7777, Buffer.alloc(4))],
      }),
    ],
    ['wrong-credentials', wrongCredentials],
    ['fragmented-header', announced],
  ]);
}

/** Options of {@link runFlood}. */
export interface FloodOptions {
  readonly host: string;
  readonly port: number;
  readonly realm: string;
  /** Datagrams per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Stop after this many datagrams even if time remains (default rate × seconds). */
  readonly maxCount?: number;
  /** Source sockets, used in turn (default 8). */
  readonly sockets?: number;
}

/** What the flood did. */
export interface FloodResult {
  readonly sent: number;
  readonly sentPerSecond: number;
  /** Datagrams the server answered (error responses), all sockets together. */
  readonly responses: number;
  readonly windowMs: number;
}

function connected(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.connect(port, host, () => {
        socket.removeListener('error', reject);
        socket.on('error', () => undefined);
        resolve(socket);
      });
    });
  });
}

/** Sends the flood (each datagram with a fresh transaction-ID tail) and counts answers. */
export async function runFlood(options: FloodOptions): Promise<FloodResult> {
  const templates = [...invalidStunDatagrams(options.realm).values()];
  const sockets = await Promise.all(
    Array.from({ length: options.sockets ?? 8 }, () => connected(options.host, options.port)),
  );
  let responses = 0;
  for (const socket of sockets) {
    socket.on('message', () => {
      responses++;
    });
  }
  const total = Math.min(options.maxCount ?? Infinity, Math.round(options.rate * options.seconds));
  const started = performance.now();
  const hardStop = started + options.seconds * 1000 * 1.5 + 500;
  let sent = 0;
  let lastSendAt = started;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) / 1000) * options.rate));
      while (sent < due) {
        const template = templates[sent % templates.length] as Buffer;
        const datagram = Buffer.allocUnsafe(template.length);
        template.copy(datagram);
        datagram.writeUInt32BE(sent, 16); // vary the transaction ID
        (sockets[sent % sockets.length] as Socket).send(datagram);
        sent++;
      }
      lastSendAt = now;
      if (sent < total && now < hardStop) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const windowMs = Math.max(1, lastSendAt - started);
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const socket of sockets) socket.close();
  return { sent, sentPerSecond: (sent / windowMs) * 1000, responses, windowMs };
}

/** A flood sender in its own process, started ahead and released with {@link go}. */
export interface FloodProcess {
  /** Starts the flood now. */
  go(): void;
  /** What the flood did, once the process has exited. */
  readonly result: Promise<FloodResult>;
}

/**
 * Spawns `node <loadScript> --mode flood --wait-go …` (it inherits this process's CPU
 * affinity) so its sockets are ready before the window it must cover.
 */
export function startFloodProcess(
  loadScript: string,
  options: { server: string; realm: string; rate: number; seconds: number },
): FloodProcess {
  const child = spawn(
    process.execPath,
    [
      loadScript,
      '--mode',
      'flood',
      '--wait-go',
      '--server',
      options.server,
      '--realm',
      options.realm,
      '--rate',
      String(options.rate),
      '--seconds',
      String(options.seconds),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const result = new Promise<FloodResult>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve((JSON.parse(line) as { result: FloodResult }).result);
      } catch {
        reject(new Error(`flood process exited ${String(code)}: ${out.slice(-500)}`));
      }
    });
  });
  return {
    go: () => {
      child.stdin.end('go\n');
    },
    result,
  };
}
