/**
 * `rampart federation test DOMAIN`: what the Access Edge would do to reach a partner, step by
 * step — the lists, DNS, the TLS connection and the partner's certificate, and a SIP OPTIONS
 * answered over it — so an administrator sees which step fails.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  connect as tlsConnect,
  rootCertificates,
  type ConnectionOptions,
  type TLSSocket,
} from 'node:tls';
import { certificateCovers, FederationPolicy } from '../../proto/sip-edge/federation.ts';
import { CachingDnsResolver } from '../../runtime/dns/resolver.ts';
import type { FederationEntry } from '../../store/federation-store.ts';
import { locatePartnerEdge, mergedRules } from './federation.ts';
import type { AccessEdgeSettings } from './settings.ts';

/** One step of the check. */
export interface FederationCheckStep {
  readonly step: 'policy' | 'dns' | 'connect' | 'certificate' | 'sip';
  readonly ok: boolean;
  readonly detail: string;
}

/** Options of {@link checkFederationPartner}. */
export interface FederationCheckOptions {
  readonly settings: Pick<AccessEdgeSettings, 'federation' | 'dns'>;
  readonly domains: readonly string[];
  /** The administrator's entries (`rampart federation allow|block`). */
  readonly stored: readonly FederationEntry[];
  /** Our certificate, key and CA (the deployment's). */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly domain: string;
  readonly timeoutMs?: number;
}

function tlsOpen(connectOptions: ConnectionOptions, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(connectOptions);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${String(timeoutMs)} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends an OPTIONS over `socket`; resolves with the status line of the answer. */
function sipOptions(socket: TLSSocket, domain: string, from: string, timeoutMs: number) {
  return new Promise<string>((resolve, reject) => {
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const local = `${socket.localAddress ?? '0.0.0.0'}:${String(socket.localPort ?? 0)}`;
    const message = [
      `OPTIONS sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/TLS ${local};branch=${branch}`,
      'Max-Forwards: 70',
      `From: <sip:federation-test@${from}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${domain}>`,
      `Call-ID: ${randomBytes(8).toString('hex')}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    let received = '';
    const timer = setTimeout(() => {
      reject(new Error(`no answer within ${String(timeoutMs)} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      resolve(received.slice(0, end));
    });
    socket.write(message);
  });
}

/** Runs every step it can; a failed step ends the check. */
export async function checkFederationPartner(
  check: FederationCheckOptions,
): Promise<FederationCheckStep[]> {
  const { settings, domain } = check;
  const timeoutMs = check.timeoutMs ?? 5000;
  const steps: FederationCheckStep[] = [];
  const policy = new FederationPolicy(
    mergedRules(settings.federation, check.stored),
    check.domains,
  );
  const standing = policy.standing(domain);
  if (standing.kind !== 'partner') {
    const detail = {
      off: 'federation is not enabled (access-edge.federation.enabled)',
      blocked: `${domain} is on the block list (or a disabled provider)`,
      unknown: `${domain} is on no list and discovery is off`,
    }[standing.kind];
    steps.push({ step: 'policy', ok: false, detail });
    return steps;
  }
  steps.push({
    step: 'policy',
    ok: true,
    detail:
      standing.profile === 'public'
        ? `public IM provider ${standing.provider ?? ''}`.trim()
        : standing.throttled
          ? 'partner, throttled (discovered or allow-listed as throttled)'
          : 'allowed partner',
  });
  const resolver = new CachingDnsResolver(
    settings.dns.servers.length > 0 ? { servers: [...settings.dns.servers] } : {},
  );
  try {
    const targets = await locatePartnerEdge(resolver, domain, undefined, standing);
    if (targets.length === 0) {
      steps.push({
        step: 'dns',
        ok: false,
        detail: `no edge found for ${domain} (_sipfederationtls._tcp.${domain}, RFC 3263)`,
      });
      return steps;
    }
    steps.push({
      step: 'dns',
      ok: true,
      detail: targets
        .map((t) => `${t.name ?? '-'} ${t.target.address}:${String(t.target.port)}`)
        .join(', '),
    });
    const ca = [
      check.tls.ca,
      ...settings.federation.caFiles.map((file) => readFileSync(file, 'utf8')),
      ...(settings.federation.systemCas ? rootCertificates : []),
    ].filter((pem) => pem !== '');
    for (const { name, target } of targets) {
      let socket: TLSSocket;
      try {
        socket = await tlsOpen(
          {
            host: target.address,
            port: target.port,
            ...(name === undefined ? {} : { servername: name }),
            ca,
            cert: check.tls.cert,
            key: check.tls.key,
            minVersion: 'TLSv1.2' as const,
            rejectUnauthorized: false,
          },
          timeoutMs,
        );
      } catch (error) {
        steps.push({
          step: 'connect',
          ok: false,
          detail: `${target.address}:${String(target.port)}: ${String(error)}`,
        });
        continue;
      }
      try {
        steps.push({
          step: 'connect',
          ok: true,
          detail: `${target.address}:${String(target.port)} ${socket.getProtocol() ?? ''}`,
        });
        const peer = socket.getPeerCertificate();
        const names = {
          subjectAltName: peer.subjectaltname,
          commonName: typeof peer.subject.CN === 'string' ? peer.subject.CN : undefined,
        };
        const covers =
          certificateCovers(names, domain) ||
          (name !== undefined && certificateCovers(names, name));
        const chain = socket.authorized
          ? 'chain verified'
          : `chain: ${String(socket.authorizationError)}`;
        const ok = socket.authorized && covers;
        steps.push({
          step: 'certificate',
          ok,
          detail: `${chain}; names ${names.subjectAltName ?? names.commonName ?? '(none)'}; ${
            covers ? `covers ${name ?? domain}` : `does not cover ${domain}`
          }`,
        });
        if (!ok) continue;
        try {
          const status = await sipOptions(
            socket,
            domain,
            check.domains[0] ?? 'localhost',
            timeoutMs,
          );
          steps.push({ step: 'sip', ok: true, detail: `OPTIONS answered: ${status}` });
          return steps;
        } catch (error) {
          steps.push({ step: 'sip', ok: false, detail: `OPTIONS: ${String(error)}` });
        }
      } finally {
        socket.destroy();
      }
    }
    return steps;
  } finally {
    resolver.close();
  }
}
