/**
 * The SIP side of web access: one user agent for every signed-in browser session. It talks
 * to the Front End as a server of the deployment does — over mutual TLS to the Front End's
 * server listener, asserting the signed-in user with P-Asserted-Identity (the Front End
 * believes it there and nowhere else) — and it listens on a mutual-TLS listener of its own,
 * where the Front End delivers what is meant for a session (MESSAGE, presence NOTIFY).
 * Each session's Contact names it: `sip:wa-<session id>@<our listener>`.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { SipRequest, SipResponse } from '../../../codec/sip/message.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { IncomingRequest, RequestDecision } from '../../../runtime/sip/handler.ts';
import { startSipServer, type SipServer } from '../../../runtime/sip/server.ts';
import { parseSipUri } from '../../../codec/sip/uri.ts';

/** What a session does with a request the Front End delivered to it. */
export interface SessionInbox {
  /** The answer: a status code (and reason). */
  deliver(request: SipRequest): { readonly status: number; readonly reason: string };
}

/** A request a session sends; the agent adds Via, Max-Forwards, Route and identity. */
export interface AgentRequest {
  readonly method: string;
  readonly requestUri: string;
  readonly from: string;
  readonly fromTag: string;
  readonly to: string;
  readonly toTag?: string;
  readonly callId: string;
  readonly cseq: number;
  readonly contact: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
  readonly contentType?: string;
}

/** The final answer to a request, or undefined when none came. */
export type AgentResult = SipResponse | undefined;

/** Options of {@link WebAccessSipAgent.start}. */
export interface SipAgentOptions {
  readonly host: string;
  readonly frontEnd: string;
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  readonly logger: Logger;
  readonly registry: Registry;
}

/** Session ids are 16 random bytes in hex: the Contact user part is `wa-<id>`. */
const SESSION_USER = /^wa-([0-9a-f]{32})$/;

/** The user agent of every web access session. */
export class WebAccessSipAgent {
  private readonly sessions = new Map<string, SessionInbox>();
  private readonly frontEndRoute: string;
  private server!: SipServer;

  private constructor(frontEnd: string) {
    this.frontEndRoute = `<${frontEnd};lr>`;
  }

  /** Binds the mutual-TLS listener (an ephemeral port) and starts the engine. */
  static async start(options: SipAgentOptions): Promise<WebAccessSipAgent> {
    const agent = new WebAccessSipAgent(options.frontEnd);
    agent.server = await startSipServer({
      service: 'web-services',
      host: options.host,
      ports: { udp: null, tcp: null, tls: null, serverTls: 0 },
      tls: options.tls,
      handler: (incoming) => agent.handle(incoming),
      logger: options.logger,
      registry: options.registry,
      recordRoute: false,
    });
    return agent;
  }

  /** A new session id and the Contact that reaches it. */
  open(inbox: SessionInbox): { readonly id: string; readonly contact: string } {
    const id = randomBytes(16).toString('hex');
    this.sessions.set(id, inbox);
    const server = this.server.serverUri ?? 'sip:127.0.0.1';
    return { id, contact: server.replace(/^sip:/, `sip:wa-${id}@`) };
  }

  /** Forgets a session: what arrives for it later is answered 480. */
  forget(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sends a request to the Front End as `request.from`; resolves with its final response. */
  async send(request: AgentRequest): Promise<AgentResult> {
    const headers: (readonly [string, string])[] = [
      ['Route', this.frontEndRoute],
      ['From', `<${request.from}>;tag=${request.fromTag}`],
      ['To', `<${request.to}>${request.toTag === undefined ? '' : `;tag=${request.toTag}`}`],
      ['Call-ID', request.callId],
      ['CSeq', `${String(request.cseq)} ${request.method}`],
      ['Contact', `<${request.contact}>`],
      // The Front End believes this on its mutual-TLS listener: the reverse proxy signed
      // the user in, and only this deployment's servers hold the client certificate.
      ['P-Asserted-Identity', `<${request.from}>`],
      ...(request.headers ?? []),
      ...(request.contentType === undefined
        ? []
        : [['Content-Type', request.contentType] as [string, string]]),
    ];
    const result = await this.server.engine.sendRequest({
      method: request.method,
      requestUri: request.requestUri,
      headers,
      ...(request.body === undefined ? {} : { body: Buffer.from(request.body, 'utf8') }),
    });
    return result.kind === 'response' ? result.response : undefined;
  }

  private handle(incoming: IncomingRequest): RequestDecision {
    const { request } = incoming;
    // Only the Front End (mutual TLS, the deployment's CA) reaches this listener.
    if (!this.server.isServerFlow(incoming.flow))
      return { kind: 'respond', status: 403, reason: 'Forbidden' };
    const uri = parseSipUri(incoming.requestUri);
    const id = uri.ok ? SESSION_USER.exec(uri.value.user ?? '')?.[1] : undefined;
    if (request.method === 'OPTIONS' && id === undefined)
      return { kind: 'respond', status: 200, reason: 'OK' };
    const inbox = id === undefined ? undefined : this.sessions.get(id);
    if (inbox === undefined)
      return { kind: 'respond', status: 480, reason: 'Temporarily Unavailable' };
    const answer = inbox.deliver(request);
    return { kind: 'respond', status: answer.status, reason: answer.reason };
  }

  close(deadlineMs: number): Promise<void> {
    this.sessions.clear();
    return this.server.close(deadlineMs);
  }
}
