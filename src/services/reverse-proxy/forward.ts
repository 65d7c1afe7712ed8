/**
 * One proxied exchange: the client's request streamed to the upstream pool (undici
 * dispatch), the upstream's response streamed back with backpressure both ways. Nothing is
 * buffered whole; a body over the route's limit is cut off before it completes upstream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders } from './headers.ts';

/** Why a forwarded exchange failed, mapped from undici's and Node's error codes. */
export type UpstreamFailure =
  | 'headers-timeout'
  | 'body-timeout'
  | 'connect-timeout'
  | 'connect'
  | 'tls'
  | 'reset'
  | 'body-too-large'
  | 'client-closed'
  | 'other';

/** The status a failure is answered with when no response has started. */
export function failureStatus(failure: UpstreamFailure): number {
  switch (failure) {
    case 'headers-timeout':
    case 'body-timeout':
    case 'connect-timeout':
      return 504;
    case 'body-too-large':
      return 413;
    case 'client-closed':
      return 499;
    case 'connect':
    case 'tls':
    case 'reset':
    case 'other':
      return 502;
  }
}

const BODY_TOO_LARGE = 'RAMPART_BODY_TOO_LARGE';
const CLIENT_CLOSED = 'RAMPART_CLIENT_CLOSED';

/** Classifies an upstream error. */
export function classifyFailure(error: Error): UpstreamFailure {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return 'other';
  if (code === BODY_TOO_LARGE) return 'body-too-large';
  if (code === CLIENT_CLOSED) return 'client-closed';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'headers-timeout';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'body-timeout';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect-timeout';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND') return 'connect';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.includes('CERT') ||
    code.includes('SELF_SIGNED') ||
    code.startsWith('UNABLE_TO')
  )
    return 'tls';
  return 'other';
}

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Passes a chunked request body through, failing once it exceeds `limit` bytes. */
export class BodyLimit extends Transform {
  private seen = 0;
  private readonly limit: number;

  constructor(limit: number) {
    // Object mode on the readable side: undici then streams it chunked, never with a
    // Content-Length computed from what happens to be buffered.
    super({ readableObjectMode: true });
    this.limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(coded('request body over the route limit', BODY_TOO_LARGE));
      return;
    }
    callback(null, chunk);
  }
}

/** How a forwarded exchange ended, for the access log and metrics. */
export interface ExchangeOutcome {
  readonly status: number;
  readonly bytes: number;
  readonly failure?: UpstreamFailure;
}

/**
 * The dispatch handler of one exchange: writes the upstream's response to `res`, pausing
 * the upstream when the client cannot keep up, and aborting it when the client goes away.
 */
export class ForwardHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private bytes = 0;
  private status = 0;
  private ended = false;
  private readonly res: ServerResponse;
  private readonly extraCookie: string | undefined;
  private readonly done: (outcome: ExchangeOutcome) => void;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    extraCookie: string | undefined,
    done: (outcome: ExchangeOutcome) => void,
  ) {
    this.res = res;
    this.extraCookie = extraCookie;
    this.done = done;
    // A client that goes away (or a broken request body) ends the upstream exchange too.
    res.on('close', () => {
      if (!this.ended) this.controller?.abort(coded('client closed', CLIENT_CLOSED));
    });
    req.on('error', () => {
      if (!this.ended) this.controller?.abort(coded('client closed', CLIENT_CLOSED));
    });
  }

  private readonly resume = (): void => {
    this.controller?.resume();
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.status = statusCode;
    const outgoing = clientResponseHeaders(headers);
    if (this.extraCookie !== undefined) {
      const existing = outgoing['set-cookie'];
      outgoing['set-cookie'] =
        existing === undefined
          ? this.extraCookie
          : [...(Array.isArray(existing) ? existing : [existing]), this.extraCookie];
    }
    if (statusMessage === undefined || statusMessage === '')
      this.res.writeHead(statusCode, outgoing);
    else this.res.writeHead(statusCode, statusMessage, outgoing);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.resume);
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    this.res.end();
    this.done({ status: this.status, bytes: this.bytes });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.ended) return;
    this.ended = true;
    const failure = classifyFailure(error);
    const res = this.res;
    if (res.headersSent || failure === 'client-closed') {
      // Mid-body: the client must see a truncated response, never a complete-looking one.
      res.destroy();
      this.done({ status: this.status === 0 ? 499 : this.status, bytes: this.bytes, failure });
      return;
    }
    const status = failureStatus(failure);
    const body =
      status === 413
        ? 'Payload Too Large\n'
        : status === 504
          ? 'Gateway Timeout\n'
          : 'Bad Gateway\n';
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // The request body may be half read: this connection's framing can't be trusted.
      connection: 'close',
    });
    res.end(body);
    this.done({ status, bytes: body.length, failure });
  }
}
