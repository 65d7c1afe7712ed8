/**
 * Federation end to end on loopback: four complete deployments (`rampart start`), each with
 * its own CA and certificate — a.example, b.example, c.example, and d.example (which also
 * serves chat.example, a public IM provider for A) — found through a real DNS server
 * (dnsmasq) by their `_sipfederationtls._tcp` SRV records. A allows b.example, blocks
 * c.example and discovers d.example; B federates with a.example only. Users of A and B exchange IM and presence; the block list, discovery,
 * per-user policy and the administrator's commands are checked on live traffic, and so is
 * hostile input from partners (spoofed domains, foreign certificates, claims on our domain,
 * limits of discovered partners, partner edges that stall or never answer).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { header } from '../../src/codec/sip/parse.ts';
import { createTestAuthority, type TestAuthority } from '../../src/transport/testing.ts';
import { freeUdpPort, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';
import { rampartCli, startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { SipUa } from '../helpers/sip-ua.ts';

const PASSWORD = 'federation-pw';

interface Pki {
  readonly authority: TestAuthority;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

let workDir = '';
let dns: Dnsmasq | undefined;
let dnsPort = 0;
type Name = 'a' | 'b' | 'c' | 'd';
const pki: Record<Name, Pki> = {} as Record<Name, Pki>;
const deployments: Record<Name, RampartInstance> = {} as Record<Name, RampartInstance>;
const clients: SipUa[] = [];
const servers: Server[] = [];

async function makePki(name: string, domains: readonly string[]): Promise<Pki> {
  const authority = await createTestAuthority(`CA of ${name}`);
  const leaf = await authority.issue(`edge.${name}.example`, domains);
  const caFile = join(workDir, `${name}-ca.pem`);
  const certFile = join(workDir, `${name}-cert.pem`);
  const keyFile = join(workDir, `${name}-key.pem`);
  await writeFile(caFile, authority.cert);
  await writeFile(certFile, leaf.cert);
  await writeFile(keyFile, leaf.key);
  return { authority, caFile, certFile, keyFile };
}

function config(
  own: Pki,
  domains: readonly string[],
  federation: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): unknown {
  return {
    domains,
    tls: { certFile: own.certFile, keyFile: own.keyFile, caFile: own.caFile },
    'av-edge': { enabled: false },
    'access-edge': {
      external: { udp: null, tcp: null, ws: null, wss: null },
      dns: { servers: [`127.0.0.1:${String(dnsPort)}`] },
      federation: { enabled: true, systemCas: false, ...federation },
      ...extra,
    },
  };
}

const cli = rampartCli;

async function cliFails(
  dataDir: string,
  ...args: string[]
): Promise<{ stdout: string; code: number }> {
  try {
    await cli(dataDir, ...args);
  } catch (error) {
    const failure = error as { stdout?: string; code?: number };
    return { stdout: failure.stdout ?? '', code: failure.code ?? -1 };
  }
  assert.fail(`rampart ${args.join(' ')} succeeded`);
}

function configFile(deployment: RampartInstance): string {
  return join(deployment.dataDir, 'rampart.test.yaml');
}

const connected = new Map<string, SipUa>();

/**
 * A user of a deployment, connected to its Front End over TCP and registered; one
 * connection per user for the whole file (a user may register 8 endpoints at most).
 */
async function user(deployment: RampartInstance, name: string, domain: string): Promise<SipUa> {
  const key = `${name}@${domain}`;
  const known = connected.get(key);
  if (known !== undefined) return known;
  const ua = await connectUser(deployment, name, domain);
  connected.set(key, ua);
  return ua;
}

async function connectUser(
  deployment: RampartInstance,
  name: string,
  domain: string,
): Promise<SipUa> {
  const fe = deployment.endpoint('front-end', 'internal', 'tcp');
  const ua = await SipUa.connect({
    host: '127.0.0.1',
    port: fe.port,
    user: name,
    domain,
    password: PASSWORD,
  });
  clients.push(ua);
  const registered = await ua.register();
  assert.equal(registered.status, 200, `${name}@${domain} REGISTER`);
  return ua;
}

/** A fake partner edge: a TLS connection to A's edge presenting `credentials`. */
async function partnerEdge(
  credentials: { cert: string; key: string } | undefined,
  from: { user: string; domain: string },
): Promise<SipUa> {
  const edge = deployments.a.endpoint('access-edge', 'external', 'tls');
  const ua = await SipUa.connect({
    host: '127.0.0.1',
    port: edge.port,
    transport: 'tls',
    user: from.user,
    domain: from.domain,
    password: 'unused',
    ca: pki.a.authority.cert,
    ...(credentials === undefined ? {} : credentials),
  });
  clients.push(ua);
  return ua;
}

async function message(
  from: SipUa,
  to: string,
  text: string,
  headers: readonly (readonly [string, string])[] = [],
  timeoutMs = 5000,
) {
  return from.request('MESSAGE', to, {
    headers: [['Content-Type', 'text/plain'], ...headers],
    body: text,
    timeoutMs,
  });
}

/**
 * `owner` lists `watcher` (so the owner's side authorises the watcher), `watcher`
 * subscribes to `owner`'s presence across the federation, and sees `owner` publish `note`.
 */
async function watches(watcher: SipUa, owner: SipUa, note: string): Promise<void> {
  const put = await owner.request('SERVICE', owner.aor, {
    headers: [['Content-Type', 'application/vnd.rampart.contacts+json']],
    body: JSON.stringify({ op: 'put-contact', address: watcher.aor }),
  });
  assert.equal(put.status, 200);
  const active = watcher.waitForRequest(
    'NOTIFY',
    (n) => (header(n, 'subscription-state') ?? '').startsWith('active'),
    10_000,
  );
  const subscribed = await watcher.request('SUBSCRIBE', owner.aor, {
    headers: [
      ['Event', 'presence'],
      ['Accept', 'application/pidf+xml'],
      ['Expires', '600'],
    ],
  });
  assert.ok(subscribed.status === 200 || subscribed.status === 202, String(subscribed.status));
  await active;
  const changed = watcher.waitForRequest('NOTIFY', (n) => n.body.includes(note), 10_000);
  const published = await owner.request('PUBLISH', owner.aor, {
    headers: [
      ['Event', 'presence'],
      ['Content-Type', 'application/pidf+xml'],
      ['Expires', '600'],
    ],
    body:
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${owner.aor.replace(/^sip:/, 'pres:')}">` +
      `<tuple id="t1"><status><basic>open</basic></status><note>${note}</note></tuple>` +
      '</presence>',
  });
  assert.equal(published.status, 200);
  assert.match((await changed).body.toString(), /<basic>open<\/basic>/);
}

async function addUsers(deployment: RampartInstance, addresses: readonly string[]): Promise<void> {
  for (const address of addresses)
    await cli(
      deployment.dataDir,
      'user',
      'add',
      address,
      '--password',
      PASSWORD,
      // The configuration names the realms the digest HA1s are kept for.
      '--config',
      configFile(deployment),
    );
}

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'rampart-federation-'));
  pki.a = await makePki('a', ['a.example']);
  pki.b = await makePki('b', ['b.example']);
  pki.c = await makePki('c', ['c.example']);
  pki.d = await makePki('d', ['d.example', 'chat.example']);
  dnsPort = await freeUdpPort();
  deployments.b = await startRampart({
    config: config(pki.b, ['b.example'], {
      caFiles: [pki.a.caFile],
      allow: [{ domain: 'a.example' }],
    }),
  });
  // c.example: on A's block list; open federation, so only A's list stops it.
  deployments.c = await startRampart({
    config: config(pki.c, ['c.example'], { discovery: true, caFiles: [pki.a.caFile] }),
  });
  // d.example, found by A through DNS, and chat.example: a public IM provider for A.
  deployments.d = await startRampart({
    config: config(pki.d, ['d.example', 'chat.example'], {
      discovery: true,
      caFiles: [pki.a.caFile],
    }),
  });
  deployments.a = await startRampart({
    config: config(
      pki.a,
      ['a.example'],
      {
        discovery: true,
        caFiles: [pki.b.caFile, pki.c.caFile, pki.d.caFile],
        allow: [{ domain: 'b.example' }],
        block: ['c.example'],
        maxPendingPerPartner: 2,
        providers: [
          {
            name: 'chat',
            domains: ['chat.example'],
            edge: 'edge.d.example',
            port: deployments.d.endpoint('access-edge', 'external', 'tls').port,
          },
        ],
        discovered: { maxLocalUsers: 2, messagesPerSecond: 50 },
      },
      // A short T1 on the edge: a partner that never answers times out in 6.4 s (64 × T1).
      { timers: { t1Ms: 100 } },
    ),
  });
  // Partner edges that misbehave: one accepts TCP and never completes TLS, one completes TLS
  // (a certificate A trusts) and never answers SIP.
  const stall = createTcpServer(() => undefined);
  const silentCredentials = await pki.d.authority.issue('edge.silent.example', ['silent.example']);
  const silent = createTlsServer(
    { ...silentCredentials, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      socket.on('data', () => undefined);
    },
  );
  for (const server of [stall, silent]) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const portOf = (server: Server): number => {
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return address.port;
  };
  const edgePort = (d: RampartInstance): number =>
    d.endpoint('access-edge', 'external', 'tls').port;
  const srv = (domain: string, target: string, port: number): string[] => [
    `--srv-host=_sipfederationtls._tcp.${domain},${target},${String(port)},10,0`,
    `--host-record=${target},127.0.0.1`,
  ];
  dns = await startDnsmasq(
    [
      ...srv('a.example', 'edge.a.example', edgePort(deployments.a)),
      ...srv('b.example', 'edge.b.example', edgePort(deployments.b)),
      ...srv('c.example', 'edge.c.example', edgePort(deployments.c)),
      ...srv('d.example', 'edge.d.example', edgePort(deployments.d)),
      ...srv('stall.example', 'edge.stall.example', portOf(stall)),
      ...srv('silent.example', 'edge.silent.example', portOf(silent)),
    ],
    { port: dnsPort },
  );
  await addUsers(deployments.a, ['alice@a.example', 'amy@a.example', 'ann@a.example']);
  await addUsers(deployments.b, ['bob@b.example']);
  await addUsers(deployments.c, ['carol@c.example']);
  await addUsers(deployments.d, ['dave@d.example', 'pat@chat.example']);
});

after(async () => {
  for (const ua of clients) ua.close();
  for (const server of servers) server.close();
  await Promise.allSettled(Object.values(deployments).map((d) => d.stop()));
  await dns?.stop();
  if (workDir !== '') await rm(workDir, { recursive: true, force: true });
});

describe('federation between complete deployments', () => {
  test('alice@a.example and bob@b.example exchange MESSAGE both ways through both edges', async () => {
    const alice = await user(deployments.a, 'alice', 'a.example');
    const bob = await user(deployments.b, 'bob', 'b.example');
    const atBob = bob.waitForRequest('MESSAGE', (r) => r.body.toString() === 'hello bob');
    const sent = await message(alice, 'sip:bob@b.example', 'hello bob');
    assert.equal(sent.status, 200);
    const received = await atBob;
    assert.match(header(received, 'from') ?? '', /sip:alice@a\.example/);
    // Nothing of A's inside crosses: one Via per hop on B's side, none of A's internal ones.
    const fromA = received.headers.filter((h) => h.name === 'via').map((h) => h.value);
    assert.ok(
      fromA.every(
        (v) => !v.includes(String(deployments.a.endpoint('front-end', 'internal', 'tcp').port)),
      ),
      fromA.join('\n'),
    );
    assert.equal(received.headers.filter((h) => h.name.startsWith('p-rampart-')).length, 0);

    const atAlice = alice.waitForRequest('MESSAGE', (r) => r.body.toString() === 'hi alice');
    const back = await message(bob, 'sip:alice@a.example', 'hi alice');
    assert.equal(back.status, 200);
    assert.match(header(await atAlice, 'from') ?? '', /sip:bob@b\.example/);
  });

  test("alice sees bob's presence across the federation once bob lists her", async () => {
    await watches(
      await user(deployments.a, 'alice', 'a.example'),
      await user(deployments.b, 'bob', 'b.example'),
      'federated lab',
    );
  });

  test("and the other way: bob watches alice's presence once alice lists him", async () => {
    await watches(
      await user(deployments.b, 'bob', 'b.example'),
      await user(deployments.a, 'alice', 'a.example'),
      'at the a.example desk',
    );
  });

  test("a remote user of A (through A's edge and Director) reaches bob, within policy", async () => {
    const edge = deployments.a.endpoint('access-edge', 'external', 'tls');
    const remote = await SipUa.connect({
      host: '127.0.0.1',
      port: edge.port,
      transport: 'tls',
      user: 'ann',
      domain: 'a.example',
      password: PASSWORD,
      ca: pki.a.authority.cert,
      localAddress: '127.0.0.7',
    });
    clients.push(remote);
    assert.equal((await remote.register()).status, 200);
    const bob = await user(deployments.b, 'bob', 'b.example');
    const atBob = bob.waitForRequest('MESSAGE', (r) => r.body.toString() === 'from the road');
    assert.equal((await message(remote, 'sip:bob@b.example', 'from the road')).status, 200);
    assert.match(header(await atBob, 'from') ?? '', /sip:ann@a\.example/);
    // The same user's policy applies from outside: without federation, 403.
    await cli(
      deployments.a.dataDir,
      'user',
      'set-policy',
      'ann@a.example',
      '--federation',
      'off',
      '--config',
      configFile(deployments.a),
    );
    assert.equal((await message(remote, 'sip:bob@b.example', 'not any more')).status, 403);
    await cli(
      deployments.a.dataDir,
      'user',
      'set-policy',
      'ann@a.example',
      '--federation',
      'on',
      '--config',
      configFile(deployments.a),
    );
  });

  test('c.example is on the block list: refused both ways (403)', async () => {
    const alice = await user(deployments.a, 'alice', 'a.example');
    const carol = await user(deployments.c, 'carol', 'c.example');
    assert.equal((await message(alice, 'sip:carol@c.example', 'to a blocked domain')).status, 403);
    assert.equal(
      (await message(carol, 'sip:alice@a.example', 'from a blocked domain')).status,
      403,
    );
  });

  test('d.example, on no list, is found by its SRV record (open federation)', async () => {
    const alice = await user(deployments.a, 'alice', 'a.example');
    const dave = await user(deployments.d, 'dave', 'd.example');
    const atDave = dave.waitForRequest('MESSAGE', (r) => r.body.toString() === 'found you');
    assert.equal((await message(alice, 'sip:dave@d.example', 'found you')).status, 200);
    await atDave;
    const atAlice = alice.waitForRequest('MESSAGE', (r) => r.body.toString() === 'discovered');
    assert.equal((await message(dave, 'sip:alice@a.example', 'discovered')).status, 200);
    await atAlice;
  });

  test('a public IM provider: IM and presence only, and only for users allowed public IM', async () => {
    const a = deployments.a;
    await cli(
      a.dataDir,
      'user',
      'set-policy',
      'alice@a.example',
      '--public-im',
      'on',
      '--config',
      configFile(a),
    );
    const alice = await user(a, 'alice', 'a.example');
    const ann = await user(a, 'ann', 'a.example');
    const pat = await user(deployments.d, 'pat', 'chat.example');
    const atPat = pat.waitForRequest('MESSAGE', (r) => r.body.toString() === 'hi pat');
    assert.equal((await message(alice, 'sip:pat@chat.example', 'hi pat')).status, 200);
    await atPat;
    const atAlice = alice.waitForRequest('MESSAGE', (r) => r.body.toString() === 'hi alice');
    assert.equal((await message(pat, 'sip:alice@a.example', 'hi alice')).status, 200);
    await atAlice;
    // No media with a provider unless allowed: the edge refuses INVITE both ways.
    const call = await alice.request('INVITE', 'sip:pat@chat.example', {
      headers: [['Content-Type', 'application/sdp']],
      body: 'v=0\r\n',
    });
    assert.equal(call.status, 403);
    assert.equal(call.reason, 'Media Not Allowed With Provider');
    const inbound = await pat.request('INVITE', 'sip:alice@a.example', {
      headers: [['Content-Type', 'application/sdp']],
      body: 'v=0\r\n',
    });
    assert.equal(inbound.status, 405);
    // ann's policy does not allow public IM (the default): refused both ways.
    assert.equal((await message(ann, 'sip:pat@chat.example', 'not for ann')).status, 403);
    assert.equal((await message(pat, 'sip:ann@a.example', 'not for ann')).status, 403);
  });

  test('B does not federate with a domain it does not allow (discovery off): 403', async () => {
    const bob = await user(deployments.b, 'bob', 'b.example');
    assert.equal((await message(bob, 'sip:dave@d.example', 'unknown to B')).status, 403);
  });

  test('per-user policy: a user without federation neither sends nor receives (403)', async () => {
    await cli(
      deployments.a.dataDir,
      'user',
      'set-policy',
      'amy@a.example',
      '--federation',
      'off',
      '--config',
      configFile(deployments.a),
    );
    const amy = await user(deployments.a, 'amy', 'a.example');
    const bob = await user(deployments.b, 'bob', 'b.example');
    assert.equal((await message(amy, 'sip:bob@b.example', 'not allowed')).status, 403);
    assert.equal((await message(bob, 'sip:amy@a.example', 'not allowed either')).status, 403);
  });

  test('rampart federation block/allow/list change a running edge within seconds', async () => {
    const a = deployments.a;
    const alice = await user(a, 'alice', 'a.example');
    await user(deployments.b, 'bob', 'b.example');
    assert.match(
      await cli(a.dataDir, 'federation', 'block', 'b.example', '--config', configFile(a)),
      /blocked b\.example/,
    );
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await message(alice, 'sip:bob@b.example', 'blocked now?')).status;
      if (status === 403) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(status, 403);
    const listed = await cli(a.dataDir, 'federation', 'list', '--config', configFile(a));
    assert.match(listed, /blocked:\n {2}b\.example {2}\(rampart federation/);
    assert.match(listed, /c\.example {2}\(config\)/);
    await cli(a.dataDir, 'federation', 'allow', 'b.example', '--config', configFile(a));
    const again = Date.now() + 5000;
    while (Date.now() < again) {
      status = (await message(alice, 'sip:bob@b.example', 'allowed again?')).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(status, 200);
  });

  test('rampart federation test reports each step, and which one fails', async () => {
    const a = deployments.a;
    const ok = await cli(a.dataDir, 'federation', 'test', 'b.example', '--config', configFile(a));
    assert.match(ok, /^ok +policy/m);
    assert.match(ok, /^ok +dns .*edge\.b\.example 127\.0\.0\.1:\d+/m);
    assert.match(ok, /^ok +certificate .*chain verified.*covers edge\.b\.example/m);
    assert.match(ok, /^ok +sip .*OPTIONS answered: SIP\/2\.0 \d{3}/m);
    const blocked = await cliFails(
      a.dataDir,
      'federation',
      'test',
      'c.example',
      '--config',
      configFile(a),
    );
    assert.equal(blocked.code, 1);
    assert.match(blocked.stdout, /^FAIL +policy .*block list/m);
    const nowhere = await cliFails(
      a.dataDir,
      'federation',
      'test',
      'nowhere.example',
      '--config',
      configFile(a),
    );
    assert.match(nowhere.stdout, /^FAIL +dns/m);
  });
});

describe('hostile input from partners', () => {
  // Each: the certificate the fake partner edge presents (none: a plain TLS client), who it
  // says it sends from, what it asserts, and the refusal's reason phrase (all 403).
  const cases: {
    readonly name: string;
    readonly certificate: readonly [string, readonly string[]] | undefined;
    readonly from: { readonly user: string; readonly domain: string };
    readonly headers?: readonly (readonly [string, string])[];
    readonly to?: string;
    readonly reason: string;
  }[] = [
    {
      name: 'a partner spoofing another domain in From: the certificate does not cover it',
      certificate: ['edge.b.example', ['b.example']],
      from: { user: 'eve', domain: 'e.example' },
      reason: 'Domain Not Certified',
    },
    {
      name: 'a certificate for another domain claiming b.example',
      certificate: ['edge.x.example', ['x.example']],
      from: { user: 'bob', domain: 'b.example' },
      reason: 'Domain Not Certified',
    },
    {
      name: 'a partner asserting an identity its certificate does not cover',
      certificate: ['edge.b.example', ['b.example']],
      from: { user: 'bob', domain: 'b.example' },
      headers: [['P-Asserted-Identity', '<sip:ceo@a.example>']],
      reason: 'Identity Not Certified',
    },
    {
      name: 'a partner claiming one of our domains',
      certificate: ['edge.b.example', ['b.example']],
      from: { user: 'alice', domain: 'a.example' },
      to: 'sip:ann@a.example',
      reason: 'Partner May Not Claim Our Domain',
    },
    {
      name: 'a foreign domain without a certificate',
      certificate: undefined,
      from: { user: 'bob', domain: 'b.example' },
      reason: 'Partner Certificate Required',
    },
  ];
  for (const hostile of cases)
    test(`${hostile.name}: 403`, async () => {
      const credentials =
        hostile.certificate === undefined
          ? undefined
          : await pki.b.authority.issue(hostile.certificate[0], hostile.certificate[1]);
      const partner = await partnerEdge(credentials, hostile.from);
      const response = await message(
        partner,
        hostile.to ?? 'sip:alice@a.example',
        hostile.name,
        hostile.headers ?? [],
      );
      assert.deepEqual([response.status, response.reason], [403, hostile.reason]);
    });

  test('a partner may not register or relay through us to a third domain', async () => {
    const bobEdge = await pki.b.authority.issue('edge.b.example', ['b.example']);
    const partner = await partnerEdge(bobEdge, { user: 'bob', domain: 'b.example' });
    const register = await partner.request('REGISTER', 'sip:a.example', { authenticate: false });
    assert.equal(register.status, 405);
    const relay = await message(partner, 'sip:dave@d.example', 'relay me');
    assert.equal(relay.status, 403);
    assert.equal(relay.reason, 'Not Our Domain');
  });

  test('a discovered partner over the cap of distinct local users: 403 and the watch list', async () => {
    const dEdge = await pki.d.authority.issue('edge.d.example', ['d.example']);
    const partner = await partnerEdge(dEdge, { user: 'dave', domain: 'd.example' });
    await user(deployments.a, 'ann', 'a.example');
    const answers: number[] = [];
    // The earlier test made alice one of d.example's users; the cap is 2.
    for (const target of ['alice', 'ann', 'amy'])
      answers.push((await message(partner, `sip:${target}@a.example`, `hello ${target}`)).status);
    assert.equal(answers[2], 403, answers.join(','));
    const listed = await cli(
      deployments.a.dataDir,
      'federation',
      'list',
      '--config',
      configFile(deployments.a),
    );
    assert.match(listed, /watch list:\n {2}d\.example {2}over the local-user cap/);
  });

  test('a partner edge that never completes TLS: the queue is bounded (503 at once) and the rest fail cleanly', async () => {
    const alice = await user(deployments.a, 'alice', 'a.example');
    const started = Date.now();
    const answers = await Promise.all(
      [1, 2, 3, 4].map(async (n) => {
        // The edge gives up on a connection after 10 s (transport connectTimeoutMs).
        const response = await message(
          alice,
          `sip:user${String(n)}@stall.example`,
          'stalled',
          [],
          20_000,
        );
        return { status: response.status, reason: response.reason, ms: Date.now() - started };
      }),
    );
    // Two wait for the connection; two more find the queue full and are refused at once
    // (503, which the Front End relays as 500: RFC 3261 §16.7 step 6).
    const immediate = answers.filter((a) => a.ms < 2000);
    assert.equal(immediate.length, 2, JSON.stringify(answers));
    assert.ok(
      immediate.every((a) => a.status === 500),
      JSON.stringify(answers),
    );
    const waited = answers.filter((a) => a.ms >= 2000);
    assert.ok(
      waited.every((a) => a.status === 504 && a.reason === 'Partner Unreachable'),
      JSON.stringify(answers),
    );
    const metrics = await (
      await fetch(
        `http://127.0.0.1:${String(deployments.a.endpoint('admin', 'internal', 'http').port)}/metrics`,
      )
    ).text();
    assert.match(
      metrics,
      /rampart_access_edge_federation_total\{direction="out",outcome="queue-full"\} 2/,
    );
  });

  test('after a certificate reload from disk, partners are still verified', async () => {
    const edge = deployments.a.endpoint('access-edge', 'external', 'tls');
    const serial = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect(
          { host: '127.0.0.1', port: edge.port, ca: pki.a.authority.cert, servername: 'localhost' },
          () => {
            resolve(socket.getPeerCertificate().serialNumber);
            socket.destroy();
          },
        );
        socket.once('error', reject);
      });
    const before = await serial();
    const renewed = await pki.a.authority.issue('edge.a.example', ['a.example']);
    await writeFile(pki.a.keyFile, renewed.key);
    await writeFile(pki.a.certFile, renewed.cert);
    const deadline = Date.now() + 15_000;
    while ((await serial()) === before && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 250));
    assert.notEqual(await serial(), before, 'the new certificate was not served');
    await user(deployments.a, 'alice', 'a.example');
    const bobEdge = await pki.b.authority.issue('edge.b.example', ['b.example']);
    const partner = await partnerEdge(bobEdge, { user: 'bob', domain: 'b.example' });
    assert.equal((await message(partner, 'sip:alice@a.example', 'after the reload')).status, 200);
  });

  test('a partner edge that stops answering: the user gets 408, not silence', async () => {
    const alice = await user(deployments.a, 'alice', 'a.example');
    const response = await message(
      alice,
      'sip:someone@silent.example',
      'anyone there?',
      [],
      20_000,
    );
    assert.equal(response.status, 408);
  });
});
