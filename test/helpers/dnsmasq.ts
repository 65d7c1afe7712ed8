/**
 * A real DNS server for tests: Debian's dnsmasq on 127.0.0.1 (or inside a network namespace),
 * serving the zone given on its command line (`--srv-host=…`, `--host-record=…`). Fails,
 * naming the package, when dnsmasq is not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { startProcess, type ManagedProcess } from './process.ts';

const READY_NAME = 'ready.rampart-test';
const READY_ADDRESS = '127.0.0.99';

function findDnsmasq(): string {
  for (const candidate of ['dnsmasq', '/usr/sbin/dnsmasq', '/sbin/dnsmasq']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  assert.fail('dnsmasq is not installed: this test needs the Debian package "dnsmasq"');
}

/** A UDP port free on `host` now (a DNS server's port can be chosen before it starts). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => {
    socket.close(() => {
      resolve();
    });
  });
  return port;
}

/** A running dnsmasq. */
export interface Dnsmasq {
  readonly port: number;
  /** `127.0.0.1:<port>`, for `access-edge.dns.servers`. */
  readonly server: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq with `zone` (dnsmasq options) on 127.0.0.1 and waits until it answers; on
 * `port` when given (chosen earlier with {@link freeUdpPort}), else on a free one.
 */
export async function startDnsmasq(
  zone: readonly string[],
  options: { readonly port?: number } = {},
): Promise<Dnsmasq> {
  const binary = findDnsmasq();
  let lastLog = '';
  for (let attempt = 0; attempt < (options.port === undefined ? 5 : 1); attempt++) {
    const port = options.port ?? (await freeUdpPort('127.0.0.1'));
    const managed = startProcess('dnsmasq', binary, [
      `--port=${String(port)}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--log-facility=-',
      '--local-ttl=1',
      `--host-record=${READY_NAME},${READY_ADDRESS}`,
      ...zone,
    ]);
    const probe = new Resolver({ timeout: 200, tries: 1 });
    probe.setServers([`127.0.0.1:${String(port)}`]);
    for (let i = 0; i < 50 && !managed.hasExited; i++) {
      try {
        const ready = await probe.resolve4(READY_NAME);
        if (ready[0] === READY_ADDRESS)
          return {
            port,
            server: `127.0.0.1:${String(port)}`,
            process: managed,
            stop: async () => {
              await managed.stop('SIGTERM', 5000);
            },
          };
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    lastLog = managed.stdout() + managed.stderr();
    await managed.stop('SIGKILL', 2000);
  }
  assert.fail(`dnsmasq did not start:\n${lastLog}`);
}
