/**
 * Binding requests per second (RFC 8489 §3): a few connected UDP sockets, each keeping a
 * bounded window of unauthenticated Binding requests in flight; every success response
 * sends the next request. Requests are prebuilt 20-byte headers; the last 4 bytes of the
 * transaction ID count requests so a response is matched without decoding it.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  MAGIC_COOKIE,
  STUN_HEADER_LENGTH,
  STUN_METHOD,
  encodeMessageType,
} from '../../src/codec/stun/index.ts';

/** Options of {@link runBindingLoad}. */
export interface BindingLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly sockets: number;
  /** Requests in flight per socket. */
  readonly window: number;
  readonly seconds: number;
  /** A request unanswered this long counts as lost and is replaced. */
  readonly timeoutMs?: number;
}

/** What {@link runBindingLoad} measured. */
export interface BindingLoadResult {
  readonly requests: number;
  readonly responses: number;
  readonly errorResponses: number;
  readonly timeouts: number;
  readonly responsesPerSecond: number;
  readonly windowMs: number;
  readonly generatorCpuSeconds: number;
}

const REQUEST_TYPE = encodeMessageType(STUN_METHOD.Binding, 'request');
const SUCCESS_TYPE = encodeMessageType(STUN_METHOD.Binding, 'success');
const ERROR_TYPE = encodeMessageType(STUN_METHOD.Binding, 'error');
const COUNTER_AT = 16;

function connectedSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 21 });
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

/** Runs the Binding load for `seconds` (bounded by time; every loop ends with it). */
export async function runBindingLoad(options: BindingLoadOptions): Promise<BindingLoadResult> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const prefix = randomBytes(8);
  const sockets = await Promise.all(
    Array.from({ length: options.sockets }, () => connectedSocket(options.host, options.port)),
  );
  /** Counter → send time, for requests in flight. */
  const inFlight = new Map<number, { at: number; socket: Socket }>();
  let counter = 0;
  let requests = 0;
  let responses = 0;
  let errorResponses = 0;
  let timeouts = 0;
  let running = true;

  const sendRequest = (socket: Socket): void => {
    if (!running) return;
    const request = Buffer.allocUnsafe(STUN_HEADER_LENGTH);
    request.writeUInt16BE(REQUEST_TYPE, 0);
    request.writeUInt16BE(0, 2);
    request.writeUInt32BE(MAGIC_COOKIE, 4);
    prefix.copy(request, 8);
    counter = (counter + 1) >>> 0;
    request.writeUInt32BE(counter, COUNTER_AT);
    inFlight.set(counter, { at: performance.now(), socket });
    socket.send(request);
    requests++;
  };

  for (const socket of sockets) {
    socket.on('message', (datagram) => {
      if (datagram.length < STUN_HEADER_LENGTH) return;
      const type = datagram.readUInt16BE(0);
      if (type !== SUCCESS_TYPE && type !== ERROR_TYPE) return;
      const id = datagram.readUInt32BE(COUNTER_AT);
      if (!inFlight.delete(id)) return; // late answer to a request already timed out
      if (type === SUCCESS_TYPE) responses++;
      else errorResponses++;
      sendRequest(socket);
    });
  }

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const socket of sockets) {
    for (let i = 0; i < options.window; i++) sendRequest(socket);
  }
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [id, request] of inFlight) {
      if (now - request.at < timeoutMs) continue;
      inFlight.delete(id);
      timeouts++;
      sendRequest(request.socket);
    }
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  running = false;
  const windowMs = performance.now() - started;
  const counted = responses;
  clearInterval(sweep);
  const cpu = process.cpuUsage(cpuBefore);
  await new Promise((resolve) => setTimeout(resolve, Math.min(500, timeoutMs)));
  for (const socket of sockets) socket.close();
  return {
    requests,
    responses: counted,
    errorResponses,
    timeouts,
    responsesPerSecond: (counted / windowMs) * 1000,
    windowMs,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
