/**
 * A small SIP user agent for integration tests, over one TCP or TLS connection: sends
 * requests (answering 401/407 challenges with Digest once), answers incoming requests, and
 * lets a test wait for what arrives. Built on Rampart's codec and digest functions; the
 * interop tests use real clients (baresip, sipp) instead.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { header, headerValues, parseSipMessage } from '../../src/codec/sip/parse.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../src/codec/sip/message.ts';
import { parseVia } from '../../src/codec/sip/headers.ts';
import { buildResponse, serializeRequest, type HeaderLine } from '../../src/codec/sip/serialize.ts';
import { SipStreamFramer } from '../../src/codec/sip/stream-framer.ts';
import {
  computeResponse,
  formatCredentials,
  parseChallenge,
} from '../../src/proto/digest/index.ts';

export interface SipUaOptions {
  readonly host: string;
  readonly port: number;
  readonly transport?: 'tcp' | 'tls';
  readonly user: string;
  readonly domain?: string;
  readonly password: string;
  /** TLS: trust anchors, and a client certificate for mutual TLS. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** The local address to connect from (any of 127.0.0.0/8 on loopback). */
  readonly localAddress?: string;
}

export interface RequestOptions {
  readonly headers?: readonly HeaderLine[];
  readonly body?: string;
  readonly to?: string;
  readonly callId?: string;
  readonly fromTag?: string;
  readonly toTag?: string;
  readonly cseq?: number;
  readonly routes?: readonly string[];
  /** Answer 401/407 with credentials (default true). */
  readonly authenticate?: boolean;
  readonly timeoutMs?: number;
}

/** What to answer to an incoming request; the default is 200. */
export type Answerer = (request: SipRequest) => {
  readonly status: number;
  readonly headers?: readonly HeaderLine[];
  readonly body?: string;
  readonly delayMs?: number;
}[];

function token(): string {
  return randomBytes(6).toString('hex');
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class SipUa {
  readonly user: string;
  readonly domain: string;
  readonly aor: string;
  readonly received: SipRequest[] = [];
  answer: Answerer = () => [{ status: 200 }];
  private readonly password: string;
  private readonly socket: Socket;
  private readonly framer = new SipStreamFramer();
  private readonly transport: 'tcp' | 'tls';
  private readonly pending = new Map<string, (response: SipResponse) => void>();
  private readonly provisional = new Map<string, SipResponse[]>();
  private readonly waiters: {
    filter: (r: SipRequest) => boolean;
    resolve: (r: SipRequest) => void;
  }[] = [];
  private readonly fromTags = new Map<string, string>();
  private cseq = 1;
  readonly tag = token();

  private constructor(options: SipUaOptions, socket: Socket) {
    this.user = options.user;
    this.domain = options.domain ?? 'example.test';
    this.aor = `sip:${this.user}@${this.domain}`;
    this.password = options.password;
    this.socket = socket;
    this.transport = options.transport ?? 'tcp';
    socket.on('data', (chunk: Buffer) => {
      for (const out of this.framer.push(chunk)) {
        if (out.type !== 'message') continue;
        const parsed = parseSipMessage(out.data);
        if (parsed.ok) this.onMessage(parsed.value);
      }
    });
    socket.on('error', () => undefined);
  }

  static async connect(options: SipUaOptions): Promise<SipUa> {
    const socket: Socket =
      options.transport === 'tls'
        ? tlsConnect({
            host: options.host,
            port: options.port,
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            ...(options.cert === undefined ? {} : { cert: options.cert }),
            ...(options.key === undefined ? {} : { key: options.key }),
            ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
            servername: 'localhost',
          })
        : tcpConnect({
            port: options.port,
            host: options.host,
            ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
          });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        resolve();
      });
      socket.once('error', reject);
    });
    return new SipUa(options, socket);
  }

  /** Our Contact URI: where the server reaches us (it sends over this connection). */
  get contact(): string {
    return `sip:${this.user}@${this.local}:${String(this.socket.localPort ?? 0)};transport=${this.transport}`;
  }

  /** The local address of the connection. */
  get local(): string {
    return this.socket.localAddress ?? '127.0.0.1';
  }

  private onMessage(msg: SipMessage): void {
    if (msg.kind === 'response') {
      const via = parseVia(headerValues(msg, 'via')[0] ?? '');
      const branch = via.ok ? via.value[0]?.branch : undefined;
      if (branch === undefined) return;
      if (msg.status < 200) {
        const list = this.provisional.get(branch) ?? [];
        list.push(msg);
        this.provisional.set(branch, list);
        return;
      }
      const resolve = this.pending.get(branch);
      this.pending.delete(branch);
      resolve?.(msg);
      return;
    }
    this.received.push(msg);
    if (msg.method !== 'ACK') {
      let delay = 0;
      for (const reply of this.answer(msg)) {
        delay = reply.delayMs ?? delay;
        const data = buildResponse(msg, reply.status, {
          toTag: this.fromTags.get(header(msg, 'call-id') ?? '') ?? this.tag,
          headers: [
            ['Contact', `<${this.contact}>`],
            // RFC 3261 §12.1.1: a UAS copies Record-Route into the responses that set up a dialog.
            ...(reply.status >= 101 && reply.status < 300
              ? headerValues(msg, 'record-route').map((v): HeaderLine => ['Record-Route', v])
              : []),
            ...(reply.headers ?? []),
          ],
          ...(reply.body === undefined ? {} : { body: Buffer.from(reply.body) }),
        });
        if (delay > 0) setTimeout(() => this.socket.write(data), delay).unref();
        else this.socket.write(data);
      }
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const waiter = this.waiters[i];
      if (waiter !== undefined && waiter.filter(msg)) {
        this.waiters.splice(i, 1);
        waiter.resolve(msg);
        break;
      }
    }
  }

  /** Resolves with the next (or an already received, unclaimed) request that matches. */
  waitForRequest(
    method: string,
    filter: (r: SipRequest) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<SipRequest> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.user}: no ${method} within ${String(timeoutMs)} ms`));
      }, timeoutMs);
      this.waiters.push({
        filter: (r) => r.method === method && filter(r),
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }

  private send(
    method: string,
    uri: string,
    options: RequestOptions,
    cseq: number,
    callId: string,
    auth: HeaderLine | undefined,
  ): { branch: string; done: Promise<SipResponse> } {
    const branch = `z9hG4bK${token()}`;
    const to = options.to ?? uri;
    const headers: HeaderLine[] = [
      [
        'Via',
        `SIP/2.0/${this.transport.toUpperCase()} ${this.local}:${String(this.socket.localPort ?? 0)};branch=${branch}`,
      ],
      ['Max-Forwards', '70'],
      ...(options.routes ?? []).map((r): HeaderLine => ['Route', r]),
      ['From', `<${this.aor}>;tag=${options.fromTag ?? this.tag}`],
      ['To', `<${to}>${options.toTag === undefined ? '' : `;tag=${options.toTag}`}`],
      ['Call-ID', callId],
      ['CSeq', `${String(cseq)} ${method}`],
      ['Contact', `<${this.contact}>`],
      ...(auth === undefined ? [] : [auth]),
      ...(options.headers ?? []),
    ];
    const data = serializeRequest({
      method,
      requestUri: uri,
      headers,
      ...(options.body === undefined ? {} : { body: Buffer.from(options.body) }),
    });
    const timeoutMs = options.timeoutMs ?? 5000;
    const done = new Promise<SipResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(branch);
        reject(
          new Error(`${this.user}: no final response to ${method} within ${String(timeoutMs)} ms`),
        );
      }, timeoutMs);
      this.pending.set(branch, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
    });
    this.socket.write(data);
    return { branch, done };
  }

  /** Sends a request and resolves with its final response (after one digest round). */
  async request(method: string, uri: string, options: RequestOptions = {}): Promise<SipResponse> {
    const callId = options.callId ?? `${token()}@test`;
    let cseq = options.cseq ?? this.cseq++;
    let response = await this.send(method, uri, options, cseq, callId, undefined).done;
    if ((response.status === 401 || response.status === 407) && options.authenticate !== false) {
      const auth = this.credentials(response, method, uri);
      if (auth === undefined) return response;
      cseq = options.cseq === undefined ? this.cseq++ : cseq + 1;
      response = await this.send(method, uri, options, cseq, callId, auth).done;
    }
    return response;
  }

  /** Digest credentials for the first challenge we can answer (SHA-256 preferred). */
  credentials(
    response: SipResponse,
    method: string,
    uri: string,
    password = this.password,
  ): HeaderLine | undefined {
    const name = response.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    for (const value of headerValues(response, name)) {
      const challenge = parseChallenge(value);
      if (!challenge.ok) continue;
      const algorithm = challenge.value.algorithm;
      if (algorithm !== 'MD5' && algorithm !== 'SHA-256') continue;
      const h = algorithm === 'MD5' ? md5 : sha256;
      const ha1 = h(`${this.user}:${challenge.value.realm}:${password}`);
      const cnonce = token();
      const nc = '00000001';
      const digest = computeResponse({
        algorithm,
        ha1,
        method,
        uri,
        nonce: challenge.value.nonce,
        qop: 'auth',
        nc,
        cnonce,
      });
      const text = formatCredentials({
        username: this.user,
        realm: challenge.value.realm,
        nonce: challenge.value.nonce,
        uri,
        response: digest,
        algorithm,
        qop: 'auth',
        nc,
        cnonce,
        ...(challenge.value.opaque === undefined ? {} : { opaque: challenge.value.opaque }),
      });
      return [response.status === 401 ? 'Authorization' : 'Proxy-Authorization', text];
    }
    return undefined;
  }

  /** REGISTER this connection's contact; resolves with the final response. */
  register(expires = 600, extra: readonly HeaderLine[] = []): Promise<SipResponse> {
    return this.request('REGISTER', `sip:${this.domain}`, {
      to: this.aor,
      callId: `reg-${this.tag}`,
      headers: [['Expires', String(expires)], ...extra],
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
