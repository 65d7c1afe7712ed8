// The Access Edge's remote-user policy end to end on loopback, in one process: remote users
// (connecting from 127.0.0.5, their "private address") reach the Director and the Front End
// only through the edge's TLS listener; internal users talk to the Front End directly. The
// tests check what each side sees: no Via, Record-Route or Contact of the other side, trust
// headers stripped and replaced, requests naming internal hosts refused, dialogs working
// both ways through sealed routes and Contact tokens, floods banned, and 503 Retry-After
// while the Director is down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { header, headerValues } from '../../src/codec/sip/parse.ts';
import type { SipMessage } from '../../src/codec/sip/message.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { configSchema } from '../../src/config/schema.ts';
import { CallIdMask } from '../../src/proto/sip-edge/topology.ts';
import { startAccessEdge } from '../../src/services/access-edge/index.ts';
import { startDirector } from '../../src/services/director/index.ts';
import { startFrontEnd } from '../../src/services/front-end/index.ts';
import { MemoryDurableStore } from '../../src/store/durable-store.ts';
import { createCertificateAuthority, issueCertificate } from '../../src/store/tls-material.ts';
import { SqliteDirectory } from '../../src/store/sqlite-directory.ts';
import { startProcess } from '../helpers/process.ts';
import { REPO_ROOT } from '../helpers/rampart.ts';
import { freePort } from '../helpers/ports.ts';
import { SipUa } from '../helpers/sip-ua.ts';
import { createTestPki } from '../helpers/tls.ts';

const DOMAIN = 'example.test';
const SECRET = 'a-test-nonce-secret-of-32-bytes!!';
const REMOTE = '127.0.0.5';
const LOCKOUT = { maxFailures: 5, windowSeconds: 60, baseLockSeconds: 30, maxLockSeconds: 300 };

const tlsDir = mkdtempSync(join(tmpdir(), 'rampart-edge-remote-'));
let tls: { key: string; cert: string; ca: string };
let directory: SqliteDirectory;
let frontEnd: RunningService;
let director: RunningService;
let edge: RunningService;
let directorPort = 0;
let feTcp = 0;
let edgeTls = 0;
let edgeUdp = 0;
let edgeWss = 0;
let edgeRegistry: Registry;
const internalPorts = new Set<number>();
const clients: SipUa[] = [];
let sniCa: { cert: string; key: string };
/** The edge's log lines (JSON), for the fail2ban filter. */
const edgeLog: string[] = [];

function directorConfig(serverTls: number) {
  return {
    host: '127.0.0.1',
    udp: null,
    tcp: null,
    tls: null,
    serverTls,
    frontEnd: '',
    nonceLifetimeSeconds: 300,
    digestAlgorithms: ['SHA-256', 'MD5'] as ('SHA-256' | 'MD5')[],
    lockout: LOCKOUT,
  };
}

async function startOurDirector(port: number, feServer: number): Promise<RunningService> {
  return startDirector({
    config: {
      ...directorConfig(port),
      frontEnd: `sip:127.0.0.1:${String(feServer)};transport=tls`,
    },
    domains: [DOMAIN],
    directory,
    nonceSecret: SECRET,
    tls,
    logger: silentLogger,
    registry: new Registry(),
  });
}

/** A remote user connected to an edge's TLS listener (by default the main edge's). */
async function remote(
  user: string,
  options: { password?: string; domain?: string; localAddress?: string; port?: number } = {},
): Promise<SipUa> {
  const ua = await SipUa.connect({
    host: '127.0.0.1',
    port: options.port ?? edgeTls,
    transport: 'tls',
    user,
    password: options.password ?? `${user}-pw`,
    ...(options.domain === undefined ? {} : { domain: options.domain }),
    ca: tls.ca,
    localAddress: options.localAddress ?? REMOTE,
  });
  clients.push(ua);
  return ua;
}

async function internal(user: string): Promise<SipUa> {
  const ua = await SipUa.connect({ host: '127.0.0.1', port: feTcp, user, password: `${user}-pw` });
  clients.push(ua);
  return ua;
}

/** A Call-ID as the other side of the edge sees it (masked one way, unmasked the other). */
function crossed(callId: string): string {
  return new CallIdMask(SECRET).cross(callId);
}

/** Sends raw bytes over a new TLS connection to the edge; resolves with the first reply. */
async function rawTls(text: string): Promise<string> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: edgeTls,
    ca: tls.ca,
    servername: 'localhost',
    localAddress: REMOTE,
  } as ConnectionOptions);
  try {
    await once(socket, 'secureConnect');
    socket.write(text);
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    return chunk.toString('latin1');
  } finally {
    socket.destroy();
  }
}

/** Every header value of a message, as `name: value` lines. */
function headerText(message: SipMessage): string {
  return message.headers.map((h) => `${h.name}: ${h.value}`).join('\n');
}

/** The ports a header value names after 127.0.0.1 (e.g. Via sent-by, Record-Route). */
function namedPorts(text: string): number[] {
  return [...text.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
}

before(async () => {
  const pki = await createTestPki(tlsDir);
  tls = {
    key: readFileSync(pki.serverKeyFile, 'utf8'),
    cert: readFileSync(pki.serverCertFile, 'utf8'),
    ca: readFileSync(pki.caCertFile, 'utf8'),
  };
  directory = SqliteDirectory.open({ path: ':memory:', realms: [DOMAIN] });
  for (const user of ['alice', 'bob', 'carol', 'dave'])
    await directory.addUser({ address: `${user}@${DOMAIN}`, password: `${user}-pw` });
  const defaults = configSchema.parse({});
  sniCa = await createCertificateAuthority('SNI test CA');
  const sniCert = await issueCertificate(sniCa, ['sip.partner.test', '*.wild.test']);
  frontEnd = await startFrontEnd({
    config: {
      ...defaults['front-end'],
      host: '127.0.0.1',
      udp: null,
      tcp: 0,
      tls: null,
      serverTls: 0,
    },
    domains: [DOMAIN],
    directory,
    store: new MemoryDurableStore(),
    nonceSecret: SECRET,
    tls,
    logger: silentLogger,
    registry: new Registry(),
  });
  const feServer = frontEnd.endpoints.find((e) => e.transport === 'tls')?.port ?? 0;
  feTcp = frontEnd.endpoints.find((e) => e.transport === 'tcp')?.port ?? 0;
  director = await startOurDirector(0, feServer);
  directorPort = director.endpoints.find((e) => e.transport === 'tls')?.port ?? 0;
  for (const e of [...frontEnd.endpoints, ...director.endpoints]) internalPorts.add(e.port);
  edgeRegistry = new Registry();
  edge = await startAccessEdge({
    config: {
      ...defaults['access-edge'],
      external: {
        host: '127.0.0.1',
        advertisedHost: null,
        udp: 0,
        tcp: null,
        // Two TLS listeners, as 5061 and 443 in production.
        tls: [0, 0],
        ws: null,
        wss: 0,
      },
      internal: { ...defaults['access-edge'].internal, tls: 0, healthCheckIntervalMs: 300 },
      limits: { ...defaults['access-edge'].limits, messagesPerSecondPerIp: 100, banSeconds: 30 },
    },
    domains: [DOMAIN],
    tls: { ...tls, onChange: () => () => undefined },
    sni: [{ names: ['sip.partner.test', '*.wild.test'], ...sniCert }],
    defaultNextHops: [`sip:127.0.0.1:${String(directorPort)};transport=tls`],
    secret: SECRET,
    logger: pino({ level: 'warn' }, { write: (line: string) => edgeLog.push(line) }),
    registry: edgeRegistry,
  });
  edgeTls = edge.endpoints.find((e) => e.side === 'external' && e.transport === 'tls')?.port ?? 0;
  edgeUdp = edge.endpoints.find((e) => e.side === 'external' && e.transport === 'udp')?.port ?? 0;
  edgeWss = edge.endpoints.find((e) => e.side === 'external' && e.transport === 'wss')?.port ?? 0;
  const edgeInternal = edge.endpoints.find((e) => e.side === 'internal')?.port ?? 0;
  internalPorts.add(edgeInternal);
  assert.ok(edgeTls > 0 && edgeUdp > 0 && edgeInternal > 0 && directorPort > 0);
});

after(async () => {
  for (const ua of clients) ua.close();
  await edge.close(Date.now() + 100);
  await director.close(Date.now() + 100);
  await frontEnd.close(Date.now() + 100);
  await directory.close();
  rmSync(tlsDir, { recursive: true, force: true });
});

describe('Access Edge: remote users', () => {
  let bob: SipUa;
  let alice: SipUa;

  test('a remote user signs in over TLS through the Director and sees its own Contact', async () => {
    bob = await remote('bob');
    alice = await internal('alice');
    assert.equal((await alice.register()).status, 200);
    // Supported: path asks the registrar to echo the Path set; it must not reach the client.
    const ok = await bob.register(600, [['Supported', 'path']]);
    assert.equal(ok.status, 200);
    assert.equal(header(ok, 'path'), undefined, headerText(ok));
    // The registrar lists the edge's token; the edge gives the client back its own Contact.
    const contacts = headerValues(ok, 'contact').join(', ');
    assert.ok(contacts.includes(bob.contact), contacts);
    for (const port of namedPorts(headerText(ok)))
      assert.ok(
        !internalPorts.has(port),
        `internal port ${String(port)} leaked: ${headerText(ok)}`,
      );
  });

  test("IM from a remote user: the inside sees the edge, not the client, and the Director's identity", async () => {
    const received = alice.waitForRequest(
      'MESSAGE',
      (r) => header(r, 'call-id') === crossed('im-out-in'),
    );
    const response = await bob.request('MESSAGE', alice.aor, {
      callId: 'im-out-in',
      body: 'hello from outside',
      headers: [
        ['Content-Type', 'text/plain'],
        // Spoofed trust: stripped at the edge.
        ['P-Asserted-Identity', '<sip:carol@example.test>'],
        ['P-Rampart-Origin', 'federation'],
      ],
    });
    assert.equal(response.status, 200);
    const message = await received;
    const text = headerText(message);
    assert.ok(!text.includes(REMOTE), `client address leaked inside:\n${text}`);
    assert.notEqual(header(message, 'call-id'), 'im-out-in');
    assert.equal(header(message, 'p-asserted-identity'), `<sip:bob@${DOMAIN}>`);
    assert.equal(header(message, 'p-rampart-origin'), undefined);
    assert.ok(message.body.toString().includes('hello from outside'));
  });

  test('IM to a remote user reaches it over its own connection, with no internal topology', async () => {
    const received = bob.waitForRequest(
      'MESSAGE',
      (r) => header(r, 'call-id') === crossed('im-in-out'),
    );
    const response = await alice.request('MESSAGE', bob.aor, {
      callId: 'im-in-out',
      body: 'hello from inside',
      headers: [['Content-Type', 'text/plain']],
    });
    assert.equal(response.status, 200);
    const message = await received;
    const vias = headerValues(message, 'via');
    assert.equal(vias.length, 1, vias.join(' | '));
    assert.ok(vias[0]?.includes(`:${String(edgeTls)}`), vias[0]);
    for (const port of namedPorts(headerText(message)))
      assert.ok(
        !internalPorts.has(port),
        `internal port ${String(port)} leaked:\n${headerText(message)}`,
      );
    assert.equal(header(message, 'p-rampart-origin'), undefined);
  });

  test('an INVITE dialog from inside to a remote user: each side sees only its own routes', async () => {
    const invite = bob.waitForRequest('INVITE', (r) => header(r, 'call-id') === crossed('call-1'));
    const answered = alice.request('INVITE', bob.aor, { callId: 'call-1', body: '' });
    const atBob = await invite;
    const bobText = headerText(atBob);
    const recordRoutes = headerValues(atBob, 'record-route');
    assert.equal(recordRoutes.length, 1, recordRoutes.join(' | '));
    assert.ok(recordRoutes[0]?.includes(`:${String(edgeTls)}`), recordRoutes[0]);
    for (const port of namedPorts(bobText))
      assert.ok(!internalPorts.has(port), `internal port ${String(port)} leaked:\n${bobText}`);
    const ok = await answered;
    assert.equal(ok.status, 200);
    assert.ok(!headerText(ok).includes(REMOTE), `client address leaked inside:\n${headerText(ok)}`);
    // Alice, the UAC, walks the Record-Route set bottom-up to the Contact (a token of the edge).
    const routes = headerValues(ok, 'record-route')
      .flatMap((v) => v.split(/,(?![^<]*>)/))
      .map((v) => v.trim())
      .reverse();
    const target = /<([^>]+)>/.exec(header(ok, 'contact') ?? '')?.[1];
    assert.ok(target !== undefined);
    const toTag = /;tag=([^;>\s]+)/.exec(header(ok, 'to') ?? '')?.[1];
    const bye = bob.waitForRequest('BYE', (r) => header(r, 'call-id') === crossed('call-1'));
    const byeResponse = await alice.request('BYE', target, {
      to: bob.aor,
      callId: 'call-1',
      ...(toTag === undefined ? {} : { toTag }),
      routes,
    });
    assert.equal(byeResponse.status, 200);
    assert.equal(headerValues(await bye, 'via').length, 1);
  });

  test('an INVITE dialog from a remote user: its BYE finds the callee inside', async () => {
    const invite = alice.waitForRequest(
      'INVITE',
      (r) => header(r, 'call-id') === crossed('call-2'),
    );
    const answered = bob.request('INVITE', alice.aor, { callId: 'call-2', body: '' });
    const atAlice = await invite;
    assert.ok(!headerText(atAlice).includes(REMOTE), headerText(atAlice));
    const ok = await answered;
    assert.equal(ok.status, 200);
    const recordRoutes = headerValues(ok, 'record-route');
    assert.equal(recordRoutes.length, 1, recordRoutes.join(' | '));
    // Bob (UAC) sends the BYE along its route set: the edge alone; the edge restores the rest.
    const target = /<([^>]+)>/.exec(header(ok, 'contact') ?? '')?.[1];
    assert.ok(target !== undefined && target.includes(`:${String(edgeTls)}`), target);
    const toTag = /;tag=([^;>\s]+)/.exec(header(ok, 'to') ?? '')?.[1];
    const bye = alice.waitForRequest('BYE', (r) => header(r, 'call-id') === crossed('call-2'));
    const byeResponse = await bob.request('BYE', target, {
      to: alice.aor,
      callId: 'call-2',
      ...(toTag === undefined ? {} : { toTag }),
      routes: recordRoutes,
    });
    assert.equal(byeResponse.status, 200);
    assert.ok(!headerText(await bye).includes(REMOTE));
  });

  test('JsSIP, the browser path: registers over WSS and exchanges IM with an internal user', async () => {
    const received = alice.waitForRequest(
      'MESSAGE',
      (r) => r.body.toString() === 'hello from a browser',
      15_000,
    );
    const client = startProcess(
      'jssip',
      process.execPath,
      [
        join(REPO_ROOT, 'test/helpers/jssip-remote.ts'),
        `wss://127.0.0.1:${String(edgeWss)}`,
        `sip:carol@${DOMAIN}`,
        'carol-pw',
        alice.aor,
        'hello from a browser',
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(tlsDir, 'ca.pem') } },
    );
    try {
      const atAlice = await received.catch((error: unknown) => {
        throw new Error(`${String(error)}\n${client.stdout()}\n${client.stderr().slice(-3000)}`);
      });
      assert.ok(!headerText(atAlice).includes('.invalid'), headerText(atAlice));
      assert.equal(header(atAlice, 'p-asserted-identity'), `<sip:carol@${DOMAIN}>`);
      // Back to the browser over its WebSocket (its Contact host is `….invalid`).
      const answer = await alice.request('MESSAGE', `sip:carol@${DOMAIN}`, {
        body: 'hello browser',
        headers: [['Content-Type', 'text/plain']],
      });
      assert.equal(answer.status, 200);
      const exit = await client.exited;
      const events = client
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: string; body?: string; status?: number });
      const detail = `${client.stdout()}\n${client.stderr().slice(-2000)}`;
      assert.equal(exit.code, 0, detail);
      assert.ok(
        events.some((e) => e.event === 'sent' && e.status === 200),
        detail,
      );
      assert.ok(
        events.some((e) => e.event === 'received' && e.body === 'hello browser'),
        detail,
      );
    } finally {
      await client.stop('SIGKILL');
    }
  });

  test('requests naming internal hosts, foreign From domains, or a forged token are refused', async () => {
    const refused = async (uri: string, options: Parameters<SipUa['request']>[2]) =>
      (await bob.request('MESSAGE', uri, { authenticate: false, ...options })).status;
    assert.equal(await refused(`sip:alice@127.0.0.1:${String(feTcp)}`, {}), 403);
    assert.equal(
      await refused(alice.aor, { routes: [`<sip:127.0.0.1:${String(directorPort)};lr>`] }),
      403,
    );
    assert.equal(
      await refused(
        `sip:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:${String(edgeTls)};transport=tls`,
        {},
      ),
      403,
    );
    // Only users of our domains come in as remote users.
    const mallory = await remote('mallory', { domain: 'evil.test', password: 'x' });
    assert.equal(
      (await mallory.request('MESSAGE', alice.aor, { authenticate: false })).status,
      403,
    );
    // Max-Forwards 0 stops at the edge (RFC 3261 §16.3 item 3).
    const hops = await rawTls(
      `MESSAGE ${alice.aor} SIP/2.0\r\nVia: SIP/2.0/TLS ${REMOTE}:5061;branch=z9hG4bKmf0\r\n` +
        `Max-Forwards: 0\r\nFrom: <${bob.aor}>;tag=mf\r\nTo: <${alice.aor}>\r\n` +
        `Call-ID: mf0\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.match(hops, /^SIP\/2\.0 483 /);
    const method = await bob.request('FOO', alice.aor, { authenticate: false });
    assert.equal(method.status, 405);
  });

  test('an anonymous guest reaches meetings only: marked, unchallenged, nothing else', async () => {
    const guest = await remote('anonymous', { domain: 'anonymous.invalid', password: 'x' });
    const ask = async (method: string, uri: string) =>
      guest.request(method, uri, { authenticate: false });
    // The edge: methods of a meeting guest, our domains only.
    assert.equal((await ask('REGISTER', `sip:${DOMAIN}`)).status, 405);
    assert.equal((await ask('PUBLISH', alice.aor)).status, 405);
    const elsewhere = await ask('MESSAGE', 'sip:dave@elsewhere.example');
    assert.deepEqual([elsewhere.status, elsewhere.reason], [403, 'Not Our Domain']);
    // The Director: no challenge for a guest, but a user is not a meeting.
    const user = await ask('MESSAGE', alice.aor);
    assert.deepEqual([user.status, user.reason], [403, 'Anonymous Users Join Meetings Only']);
    const gruuTrick = await ask('MESSAGE', `${alice.aor};gruu;opaque=urn:uuid:1`);
    assert.equal(gruuTrick.status, 403);
    // A meeting's focus URI crosses the edge and the Director to the Front End, which hosts
    // no conferencing focus yet.
    const meeting = await ask('INVITE', `${alice.aor};gruu;opaque=app:conf:focus:id:42`);
    assert.deepEqual([meeting.status, meeting.reason], [404, 'No Such Meeting']);
  });

  test('a flood from one address is banned while a remote user keeps working', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.9', resolve));
    const options = (i: number) =>
      Buffer.from(
        `OPTIONS sip:${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:${String(socket.address().port)};branch=z9hG4bKflood${String(i)}\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:flood@${DOMAIN}>;tag=f\r\nTo: <sip:${DOMAIN}>\r\nCall-ID: flood-${String(i)}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      );
    for (let i = 0; i < 600; i++) socket.send(options(i), edgeUdp, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.close();
    const bans = await edgeRegistry.getSingleMetric('rampart_access_edge_bans_total')?.get();
    const ipBans = bans?.values.find((v) => v.labels.kind === 'ip')?.value ?? 0;
    assert.ok(ipBans >= 1, `bans: ${JSON.stringify(bans?.values)}`);
    // The shipped fail2ban filter finds the banned address in the log line.
    const filter = readFileSync(join(REPO_ROOT, 'docs/fail2ban/rampart-access-edge.conf'), 'utf8');
    const failregex = /^failregex = (.*)$/m.exec(filter)?.[1] ?? '';
    const pattern = new RegExp(
      failregex.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<HOST>', '(?<host>[0-9a-fA-F.:]+)'),
    );
    const hosts = edgeLog.flatMap((line) => pattern.exec(line)?.groups?.host ?? []);
    assert.deepEqual([...new Set(hosts)], ['127.0.0.9'], edgeLog.join(''));
    let ok = 0;
    for (let i = 0; i < 20; i++) {
      const response = await bob.request('MESSAGE', alice.aor, {
        body: `still here ${String(i)}`,
        headers: [['Content-Type', 'text/plain']],
      });
      if (response.status === 200) ok++;
    }
    assert.equal(ok, 20);
  });

  test('one user sending too fast is banned (503 Retry-After) while others are served', async () => {
    const flooder = await remote('flooder', { password: 'x', localAddress: '127.0.0.7' });
    // Default limit: 50 requests/s per user, a burst of 100. Sequential requests are not
    // paced, so the burst runs out well within the 150.
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++)
      statuses.push(
        (await flooder.request('OPTIONS', `sip:${DOMAIN}`, { authenticate: false })).status,
      );
    assert.ok(statuses.includes(503), statuses.join(','));
    assert.ok(
      edgeLog.some((line) =>
        line.includes('"event":"ban","kind":"user","user":"sip:flooder@example.test"'),
      ),
    );
    const other = await bob.request('MESSAGE', alice.aor, {
      body: 'not banned',
      headers: [['Content-Type', 'text/plain']],
    });
    assert.equal(other.status, 200);
  });

  test('failed sign-ins from one address lock out that address, not every remote user', async () => {
    // Every remote user reaches the Director from the edge's address: the Director counts
    // failures per client address, which the edge names in P-Rampart-Source.
    const statuses: number[] = [];
    for (let user = 1; user <= 5; user++) {
      const intruder = await remote(`intruder${String(user)}`, {
        password: 'wrong',
        localAddress: '127.0.0.8',
      });
      for (let i = 0; i < 5; i++)
        statuses.push((await intruder.request('MESSAGE', alice.aor, { body: 'x' })).status);
    }
    assert.ok(statuses.includes(403), statuses.join(','));
    const ok = await bob.request('MESSAGE', alice.aor, {
      body: 'still allowed',
      headers: [['Content-Type', 'text/plain']],
    });
    assert.equal(ok.status, 200);
  });

  test('several next hops: a dead one is skipped; remote access off; too many header lines', async () => {
    const defaults = configSchema.parse({})['access-edge'];
    const dead = await freePort();
    const start = (overrides: Partial<typeof defaults>, nextHop: string[]) =>
      startAccessEdge({
        config: {
          ...defaults,
          external: { ...defaults.external, udp: null, tcp: null, tls: 0, ws: null, wss: null },
          internal: { ...defaults.internal, tls: 0, nextHop, healthCheckIntervalMs: 200 },
          ...overrides,
        },
        domains: [DOMAIN],
        tls: { ...tls, onChange: () => () => undefined },
        secret: SECRET,
        logger: silentLogger,
        registry: new Registry(),
      });
    const director = `sip:127.0.0.1:${String(directorPort)};transport=tls`;
    const failover = await start({}, [`sip:127.0.0.1:${String(dead)};transport=tls`, director]);
    const closed = await start({ remoteAccess: false }, [director]);
    const strict = await start({ limits: { ...defaults.limits, maxHeaders: 16 } }, [director]);
    try {
      const connect = (service: RunningService, user: string) =>
        remote(user, {
          port:
            service.endpoints.find((e) => e.transport === 'tls' && e.side === 'external')?.port ??
            0,
        });
      // The health check finds the first hop dead within its interval; then all goes to the second.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        { up: failover.status().nextHopsUp, all: failover.status().nextHops },
        { up: 1, all: 2 },
      );
      const dave = await connect(failover, 'dave');
      assert.equal((await dave.register()).status, 200);
      const refused = await connect(closed, 'dave');
      const off = await refused.register();
      assert.equal(off.status, 403);
      assert.equal(off.reason, 'Remote Access Disabled');
      const verbose = await connect(strict, 'dave');
      const many = await verbose.request('OPTIONS', `sip:${DOMAIN}`, {
        authenticate: false,
        headers: Array.from({ length: 20 }, (_, i): [string, string] => [
          `X-Filler-${String(i)}`,
          'x',
        ]),
      });
      assert.equal(many.status, 400);
    } finally {
      await Promise.all([failover, closed, strict].map((e) => e.close(Date.now() + 100)));
    }
  });

  test('TLS: SNI picks the certificate for the name asked for; TLS 1.1 is refused', async () => {
    const handshake = async (servername: string, ca: string, extra: ConnectionOptions = {}) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: edgeTls, servername, ca, ...extra });
      try {
        await once(socket, 'secureConnect');
        return socket.getPeerX509Certificate()?.subjectAltName ?? '';
      } finally {
        socket.destroy();
      }
    };
    assert.match(await handshake('sip.partner.test', sniCa.cert), /DNS:sip\.partner\.test/);
    assert.match(await handshake('a.wild.test', sniCa.cert), /DNS:\*\.wild\.test/);
    assert.match(await handshake('localhost', tls.ca), /DNS:localhost/);
    // The second TLS listener (443 in production) serves the same.
    const second = edge.endpoints.filter((e) => e.side === 'external' && e.transport === 'tls');
    assert.equal(second.length, 2);
    const other = tlsConnect({
      host: '127.0.0.1',
      port: second[1]?.port ?? 0,
      servername: 'localhost',
      ca: tls.ca,
    });
    await once(other, 'secureConnect');
    other.destroy();
    await assert.rejects(
      handshake('localhost', tls.ca, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
    );
  });

  test('503 with Retry-After while the Director is down; service returns by itself', async () => {
    const feServer = frontEnd.endpoints.find((e) => e.transport === 'tls')?.port ?? 0;
    await director.close(Date.now() + 100);
    const closed = Date.now();
    // Within a second of the Director going away, remote users are told to come back later;
    // no request waits for a transaction timeout.
    let down: Awaited<ReturnType<SipUa['request']>> | undefined;
    while (Date.now() - closed < 1000) {
      const sent = Date.now();
      down = await bob.request('MESSAGE', alice.aor, { authenticate: false, timeoutMs: 1000 });
      assert.ok(Date.now() - sent < 1000);
      if (down.status === 503) break;
    }
    assert.ok(down !== undefined);
    assert.equal(down.status, 503);
    assert.ok(header(down, 'retry-after') !== undefined);
    director = await startOurDirector(directorPort, feServer);
    let status = 0;
    for (let i = 0; i < 30 && status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (
        await bob.request('MESSAGE', alice.aor, {
          body: 'back',
          headers: [['Content-Type', 'text/plain']],
          timeoutMs: 3000,
        })
      ).status;
    }
    assert.equal(status, 200);
  });
});
