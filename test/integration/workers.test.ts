// `workers: 2`: two worker processes share the Access Edge ports with SO_REUSEPORT under a
// supervising primary. sipp with one UDP socket per call (many clients) must be served by
// both workers with every call completing; metrics and status are summed by the primary; a
// killed worker is restarted; SIGTERM stops everything with exit code 0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/ports.ts';
import { sleep, waitUntil } from '../helpers/process.ts';
import { rampartProxyConfig } from '../helpers/proxy-under-test.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { describeSummary, runSipp, startSipp, type SippProcess } from '../helpers/sipp.ts';

interface WorkerStatus {
  readonly index: number;
  readonly pid: number;
  readonly restarts: number;
  readonly services: { readonly 'access-edge'?: { readonly serverTransactions: number } };
}

interface Status {
  readonly services: { readonly 'access-edge': { readonly serverTransactions: number } };
  readonly workers: readonly WorkerStatus[];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('workers: 2 (SO_REUSEPORT)', () => {
  let rampart: RampartInstance;
  let uas: SippProcess;
  let uasPort: number;
  let admin: string;

  const status = async (): Promise<Status> => {
    try {
      return (await (await fetch(`${admin}/api/status`)).json()) as Status;
    } catch (error) {
      // Say why the primary is not answering.
      throw new Error(
        `admin unreachable (${String(error)}); rampart exited: ${String(rampart.process.hasExited)}\n` +
          rampart.process.stderr().slice(-3000) +
          rampart.process.stdout().slice(-3000),
        { cause: error },
      );
    }
  };

  const calls = async (count: number): Promise<void> => {
    const udp = rampart.endpoint('access-edge', 'external', 'udp');
    const uac = await runSipp({
      name: 'uac',
      scenario: { builtin: 'uac' },
      transport: 'udp',
      socketPerCall: true,
      localPort: await freePort(),
      remote: { host: udp.host, port: udp.port },
      calls: count,
      rate: 100,
      timeoutSeconds: 30,
      recvTimeoutMs: 5000,
      extraArgs: ['-max_socket', '1000'],
    });
    assert.equal(uac.successfulCalls, count, describeSummary(uac));
    assert.equal(uac.failedCalls, 0, describeSummary(uac));
  };

  before(async () => {
    uasPort = await freePort();
    uas = await startSipp({
      name: 'uas',
      scenario: { builtin: 'uas' },
      transport: 'udp',
      localPort: uasPort,
      timeoutSeconds: 120,
    });
    rampart = await startRampart({
      config: rampartProxyConfig({
        nextHop: `sip:127.0.0.1:${uasPort};transport=udp`,
        domains: ['127.0.0.1'],
        children: 2,
      }),
    });
    const endpoint = rampart.endpoint('admin', 'internal', 'http');
    admin = `http://${endpoint.host}:${endpoint.port}`;
  });

  after(async () => {
    await rampart.stop();
    await uas.stop();
  });

  test('calls from many sources are spread over both workers and all complete', async () => {
    await calls(200);
    const current = await status();
    assert.equal(current.workers.length, 2);
    // UDP server transactions linger 32 s (Timer J/L), so each worker still holds the ones
    // it served; the kernel's hash of 200 source ports leaves neither worker idle.
    for (const worker of current.workers) {
      const served = worker.services['access-edge']?.serverTransactions ?? 0;
      assert.ok(served > 0, `worker ${worker.index} served nothing: ${JSON.stringify(current)}`);
    }
    const summed = current.workers.reduce(
      (sum, w) => sum + (w.services['access-edge']?.serverTransactions ?? 0),
      0,
    );
    assert.equal(current.services['access-edge'].serverTransactions, summed);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    const invites = /rampart_sip_messages_total\{[^}]*direction="in",kind="INVITE"\} (\d+)/.exec(
      metrics,
    );
    assert.equal(Number(invites?.[1]), 200, 'the primary sums the workers’ counters');
  });

  test('a worker that dies is restarted and the edge keeps serving', async () => {
    const before = await status();
    const victim = before.workers[1];
    assert.ok(victim !== undefined);
    process.kill(victim.pid, 'SIGKILL');
    await waitUntil(
      async () => {
        const now = (await status()).workers[1];
        return now !== undefined && now.restarts === 1 && now.pid !== victim.pid;
      },
      10_000,
      () => 'worker 1 was not restarted',
    );
    await calls(50);
  });

  test('SIGTERM stops the primary and every worker with exit code 0', async () => {
    const pids = (await status()).workers.map((w) => w.pid);
    const exit = await rampart.stop();
    assert.equal(exit.code, 0, rampart.process.stderr().slice(-2000));
    await sleep(200);
    for (const pid of pids) assert.equal(processAlive(pid), false, `worker ${pid} still runs`);
  });
});
