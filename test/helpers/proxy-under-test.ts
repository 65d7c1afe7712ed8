import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKamailio } from './kamailio.ts';
import type { KamailioListen } from './kamailio.ts';
import { kamailioRelayConfig, kamailioTlsConfig } from './kamailio-relay.ts';
import { freePorts } from './ports.ts';
import { findGeneratedCaFile, startRampart } from './rampart.ts';
import { createTestPki } from './tls.ts';

/** An address on which the proxy under test accepts SIP. */
export interface ProxyAddress {
  readonly host: string;
  readonly port: number;
}

/** A running SIP proxy that the interop tests and the benchmark drive. */
export interface RunningProxy {
  readonly name: string;
  readonly udp: ProxyAddress;
  readonly tcp: ProxyAddress;
  readonly tls?: ProxyAddress;
  readonly ws?: ProxyAddress;
  readonly wss?: ProxyAddress;
  /** CA that signed the TLS/WSS certificate, when known. */
  readonly caFile?: string;
  /** Recent proxy output, for assertion messages. */
  logs(): string;
  /** Stops the proxy and removes its temp files. Idempotent. */
  stop(): Promise<void>;
}

/** What every proxy under test is asked to do. */
export interface ProxyStartOptions {
  /** Static next hop of every out-of-dialog request, `sip:127.0.0.1:PORT;transport=udp`. */
  readonly nextHop: string;
  /** Request-URI domains routed to `nextHop` (sipp's built-in uac uses 127.0.0.1). */
  readonly domains: readonly string[];
  /** Worker processes (Kamailio `children`, Rampart `workers`). */
  readonly children?: number;
  /** Also listen on TLS / WS / WSS. */
  readonly secure?: boolean;
}

/** Starts one proxy under test. */
export type ProxyFactory = (options: ProxyStartOptions) => Promise<RunningProxy>;

const LOCALHOST = '127.0.0.1';

/**
 * Kamailio 5.6 as the proxy under test: stateful relay with Record-Route (see
 * {@link kamailioRelayConfig}); with `secure`, TLS and WS/WSS on the TCP/TLS ports.
 */
export const startKamailioProxy: ProxyFactory = async (options) => {
  const [sipPort, tlsPort] = await freePorts(2);
  const port = sipPort!;
  const listen: KamailioListen[] = [
    { proto: 'udp', port },
    { proto: 'tcp', port },
  ];
  let pkiDir: string | undefined;
  let files: Record<string, string> = {};
  let caFile: string | undefined;
  let tls: { certFile: string; keyFile: string } | undefined;
  if (options.secure === true) {
    pkiDir = await mkdtemp(join(tmpdir(), 'rampart-pki-'));
    const pki = await createTestPki(pkiDir);
    caFile = pki.caCertFile;
    tls = { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile };
    files = { 'tls.cfg': kamailioTlsConfig(pki.serverCertFile, pki.serverKeyFile) };
    listen.push({ proto: 'tls', port: tlsPort! });
  }
  const cleanPki = async (): Promise<void> => {
    if (pkiDir !== undefined) await rm(pkiDir, { recursive: true, force: true });
  };
  let kamailio;
  try {
    kamailio = await startKamailio({
      listen,
      files,
      config: kamailioRelayConfig({
        nextHop: options.nextHop,
        websocket: options.secure === true,
        ...(options.children !== undefined ? { children: options.children } : {}),
        ...(tls !== undefined ? { tls } : {}),
      }),
    });
  } catch (error) {
    await cleanPki();
    throw error;
  }
  const running = kamailio;
  const address = { host: LOCALHOST, port };
  const secureAddress = { host: LOCALHOST, port: tlsPort! };
  return {
    name: 'kamailio',
    udp: address,
    tcp: address,
    ...(options.secure === true
      ? { tls: secureAddress, ws: address, wss: secureAddress, caFile: caFile! }
      : {}),
    logs: () => running.process.stderr().slice(-6000),
    async stop() {
      await running.stop();
      await cleanPki();
    },
  };
};

/**
 * The Rampart config the tests pass to `rampart start`: access edge listening on every
 * transport of 127.0.0.1 (ephemeral ports) and a static route per domain, nothing else.
 */
export function rampartProxyConfig(options: ProxyStartOptions): Record<string, unknown> {
  return {
    ...(options.children === undefined ? {} : { workers: options.children }),
    'access-edge': {
      external: { host: LOCALHOST, udp: 0, tcp: 0, tls: 0, ws: 0, wss: 0 },
      routes: options.domains.map((domain) => ({ domain, nextHop: options.nextHop })),
    },
    // A plain proxy: no Director behind it, so no remote-user policy (issue 5) in the way.
    director: { enabled: false },
    'front-end': { enabled: false },
    'av-edge': { enabled: false },
  };
}

/** Rampart (`node bin/rampart.mjs start`) as the proxy under test. */
export const startRampartProxy: ProxyFactory = async (options) => {
  const rampart = await startRampart({ config: rampartProxyConfig(options) });
  try {
    const address = (transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss'): ProxyAddress => {
      const endpoint = rampart.endpoint('access-edge', 'external', transport);
      return { host: endpoint.host, port: endpoint.port };
    };
    const caFile = await findGeneratedCaFile(rampart.dataDir);
    return {
      name: 'rampart',
      udp: address('udp'),
      tcp: address('tcp'),
      ...(options.secure === true
        ? { tls: address('tls'), ws: address('ws'), wss: address('wss') }
        : {}),
      ...(caFile !== undefined ? { caFile } : {}),
      logs: () =>
        `--- stdout\n${rampart.process.stdout().slice(-3000)}\n--- stderr\n${rampart.process.stderr().slice(-3000)}`,
      async stop() {
        await rampart.stop();
      },
    };
  } catch (error) {
    await rampart.stop();
    throw error;
  }
};
