// Proves the baresip harness (test/helpers/baresip.ts) against Kamailio 5.6 as registrar
// with digest authentication, so the same harness can later be pointed at Rampart's
// Front End (issue 4: "baresip registers with digest, sends and receives MESSAGE, driven
// through its ctrl_tcp module").
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  ConsoleMessageReader,
  NetstringDecoder,
  SipTraceReader,
  encodeNetstring,
  parseCtrlMessage,
  startBaresip,
} from '../helpers/baresip.ts';
import type { Baresip } from '../helpers/baresip.ts';
import { startKamailio } from '../helpers/kamailio.ts';
import type { KamailioConfigContext, KamailioInstance } from '../helpers/kamailio.ts';
import { kamailioTlsConfig } from '../helpers/kamailio-relay.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki } from '../helpers/tls.ts';

const DOMAIN = 'example.test';
const USERS = { alice: 'alice-secret', bob: 'bob-secret' } as const;

/** RFC 2617 §3.2.2.2: HA1 = MD5(username ":" realm ":" password). */
function ha1(user: string, password: string): string {
  return createHash('md5').update(`${user}:${DOMAIN}:${password}`).digest('hex');
}

/** db_text `subscriber` table: HA1 only, no clear-text password. */
function subscriberTable(): string {
  const header =
    'id(int,auto) username(string) domain(string) password(string,null) ha1(string) ha1b(string,null)';
  const rows = Object.entries(USERS).map(
    ([user, password], index) => `${index + 1}:${user}:${DOMAIN}::${ha1(user, password)}:`,
  );
  return [header, ...rows, ''].join('\n');
}

/**
 * Registrar with digest (auth_db on db_text, HA1 stored) that relays MESSAGE to the
 * registered contact. REGISTER gets 401, MESSAGE 407 (RFC 3261 §22.1, §22.3).
 */
function registrarConfig(context: KamailioConfigContext): string {
  return [
    '#!KAMAILIO',
    'debug=2',
    'log_stderror=yes',
    'children=2',
    'tcp_children=2',
    'auto_aliases=no',
    `alias="${DOMAIN}"`,
    'dns=no',
    'rev_dns=no',
    'use_dns_cache=off',
    'enable_tls=yes',
    context.listenLines,
    'loadmodule "db_text.so"',
    'loadmodule "tm.so"',
    'loadmodule "sl.so"',
    'loadmodule "rr.so"',
    'loadmodule "maxfwd.so"',
    'loadmodule "textops.so"',
    'loadmodule "siputils.so"',
    'loadmodule "pv.so"',
    'loadmodule "usrloc.so"',
    'loadmodule "registrar.so"',
    'loadmodule "auth.so"',
    'loadmodule "auth_db.so"',
    'loadmodule "tls.so"',
    `modparam("tls", "config", "${context.workDir}/tls.cfg")`,
    'modparam("usrloc", "db_mode", 0)',
    `modparam("auth_db", "db_url", "text://${context.workDir}")`,
    'modparam("auth_db", "calculate_ha1", 0)',
    'modparam("auth_db", "password_column", "ha1")',
    'modparam("auth_db", "load_credentials", "")',
    'modparam("auth_db", "version_table", 0)',
    'request_route {',
    '  force_rport();',
    '  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }',
    '  if (has_totag()) {',
    '    if (loose_route()) { t_relay(); exit; }',
    '    sl_send_reply("404", "Not Here"); exit;',
    '  }',
    // baresip pre-loads a Route to its outbound proxy (us); drop it before relaying.
    '  remove_hf("Route");',
    '  if (is_method("REGISTER")) {',
    `    if (!auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }`,
    '    consume_credentials();',
    '    if (!save("location")) { sl_reply_error(); }',
    '    exit;',
    '  }',
    '  if (is_method("MESSAGE")) {',
    `    if (!auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }`,
    '    consume_credentials();',
    '    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }',
    '    if (!t_relay()) { sl_reply_error(); }',
    '    exit;',
    '  }',
    '  sl_send_reply("405", "Method Not Allowed");',
    '}',
    '',
  ].join('\n');
}

describe('baresip harness against Kamailio (registrar with digest, MESSAGE relay)', () => {
  let kamailio: KamailioInstance | undefined;
  let registrarPort = 0;
  let registrarTlsPort = 0;
  let pkiDir: string | undefined;
  let caFile = '';
  const peers: Baresip[] = [];

  before(async () => {
    registrarPort = await freePort();
    registrarTlsPort = await freePort();
    pkiDir = await mkdtemp(join(tmpdir(), 'rampart-pki-'));
    const pki = await createTestPki(pkiDir);
    caFile = pki.caCertFile;
    kamailio = await startKamailio({
      listen: [
        { proto: 'udp', port: registrarPort },
        { proto: 'tcp', port: registrarPort },
        { proto: 'tls', port: registrarTlsPort },
      ],
      config: registrarConfig,
      files: {
        subscriber: subscriberTable(),
        'tls.cfg': kamailioTlsConfig(pki.serverCertFile, pki.serverKeyFile),
      },
    });
  });

  after(async () => {
    await Promise.allSettled(peers.map((peer) => peer.stop()));
    await kamailio?.stop();
    if (pkiDir !== undefined) await rm(pkiDir, { recursive: true, force: true });
  });

  async function start(
    user: keyof typeof USERS,
    transport: 'udp' | 'tcp' | 'tls',
    password: string = USERS[user],
    contacts: readonly string[] = [],
    sipOutbound = false,
  ): Promise<Baresip> {
    const port = transport === 'tls' ? registrarTlsPort : registrarPort;
    const peer = await startBaresip({
      aor: `sip:${user}@${DOMAIN}`,
      password,
      registrar: `sip:127.0.0.1:${port}`,
      transport,
      contacts,
      sipOutbound,
      ...(transport === 'tls' ? { caFile } : {}),
      name: password === USERS[user] ? user : `${user}-wrong-password`,
    });
    peers.push(peer);
    return peer;
  }

  function challengedThenRegistered(peer: Baresip): void {
    const registerResponses = peer.sipTrace
      .filter((m) => m.cseqMethod === 'REGISTER' && m.status !== undefined)
      .map((m) => m.status);
    assert.deepEqual(registerResponses.slice(0, 2), [401, 200], peer.log);
  }

  test('alice (TCP) and bob (UDP) register with digest and exchange MESSAGE', async () => {
    const alice = await start('alice', 'tcp', USERS.alice, [`sip:bob@${DOMAIN}`]);
    const bob = await start('bob', 'udp', USERS.bob, [`sip:alice@${DOMAIN}`]);
    await Promise.all([alice.waitRegistered(10_000), bob.waitRegistered(10_000)]);
    challengedThenRegistered(alice);
    challengedThenRegistered(bob);
    assert.ok(
      alice.events.some((e) => e.type === 'REGISTERING' && e.accountAor === alice.aor),
      alice.log,
    );
    const reginfo = await alice.command('reginfo');
    assert.match(reginfo.data, /sip:alice@example\.test\s+OK/, reginfo.data);

    await alice.sendMessage(`sip:bob@${DOMAIN}`, 'hello bob, this is alice');
    assert.deepEqual(await bob.nextMessage(5000), {
      from: `sip:alice@${DOMAIN}`,
      text: 'hello bob, this is alice',
    });
    // RFC 3428 §4: the MESSAGE was challenged (407) before Kamailio relayed it.
    assert.ok(
      alice.sipTrace.some((m) => m.cseqMethod === 'MESSAGE' && m.status === 407),
      alice.log,
    );

    await bob.sendMessage(`sip:alice@${DOMAIN}`, 'hi alice: got it');
    assert.deepEqual(await alice.nextMessage(5000), {
      from: `sip:bob@${DOMAIN}`,
      text: 'hi alice: got it',
    });

    // Unregistered (REGISTER expires=0 answered 2xx), bob's next MESSAGE to alice finds no
    // binding: Kamailio's lookup() fails and the 404 reaches bob's sendMessage.
    await alice.unregister();
    await assert.rejects(
      bob.sendMessage(`sip:alice@${DOMAIN}`, 'are you there?'),
      /MESSAGE to sip:alice@example\.test failed: 404 Not Found/,
    );
    await assert.rejects(alice.nextMessage(300), /no incoming MESSAGE/);
    await assert.rejects(
      bob.sendMessage(`sip:carol@${DOMAIN}`, 'x'),
      /only sends MESSAGE to a contact/,
    );
  });

  test('over TLS with SIP Outbound: registers with digest, MESSAGE reaches a UDP peer', async () => {
    const bob = await start('bob', 'udp');
    const alice = await start('alice', 'tls', USERS.alice, [`sip:bob@${DOMAIN}`], true);
    await Promise.all([alice.waitRegistered(10_000), bob.waitRegistered(10_000)]);
    challengedThenRegistered(alice);
    // RFC 5626 §5.2: the REGISTER carries +sip.instance and reg-id.
    assert.match(
      alice.process.stdout(),
      /^Contact: <sip:alice-[^>]*;transport=tls>;.*\+sip\.instance=.*;reg-id=1/m,
    );
    await alice.sendMessage(`sip:bob@${DOMAIN}`, 'over TLS');
    assert.deepEqual(await bob.nextMessage(5000), {
      from: `sip:alice@${DOMAIN}`,
      text: 'over TLS',
    });
  });

  test('a wrong password is refused: REGISTER_FAIL with 401', async () => {
    const mallory = await start('alice', 'tcp', 'not-the-password');
    const reason = await mallory.waitRegistrationFailure(10_000);
    assert.match(reason, /^401 /, mallory.log);
    await assert.rejects(mallory.waitRegistered(1000), /REGISTER_FAIL 401/);
    const reginfo = await mallory.command('reginfo');
    assert.match(reginfo.data, /sip:alice@example\.test\s+ERR/, reginfo.data);
  });
});

describe('baresip output parsers', () => {
  test('netstrings decode whatever the split of the stream', () => {
    const payloads = ['{"response":true,"ok":true,"data":"é","token":"1"}', '', '{"event":true}'];
    const stream = Buffer.concat(payloads.map(encodeNetstring));
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new NetstringDecoder();
      const first = decoder.push(stream.subarray(0, cut));
      const second = decoder.push(stream.subarray(cut));
      assert.ok(first.ok && second.ok);
      assert.deepEqual([...first.value, ...second.value], payloads, `cut at ${cut}`);
    }
  });

  test('malformed netstrings are errors, not throws', () => {
    for (const bad of ['x:', '12345678:', '3:abc;', '99999999', ':abc,']) {
      const result = new NetstringDecoder().push(Buffer.from(bad));
      assert.equal(result.ok, false, bad);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        new NetstringDecoder().push(Buffer.from(bytes));
        new SipTraceReader().push(Buffer.from(bytes).toString('latin1'));
        new ConsoleMessageReader().push(Buffer.from(bytes).toString('latin1'));
        parseCtrlMessage(Buffer.from(bytes).toString('utf8'));
      }),
    );
  });

  test('ctrl_tcp responses and events', () => {
    assert.deepEqual(
      parseCtrlMessage(
        '{"response":true,"ok":true,"data":"\\u001B[32mOK \\u001B[;m","token":"t1"}',
      ),
      { ok: true, value: { kind: 'response', token: 't1', response: { ok: true, data: 'OK ' } } },
    );
    const event = parseCtrlMessage(
      '{"event":true,"type":"REGISTER_FAIL","class":"register","accountaor":"sip:a@b","param":"401 Unauthorized"}',
    );
    assert.deepEqual(event, {
      ok: true,
      value: {
        kind: 'event',
        event: {
          type: 'REGISTER_FAIL',
          class: 'register',
          accountAor: 'sip:a@b',
          param: '401 Unauthorized',
        },
      },
    });
    assert.equal(parseCtrlMessage('[1]').ok, false);
    assert.equal(parseCtrlMessage('{"response":true}').ok, false);
  });

  test('SIP trace blocks and console messages, split anywhere', () => {
    const trace =
      'noise\n\u001b[36;1m#\nTCP 127.0.0.1:1 -> 127.0.0.1:2\nSIP/2.0 200 OK\r\n' +
      'From: <sip:alice@example.test>;tag=1\r\nCSeq: 7 MESSAGE\r\n\r\n\u001b[;m\nmore\n';
    const console = 'ua: log line\n\rsip:bob@example.test: "hi: "x" and\nline 2"\nafter\n';
    for (let cut = 0; cut <= trace.length; cut++) {
      const reader = new SipTraceReader();
      const messages = [...reader.push(trace.slice(0, cut)), ...reader.push(trace.slice(cut))];
      assert.deepEqual(messages, [
        {
          startLine: 'SIP/2.0 200 OK',
          status: 200,
          cseqMethod: 'MESSAGE',
          fromUri: 'sip:alice@example.test',
        },
      ]);
    }
    for (let cut = 0; cut <= console.length; cut++) {
      const reader = new ConsoleMessageReader();
      const messages = [...reader.push(console.slice(0, cut)), ...reader.push(console.slice(cut))];
      assert.deepEqual(messages, [{ from: 'sip:bob@example.test', text: 'hi: "x" and\nline 2' }]);
    }
  });
});
