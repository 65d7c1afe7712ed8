// Proves the topology harness before Access Edge tests rely on it: who reaches whom, what
// the NAT does, that nothing crosses between the Internet and corp segments, that captures
// see (and decrypt) traffic, that Rampart runs in a namespace, and that nothing is left.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packetsContaining, readSip, sipHeader, startCapture } from './capture.ts';
import {
  buildTopology,
  DMZ_STRICT_HOST_RULESET,
  DMZ_STRICT_HOST_TABLE,
  inSubnet,
  listNamespaces,
  SUBNETS,
} from './netns.ts';
import type { Role, Topology } from './netns.ts';
import { sendFrom, startServer } from './peers.ts';
import type { SendOutcome } from './peers.ts';
import { createSharedPki, startRampartIn } from './rampart-in-netns.ts';
import type { SharedPki } from './rampart-in-netns.ts';

const PROBE_PORT = 7000;

/** The source address the server saw, from its `{"from":"ip:port"}` answer. */
function seenFrom(outcome: SendOutcome): string {
  assert.ok(outcome.ok, `expected an answer, got ${JSON.stringify(outcome)}`);
  const answer = JSON.parse(outcome.reply) as { from: string };
  return answer.from.replace(/:\d+$/, '');
}

function sipOptions(transport: string, from: string, to: string, callId: string): string {
  return [
    `OPTIONS sip:${to} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${from}:5060;rport;branch=z9hG4bK-${callId}`,
    'Max-Forwards: 70',
    `From: <sip:probe@example.test>;tag=${callId}`,
    `To: <sip:${to}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('network-namespace topology', { timeout: 60_000 }, () => {
  let topo: Topology;
  let work: string;
  let pki: SharedPki;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'rt-harness-'));
    topo = await buildTopology();
    pki = await createSharedPki(join(work, 'pki'), {
      dmz: [topo.addr.dmzExternal, topo.addr.dmzInternal, 'edge.example.test'],
      corp: [topo.addr.corp, 'pool.corp.example.test'],
    });
    // One listener per side of the perimeter, on every address of its host.
    await startServer(topo, 'dmz', '0.0.0.0', PROBE_PORT);
    await startServer(topo, 'corp', topo.addr.corp, PROBE_PORT);
  });

  after(async () => {
    await topo.destroy();
    // RT_KEEP_WORK=1 keeps the captures, key logs and PKI for a look with Wireshark.
    if (process.env['RT_KEEP_WORK'] === undefined) await rm(work, { recursive: true, force: true });
    else process.stderr.write(`topology harness work dir kept: ${work}\n`);
  });

  test('only the NAT forwards, and hosts only route their own segments', async () => {
    const forwarding = async (role: Role): Promise<string> =>
      (await topo.runOk(role, ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim();
    assert.equal(await forwarding('nat'), '1');
    assert.equal(await forwarding('dmz'), '0');
    const routes = async (role: Role): Promise<string> =>
      (await topo.runOk(role, ['ip', 'route', 'show'])).stdout;
    assert.equal(
      (await routes('client')).trim(),
      '192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.10',
    );
    assert.match(await routes('home'), /^default via 198\.51\.100\.1 dev eth0/m);
    assert.doesNotMatch(await routes('nat'), /default|203\.0\.113/);
    assert.doesNotMatch(await routes('corp'), /default|192\.0\.2|198\.51\.100/);
  });

  test('(a) a client on the Internet reaches the DMZ external address', async () => {
    const udp = await sendFrom(topo, 'client', 'udp', topo.addr.dmzExternal, PROBE_PORT, 'a-udp');
    const tcp = await sendFrom(topo, 'client', 'tcp', topo.addr.dmzExternal, PROBE_PORT, 'a-tcp');
    assert.equal(seenFrom(udp), topo.addr.client);
    assert.equal(seenFrom(tcp), topo.addr.client);
  });

  test('(b) a home user reaches the DMZ through the NAT, seen as the NAT WAN address', async () => {
    const udp = await sendFrom(topo, 'home', 'udp', topo.addr.dmzExternal, PROBE_PORT, 'b-udp');
    const tcp = await sendFrom(topo, 'home', 'tcp', topo.addr.dmzExternal, PROBE_PORT, 'b-tcp');
    assert.equal(seenFrom(udp), topo.addr.natWan);
    assert.equal(seenFrom(tcp), topo.addr.natWan);
    // The home host cannot be reached from outside: it has no address on the Internet.
    const inbound = await sendFrom(topo, 'client', 'tcp', topo.addr.home, PROBE_PORT, 'in');
    assert.deepEqual(inbound, { ok: false, error: 'ENETUNREACH' });
  });

  test('(c) corporate hosts reach the DMZ internal address and each other', async () => {
    const toDmz = await sendFrom(topo, 'corp', 'tcp', topo.addr.dmzInternal, PROBE_PORT, 'c');
    assert.equal(seenFrom(toDmz), topo.addr.corp);
    const toCorp = await sendFrom(topo, 'corp2', 'udp', topo.addr.corp, PROBE_PORT, 'c2');
    assert.equal(seenFrom(toCorp), topo.addr.corp2);
  });

  test('(d) nothing crosses between the Internet and the corporate network', async () => {
    const unreachable = { ok: false, error: 'ENETUNREACH' };
    const probe = (from: Role, to: string): Promise<SendOutcome> =>
      sendFrom(topo, from, 'tcp', to, PROBE_PORT, 'd', { timeoutMs: 1000 });
    assert.deepEqual(await probe('client', topo.addr.corp), unreachable);
    assert.deepEqual(await probe('corp', topo.addr.client), unreachable);
    assert.deepEqual(await probe('corp', topo.addr.home), unreachable);
    // The home host has a default route; its NAT has none and answers with ICMP.
    const fromHome = await probe('home', topo.addr.corp);
    assert.ok(
      !fromHome.ok && ['ENETUNREACH', 'EHOSTUNREACH'].includes(fromHome.error),
      JSON.stringify(fromHome),
    );

    // Even hosts that route each other's network via the DMZ get nowhere: the DMZ does not
    // forward, and does not accept its internal address on its external side.
    await topo.runOk('client', ['ip', 'route', 'add', SUBNETS.corp, 'via', topo.addr.dmzExternal]);
    await topo.runOk('corp', [
      'ip',
      'route',
      'add',
      SUBNETS.internet,
      'via',
      topo.addr.dmzInternal,
    ]);
    try {
      const timedOut = { ok: false, error: 'ETIMEDOUT' };
      assert.deepEqual(await probe('client', topo.addr.corp), timedOut);
      assert.deepEqual(await probe('client', topo.addr.dmzInternal), timedOut);
      // The probes can fail: with forwarding on, or without the strict-host filter, the
      // same connections go through.
      await topo.runOk('dmz', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      assert.equal(seenFrom(await probe('client', topo.addr.corp)), topo.addr.client);
      await topo.runOk('dmz', ['nft', 'delete', 'table', 'ip', DMZ_STRICT_HOST_TABLE]);
      assert.equal(seenFrom(await probe('client', topo.addr.dmzInternal)), topo.addr.client);
    } finally {
      await topo.runOk('dmz', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
      const table = await topo.run('dmz', ['nft', 'list', 'table', 'ip', DMZ_STRICT_HOST_TABLE]);
      if (table.code !== 0) {
        const rulesetFile = join(work, 'dmz-strict-host.nft');
        await writeFile(rulesetFile, DMZ_STRICT_HOST_RULESET);
        await topo.runOk('dmz', ['nft', '-f', rulesetFile]);
      }
      await topo.runOk('client', ['ip', 'route', 'del', SUBNETS.corp]);
      await topo.runOk('corp', ['ip', 'route', 'del', SUBNETS.internet]);
    }
  });

  test('a capture shows addresses and payloads on each side of the DMZ', async () => {
    const external = await startCapture(topo, {
      role: 'dmz',
      iface: topo.iface.dmzExternal,
      file: join(work, 'external.pcapng'),
      filter: 'ip',
    });
    const internal = await startCapture(topo, {
      role: 'dmz',
      iface: topo.iface.dmzInternal,
      file: join(work, 'internal.pcapng'),
      filter: 'ip',
    });
    await sendFrom(topo, 'home', 'udp', topo.addr.dmzExternal, PROBE_PORT, 'udp-from-home');
    await sendFrom(topo, 'home', 'tcp', topo.addr.dmzExternal, PROBE_PORT, 'tcp-from-home');
    await sendFrom(topo, 'corp', 'udp', topo.addr.dmzInternal, PROBE_PORT, 'udp-from-corp');
    const outside = await external.packets();
    const inside = await internal.packets();

    const [homeDatagram] = packetsContaining(outside, 'udp-from-home');
    assert.ok(homeDatagram, 'the home datagram is on the external side');
    assert.equal(homeDatagram.protocol, 'udp');
    assert.equal(homeDatagram.src, topo.addr.natWan);
    assert.equal(homeDatagram.dstPort, PROBE_PORT);
    assert.ok(packetsContaining(outside, 'tcp-from-home').some((p) => p.protocol === 'tcp'));
    assert.deepEqual(
      outside.filter((p) => inSubnet(p.src, SUBNETS.home)),
      [],
      'the NAT hides the home network',
    );
    assert.deepEqual(packetsContaining(outside, '203.0.113'), []);

    assert.ok(packetsContaining(inside, 'udp-from-corp').length > 0);
    assert.deepEqual(
      inside.filter((p) => inSubnet(p.src, SUBNETS.home) || inSubnet(p.src, SUBNETS.internet)),
      [],
    );
    assert.deepEqual(packetsContaining(inside, 'from-home'), []);
  });

  test('a capture of SIP over TLS is decrypted with the key log Node writes', async () => {
    const capture = await startCapture(topo, {
      role: 'dmz',
      iface: topo.iface.dmzExternal,
      file: join(work, 'tls.pcapng'),
      filter: 'tcp port 5061',
    });
    const server = await startServer(topo, 'dmz', topo.addr.dmzExternal, 5061, {
      tls: pki.hosts['dmz']!,
    });
    const keylogFile = join(work, 'client-keys.log');
    const request = sipOptions('TLS', topo.addr.client, 'edge.example.test', 'tls-probe-1');
    const outcome = await sendFrom(topo, 'client', 'tls', topo.addr.dmzExternal, 5061, request, {
      tls: { caFile: pki.caFile },
      keylogFile,
    });
    assert.ok(outcome.ok, JSON.stringify(outcome));
    await server.stop();

    const packets = await capture.packets();
    assert.ok(packets.some((p) => p.payload.length > 0));
    assert.deepEqual(packetsContaining(packets, 'tls-probe-1'), [], 'TLS hides the SIP');
    const [message, ...others] = await capture.sip({ keylogFile });
    assert.ok(message, 'the OPTIONS is decrypted');
    assert.deepEqual(others, []);
    assert.equal(message.transport, 'tls');
    assert.equal(message.method, 'OPTIONS');
    assert.equal(message.src, topo.addr.client);
    assert.deepEqual(sipHeader(message, 'call-id'), ['tls-probe-1']);
    assert.match(sipHeader(message, 'via')[0] ?? '', /^SIP\/2\.0\/TLS 192\.0\.2\.10:5060;/);
    // Without the key log the same capture holds no SIP at all.
    assert.deepEqual(await readSip(capture.file), []);
  });

  test('(e) Rampart in corp answers OPTIONS over UDP; the DMZ and corp share one PKI', async () => {
    const capture = await startCapture(topo, {
      role: 'corp2',
      iface: topo.iface.corp2,
      file: join(work, 'corp2.pcapng'),
      filter: 'udp port 5080',
    });
    const rampart = await startRampartIn(topo, 'corp', {
      config: {
        domains: ['example.test'],
        tls: pki.tlsConfig('corp'),
        admin: { host: topo.addr.corp, port: 8080 },
        shutdown: { drainTimeoutMs: 200 },
        'access-edge': { enabled: false },
        'av-edge': { enabled: false },
        director: { host: topo.addr.corp },
        'front-end': { host: topo.addr.corp },
      },
    });
    try {
      const [frontEndUdp] = rampart.endpoint('front-end', 'internal', 'udp');
      assert.deepEqual(frontEndUdp, {
        service: 'front-end',
        side: 'internal',
        transport: 'udp',
        host: topo.addr.corp,
        port: 5080,
      });
      const request = sipOptions('UDP', topo.addr.corp2, `${topo.addr.corp}:5080`, 'udp-probe-1');
      const outcome = await sendFrom(topo, 'corp2', 'udp', topo.addr.corp, 5080, request);
      assert.ok(outcome.ok, `${JSON.stringify(outcome)}\n${rampart.output()}`);
      // Not authenticated: challenged (407), which is an answer all the same.
      assert.match(outcome.reply, /^SIP\/2\.0 407 /);
      assert.match(outcome.reply, /\r\nCall-ID: udp-probe-1\r\n/);
      const [seenRequest, seenResponse] = await capture.sip({ decodeAs: ['udp.port==5080,sip'] });
      assert.equal(seenRequest?.method, 'OPTIONS');
      assert.equal(seenResponse?.status, 407);
      assert.equal(seenResponse.src, topo.addr.corp);

      // Mutual TLS to the Director's server listener: it only answers a peer whose
      // certificate comes from the shared CA, and the peer only trusts that CA.
      const tlsRequest = sipOptions('TLS', topo.addr.dmzInternal, topo.addr.corp, 'mtls-probe');
      const withCertificate = await sendFrom(topo, 'dmz', 'tls', topo.addr.corp, 5072, tlsRequest, {
        tls: pki.tlsConfig('dmz'),
      });
      assert.ok(withCertificate.ok, `${JSON.stringify(withCertificate)}\n${rampart.output()}`);
      assert.match(
        withCertificate.reply,
        /^SIP\/2\.0 \d{3} .*\r\nVia: [^\r]*received=203\.0\.113\.1/s,
      );
      const without = await sendFrom(topo, 'dmz', 'tls', topo.addr.corp, 5072, tlsRequest, {
        tls: { caFile: pki.caFile },
      });
      assert.equal(without.ok, false, JSON.stringify(without));
    } finally {
      const exit = await rampart.stop();
      assert.equal(exit.code, 0, rampart.output());
    }
  });

  test('(f) destroy() deletes every namespace and is idempotent', async () => {
    assert.equal(listNamespaces().filter((name) => name.startsWith(topo.prefix)).length, 8);
    await topo.destroy();
    await topo.destroy();
    assert.deepEqual(
      listNamespaces().filter((name) => name.startsWith(topo.prefix)),
      [],
    );
    assert.throws(() => topo.exec('dmz', ['true']), /destroyed/);
  });
});
