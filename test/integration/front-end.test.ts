// The internal servers end to end on loopback, against SQLite and against OpenLDAP: users
// register with digest, exchange IM, watch each other's presence (pending until the owner
// puts the watcher on their contact list, then live PIDF), a forked INVITE rings two
// endpoints of one user, an external user signs in through the Director (407, P-Asserted-
// Identity, Path over mutual TLS) and IMs an internal one, and the TURN credential service
// answers with REST credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { header } from '../../src/codec/sip/parse.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { startDirector } from '../../src/services/director/index.ts';
import { startFrontEnd } from '../../src/services/front-end/index.ts';
import type { Directory } from '../../src/store/directory.ts';
import {
  MemoryDurableStore,
  SqliteDurableStore,
  type DurableStore,
} from '../../src/store/durable-store.ts';
import { LdapDirectory } from '../../src/store/ldap-directory.ts';
import { SqliteDirectory } from '../../src/store/sqlite-directory.ts';
import { startSlapd, type SlapdInstance } from '../helpers/slapd.ts';
import { SipUa } from '../helpers/sip-ua.ts';
import { createTestPki } from '../helpers/tls.ts';

const DOMAIN = 'example.test';
const CORPUS = new URL('../../../shared/corpus/rfc4475/', import.meta.url);
const SECRET = 'a-test-nonce-secret-of-32-bytes!!';
const TURN_SECRET = 'turn-shared-secret-for-the-test';
const LOCKOUT = { maxFailures: 3, windowSeconds: 60, baseLockSeconds: 30, maxLockSeconds: 300 };

interface Deployment {
  readonly frontEnd: RunningService;
  readonly director: RunningService;
  readonly feTcp: number;
  readonly directorTcp: number;
  /** The Director's mutual-TLS listener (the Access Edge and the Front End pool). */
  readonly directorServer: number;
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  readonly directory: Directory;
  close(): Promise<void>;
}

async function deploy(
  directory: Directory,
  tlsDir: string,
  store: DurableStore = new MemoryDurableStore(),
  addUsers = true,
): Promise<Deployment> {
  const pki = await createTestPki(tlsDir);
  const tls = {
    key: readFileSync(pki.serverKeyFile, 'utf8'),
    cert: readFileSync(pki.serverCertFile, 'utf8'),
    ca: readFileSync(pki.caCertFile, 'utf8'),
  };
  if (addUsers) {
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'])
      await directory.addUser({ address: `${user}@${DOMAIN}`, password: `${user}-pw` });
  }
  const frontEnd = await startFrontEnd({
    config: {
      host: '127.0.0.1',
      udp: null,
      tcp: 0,
      tls: null,
      serverTls: 0,
      registrar: {
        minExpiresSeconds: 60,
        maxExpiresSeconds: 3600,
        defaultExpiresSeconds: 600,
        maxBindings: 1000,
      },
      presence: {
        minExpiresSeconds: 60,
        maxExpiresSeconds: 3600,
        defaultExpiresSeconds: 600,
        maxSubscriptionsPerUser: 50,
        maxWatchersPerUser: 50,
      },
      // Short, so that a test can answer with a stale nonce.
      nonceLifetimeSeconds: 2,
      digestAlgorithms: ['SHA-256', 'MD5'],
      lockout: LOCKOUT,
    },
    domains: [DOMAIN],
    directory,
    store,
    nonceSecret: SECRET,
    turn: {
      secret: TURN_SECRET,
      lifetimeSeconds: 3600,
      avEdge: {
        external: [{ host: '192.0.2.10', port: 3478, transport: 'udp' }],
        internal: [{ host: '10.0.0.10', port: 3478, transport: 'udp' }],
      },
    },
    tls,
    logger: silentLogger,
    registry: new Registry(),
    userCheckIntervalMs: 200,
  });
  const feServer = frontEnd.endpoints.find((e) => e.transport === 'tls');
  const feTcp = frontEnd.endpoints.find((e) => e.transport === 'tcp');
  assert.ok(feServer !== undefined && feTcp !== undefined);
  const director = await startDirector({
    config: {
      host: '127.0.0.1',
      udp: null,
      tcp: 0,
      tls: null,
      serverTls: 0,
      frontEnd: `sip:127.0.0.1:${String(feServer.port)};transport=tls`,
      nonceLifetimeSeconds: 300,
      digestAlgorithms: ['SHA-256', 'MD5'],
      lockout: LOCKOUT,
    },
    domains: [DOMAIN],
    directory,
    nonceSecret: SECRET,
    tls,
    logger: silentLogger,
    registry: new Registry(),
  });
  const directorTcp = director.endpoints.find((e) => e.transport === 'tcp');
  const directorServer = director.endpoints.find((e) => e.transport === 'tls');
  assert.ok(directorTcp !== undefined && directorServer !== undefined);
  return {
    frontEnd,
    director,
    feTcp: feTcp.port,
    directorTcp: directorTcp.port,
    directorServer: directorServer.port,
    tls,
    directory,
    close: async () => {
      await director.close(Date.now() + 100);
      await frontEnd.close(Date.now() + 100);
    },
  };
}

function scenarios(
  name: string,
  open: () => Promise<{ directory: Directory; stop(): Promise<void> }>,
): void {
  describe(`internal servers (${name})`, () => {
    let deployment: Deployment;
    let stop: () => Promise<void>;
    let tlsDir: string;
    const uas: SipUa[] = [];
    const ua = async (user: string, port: number, password = `${user}-pw`): Promise<SipUa> => {
      const agent = await SipUa.connect({ host: '127.0.0.1', port, user, password });
      uas.push(agent);
      return agent;
    };

    before(async () => {
      tlsDir = mkdtempSync(join(tmpdir(), 'rampart-fe-'));
      const opened = await open();
      stop = () => opened.stop();
      deployment = await deploy(opened.directory, tlsDir);
    });

    after(async () => {
      for (const agent of uas) agent.close();
      await deployment.close();
      await stop();
      rmSync(tlsDir, { recursive: true, force: true });
    });

    test('two users register with digest and exchange IM', async () => {
      const alice = await ua('alice', deployment.feTcp);
      const bob = await ua('bob', deployment.feTcp);
      assert.equal((await alice.register()).status, 200);
      const registered = await bob.register();
      assert.equal(registered.status, 200);
      assert.match(header(registered, 'contact') ?? '', /expires=/);
      const got = bob.waitForRequest('MESSAGE');
      const sent = await alice.request('MESSAGE', bob.aor, {
        headers: [['Content-Type', 'text/plain']],
        body: 'hello bob',
      });
      assert.equal(sent.status, 200);
      const message = await got;
      assert.equal(message.body.toString(), 'hello bob');
      assert.equal(header(message, 'p-asserted-identity'), `<${alice.aor}>`);
      assert.equal(header(message, 'proxy-authorization'), undefined);
      // And back.
      const back = alice.waitForRequest('MESSAGE');
      assert.equal((await bob.request('MESSAGE', alice.aor, { body: 'hi alice' })).status, 200);
      assert.equal((await back).body.toString(), 'hi alice');
      // A user with nothing registered: 480; an unknown user: 404.
      assert.equal(
        (await alice.request('MESSAGE', `sip:dave@${DOMAIN}`, { body: 'x' })).status,
        480,
      );
      assert.equal(
        (await alice.request('MESSAGE', `sip:nobody@${DOMAIN}`, { body: 'x' })).status,
        404,
      );
    });

    test('presence: pending until the owner lists the watcher, then live PIDF', async () => {
      const alice = await ua('alice', deployment.feTcp);
      const bob = await ua('bob', deployment.feTcp);
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const first = alice.waitForRequest('NOTIFY');
      const subscribed = await alice.request('SUBSCRIBE', bob.aor, {
        headers: [
          ['Event', 'presence'],
          ['Accept', 'application/pidf+xml'],
          ['Expires', '600'],
        ],
      });
      assert.ok(subscribed.status === 200 || subscribed.status === 202, String(subscribed.status));
      const pending = await first;
      assert.match(header(pending, 'subscription-state') ?? '', /^pending/);
      // Bob puts Alice on his contact list: her subscription becomes active with his state.
      const active = alice.waitForRequest('NOTIFY', (n) =>
        (header(n, 'subscription-state') ?? '').startsWith('active'),
      );
      const put = await bob.request('SERVICE', bob.aor, {
        headers: [['Content-Type', 'application/vnd.rampart.contacts+json']],
        body: JSON.stringify({ op: 'put-contact', address: alice.aor, name: 'Alice' }),
      });
      assert.equal(put.status, 200);
      assert.match(put.body.toString(), /alice@example\.test/);
      await active;
      // Bob learns who watches him (RFC 3857 watcher information).
      const winfo = bob.waitForRequest('NOTIFY', (n) => n.body.includes('alice@example.test'));
      const watching = await bob.request('SUBSCRIBE', bob.aor, {
        headers: [
          ['Event', 'presence.winfo'],
          ['Accept', 'application/watcherinfo+xml'],
        ],
      });
      assert.equal(watching.status, 200);
      const watchers = await winfo;
      assert.equal(header(watchers, 'content-type'), 'application/watcherinfo+xml');
      assert.match(watchers.body.toString(), /status="active"/);
      // Nobody watches someone else's watchers.
      const nosy = await alice.request('SUBSCRIBE', bob.aor, {
        headers: [['Event', 'presence.winfo']],
      });
      assert.equal(nosy.status, 403);
      // Other event packages are routed to the user's endpoints.
      const routed = bob.waitForRequest('SUBSCRIBE', (r) => header(r, 'event') === 'dialog');
      const dialog = await alice.request('SUBSCRIBE', bob.aor, { headers: [['Event', 'dialog']] });
      assert.equal(dialog.status, 200);
      await routed;
      // Bob publishes; Alice's next NOTIFY carries it.
      const changed = alice.waitForRequest('NOTIFY', (n) => n.body.includes('in the lab'));
      const pidf =
        '<?xml version="1.0" encoding="UTF-8"?>' +
        `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:bob@${DOMAIN}">` +
        '<tuple id="t1"><status><basic>open</basic></status><note>in the lab</note></tuple>' +
        '</presence>';
      const published = await bob.request('PUBLISH', bob.aor, {
        headers: [
          ['Event', 'presence'],
          ['Content-Type', 'application/pidf+xml'],
          ['Expires', '600'],
        ],
        body: pidf,
      });
      assert.equal(published.status, 200);
      assert.ok(header(published, 'sip-etag') !== undefined);
      const notify = await changed;
      assert.equal(header(notify, 'content-type'), 'application/pidf+xml');
      assert.match(notify.body.toString(), /<basic>open<\/basic>/);
      // Malformed PIDF is refused with 400.
      const bad = await bob.request('PUBLISH', bob.aor, {
        headers: [
          ['Event', 'presence'],
          ['Content-Type', 'application/pidf+xml'],
        ],
        body: '<presence><tuple',
      });
      assert.equal(bad.status, 400);
      // Nobody publishes someone else's presence.
      const forged = await alice.request('PUBLISH', bob.aor, {
        headers: [
          ['Event', 'presence'],
          ['Content-Type', 'application/pidf+xml'],
        ],
        body: pidf,
      });
      assert.equal(forged.status, 403);
      // Alice ends her subscription in its dialog (RFC 6665 §4.1.2.3): the Request-URI is
      // the Front End's Contact (no user part), the resource is in To.
      const tagOf = (value: string | undefined): string | undefined =>
        /;\s*tag=([^;\s]+)/i.exec(value ?? '')?.[1];
      const target = /<([^>]+)>/.exec(header(subscribed, 'contact') ?? '')?.[1];
      assert.ok(target !== undefined);
      const terminated = alice.waitForRequest('NOTIFY', (n) =>
        (header(n, 'subscription-state') ?? '').startsWith('terminated'),
      );
      const ended = await alice.request('SUBSCRIBE', target, {
        to: bob.aor,
        callId: header(subscribed, 'call-id') ?? '',
        fromTag: tagOf(header(subscribed, 'from')) ?? '',
        toTag: tagOf(header(subscribed, 'to')) ?? '',
        headers: [
          ['Event', 'presence'],
          ['Expires', '0'],
        ],
      });
      assert.ok(ended.status === 200 || ended.status === 202, String(ended.status));
      await terminated;
    });

    test('an INVITE forks to both endpoints of a user; the loser is CANCELled', async () => {
      const alice = await ua('alice', deployment.feTcp);
      const desk = await ua('carol', deployment.feTcp);
      const phone = await ua('carol', deployment.feTcp);
      desk.answer = (r) =>
        r.method === 'INVITE'
          ? [{ status: 180 }, { status: 200, delayMs: 150 }]
          : [{ status: 200 }];
      phone.answer = (r) => (r.method === 'INVITE' ? [{ status: 180 }] : [{ status: 200 }]);
      assert.equal((await desk.register()).status, 200);
      assert.equal((await phone.register()).status, 200);
      const deskInvite = desk.waitForRequest('INVITE');
      const phoneInvite = phone.waitForRequest('INVITE');
      const cancelled = phone.waitForRequest('CANCEL');
      const answered = await alice.request('INVITE', `sip:carol@${DOMAIN}`, {
        headers: [['Content-Type', 'application/sdp']],
        body: 'v=0\r\n',
      });
      assert.equal(answered.status, 200);
      await deskInvite;
      await phoneInvite;
      await cancelled;
    });

    test('an external user signs in through the Director and IMs an internal one', async () => {
      const alice = await ua('alice', deployment.feTcp);
      assert.equal((await alice.register()).status, 200);
      const dave = await ua('dave', deployment.directorTcp);
      const registered = await dave.register();
      assert.equal(registered.status, 200);
      // Dave → Alice: challenged by the Director (407), delivered with the asserted identity.
      const got = alice.waitForRequest('MESSAGE');
      assert.equal(
        (await dave.request('MESSAGE', alice.aor, { body: 'from outside' })).status,
        200,
      );
      const message = await got;
      assert.equal(header(message, 'p-asserted-identity'), `<${dave.aor}>`);
      // Alice → Dave: the Front End follows Dave's Path back through the Director.
      const back = dave.waitForRequest('MESSAGE');
      assert.equal((await alice.request('MESSAGE', dave.aor, { body: 'from inside' })).status, 200);
      assert.equal((await back).body.toString(), 'from inside');
      // A client cannot assert an identity itself.
      const forged = alice.waitForRequest('MESSAGE');
      await dave.request('MESSAGE', alice.aor, {
        headers: [['P-Asserted-Identity', `<sip:bob@${DOMAIN}>`]],
        body: 'forged',
      });
      assert.equal(header(await forged, 'p-asserted-identity'), `<${dave.aor}>`);
    });

    test('the Director routes what the Access Edge marks as federation without a challenge', async () => {
      const alice = await ua('alice', deployment.feTcp);
      assert.equal((await alice.register()).status, 200);
      // The Access Edge's connection: mutual TLS with the deployment's certificate.
      const edge = await SipUa.connect({
        host: '127.0.0.1',
        port: deployment.directorServer,
        transport: 'tls',
        user: 'pat',
        domain: 'partner.example',
        password: 'unused',
        ca: deployment.tls.ca,
        cert: deployment.tls.cert,
        key: deployment.tls.key,
      });
      uas.push(edge);
      const got = alice.waitForRequest('MESSAGE');
      const sent = await edge.request('MESSAGE', alice.aor, {
        headers: [
          ['P-Rampart-Origin', 'federation'],
          ['P-Asserted-Identity', '<sip:ceo@example.test>'],
        ],
        body: 'hello from a partner',
        authenticate: false,
      });
      assert.equal(sent.status, 200);
      const message = await got;
      assert.equal(header(message, 'p-rampart-origin'), undefined);
      // The identity the partner's certificate vouched for (its From), never the forged one.
      assert.equal(header(message, 'p-asserted-identity'), '<sip:pat@partner.example>');
      // A remote user relayed by the edge is challenged like any external request (and a
      // remote user of a domain not served here is refused).
      assert.equal(
        (
          await edge.request('MESSAGE', alice.aor, {
            headers: [['P-Rampart-Origin', 'remote']],
            body: 'x',
            authenticate: false,
          })
        ).status,
        403,
      );
      const relayed = await SipUa.connect({
        host: '127.0.0.1',
        port: deployment.directorServer,
        transport: 'tls',
        user: 'dave',
        password: 'dave-pw',
        ca: deployment.tls.ca,
        cert: deployment.tls.cert,
        key: deployment.tls.key,
      });
      uas.push(relayed);
      const remote = await relayed.request('MESSAGE', alice.aor, {
        headers: [['P-Rampart-Origin', 'remote']],
        body: 'x',
        authenticate: false,
      });
      assert.equal(remote.status, 407);
      // Without a certificate from the deployment's CA, the listener refuses the handshake.
      await assert.rejects(
        SipUa.connect({
          host: '127.0.0.1',
          port: deployment.directorServer,
          transport: 'tls',
          user: 'mallory',
          password: 'x',
          ca: deployment.tls.ca,
        }).then(async (client) => {
          // TLS 1.3 reports a refused client certificate after the handshake: send something.
          uas.push(client);
          await client.request('OPTIONS', alice.aor, { timeoutMs: 1000, authenticate: false });
        }),
      );
      // On the client-facing listener the mark means nothing: challenged.
      const dave = await ua('dave', deployment.directorTcp);
      const forged = await dave.request('MESSAGE', alice.aor, {
        headers: [['P-Rampart-Origin', 'federation']],
        body: 'x',
        authenticate: false,
      });
      assert.equal(forged.status, 407);
    });

    test('the TURN credential service issues REST credentials for the right side', async () => {
      const bob = await ua('bob', deployment.feTcp);
      const answer = await bob.request('SERVICE', bob.aor, {
        headers: [['Content-Type', 'application/vnd.rampart.turn-credentials+json']],
        body: '{}',
      });
      assert.equal(answer.status, 200);
      const body = JSON.parse(answer.body.toString()) as {
        username: string;
        password: string;
        uris: string[];
      };
      assert.match(body.username, /^\d+:bob@example\.test$/);
      const expected = createHmac('sha1', TURN_SECRET).update(body.username).digest('base64');
      assert.equal(body.password, expected);
      assert.deepEqual(body.uris, ['turn:10.0.0.10:3478?transport=udp']);
    });

    test('a user disabled mid-session is refused and their subscriptions end', async () => {
      const erin = await ua('erin', deployment.feTcp);
      const frank = await ua('frank', deployment.feTcp);
      assert.equal((await erin.register()).status, 200);
      assert.equal((await frank.register()).status, 200);
      const put = await frank.request('SERVICE', frank.aor, {
        headers: [['Content-Type', 'application/vnd.rampart.contacts+json']],
        body: JSON.stringify({ op: 'put-contact', address: erin.aor }),
      });
      assert.equal(put.status, 200);
      const active = erin.waitForRequest('NOTIFY', (n) =>
        (header(n, 'subscription-state') ?? '').startsWith('active'),
      );
      const subscribed = await erin.request('SUBSCRIBE', frank.aor, {
        headers: [
          ['Event', 'presence'],
          ['Expires', '600'],
        ],
      });
      assert.equal(subscribed.status, 200);
      await active;
      const ended = erin.waitForRequest('NOTIFY', (n) =>
        /^terminated;.*reason=deactivated/.test(header(n, 'subscription-state') ?? ''),
      );
      await deployment.directory.updateUser(`erin@${DOMAIN}`, { enabled: false });
      await ended;
      assert.equal((await erin.request('MESSAGE', frank.aor, { body: 'x' })).status, 403);
      await deployment.directory.updateUser(`erin@${DOMAIN}`, { enabled: true });
    });

    test('floods: endpoints beyond the policy cap and subscriptions beyond the per-user cap', async () => {
      const frank = await ua('frank', deployment.feTcp);
      // The default policy allows 8 endpoints: the 9th distinct contact is refused.
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await frank.register(600, [
          ['Contact', `<sip:frank@192.0.2.1:${String(6000 + i)}>`],
        ]);
        statuses.push(r.status);
      }
      // Frank already has one binding from the test before, and each REGISTER adds this
      // connection's contact plus one more.
      assert.ok(
        statuses.slice(0, 5).every((s) => s === 200),
        statuses.join(','),
      );
      assert.ok(
        statuses.slice(8).every((s) => s >= 400),
        statuses.join(','),
      );
      // 50 subscriptions per watcher (configured): the next ones are refused with 503.
      const bob = await ua('bob', deployment.feTcp);
      const outcomes: number[] = [];
      for (let i = 0; i < 55; i++) {
        const r = await bob.request('SUBSCRIBE', frank.aor, {
          headers: [
            ['Event', 'presence'],
            ['Expires', '600'],
          ],
        });
        outcomes.push(r.status);
      }
      assert.ok(outcomes.filter((s) => s === 503).length >= 5, outcomes.join(','));
      // Hundreds of contacts in one REGISTER: refused as a whole, nothing bound.
      const before = deployment.frontEnd.status().bindings;
      const many = Array.from(
        { length: 500 },
        (_, i) => `<sip:frank@192.0.2.2:${String(10000 + i)}>`,
      ).join(', ');
      const flood = await frank.register(600, [['Contact', many]]);
      assert.equal(flood.status, 400, flood.reason);
      assert.equal(deployment.frontEnd.status().bindings, before);
    });

    test('an expired nonce with the right password is challenged with stale=true', async () => {
      const alice = await ua('alice', deployment.feTcp);
      const challenge = await alice.request('REGISTER', `sip:${DOMAIN}`, {
        to: alice.aor,
        authenticate: false,
      });
      assert.equal(challenge.status, 401);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const answer = alice.credentials(challenge, 'REGISTER', `sip:${DOMAIN}`);
      assert.ok(answer !== undefined);
      const stale = await alice.request('REGISTER', `sip:${DOMAIN}`, {
        to: alice.aor,
        headers: [answer],
        authenticate: false,
      });
      assert.equal(stale.status, 401);
      assert.match(header(stale, 'www-authenticate') ?? '', /stale=true/i);
    });

    test('a replayed nonce count is challenged afresh', async () => {
      const alice = await ua('alice', deployment.feTcp);
      const challenge = await alice.request('OPTIONS', `sip:alice@${DOMAIN}`, {
        authenticate: false,
      });
      assert.equal(challenge.status, 407);
      const replay = alice.credentials(challenge, 'MESSAGE', `sip:bob@${DOMAIN}`);
      assert.ok(replay !== undefined);
      const first = await alice.request('MESSAGE', `sip:bob@${DOMAIN}`, {
        headers: [replay],
        authenticate: false,
        body: 'x',
      });
      // The same credentials (same nonce count) again: a replay, challenged afresh.
      const again = await alice.request('MESSAGE', `sip:bob@${DOMAIN}`, {
        headers: [replay],
        authenticate: false,
        body: 'x',
      });
      assert.notEqual(first.status, 407);
      assert.equal(again.status, 407);
    });

    test('the RFC 4475 corpus and an oversized message leave both servers serving', async () => {
      const files = readdirSync(CORPUS).filter((f) => f.endsWith('.dat'));
      assert.ok(files.length >= 40, 'corpus present');
      for (const port of [deployment.feTcp, deployment.directorTcp]) {
        for (const file of files) {
          const socket = connect(port, '127.0.0.1');
          socket.on('error', () => undefined);
          socket.end(readFileSync(new URL(file, CORPUS)));
        }
        // 100 KiB of header: beyond the 64 KiB message limit, the connection is closed.
        const big = connect(port, '127.0.0.1');
        const closed = new Promise<void>((resolve) => {
          big.on('close', () => {
            resolve();
          });
        });
        big.on('error', () => undefined);
        big.write(`MESSAGE sip:alice@${DOMAIN} SIP/2.0\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n`);
        await closed;
      }
      const alice = await ua('alice', deployment.feTcp);
      assert.equal((await alice.register()).status, 200);
      const dave = await ua('dave', deployment.directorTcp);
      assert.equal((await dave.register()).status, 200);
    });

    test('wrong passwords lock the user out; a disabled user is refused', async () => {
      const bob = await ua('bob', deployment.feTcp, 'wrong');
      // The third failure (maxFailures) locks the account.
      for (let i = 0; i < 2; i++) {
        const r = await bob.register();
        assert.equal(r.status, 401, r.reason);
      }
      const locked = await bob.register();
      assert.equal(locked.status, 403);
      // Even the right password is refused while locked.
      const right = await ua('bob', deployment.feTcp);
      assert.equal((await right.register()).status, 403);
      await deployment.directory.updateUser(`carol@${DOMAIN}`, { enabled: false });
      const carol = await ua('carol', deployment.feTcp);
      assert.equal((await carol.register()).status, 403);
    });
  });
}

scenarios('sqlite', () => {
  const directory = SqliteDirectory.open({ path: ':memory:', realms: [DOMAIN] });
  return Promise.resolve({ directory, stop: () => directory.close() });
});

scenarios('ldap', async () => {
  const slapd: SlapdInstance = await startSlapd();
  const directory = await LdapDirectory.open({
    url: slapd.url,
    bindDn: slapd.serviceDn,
    bindPassword: slapd.servicePassword,
    usersDn: slapd.usersDn,
    groupsDn: slapd.groupsDn,
    realms: [DOMAIN],
  });
  return {
    directory,
    stop: async () => {
      await directory.close();
      await slapd.stop();
    },
  };
});

test('registrations are written to SQLite and survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-fe-restart-'));
  const directory = SqliteDirectory.open({ path: ':memory:', realms: [DOMAIN] });
  const statePath = join(dir, 'state.sqlite');
  try {
    const firstStore = new SqliteDurableStore(statePath);
    const first = await deploy(directory, dir, firstStore);
    const alice = await SipUa.connect({
      host: '127.0.0.1',
      port: first.feTcp,
      user: 'alice',
      password: 'alice-pw',
    });
    const bob = await SipUa.connect({
      host: '127.0.0.1',
      port: first.feTcp,
      user: 'bob',
      password: 'bob-pw',
    });
    assert.equal(
      (await alice.register(600, [['Contact', '<sip:alice@192.0.2.7:5060>']])).status,
      200,
    );
    assert.equal((await bob.register()).status, 200);
    assert.equal(first.frontEnd.status().bindings, 3);
    alice.close();
    bob.close();
    await first.close();
    // As when the process stops: the store is closed (and its file lock released).
    await firstStore.close();
    const secondStore = new SqliteDurableStore(statePath);
    const second = await deploy(directory, dir, secondStore, false);
    const restored = second.frontEnd.status().bindings;
    await second.close();
    await secondStore.close();
    assert.equal(restored, 3);
  } finally {
    await directory.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
