import { requireProgram, startProcess, waitUntil } from './process.ts';
import type { ManagedProcess } from './process.ts';
import { tcpAccepts } from './ports.ts';

/** Options of {@link startTlsBridge}. */
export interface TlsBridgeOptions {
  /** Plain TCP port socat listens on (127.0.0.1); sipp connects here with `-t t1`. */
  readonly listenPort: number;
  /** TLS port of the server under test on 127.0.0.1. */
  readonly tlsPort: number;
  /** Verify the server against this CA file; without it, verification is off. */
  readonly caFile?: string;
  /** SNI / name to verify when `caFile` is given (default 127.0.0.1). */
  readonly serverName?: string;
}

/** A running socat bridge. */
export interface TlsBridge {
  readonly process: ManagedProcess;
  readonly listenPort: number;
  stop(): Promise<void>;
}

/**
 * Starts `socat TCP-LISTEN → OPENSSL` so a TLS-less client (sipp) can speak SIP over TLS:
 * each accepted TCP connection gets its own TLS connection (fork).
 */
export async function startTlsBridge(options: TlsBridgeOptions): Promise<TlsBridge> {
  const socat = requireProgram('socat', 'socat');
  const tlsSide =
    options.caFile === undefined
      ? `OPENSSL:127.0.0.1:${options.tlsPort},verify=0`
      : `OPENSSL:127.0.0.1:${options.tlsPort},verify=1,cafile=${options.caFile},` +
        `commonname=${options.serverName ?? '127.0.0.1'}`;
  const managed = startProcess('socat', socat, [
    '-d',
    `TCP-LISTEN:${options.listenPort},bind=127.0.0.1,reuseaddr,fork`,
    tlsSide,
  ]);
  const bridge: TlsBridge = {
    process: managed,
    listenPort: options.listenPort,
    async stop(): Promise<void> {
      await managed.stop('SIGTERM', 2000);
    },
  };
  try {
    await waitUntil(
      async () => managed.hasExited || (await tcpAccepts(options.listenPort)),
      5000,
      () => `socat did not listen on ${options.listenPort}\n${managed.stderr()}`,
    );
    if (managed.hasExited) throw new Error(`socat exited at start\n${managed.stderr()}`);
  } catch (error) {
    await bridge.stop();
    throw error;
  }
  return bridge;
}
