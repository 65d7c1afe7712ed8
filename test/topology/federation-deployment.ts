// One complete Rampart deployment of the federation topology (federation-plan.ts): its own CA,
// an Access Edge alone in its DMZ and a Director + Front End in its corporate network, as two
// `rampart start` processes; and the DNS server on the Internet segment that serves both
// deployments' `_sipfederationtls._tcp` SRV records.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificateAuthority, issueCertificate } from '../../src/store/tls-material.ts';
import { requireProgram } from '../helpers/process.ts';
import type { ManagedProcess } from '../helpers/process.ts';
import type { FederationRole, FederationTopology } from './federation-plan.ts';
import { NODE_BINARY, REPO_ROOT } from './network.ts';
import { startRampartIn } from './rampart-in-netns.ts';
import type { NetnsRampart } from './rampart-in-netns.ts';

const run = promisify(execFile);

/** Ports every deployment uses (each process has its namespace to itself). */
export const PORTS = {
  /** The Access Edge's external TLS listener: the SRV records' port. */
  edgeExternalTls: 5061,
  /** The Access Edge's internal mutual-TLS listener. */
  edgeInternalTls: 5065,
  /** The Director's mutual-TLS listener for the edge. */
  directorServerTls: 5072,
  /** The Front End's TCP listener for internal clients. */
  frontEndTcp: 5080,
  /** The Front End's mutual-TLS listener for the Director. */
  frontEndServerTls: 5082,
  /** The admin HTTP listener, on each namespace's loopback. */
  admin: 8080,
} as const;

/** Where one deployment lives in the topology. */
export interface DeploymentSpec {
  /** `a.example`. */
  readonly domain: string;
  /** The partner domain it allow-lists. */
  readonly partner: string;
  readonly dmz: FederationRole;
  readonly corp: FederationRole;
  readonly externalAddress: string;
  readonly internalAddress: string;
  readonly corpAddress: string;
}

/** A certificate and its key, as PEM files. */
export interface PemPair {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A deployment's own PKI: its CA, the edge's certificate and the corporate servers'. */
export interface DeploymentPki {
  readonly caFile: string;
  readonly edge: PemPair;
  readonly corp: PemPair;
}

/** The edge's FQDN, the SRV target: `edge.a.example`. */
export function edgeName(domain: string): string {
  return `edge.${domain}`;
}

/**
 * Writes into `dir` a CA named after the domain, the edge's certificate (its FQDN, the
 * domain — what partners check — and both its addresses) and the corporate servers' (their
 * address), both for server and client authentication.
 */
export async function createDeploymentPki(
  dir: string,
  spec: DeploymentSpec,
): Promise<DeploymentPki> {
  await mkdir(dir, { recursive: true });
  // Distinct subjects: each edge trusts both CAs, and a chain is built by issuer name.
  const ca = await createCertificateAuthority(`Rampart federation test CA of ${spec.domain}`);
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.cert);
  const write = async (name: string, names: readonly string[]): Promise<PemPair> => {
    const { cert, key } = await issueCertificate(ca, names, { days: 2 });
    const pair = { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) };
    await writeFile(pair.certFile, cert);
    await writeFile(pair.keyFile, key, { mode: 0o600 });
    return pair;
  };
  return {
    caFile,
    edge: await write('edge', [
      edgeName(spec.domain),
      spec.domain,
      spec.externalAddress,
      spec.internalAddress,
    ]),
    corp: await write('corp', [spec.corpAddress]),
  };
}

/** What every Rampart of the topology turns off: services this test does not look at. */
const COMMON = {
  admin: { host: '127.0.0.1', port: PORTS.admin },
  shutdown: { drainTimeoutMs: 200 },
  'av-edge': { enabled: false },
  'web-services': { enabled: false },
} as const;

/**
 * The corporate process: Director and Front End on the corporate address. The Front End
 * sends requests for other domains to the edge's internal listener
 * (`front-end.federationNextHop`: the edge runs in another process).
 */
export function corpConfig(spec: DeploymentSpec, pki: DeploymentPki): unknown {
  return {
    ...COMMON,
    domains: [spec.domain],
    tls: { ...pki.corp, caFile: pki.caFile },
    'access-edge': { enabled: false },
    director: {
      host: spec.corpAddress,
      udp: null,
      tcp: null,
      tls: null,
      serverTls: PORTS.directorServerTls,
    },
    'front-end': {
      host: spec.corpAddress,
      udp: null,
      tcp: PORTS.frontEndTcp,
      tls: null,
      serverTls: PORTS.frontEndServerTls,
      federationNextHop: `sip:${spec.internalAddress}:${String(PORTS.edgeInternalTls)};transport=tls`,
    },
  };
}

/**
 * The DMZ process: the Access Edge alone, TLS only outside, its Director as internal next
 * hop, federation with the partner domain only (its edge found by DNS SRV, its CA trusted).
 */
export function edgeConfig(
  spec: DeploymentSpec,
  pki: DeploymentPki,
  partnerCaFile: string,
  dnsServer: string,
): unknown {
  return {
    ...COMMON,
    domains: [spec.domain],
    tls: { ...pki.edge, caFile: pki.caFile },
    director: { enabled: false },
    'front-end': { enabled: false },
    'access-edge': {
      external: {
        host: spec.externalAddress,
        udp: null,
        tcp: null,
        tls: PORTS.edgeExternalTls,
        ws: null,
        wss: null,
      },
      internal: {
        host: spec.internalAddress,
        tls: PORTS.edgeInternalTls,
        nextHop: `sip:${spec.corpAddress}:${String(PORTS.directorServerTls)};transport=tls`,
      },
      dns: { servers: [dnsServer] },
      federation: {
        enabled: true,
        systemCas: false,
        caFiles: [partnerCaFile],
        allow: [{ domain: spec.partner }],
      },
    },
  };
}

/** A running deployment. */
export interface Deployment {
  readonly spec: DeploymentSpec;
  readonly pki: DeploymentPki;
  readonly edge: NetnsRampart<FederationRole>;
  readonly corp: NetnsRampart<FederationRole>;
  readonly edgeKeylog: string;
  readonly corpKeylog: string;
  /** Both processes' output, for assertion messages. */
  output(): string;
}

/** Options of {@link startDeployment}. */
export interface StartDeploymentOptions {
  readonly spec: DeploymentSpec;
  readonly pki: DeploymentPki;
  readonly partnerCaFile: string;
  readonly dnsServer: string;
  /** Key logs and the like go here. */
  readonly workDir: string;
  /** Called with each process as soon as it runs, so a failing start is still stopped. */
  readonly onStarted: (rampart: NetnsRampart<FederationRole>) => void;
}

/** Starts the corporate process, then the edge. */
export async function startDeployment(
  topo: FederationTopology,
  options: StartDeploymentOptions,
): Promise<Deployment> {
  const { spec, pki } = options;
  const corpKeylog = join(options.workDir, `${spec.corp}-keys.log`);
  const edgeKeylog = join(options.workDir, `${spec.dmz}-keys.log`);
  const corp = await startRampartIn(topo, spec.corp, {
    name: `rampart ${spec.domain} corp`,
    keylogFile: corpKeylog,
    config: corpConfig(spec, pki),
  });
  options.onStarted(corp);
  const edge = await startRampartIn(topo, spec.dmz, {
    name: `rampart ${spec.domain} edge`,
    keylogFile: edgeKeylog,
    config: edgeConfig(spec, pki, options.partnerCaFile, options.dnsServer),
  });
  options.onStarted(edge);
  return {
    spec,
    pki,
    edge,
    corp,
    edgeKeylog,
    corpKeylog,
    output: () => `${edge.output()}\n${corp.output()}`,
  };
}

/** `rampart user add` on the deployment's directory (its SQLite file), realms from its config. */
export async function addUser(
  deployment: Deployment,
  user: string,
  password: string,
): Promise<void> {
  await run(
    NODE_BINARY,
    [
      join(REPO_ROOT, 'bin/rampart.mjs'),
      'user',
      'add',
      `${user}@${deployment.spec.domain}`,
      '--password',
      password,
      '--config',
      deployment.corp.configFile,
      '--data-dir',
      deployment.corp.dataDir,
    ],
    { cwd: REPO_ROOT, timeout: 20_000 },
  );
}

/** One zone entry: a domain's federation SRV record and its edge's address record. */
export interface EdgeRecord {
  readonly domain: string;
  readonly address: string;
  readonly port: number;
}

/**
 * Starts dnsmasq (Debian package `dnsmasq`) on `address`:53 in the `dns` namespace serving
 * `_sipfederationtls._tcp.<domain>` SRV → `edge.<domain>`:port and `edge.<domain>` A →
 * address for each record; it logs every query. Resolves once it has bound its socket.
 */
export async function startDnsServer(
  topo: FederationTopology,
  address: string,
  records: readonly EdgeRecord[],
): Promise<ManagedProcess> {
  const binary = requireProgram('dnsmasq', 'dnsmasq');
  const dnsmasq = topo.exec(
    'dns',
    [
      binary,
      '--port=53',
      `--listen-address=${address}`,
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--log-facility=-',
      '--log-queries',
      '--local-ttl=1',
      ...records.flatMap((r) => [
        `--srv-host=_sipfederationtls._tcp.${r.domain},${edgeName(r.domain)},${String(r.port)},10,0`,
        `--host-record=${edgeName(r.domain)},${r.address}`,
      ]),
    ],
    { name: 'dns:dnsmasq' },
  );
  // dnsmasq logs this after binding its sockets.
  await dnsmasq.waitForOutput(/started, version/, 10_000);
  return dnsmasq;
}
