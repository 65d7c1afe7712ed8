import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_EXAMPLE } from './example.ts';
import { formatConfigError, loadConfig, parseConfig } from './load.ts';

describe('configuration', () => {
  test('no file gives the all-in-one defaults on loopback', () => {
    const config = loadConfig();
    assert.ok(config.ok);
    assert.deepEqual(config.value.domains, ['example.test']);
    assert.equal(config.value['access-edge'].external.host, '127.0.0.1');
    assert.equal(config.value['access-edge'].external.tls, 5061);
    assert.equal(config.value.admin.host, '127.0.0.1');
    assert.ok(config.value.dataDir.endsWith('rampart-data'));
  });

  test('an unknown key is an error naming the key path and its line', () => {
    const result = parseConfig(
      'domains: [a.test]\naccess-edge:\n  external:\n    udpp: 5060\n',
      'x.yaml',
    );
    assert.ok(!result.ok);
    const issue = result.error.issues[0];
    assert.ok(issue);
    assert.equal(issue.path, 'access-edge.external.udpp');
    assert.equal(issue.line, 4);
    assert.match(formatConfigError(result.error), /^x\.yaml:4:5 access-edge\.external\.udpp: /);
  });

  test('a wrong type is an error naming the key path and its line', () => {
    const result = parseConfig('admin:\n  host: 127.0.0.1\n  port: "eighty"\n');
    assert.ok(!result.ok);
    const issue = result.error.issues[0];
    assert.ok(issue);
    assert.equal(issue.path, 'admin.port');
    assert.equal(issue.line, 3);
  });

  test('invalid YAML is reported with its line', () => {
    const result = parseConfig('domains: [a\nadmin: {');
    assert.ok(!result.ok);
    assert.ok((result.error.issues[0]?.line ?? 0) >= 1);
  });

  test('the printed example passes the check and equals the defaults', () => {
    const example = parseConfig(CONFIG_EXAMPLE);
    const defaults = parseConfig('');
    assert.ok(example.ok && defaults.ok);
    assert.deepEqual(example.value, defaults.value);
  });

  test('the loaded configuration is deeply frozen', () => {
    const config = loadConfig();
    assert.ok(config.ok);
    assert.ok(Object.isFrozen(config.value['access-edge'].external));
    assert.throws(() => {
      (config.value.admin as { port: number }).port = 1;
    }, TypeError);
  });

  test('--ephemeral-ports turns every enabled port into 0 and keeps disabled ones off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-config-'));
    try {
      const file = join(dir, 'rampart.yaml');
      writeFileSync(file, 'access-edge:\n  external:\n    udp: null\n    wss: 443\n');
      const config = loadConfig({ file, ephemeralPorts: true, dataDir: 'relative/data' });
      assert.ok(config.ok, config.ok ? '' : formatConfigError(config.error));
      const external = config.value['access-edge'].external;
      assert.equal(config.value.admin.port, 0);
      assert.deepEqual(
        [external.udp, external.tcp, external.tls, external.ws, external.wss],
        [null, 0, 0, 0, 0],
      );
      assert.equal(
        config.value.dataDir,
        resolve('relative/data'),
        '--data-dir wins, made absolute',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without --ephemeral-ports the configured ports stay', () => {
    const result = parseConfig('access-edge:\n  external: { udp: 15060, tls: null }\n');
    assert.ok(result.ok);
    assert.equal(result.value['access-edge'].external.udp, 15060);
    assert.equal(result.value['access-edge'].external.tls, null);
    assert.equal(result.value['access-edge'].external.tcp, 5060, 'siblings keep their default');
  });

  test('a missing key inside a list item names the item index and its line', () => {
    const result = parseConfig(
      'access-edge:\n  routes:\n    - domain: a.test\n      nextHop: sip:127.0.0.1:5070\n    - domain: b.test\n',
    );
    assert.ok(!result.ok);
    const issue = result.error.issues[0];
    assert.equal(issue?.path, 'access-edge.routes.1.nextHop');
    assert.equal(issue.line, 5);
  });

  test('two stream listeners on one fixed port are refused at the second key', () => {
    const result = parseConfig(
      'admin: { port: 9000 }\naccess-edge:\n  external:\n    tls: 5061\n    ws: 5061\n',
    );
    assert.ok(!result.ok);
    const issue = result.error.issues[0];
    assert.equal(issue?.path, 'access-edge.external.ws');
    assert.equal(issue.line, 5);
    assert.match(issue.message, /access-edge\.external\.tls/);
    assert.ok(parseConfig('access-edge:\n  external: { udp: 5060, tcp: 5060 }\n').ok, 'udp+tcp ok');
    // Several TLS ports (5061 and 443); the second of a list clashing is named by its index.
    assert.ok(parseConfig('access-edge:\n  external: { tls: [5061, 443] }\n').ok);
    const clash = parseConfig('access-edge:\n  external: { tls: [5061, 5062] }\n');
    assert.ok(!clash.ok);
    assert.equal(clash.error.issues[0]?.path, 'access-edge.external.ws');
  });

  test('values are checked, not only types', () => {
    for (const [text, path] of [
      ['domains: ["not a domain"]\n', 'domains.0'],
      ['domains: []\n', 'domains'],
      ['admin: { port: 70000 }\n', 'admin.port'],
      ['access-edge:\n  dns: { servers: [dns.example] }\n', 'access-edge.dns.servers.0'],
      [
        'access-edge:\n  routes: [{ domain: a.test, nextHop: "http://x" }]\n',
        'access-edge.routes.0.nextHop',
      ],
      ['log: { level: verbose }\n', 'log.level'],
      ['nonsense: 1\n', 'nonsense'],
    ] as const) {
      const result = parseConfig(text);
      assert.ok(!result.ok, text);
      const issue = result.error.issues[0];
      assert.ok(issue, text);
      assert.equal(issue.path, path, text);
      assert.equal(issue.line, text.startsWith('access-edge') ? 2 : 1, text);
    }
  });

  test('accepted forms: wildcard routes and names, IP names, DNS servers with ports', () => {
    const result = parseConfig(
      [
        'domains: [Example.TEST]',
        'tls: { names: ["*.Edge.example.test", "192.0.2.1", "2001:db8::1"] }',
        'access-edge:',
        '  routes:',
        '    - { domain: "*", nextHop: "sip:127.0.0.1:5070" }',
        '    - { domain: "*.example.org", nextHop: ["sip:a.test", "sips:b.test"] }',
        '  dns: { servers: ["192.0.2.53", "192.0.2.53:5353", "::1", "[::1]:5353"] }',
        '',
      ].join('\n'),
    );
    assert.ok(result.ok, result.ok ? '' : formatConfigError(result.error));
    assert.deepEqual(result.value.domains, ['example.test'], 'domains compare in lower case');
    assert.deepEqual(result.value.tls.names, ['*.edge.example.test', '192.0.2.1', '2001:db8::1']);
    assert.ok(!parseConfig('access-edge:\n  dns: { servers: ["[192.0.2.53]:53"] }\n').ok);
    assert.ok(!parseConfig('tls: { names: ["bad name"] }\n').ok);
  });

  test('an unreadable file is a configuration error naming the file', () => {
    const result = loadConfig({ file: join(tmpdir(), 'rampart-does-not-exist.yaml') });
    assert.ok(!result.ok);
    assert.match(formatConfigError(result.error), /rampart-does-not-exist\.yaml.*cannot read/);
  });

  test('duplicate keys are refused with their line', () => {
    const result = parseConfig('admin: { port: 1 }\nlog: { level: info }\nadmin: { port: 2 }\n');
    assert.ok(!result.ok);
    assert.equal(result.error.issues[0]?.line, 3);
  });

  test('tls.certFile without tls.keyFile is refused', () => {
    const result = parseConfig('tls:\n  certFile: /x.pem\n');
    assert.ok(!result.ok);
  });
});
