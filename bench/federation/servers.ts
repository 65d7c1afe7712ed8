/**
 * What `npm run bench:federation` runs: the two federation edges under test (Rampart's Access
 * Edge with federation on, and Kamailio 5.6 configured as the equivalent edge), the partner's
 * mutual-TLS connections (one socat process each, with the partner's certificate), and the
 * certificates of both organisations. The internal next hop is bench:edge's (a Kamailio that
 * answers MESSAGE and OPTIONS with 200 at once: bench/edge/kamailio-registrar.cfg).
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createTestAuthority } from '../../src/transport/testing.ts';
import { startKamailio, type KamailioInstance } from '../../test/helpers/kamailio.ts';
import { freePorts, tcpAccepts } from '../../test/helpers/ports.ts';
import { requireProgram, startProcess, waitUntil } from '../../test/helpers/process.ts';
import type { ManagedProcess } from '../../test/helpers/process.ts';
import { startRampart } from '../../test/helpers/rampart.ts';
import type { EdgeUnderTest } from '../edge/servers.ts';
import { processTree } from '../turn/proc.ts';

const HERE = import.meta.dirname;

/** The certificates of both sides, as files. */
export interface FederationPki {
  /** Our CA, and the edge certificate both edges under test present. */
  readonly ourCaFile: string;
  readonly edgeCertFile: string;
  readonly edgeKeyFile: string;
  /** The partner's CA, and the certificate its edge presents on every connection. */
  readonly partnerCaFile: string;
  readonly partnerCertFile: string;
  readonly partnerKeyFile: string;
  /** The Common Name of the partner's certificate (its edge). */
  readonly partnerEdge: string;
}

/** Two organisations, each with its own CA: ours (`domain`) and the partner (`partner`). */
export async function createFederationPki(
  dir: string,
  domain: string,
  partner: string,
): Promise<FederationPki> {
  const ours = await createTestAuthority('CA of the edge under test');
  const theirs = await createTestAuthority('CA of the partner');
  const edge = await ours.issue(`edge.${domain}`, [domain]);
  const partnerEdge = `edge.${partner}`;
  const partnerLeaf = await theirs.issue(partnerEdge, [partner]);
  const pki: FederationPki = {
    ourCaFile: join(dir, 'our-ca.pem'),
    edgeCertFile: join(dir, 'edge-cert.pem'),
    edgeKeyFile: join(dir, 'edge-key.pem'),
    partnerCaFile: join(dir, 'partner-ca.pem'),
    partnerCertFile: join(dir, 'partner-cert.pem'),
    partnerKeyFile: join(dir, 'partner-key.pem'),
    partnerEdge,
  };
  await writeFile(pki.ourCaFile, ours.cert);
  await writeFile(pki.edgeCertFile, edge.cert);
  await writeFile(pki.edgeKeyFile, edge.key);
  await writeFile(pki.partnerCaFile, theirs.cert);
  await writeFile(pki.partnerCertFile, partnerLeaf.cert);
  await writeFile(pki.partnerKeyFile, partnerLeaf.key);
  return pki;
}

/** What both edges are configured with. */
export interface FederationEdgeSettings {
  /** Our SIP domain (Request-URIs). */
  readonly domain: string;
  /** The allow-listed partner domain (From). */
  readonly partner: string;
  /** `sip:127.0.0.1:<port>;transport=tcp`. */
  readonly nextHop: string;
  /** Worker processes (Rampart `workers`, Kamailio `children` and `tcp_children`). */
  readonly children: number;
  readonly pki: FederationPki;
}

/** A federation edge factory. */
export type FederationEdgeFactory = (settings: FederationEdgeSettings) => Promise<EdgeUnderTest>;

/** A flood limit no step reaches (Kamailio runs without pike / ratelimit). */
const UNREACHED_RATE = 1_000_000;

/**
 * The `rampart start --config` object: the Access Edge alone (no Director, Front End, A/V Edge
 * or web services), external TLS with our certificate, the internal next hop over TCP,
 * federation on with the partner allow-listed (`verified`: no discovered-partner limits) and
 * its CA trusted.
 */
export function rampartFederationConfig(settings: FederationEdgeSettings): Record<string, unknown> {
  return {
    domains: [settings.domain],
    workers: settings.children,
    log: { level: 'warn' },
    tls: {
      certFile: settings.pki.edgeCertFile,
      keyFile: settings.pki.edgeKeyFile,
      caFile: settings.pki.ourCaFile,
    },
    director: { enabled: false },
    'front-end': { enabled: false },
    'av-edge': { enabled: false },
    'web-services': { enabled: false },
    'access-edge': {
      external: { host: '127.0.0.1', udp: null, tcp: null, tls: 0, ws: null, wss: null },
      internal: { host: '127.0.0.1', tls: null, tcp: 0, nextHop: settings.nextHop },
      federation: {
        enabled: true,
        systemCas: false,
        caFiles: [settings.pki.partnerCaFile],
        allow: [{ domain: settings.partner, verification: 'verified' }],
      },
      limits: {
        messagesPerSecondPerIp: UNREACHED_RATE,
        messagesPerSecondPerUser: UNREACHED_RATE,
      },
    },
  };
}

/** Rampart (`node bin/rampart.mjs start`) with {@link rampartFederationConfig}. */
export const startRampartFederationEdge: FederationEdgeFactory = async (settings) => {
  const config = rampartFederationConfig(settings);
  const rampart = await startRampart({ config, startTimeoutMs: 30_000 });
  try {
    const endpoint = rampart.endpoint('access-edge', 'external', 'tls');
    return {
      name: 'rampart',
      tls: { host: endpoint.host, port: endpoint.port },
      pids: () => processTree(rampart.process.pid),
      setup: { workers: settings.children, accessEdge: config['access-edge'] },
      logs: () =>
        `--- stdout\n${rampart.process.stdout().slice(-3000)}\n` +
        `--- stderr\n${rampart.process.stderr().slice(-3000)}`,
      async stop() {
        await rampart.stop();
      },
    };
  } catch (error) {
    await rampart.stop();
    throw error;
  }
};

/** tls.cfg: our certificate; a client certificate required and verified against the partner's CA. */
export function kamailioFederationTls(pki: FederationPki): string {
  return [
    '[server:default]',
    'method = TLSv1.2+',
    'verify_certificate = yes',
    'require_certificate = yes',
    `certificate = ${pki.edgeCertFile}`,
    `private_key = ${pki.edgeKeyFile}`,
    `ca_list = ${pki.partnerCaFile}`,
    '',
    '[client:default]',
    'method = TLSv1.2+',
    'verify_certificate = yes',
    'require_certificate = yes',
    `certificate = ${pki.edgeCertFile}`,
    `private_key = ${pki.edgeKeyFile}`,
    `ca_list = ${pki.partnerCaFile}`,
    '',
  ].join('\n');
}

/** Fills bench/federation/kamailio-federation.cfg. */
export function kamailioFederationConfig(
  text: string,
  values: Readonly<Record<'LISTEN' | 'CHILDREN' | 'DOMAIN' | 'PARTNER' | 'PARTNER_EDGE', string>> &
    Readonly<Record<'NEXT_HOP' | 'TLS_CFG', string>>,
): string {
  let filled = text;
  for (const [key, value] of Object.entries(values))
    filled = filled.replaceAll(`__${key}__`, value);
  const left = /__[A-Z_]+__/.exec(filled);
  if (left !== null) throw new Error(`kamailio-federation.cfg: placeholder ${left[0]} not filled`);
  return filled;
}

/** Kamailio 5.6 with bench/federation/kamailio-federation.cfg: TLS outside, TCP inside. */
export const startKamailioFederationEdge: FederationEdgeFactory = async (settings) => {
  const text = await readFile(resolve(HERE, 'kamailio-federation.cfg'), 'utf8');
  const [tlsPort, tcpPort] = (await freePorts(2)) as [number, number];
  let instance: KamailioInstance | undefined = await startKamailio({
    listen: [
      { proto: 'tls', port: tlsPort },
      { proto: 'tcp', port: tcpPort },
    ],
    files: { 'tls.cfg': kamailioFederationTls(settings.pki) },
    // tm keeps every transaction (and the tls module OpenSSL's buffers) in the shared pool: at
    // 6400 MESSAGE/s 256 MB ran out (tls "ssl bug #1491 workaround: not enough memory").
    sharedMemoryMb: 1024,
    config: ({ workDir, listenLines }) =>
      kamailioFederationConfig(text, {
        LISTEN: listenLines,
        CHILDREN: String(settings.children),
        DOMAIN: settings.domain,
        PARTNER: settings.partner,
        PARTNER_EDGE: settings.pki.partnerEdge,
        NEXT_HOP: settings.nextHop,
        TLS_CFG: join(workDir, 'tls.cfg'),
      }),
  });
  return {
    name: 'kamailio',
    tls: { host: '127.0.0.1', port: tlsPort },
    pids: () => (instance === undefined ? [] : processTree(instance.process.pid)),
    setup: {
      config: 'bench/federation/kamailio-federation.cfg',
      children: settings.children,
      tcpChildren: settings.children,
      internalTcpPort: tcpPort,
    },
    logs: () => instance?.process.stderr().slice(-4000) ?? '',
    async stop() {
      await instance?.stop();
      instance = undefined;
    },
  };
};

/** Edges by the name `--servers` takes. */
export const FEDERATION_EDGES: Readonly<Record<string, FederationEdgeFactory>> = {
  rampart: startRampartFederationEdge,
  kamailio: startKamailioFederationEdge,
};

/** The partner's connections: one socat process each, TCP in, mutual TLS out. */
export interface PartnerConnections {
  /** The TCP port of each socat process (sipp connects there with `-t t1`). */
  readonly ports: readonly number[];
  readonly processes: readonly ManagedProcess[];
  stop(): Promise<void>;
}

/**
 * Starts `count` socat processes, each turning the TCP connection sipp opens into one TLS
 * connection to the edge that presents the partner's certificate and verifies the edge's
 * against our CA (`fork`: one TLS connection per sipp run, so `count` during each step).
 */
export async function startPartnerConnections(
  count: number,
  edgePort: number,
  pki: FederationPki,
): Promise<PartnerConnections> {
  const socat = requireProgram('socat', 'socat');
  const ports = await freePorts(count);
  const processes = ports.map((port) =>
    startProcess('socat', socat, [
      '-d',
      `TCP-LISTEN:${String(port)},bind=127.0.0.1,reuseaddr,fork`,
      `OPENSSL:127.0.0.1:${String(edgePort)},cert=${pki.partnerCertFile},` +
        `key=${pki.partnerKeyFile},cafile=${pki.ourCaFile},verify=1,commonname=localhost`,
    ]),
  );
  const connections: PartnerConnections = {
    ports,
    processes,
    async stop() {
      await Promise.all(processes.map((p) => p.stop('SIGTERM', 2000)));
    },
  };
  try {
    for (const [i, port] of ports.entries()) {
      const managed = processes[i];
      if (managed === undefined) continue;
      await waitUntil(
        async () => managed.hasExited || (await tcpAccepts(port)),
        5000,
        () => `socat did not listen on ${String(port)}\n${managed.stderr()}`,
      );
      if (managed.hasExited) throw new Error(`socat exited at start\n${managed.stderr()}`);
    }
  } catch (error) {
    await connections.stop();
    throw error;
  }
  return connections;
}
