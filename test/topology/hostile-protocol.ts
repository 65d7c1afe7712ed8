// What the test process asks of a hostile-agent.ts running inside a namespace, and what it
// answers: one JSON object per line each way over a Unix socket (a path in the file system is
// shared by every network namespace; the namespace's own addresses are not reachable from
// the test process).
import type { RequestOptions } from '../helpers/sip-ua.ts';

/** A header field as `[name, value]`, the name in canonical lower case (`via`, `from`). */
export type HeaderPair = readonly [name: string, value: string];

/** A SIP response a user agent received. */
export interface ResponseSummary {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly HeaderPair[];
}

/** A SIP request a user agent received. */
export interface RequestSummary {
  readonly method: string;
  readonly requestUri: string;
  readonly headers: readonly HeaderPair[];
  readonly body: string;
}

/** What became of one raw payload sent by `exchange`. */
export interface ExchangeOutcome {
  /** Every SIP message received back on that socket or connection, as latin1 text. */
  readonly responses: readonly string[];
  /** The peer closed the connection (streams only). */
  readonly closedByPeer: boolean;
  /** Connection or send error code, if any. */
  readonly error?: string;
}

/** Kinds of connection a hold group opens and keeps open. */
export type HoldKind =
  /** A TLS session that completes its handshake and then sends nothing. */
  | 'tls-idle'
  /** TCP, sends `text` one byte every `intervalMs` (slowloris). */
  | 'tcp-trickle'
  /** TCP, sends the first `stallAfterBytes` bytes of `text` at once, then nothing. */
  | 'tcp-stall'
  /** TCP to a TLS port: sends `text` (e.g. half a ClientHello, or nothing), then nothing. */
  | 'tls-stall';

/** One connection of a hold group; times are epoch milliseconds. */
export interface HeldConnection {
  readonly source: string;
  readonly openedAt: number;
  /** TCP connected, or TLS handshake complete for `tls-idle`. */
  readonly readyAt?: number;
  readonly closedAt?: number;
  readonly bytesSent: number;
  /** Bytes the server sent back. */
  readonly bytesReceived: number;
  readonly error?: string;
}

/** Arguments and result of every operation. */
export interface AgentOps {
  /** A {@link SipUa} named `name`, connected over TCP or TLS. */
  'ua.connect': {
    args: {
      readonly name: string;
      readonly host: string;
      readonly port: number;
      readonly transport: 'tcp' | 'tls';
      readonly user: string;
      readonly password: string;
      readonly caFile?: string;
    };
    result: { readonly local: string };
  };
  'ua.register': { args: { readonly name: string }; result: ResponseSummary };
  'ua.request': {
    args: {
      readonly name: string;
      readonly method: string;
      readonly uri: string;
      readonly options?: RequestOptions;
    };
    result: ResponseSummary;
  };
  /** Resolves with the first request of `method` with that Call-ID the UA receives. */
  'ua.waitForRequest': {
    args: {
      readonly name: string;
      readonly method: string;
      readonly callId: string;
      readonly timeoutMs: number;
    };
    result: RequestSummary;
  };
  /**
   * `count` authenticated MESSAGEs to `to`, one started every `intervalMs` without waiting
   * for the previous one. Each entry is a final status or the error text of a timeout.
   */
  'ua.messages': {
    args: {
      readonly name: string;
      readonly to: string;
      readonly count: number;
      readonly intervalMs: number;
      readonly timeoutMs: number;
    };
    result: {
      readonly outcomes: readonly (number | string)[];
      readonly startedAt: number;
      readonly endedAt: number;
    };
  };
  'ua.close': { args: { readonly name: string }; result: null };
  /**
   * Sends each payload on a socket (UDP) or connection (TCP, TLS) of its own and collects
   * what comes back within `waitMs`; at most `concurrency` at a time.
   */
  exchange: {
    args: {
      readonly transport: 'udp' | 'tcp' | 'tls';
      readonly host: string;
      readonly port: number;
      readonly caFile?: string;
      /** Payloads, base64. */
      readonly payloads: readonly { readonly key: string; readonly data: string }[];
      readonly concurrency: number;
      readonly waitMs: number;
    };
    result: Readonly<Record<string, ExchangeOutcome>>;
  };
  /**
   * UDP datagrams `text` (every `{i}` replaced by a counter) at `ratePerSecond` from one
   * socket, until `durationMs` or `maxCount`.
   */
  flood: {
    args: {
      readonly host: string;
      readonly port: number;
      readonly text: string;
      readonly ratePerSecond: number;
      readonly durationMs: number;
      readonly maxCount: number;
    };
    result: {
      readonly sent: number;
      readonly startedAt: number;
      readonly endedAt: number;
      /** Datagrams the edge sent back. */
      readonly answered: number;
      readonly lastAnswerAt: number | undefined;
    };
  };
  /**
   * Opens `perSource` connections from each source address (at most `concurrency` being
   * set up at once) and keeps them until `hold.close` or `maxHoldMs`. Resolves once every
   * connection is ready or failed.
   */
  'hold.start': {
    args: {
      readonly group: string;
      readonly kind: HoldKind;
      readonly host: string;
      readonly port: number;
      readonly sources: readonly string[];
      readonly perSource: number;
      readonly concurrency: number;
      readonly caFile?: string;
      readonly text?: string;
      readonly intervalMs?: number;
      readonly stallAfterBytes?: number;
      readonly maxHoldMs: number;
    };
    result: { readonly ready: number; readonly failed: number; readonly endedAt: number };
  };
  'hold.status': {
    args: { readonly group: string };
    result: { readonly connections: readonly HeldConnection[] };
  };
  'hold.close': { args: { readonly group: string }; result: null };
  /** An HTTP GET from inside the namespace (the admin API's /metrics). */
  'http.get': {
    args: { readonly url: string };
    result: { readonly status: number; readonly text: string };
  };
}

export type AgentOp = keyof AgentOps;

/** One request line. */
export interface AgentRequest {
  readonly id: number;
  readonly op: AgentOp;
  readonly args: unknown;
}

/** One answer line. */
export type AgentAnswer =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Splits a byte stream into lines and hands each complete one to `onLine`. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    for (;;) {
      const end = pending.indexOf('\n');
      if (end < 0) return;
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      if (line !== '') onLine(line);
    }
  };
}
