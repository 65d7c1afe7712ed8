import type { Socket } from 'node:net';
import { CRLF_PONG, SipStreamFramer } from '../codec/sip/stream-framer.ts';
import type { Flow, FlowCloseReason, RejectReason, TransportLimits } from './flow.ts';

/** What a connection reports to the layer that owns it. */
export interface ConnectionHooks {
  message(data: Buffer, flow: Flow): void;
  /** The connection was cut because of what the peer did (or did not do). */
  rejected(reason: RejectReason, flow: Flow): void;
  /** Called exactly once, when the connection is gone. */
  closed(flow: Flow, reason: FlowCloseReason): void;
}

/** One established connection-oriented flow (TCP, TLS, WS or WSS). */
export interface SipConnection {
  readonly flow: Flow;
  readonly closed: boolean;
  /** Queues `data`; false when the connection is closed or was closed for backlog. */
  send(data: Buffer): boolean;
  /** Closes the connection; idempotent. */
  close(reason?: FlowCloseReason): void;
}

/** How long a graceful close waits for the peer before destroying the socket. */
const GRACEFUL_CLOSE_MS = 2000;

/**
 * A SIP flow over a TCP or TLS socket: frames the stream (RFC 3261 §18.3), answers
 * RFC 5626 CRLF keep-alives, and enforces the idle, slow-message and write-backlog limits.
 */
export class StreamConnection implements SipConnection {
  readonly flow: Flow;
  private readonly socket: Socket;
  private readonly framer: SipStreamFramer;
  private readonly limits: TransportLimits;
  private readonly hooks: ConnectionHooks;
  private messageTimer: NodeJS.Timeout | undefined;
  private isClosed = false;
  private sawError = false;

  constructor(socket: Socket, flow: Flow, limits: TransportLimits, hooks: ConnectionHooks) {
    this.socket = socket;
    this.flow = flow;
    this.limits = limits;
    this.hooks = hooks;
    this.framer = new SipStreamFramer({ maxMessageBytes: limits.maxMessageBytes });
    socket.setNoDelay(true);
    // Reset by traffic in either direction, keep-alives included.
    socket.setTimeout(limits.idleTimeoutMs);
    socket.on('timeout', () => {
      this.reject('idle-timeout');
    });
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('error', () => {
      this.sawError = true;
    });
    socket.on('close', () => {
      this.finish(this.sawError ? 'socket-error' : 'remote-closed');
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: Buffer): boolean {
    if (this.isClosed) return false;
    if (this.socket.writableLength > this.limits.maxWriteBufferBytes) {
      this.reject('write-backlog');
      return false;
    }
    this.socket.write(data);
    return true;
  }

  close(reason: FlowCloseReason = 'local-close'): void {
    if (this.isClosed) return;
    if (reason === 'local-close') {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), GRACEFUL_CLOSE_MS).unref();
    } else {
      this.socket.destroy();
    }
    this.finish(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    for (const output of this.framer.push(chunk)) {
      // A message listener may have closed the flow.
      if (this.closed) return;
      switch (output.type) {
        case 'message':
          this.hooks.message(output.data, this.flow);
          break;
        case 'ping':
          // RFC 5626 §4.4.1: when a server receives a CRLFCRLF it MUST respond with a
          // single CRLF.
          this.socket.write(CRLF_PONG);
          break;
        case 'error':
          this.reject(output.reason);
          return;
      }
    }
    this.armMessageTimer();
  }

  /** A started message must complete in time, however slowly its bytes trickle in. */
  private armMessageTimer(): void {
    if (this.framer.bufferedBytes === 0) {
      clearTimeout(this.messageTimer);
      this.messageTimer = undefined;
    } else if (this.messageTimer === undefined) {
      this.messageTimer = setTimeout(() => {
        this.reject('message-timeout');
      }, this.limits.messageTimeoutMs);
    }
  }

  private reject(reason: RejectReason): void {
    if (this.isClosed) return;
    this.hooks.rejected(reason, this.flow);
    this.close(reason);
  }

  private finish(reason: FlowCloseReason): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.messageTimer);
    this.messageTimer = undefined;
    this.socket.setTimeout(0);
    this.hooks.closed(this.flow, reason);
  }
}
