import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
    const dir = process.cwd();
    const config = loadConfig({ ephemeralPorts: true, dataDir: dir });
    assert.ok(config.ok);
    assert.equal(config.value.admin.port, 0);
    assert.equal(config.value['access-edge'].external.udp, 0);
    assert.equal(config.value.dataDir, dir);
  });

  test('tls.certFile without tls.keyFile is refused', () => {
    const result = parseConfig('tls:\n  certFile: /x.pem\n');
    assert.ok(!result.ok);
  });
});
