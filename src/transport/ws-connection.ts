import { isUtf8 } from 'node:buffer';
import type { RawData, WebSocket } from 'ws';
import type { Flow, FlowCloseReason, RejectReason, TransportLimits } from './flow.ts';
import type { ConnectionHooks, SipConnection } from './stream-connection.ts';

/** RFC 7118 §1: the WebSocket subprotocol for SIP. */
export const SIP_WS_SUBPROTOCOL = 'sip';

/** How long a closing handshake may take before the socket is destroyed. */
const GRACEFUL_CLOSE_MS = 2000;
const CRLF_PONG = Buffer.from('\r\n', 'latin1');
const CRLF_PING = Buffer.from('\r\n\r\n', 'latin1');

/**
 * A SIP flow over a WebSocket (RFC 7118): one SIP message per WebSocket message, text or
 * binary, no Content-Length framing. Oversized messages are refused by `ws` itself
 * (`maxPayload`) and reported as `too-large`.
 */
export class WsConnection implements SipConnection {
  readonly flow: Flow;
  private readonly ws: WebSocket;
  private readonly limits: TransportLimits;
  private readonly hooks: ConnectionHooks;
  private readonly idleTimer: NodeJS.Timeout;
  private isClosed = false;
  private errorReason: RejectReason | undefined;

  constructor(ws: WebSocket, flow: Flow, limits: TransportLimits, hooks: ConnectionHooks) {
    this.ws = ws;
    this.flow = flow;
    this.limits = limits;
    this.hooks = hooks;
    this.idleTimer = setTimeout(() => {
      this.reject('idle-timeout');
    }, limits.idleTimeoutMs);
    ws.on('message', (data: RawData) => {
      this.idleTimer.refresh();
      this.onMessage(toBuffer(data));
    });
    ws.on('ping', () => this.idleTimer.refresh());
    ws.on('pong', () => this.idleTimer.refresh());
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes the connection itself after a protocol error; report why.
      this.errorReason =
        error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'ws-bad-frame';
    });
    ws.on('close', () => {
      if (this.errorReason !== undefined && !this.isClosed) {
        this.hooks.rejected(this.errorReason, this.flow);
      }
      this.finish(this.errorReason ?? 'remote-closed');
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: Buffer): boolean {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount > this.limits.maxWriteBufferBytes) {
      this.reject('write-backlog');
      return false;
    }
    this.idleTimer.refresh();
    // RFC 7118 §5.1: SIP messages are sent in text frames when they are valid UTF-8.
    this.ws.send(data, { binary: !isUtf8(data) });
    return true;
  }

  close(reason: FlowCloseReason = 'local-close'): void {
    if (this.isClosed) return;
    if (reason === 'local-close') {
      this.ws.close(1000);
      setTimeout(() => {
        this.ws.terminate();
      }, GRACEFUL_CLOSE_MS).unref();
    } else {
      this.ws.terminate();
    }
    this.finish(reason);
  }

  private onMessage(data: Buffer): void {
    if (this.isClosed) return;
    if (isOnlyCrlf(data)) {
      // Keep-alives some clients send over WebSocket too (RFC 5626 §4.4.1 style).
      if (data.equals(CRLF_PING)) this.ws.send(CRLF_PONG, { binary: false });
      return;
    }
    this.hooks.message(data, this.flow);
  }

  private reject(reason: RejectReason): void {
    if (this.isClosed) return;
    this.hooks.rejected(reason, this.flow);
    this.close(reason);
  }

  private finish(reason: FlowCloseReason): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.idleTimer);
    this.hooks.closed(this.flow, reason);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function isOnlyCrlf(data: Buffer): boolean {
  if (data.length === 0) return true;
  for (const byte of data) if (byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}
