// `rampart start` inside a topology namespace, and one PKI shared by every Rampart of a
// topology so that the DMZ's Access Edge and the corporate Director trust each other.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Endpoint, EndpointTransport, ServiceName, Side } from '../../src/lib/endpoint.ts';
import { createCertificateAuthority, issueCertificate } from '../../src/store/tls-material.ts';
import { waitUntil } from '../helpers/process.ts';
import type { ManagedProcess } from '../helpers/process.ts';
import { parseEndpointsJson } from '../helpers/rampart.ts';
import { NODE_BINARY, REPO_ROOT } from './netns.ts';
import type { Network, Role } from './netns.ts';

/** Options of {@link startRampartIn}. */
export interface NetnsRampartOptions {
  /** Config object, written as YAML and passed with `--config`. */
  readonly config: unknown;
  /**
   * Extra arguments after `start`. `--ephemeral-ports` is rarely wanted: each namespace has
   * its own ports, so the production ports (5061, 3478, ...) are free.
   */
  readonly extraArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Node writes TLS session keys here (`--tls-keylog`), to decrypt captures with. */
  readonly keylogFile?: string;
  /** Name in failure messages; default `rampart@<role>`. */
  readonly name?: string;
  readonly startTimeoutMs?: number;
}

/** A `rampart start` running in a namespace. */
export interface NetnsRampart<R extends string = Role> {
  readonly role: R;
  readonly process: ManagedProcess;
  readonly dataDir: string;
  readonly configFile: string;
  /** Parsed `<data-dir>/endpoints.json`. */
  readonly endpoints: readonly Endpoint[];
  /**
   * The endpoints of `service`/`side`/`transport` (the Director and Front End have two TLS
   * listeners: clients' and servers'); throws, listing what exists, when there is none.
   */
  endpoint(service: ServiceName, side: Side, transport: EndpointTransport): Endpoint[];
  /** Everything the process wrote, for assertion messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; removes the data dir. Idempotent. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function nonEmptyFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

/**
 * Starts `node bin/rampart.mjs start --config <yaml> --data-dir <tmp>` in `role`'s
 * namespace on the pinned Node, waits for endpoints.json and parses it. On failure the
 * error carries the process's output.
 */
export async function startRampartIn<R extends string>(
  topo: Network<R>,
  role: R,
  options: NetnsRampartOptions,
): Promise<NetnsRampart<R>> {
  const dataDir = await mkdtemp(join(tmpdir(), `rt-rampart-${role}-`));
  const configFile = join(dataDir, 'rampart.topology.yaml');
  await writeFile(configFile, stringify(options.config));
  const argv = [NODE_BINARY];
  if (options.keylogFile !== undefined) argv.push(`--tls-keylog=${options.keylogFile}`);
  argv.push(join(REPO_ROOT, 'bin/rampart.mjs'), 'start', '--config', configFile);
  argv.push('--data-dir', dataDir, ...(options.extraArgs ?? []));
  const name = options.name ?? `rampart@${role}`;
  const managed = topo.exec(role, argv, {
    name,
    cwd: REPO_ROOT,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const output = (): string =>
    `--- ${name} stdout\n${managed.stdout().slice(-4000)}\n--- ${name} stderr\n${managed.stderr().slice(-4000)}`;
  let removed = false;
  const stop = async (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    const exit = await managed.stop('SIGTERM', 10_000);
    if (!removed) {
      removed = true;
      await rm(dataDir, { recursive: true, force: true });
    }
    return exit;
  };

  const endpointsFile = join(dataDir, 'endpoints.json');
  let endpoints: Endpoint[] = [];
  try {
    await waitUntil(
      async () => managed.hasExited || (await nonEmptyFile(endpointsFile)),
      options.startTimeoutMs ?? 20_000,
      () => `${name} did not write ${endpointsFile} in time\n${output()}`,
    );
    if (managed.hasExited) throw new Error(`${name} exited at start\n${output()}`);
    endpoints = parseEndpointsJson(await readFile(endpointsFile, 'utf8'));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    role,
    process: managed,
    dataDir,
    configFile,
    endpoints,
    endpoint(service, side, transport) {
      const found = endpoints.filter(
        (e) => e.service === service && e.side === side && e.transport === transport,
      );
      if (found.length === 0) {
        throw new Error(
          `${name} has no ${service}/${side}/${transport} endpoint; it has ` +
            endpoints.map((e) => `${e.service}/${e.side}/${e.transport}:${e.port}`).join(', '),
        );
      }
      return found;
    },
    output,
    stop,
  };
}

/** One host's certificate in a {@link SharedPki}. */
export interface PkiHost {
  readonly certFile: string;
  readonly keyFile: string;
  /** subjectAltName entries: DNS names and IP addresses. */
  readonly names: readonly string[];
}

/** The `tls` section of a Rampart config using a {@link SharedPki}. */
export interface PkiTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** A private CA and one certificate per host, as PEM files. */
export interface SharedPki {
  readonly caFile: string;
  readonly hosts: Readonly<Record<string, PkiHost>>;
  /** The `tls` config section for `host` (its certificate, trusting the shared CA). */
  tlsConfig(host: string): PkiTlsConfig;
}

/**
 * Writes into `dir` a CA and, for each host, a certificate for its names (IP addresses
 * become IP subjectAltNames), valid for server and client authentication, with Rampart's
 * own certificate code. Every Rampart configured with `tlsConfig(host)` presents its
 * certificate and trusts the others'.
 *
 * Rampart's `tls.names` (which accepts IP addresses) only shapes the certificate Rampart
 * generates when no `tls.certFile` is set; two processes generating their own would each
 * have a different CA, hence this.
 */
export async function createSharedPki(
  dir: string,
  hosts: Readonly<Record<string, readonly string[]>>,
): Promise<SharedPki> {
  await mkdir(dir, { recursive: true });
  const ca = await createCertificateAuthority('Rampart topology test CA');
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.cert);
  const issued: Record<string, PkiHost> = {};
  for (const [host, names] of Object.entries(hosts)) {
    const { cert, key } = await issueCertificate(ca, names, { days: 2 });
    const certFile = join(dir, `${host}.pem`);
    const keyFile = join(dir, `${host}-key.pem`);
    await writeFile(certFile, cert);
    await writeFile(keyFile, key, { mode: 0o600 });
    issued[host] = { certFile, keyFile, names: [...names] };
  }
  return {
    caFile,
    hosts: issued,
    tlsConfig(host) {
      const entry = issued[host];
      if (entry === undefined) throw new Error(`no certificate for ${host} in the shared PKI`);
      return { certFile: entry.certFile, keyFile: entry.keyFile, caFile };
    },
  };
}
