// The Access Edge in front of someone else's SIP platform: Kamailio 5.6 as the internal
// registrar (usrloc, Path support), reached over the edge's internal TCP side. A remote user
// registers through the edge's TLS listener; an internal user registered directly at
// Kamailio sends it a MESSAGE, which Kamailio routes along the stored Path to the edge and the
// edge delivers over the remote user's own connection; and the other way round. What
// Kamailio stored and forwarded carries no client address.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { header, headerValues } from '../../src/codec/sip/parse.ts';
import { configSchema } from '../../src/config/schema.ts';
import type { RunningService } from '../../src/lib/endpoint.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { CallIdMask } from '../../src/proto/sip-edge/topology.ts';
import { startAccessEdge } from '../../src/services/access-edge/index.ts';
import { startKamailio, type KamailioInstance } from '../helpers/kamailio.ts';
import { freePort } from '../helpers/ports.ts';
import { SipUa } from '../helpers/sip-ua.ts';
import { createTestPki } from '../helpers/tls.ts';

const DOMAIN = 'example.test';
const REMOTE = '127.0.0.6';

function registrarConfig(listenLines: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
alias="${DOMAIN}"
${listenLines}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "path.so"
loadmodule "kex.so"
modparam("usrloc", "db_mode", 0)
# Store the Path of every REGISTER (RFC 3327) and route along it.
modparam("registrar", "use_path", 1)
modparam("registrar", "path_mode", 0)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route() || is_method("ACK")) { t_relay(); exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  # The edge preloads a Route to us on initial requests.
  loose_route();
  if (is_method("REGISTER")) { save("location"); exit; }
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  t_relay();
}
`;
}

const tlsDir = mkdtempSync(join(tmpdir(), 'rampart-edge-kamailio-'));
let kamailio: KamailioInstance;
let edge: RunningService;
let kamailioPort = 0;
let edgeTls = 0;
let ca = '';
const clients: SipUa[] = [];

before(async () => {
  const pki = await createTestPki(tlsDir);
  const tls = {
    key: readFileSync(pki.serverKeyFile, 'utf8'),
    cert: readFileSync(pki.serverCertFile, 'utf8'),
    ca: readFileSync(pki.caCertFile, 'utf8'),
  };
  ca = tls.ca;
  kamailioPort = await freePort();
  kamailio = await startKamailio({
    listen: [{ proto: 'tcp', port: kamailioPort }],
    config: ({ listenLines }) => registrarConfig(listenLines),
  });
  const defaults = configSchema.parse({})['access-edge'];
  edge = await startAccessEdge({
    config: {
      ...defaults,
      external: {
        host: '127.0.0.1',
        advertisedHost: null,
        udp: null,
        tcp: null,
        tls: 0,
        ws: null,
        wss: null,
      },
      internal: {
        ...defaults.internal,
        tls: null,
        tcp: 0,
        nextHop: `sip:127.0.0.1:${String(kamailioPort)};transport=tcp`,
        healthCheckIntervalMs: 500,
      },
    },
    domains: [DOMAIN],
    tls: { ...tls, onChange: () => () => undefined },
    secret: 'kamailio interop secret',
    logger: silentLogger,
    registry: new Registry(),
  });
  edgeTls = edge.endpoints.find((e) => e.side === 'external' && e.transport === 'tls')?.port ?? 0;
  assert.ok(edgeTls > 0);
});

after(async () => {
  for (const ua of clients) ua.close();
  await edge.close(Date.now() + 100);
  await kamailio.stop();
  rmSync(tlsDir, { recursive: true, force: true });
});

test('Kamailio as the internal registrar: a remote user registers through the edge and IMs both ways', async () => {
  const bob = await SipUa.connect({
    host: '127.0.0.1',
    port: edgeTls,
    transport: 'tls',
    user: 'bob',
    password: 'unused',
    ca,
    localAddress: REMOTE,
  });
  clients.push(bob);
  const alice = await SipUa.connect({
    host: '127.0.0.1',
    port: kamailioPort,
    user: 'alice',
    password: 'unused',
  });
  clients.push(alice);
  assert.equal((await alice.register()).status, 200);
  const registered = await bob.register();
  assert.equal(registered.status, 200, registered.raw.toString());
  assert.ok(headerValues(registered, 'contact').join(',').includes(bob.contact));

  const toBob = bob.waitForRequest(
    'MESSAGE',
    (r) => header(r, 'call-id') === new CallIdMask('kamailio interop secret').cross('k-in-out'),
  );
  const sent = await alice.request('MESSAGE', bob.aor, {
    callId: 'k-in-out',
    body: 'from inside',
    headers: [['Content-Type', 'text/plain']],
  });
  assert.equal(sent.status, 200);
  const atBob = await toBob;
  assert.equal(headerValues(atBob, 'via').length, 1);
  assert.ok(!atBob.raw.toString().includes(`:${String(kamailioPort)}`));

  const toAlice = alice.waitForRequest(
    'MESSAGE',
    (r) => header(r, 'call-id') === new CallIdMask('kamailio interop secret').cross('k-out-in'),
  );
  const back = await bob.request('MESSAGE', alice.aor, {
    callId: 'k-out-in',
    body: 'from outside',
    headers: [['Content-Type', 'text/plain']],
  });
  assert.equal(back.status, 200);
  const atAlice = await toAlice;
  // No Via or Contact of the client; its (public) source address only in our own mark.
  const text = atAlice.headers
    .filter((h) => h.name !== 'p-rampart-source')
    .map((h) => `${h.name}: ${h.value}`)
    .join('\n');
  assert.ok(!text.includes(REMOTE), text);
  assert.equal(header(atAlice, 'p-rampart-origin'), 'remote');
  assert.equal(header(atAlice, 'p-rampart-source'), REMOTE);
});
