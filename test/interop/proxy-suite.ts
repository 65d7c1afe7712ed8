// The interop tests every SIP proxy under test must pass: real peers nobody here wrote
// (sipp, JsSIP) on both sides of the proxy, everything on 127.0.0.1.
// kamailio-harness.test.ts runs them against Kamailio (proves the harness);
// rampart-sip.test.ts runs the same tests against `rampart start`.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.ts';
import { startProcess } from '../helpers/process.ts';
import type { ProxyAddress, ProxyFactory, RunningProxy } from '../helpers/proxy-under-test.ts';
import { REPO_ROOT } from '../helpers/rampart.ts';
import { describeSummary, runSipp, startSipp } from '../helpers/sipp.ts';
import type { SippProcess, SippScenario, SippSummary, SippTransport } from '../helpers/sipp.ts';
import { startTlsBridge } from '../helpers/socat.ts';

/** Domain of the custom scenarios' Request-URIs (routed by the proxy to the uas). */
export const TEST_DOMAIN = 'example.test';
const CALLS = 10;

/** A uas behind a proxy that routes to it; both stopped by `t.after`. */
interface Setup {
  readonly proxy: RunningProxy;
  readonly uas: SippProcess;
}

async function setUp(
  t: TestContext,
  startProxy: ProxyFactory,
  uasScenario: SippScenario,
  uasTransport: SippTransport,
  secure = false,
): Promise<Setup> {
  const uasPort = await freePort();
  const proxy = await startProxy({
    nextHop: `sip:127.0.0.1:${uasPort};transport=${uasTransport}`,
    domains: ['127.0.0.1', TEST_DOMAIN],
    secure,
  });
  t.after(() => proxy.stop());
  const uas = await startSipp({
    name: 'uas',
    scenario: uasScenario,
    transport: uasTransport,
    localPort: uasPort,
    timeoutSeconds: 60,
  });
  t.after(async () => {
    await uas.stop();
  });
  return { proxy, uas };
}

function assertAllCallsOk(
  uac: SippSummary,
  uas: SippSummary,
  calls: number,
  proxy: RunningProxy,
): void {
  const detail = `${describeSummary(uac)}\n${describeSummary(uas)}\n${uac.diagnostics}\n${uas.diagnostics}\n--- proxy\n${proxy.logs()}`;
  assert.equal(uac.successfulCalls, calls, detail);
  assert.equal(uac.failedCalls, 0, detail);
  assert.equal(uac.exitCode, 0, detail);
  assert.equal(uas.incomingCalls, calls, detail);
}

async function runUac(
  scenario: SippScenario,
  transport: SippTransport,
  remote: ProxyAddress,
  calls = CALLS,
): Promise<SippSummary> {
  return runSipp({
    name: 'uac',
    scenario,
    transport,
    localPort: await freePort(),
    remote,
    calls,
    rate: 20,
    timeoutSeconds: 30,
    recvTimeoutMs: 8000,
    service: 'bob',
    keys: { domain: TEST_DOMAIN },
  });
}

/** Options of {@link defineProxyInteropTests}. */
export interface InteropSuiteOptions {
  /** Register every test as `todo` (runs, reports, never fails the run) with this reason. */
  readonly todo?: string;
}

/** Registers the interop tests for `startProxy` under `label`. */
export function defineProxyInteropTests(
  label: string,
  startProxy: ProxyFactory,
  suiteOptions: InteropSuiteOptions = {},
): void {
  const testOptions = suiteOptions.todo !== undefined ? { todo: suiteOptions.todo } : {};
  for (const transport of ['udp', 'tcp'] as const) {
    test(
      `${label}: sipp uac → proxy → sipp uas, INVITE/ACK/BYE over ${transport}`,
      testOptions,
      async (t) => {
        const { proxy, uas } = await setUp(t, startProxy, { builtin: 'uas' }, transport);
        const uac = await runUac({ builtin: 'uac' }, transport, proxy[transport]);
        assertAllCallsOk(uac, await uas.stop(), CALLS, proxy);
      },
    );
  }

  test(
    `${label}: MESSAGE over udp reaches the uas and its 200 comes back`,
    testOptions,
    async (t) => {
      const server = { file: 'message-uas.xml', role: 'server' } as const;
      const { proxy, uas } = await setUp(t, startProxy, server, 'udp');
      const uac = await runUac({ file: 'message-uac.xml', role: 'client' }, 'udp', proxy.udp);
      const uasSummary = await uas.stop();
      assertAllCallsOk(uac, uasSummary, CALLS, proxy);
      assert.equal(uasSummary.successfulCalls, CALLS, describeSummary(uasSummary));
    },
  );

  test(
    `${label}: REGISTER over tcp to a registrar behind the proxy (udp) gets 200`,
    testOptions,
    async (t) => {
      const server = { file: 'register-uas.xml', role: 'server' } as const;
      const { proxy, uas } = await setUp(t, startProxy, server, 'udp');
      const uac = await runUac({ file: 'register-uac.xml', role: 'client' }, 'tcp', proxy.tcp);
      const uasSummary = await uas.stop();
      assertAllCallsOk(uac, uasSummary, CALLS, proxy);
      assert.equal(uasSummary.successfulCalls, CALLS, describeSummary(uasSummary));
    },
  );

  test(
    `${label}: sipp over TLS (socat bridge) → proxy → sipp uas over udp`,
    testOptions,
    async (t) => {
      const { proxy, uas } = await setUp(t, startProxy, { builtin: 'uas' }, 'udp', true);
      assert.ok(proxy.tls, `${proxy.name} has no TLS listener`);
      const bridge = await startTlsBridge({
        listenPort: await freePort(),
        tlsPort: proxy.tls.port,
        ...(proxy.caFile !== undefined ? { caFile: proxy.caFile } : {}),
        serverName: 'localhost',
      });
      t.after(() => bridge.stop());
      const uac = await runUac({ builtin: 'uac' }, 'tcp', {
        host: '127.0.0.1',
        port: bridge.listenPort,
      });
      assertAllCallsOk(uac, await uas.stop(), CALLS, proxy);
    },
  );

  test(
    `${label}: JsSIP over WSS sends a MESSAGE through the proxy to sipp`,
    testOptions,
    async (t) => {
      const server = { file: 'message-uas.xml', role: 'server' } as const;
      const { proxy, uas } = await setUp(t, startProxy, server, 'udp', true);
      assert.ok(proxy.wss, `${proxy.name} has no WSS listener`);
      assert.ok(proxy.caFile, `${proxy.name}: CA file of the WSS certificate not found`);
      // NODE_EXTRA_CA_CERTS is read at start-up, hence the child process.
      const client = startProcess(
        'jssip',
        process.execPath,
        [
          join(REPO_ROOT, 'test/helpers/jssip-message.ts'),
          `wss://${proxy.wss.host}:${proxy.wss.port}`,
          `sip:bob@${TEST_DOMAIN}`,
          'Hello from sipp via JsSIP',
        ],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: proxy.caFile } },
      );
      const killTimer = setTimeout(() => client.child.kill('SIGKILL'), 20_000);
      t.after(async () => {
        clearTimeout(killTimer);
        await client.stop('SIGKILL');
      });
      const exit = await client.exited;
      const lines = client.stdout().trim().split('\n');
      const detail = `exit ${String(exit.code)}\n${client.stdout()}\n${client.stderr().slice(-3000)}\n--- proxy\n${proxy.logs()}`;
      const result = JSON.parse(lines[lines.length - 1] ?? '{}') as {
        ok?: boolean;
        status?: number;
      };
      assert.deepEqual({ ok: result.ok, status: result.status }, { ok: true, status: 200 }, detail);
      const uasSummary = await uas.stop();
      assert.equal(uasSummary.incomingCalls, 1, describeSummary(uasSummary));
    },
  );
}
