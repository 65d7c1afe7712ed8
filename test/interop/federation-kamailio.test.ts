/**
 * Kamailio 5.6 as a federation partner: one complete Rampart deployment (a.example,
 * `rampart start`) and Kamailio as the edge and registrar of k.example, each with its own CA.
 * Kamailio listens on TLS with a certificate from its CA (which Rampart trusts through
 * `access-edge.federation.caFiles`), requires and verifies a client certificate from Rampart's
 * CA, and presents its own certificate when it connects out. Rampart allow-lists k.example and
 * finds Kamailio's edge by the `_sipfederationtls._tcp.k.example` SRV record a real DNS server
 * (dnsmasq) serves. bob registers at Kamailio over TCP; Kamailio relays MESSAGE for k.example
 * to him (`lookup("location")`) and MESSAGE for any other domain to Rampart's edge over TLS.
 */
import assert from 'node:assert/strict';
import { accessSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { header } from '../../src/codec/sip/parse.ts';
import { createTestAuthority } from '../../src/transport/testing.ts';
import { freeUdpPort, startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.ts';
import { startKamailio, type KamailioInstance } from '../helpers/kamailio.ts';
import { freePorts } from '../helpers/ports.ts';
import { REPO_ROOT, startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { SipUa } from '../helpers/sip-ua.ts';

const run = promisify(execFile);
const PASSWORD = 'federation-kamailio-pw';
const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

interface Pki {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

let workDir = '';
let dns: Dnsmasq | undefined;
let rampart: RampartInstance | undefined;
let kamailio: KamailioInstance | undefined;
let kamailioTlsPort = 0;
let kamailioTcpPort = 0;
const clients: SipUa[] = [];

/** A CA of its own and an edge certificate for `edge.<name>.example` and `domain`. */
async function makePki(name: string, domain: string): Promise<Pki> {
  const authority = await createTestAuthority(`CA of ${name}`);
  const leaf = await authority.issue(`edge.${name}.example`, [domain]);
  const files = {
    caFile: join(workDir, `${name}-ca.pem`),
    certFile: join(workDir, `${name}-cert.pem`),
    keyFile: join(workDir, `${name}-key.pem`),
  };
  await writeFile(files.caFile, authority.cert);
  await writeFile(files.certFile, leaf.cert);
  await writeFile(files.keyFile, leaf.key);
  return files;
}

/** Kamailio's TLS: both ways, its own certificate, peers verified against Rampart's CA. */
function kamailioTlsCfg(own: Pki, peerCaFile: string): string {
  const side = (name: string): string[] => [
    `[${name}:default]`,
    'method = TLSv1.2+',
    'verify_certificate = yes',
    'require_certificate = yes',
    `certificate = ${own.certFile}`,
    `private_key = ${own.keyFile}`,
    `ca_list = ${peerCaFile}`,
    '',
  ];
  return [...side('server'), ...side('client')].join('\n');
}

/**
 * The edge and registrar of k.example: REGISTER and requests for k.example from its users on
 * the local TCP listener; MESSAGE for k.example (from the partner too) to the registered
 * contact; anything else its users send goes to Rampart's edge over mutual TLS.
 */
function kamailioCfg(listenLines: string, tlsCfgFile: string, rampartEdge: string): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
tcp_accept_no_cl=yes
enable_tls=yes
${listenLines}
loadmodule "tls.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("tls", "config", "${tlsCfgFile}")
modparam("usrloc", "db_mode", 0)
modparam("tm", "fr_timer", 5000)

request_route {
  force_rport();
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    sl_send_reply("404", "Not Here");
    exit;
  }
  if ($rd == "k.example") {
    if (is_method("REGISTER")) {
      if ($pr != "tcp") { sl_send_reply("403", "Register Locally"); exit; }
      save("location");
      exit;
    }
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_relay();
    exit;
  }
  # Only our own users (the local TCP listener) reach other domains, through the partner's edge.
  if ($pr != "tcp") { sl_send_reply("403", "Not Relaying"); exit; }
  $du = "${rampartEdge}";
  if (!t_relay()) { sl_reply_error(); }
  exit;
}
`;
}

function requireKamailioTls(): void {
  try {
    accessSync(join(KAMAILIO_MODULES, 'tls.so'));
  } catch {
    assert.fail(
      `${KAMAILIO_MODULES}/tls.so not found: this test needs the Debian package "kamailio-tls-modules"`,
    );
  }
}

async function addUser(deployment: RampartInstance, address: string): Promise<void> {
  await run(
    process.execPath,
    [
      join(REPO_ROOT, 'bin/rampart.mjs'),
      'user',
      'add',
      address,
      '--password',
      PASSWORD,
      '--config',
      join(deployment.dataDir, 'rampart.test.yaml'),
      '--data-dir',
      deployment.dataDir,
    ],
    { cwd: REPO_ROOT, timeout: 30_000 },
  );
}

/** A user of k.example (or one claiming another domain), connected to Kamailio over TCP. */
async function kamailioUser(user: string, domain: string): Promise<SipUa> {
  const ua = await SipUa.connect({
    host: '127.0.0.1',
    port: kamailioTcpPort,
    user,
    domain,
    password: 'unused',
  });
  clients.push(ua);
  return ua;
}

async function alice(): Promise<SipUa> {
  assert.ok(rampart !== undefined);
  const fe = rampart.endpoint('front-end', 'internal', 'tcp');
  const ua = await SipUa.connect({
    host: '127.0.0.1',
    port: fe.port,
    user: 'alice',
    domain: 'a.example',
    password: PASSWORD,
  });
  clients.push(ua);
  assert.equal((await ua.register()).status, 200, 'alice@a.example REGISTER');
  return ua;
}

function message(from: SipUa, to: string, text: string) {
  return from.request('MESSAGE', to, {
    headers: [['Content-Type', 'text/plain']],
    body: text,
    timeoutMs: 10_000,
  });
}

function logs(): string {
  return (
    `--- kamailio\n${kamailio?.process.stderr().slice(-3000) ?? ''}\n` +
    `--- rampart\n${rampart?.process.stdout().slice(-3000) ?? ''}${rampart?.process.stderr().slice(-2000) ?? ''}`
  );
}

before(async () => {
  requireKamailioTls();
  workDir = await mkdtemp(join(tmpdir(), 'rampart-federation-kamailio-'));
  const a = await makePki('a', 'a.example');
  const k = await makePki('k', 'k.example');
  const dnsPort = await freeUdpPort();
  [kamailioTlsPort, kamailioTcpPort] = (await freePorts(2)) as [number, number];
  rampart = await startRampart({
    config: {
      domains: ['a.example'],
      tls: { certFile: a.certFile, keyFile: a.keyFile, caFile: a.caFile },
      'av-edge': { enabled: false },
      'access-edge': {
        external: { udp: null, tcp: null, ws: null, wss: null },
        dns: { servers: [`127.0.0.1:${String(dnsPort)}`] },
        federation: {
          enabled: true,
          systemCas: false,
          caFiles: [k.caFile],
          // other.example is allowed too: a request claiming it over Kamailio's connection must
          // fail on the certificate, not on the lists.
          allow: [{ domain: 'k.example' }, { domain: 'other.example' }],
        },
      },
    },
  });
  dns = await startDnsmasq(
    [
      `--srv-host=_sipfederationtls._tcp.k.example,edge.k.example,${String(kamailioTlsPort)},10,0`,
      '--host-record=edge.k.example,127.0.0.1',
    ],
    { port: dnsPort },
  );
  const edge = rampart.endpoint('access-edge', 'external', 'tls');
  kamailio = await startKamailio({
    listen: [
      { proto: 'tls', port: kamailioTlsPort },
      { proto: 'tcp', port: kamailioTcpPort },
    ],
    files: { 'tls.cfg': kamailioTlsCfg(k, a.caFile) },
    config: ({ workDir: dir, listenLines }) =>
      kamailioCfg(
        listenLines,
        join(dir, 'tls.cfg'),
        `sip:127.0.0.1:${String(edge.port)};transport=tls`,
      ),
  });
  await addUser(rampart, 'alice@a.example');
});

after(async () => {
  for (const ua of clients) ua.close();
  await kamailio?.stop();
  await rampart?.stop();
  await dns?.stop();
  if (workDir !== '') await rm(workDir, { recursive: true, force: true });
});

describe('Kamailio 5.6 as the federation edge of k.example', () => {
  test('alice@a.example → bob@k.example: 200, and bob receives it from alice', async () => {
    const bob = await kamailioUser('bob', 'k.example');
    assert.equal((await bob.register()).status, 200, 'bob@k.example REGISTER at Kamailio');
    const sender = await alice();
    const atBob = bob.waitForRequest('MESSAGE', (r) => r.body.toString() === 'hello k', 10_000);
    // Awaited below; a failed send must not leave it rejecting unobserved.
    atBob.catch(() => undefined);
    const sent = await message(sender, 'sip:bob@k.example', 'hello k');
    assert.equal(sent.status, 200, `${sent.status} ${sent.reason}\n${logs()}`);
    const received = await atBob;
    assert.match(header(received, 'from') ?? '', /<sip:alice@a\.example>/);
    assert.equal(
      received.headers.filter((h) => h.name.startsWith('p-rampart-')).length,
      0,
      'none of our own marks leave the deployment',
    );
  });

  test('bob@k.example → alice@a.example: 200, and alice receives it from bob', async () => {
    const bob = await kamailioUser('bob', 'k.example');
    assert.equal((await bob.register()).status, 200);
    const receiver = await alice();
    const atAlice = receiver.waitForRequest(
      'MESSAGE',
      (r) => r.body.toString() === 'hello a',
      10_000,
    );
    atAlice.catch(() => undefined);
    const sent = await message(bob, 'sip:alice@a.example', 'hello a');
    assert.equal(sent.status, 200, `${sent.status} ${sent.reason}\n${logs()}`);
    const received = await atAlice;
    assert.match(header(received, 'from') ?? '', /<sip:bob@k\.example>/);
  });

  test("a From outside what Kamailio's certificate covers (x@other.example): 403 from us", async () => {
    const spoofer = await kamailioUser('x', 'other.example');
    const receiver = await alice();
    let delivered = false;
    void receiver
      .waitForRequest('MESSAGE', (r) => r.body.toString() === 'spoofed', 3000)
      .then(() => (delivered = true))
      .catch(() => undefined);
    const response = await message(spoofer, 'sip:alice@a.example', 'spoofed');
    assert.equal(response.status, 403, `${response.status} ${response.reason}\n${logs()}`);
    assert.equal(response.reason, 'Domain Not Certified');
    assert.equal(delivered, false);
    const admin = rampart?.endpoint('admin', 'internal', 'http');
    assert.ok(admin !== undefined);
    const metrics = await (await fetch(`http://127.0.0.1:${String(admin.port)}/metrics`)).text();
    assert.match(
      metrics,
      /rampart_access_edge_federation_total\{direction="in",outcome="domain-not-certified"\} 1/,
    );
  });
});
