import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigError, parseConfig } from './load.ts';

const LDAP = [
  'directory:',
  '  backend: ldap',
  '  ldap:',
  '    url: ldaps://ldap.example.test:636',
  '    bindDn: cn=rampart,dc=example,dc=test',
  '    bindPasswordFile: /etc/rampart/ldap-password',
  '    usersDn: ou=people,dc=example,dc=test',
  '    groupsDn: ou=groups,dc=example,dc=test',
  '',
];

describe('configuration: directory', () => {
  test('defaults: SQLite under dataDir, HA1 realms = the domains', () => {
    const result = parseConfig('domains: [A.test, b.test]\n');
    assert.ok(result.ok);
    const directory = result.value.directory;
    assert.equal(directory.backend, 'sqlite');
    assert.deepEqual(directory.realms, ['a.test', 'b.test']);
    assert.equal(directory.sqlite.file, null);
    assert.equal(directory.ldap.url, null);
    assert.equal(directory.ldap.tlsCaFile, null);
  });

  test('explicit realms and SQLite file are kept; realms compare in lower case', () => {
    const result = parseConfig(
      'directory:\n  realms: [Corp.EXAMPLE.test]\n  sqlite: { file: /var/lib/rampart/d.sqlite }\n',
    );
    assert.ok(result.ok, result.ok ? '' : formatConfigError(result.error));
    assert.deepEqual(result.value.directory.realms, ['corp.example.test']);
    assert.equal(result.value.directory.sqlite.file, '/var/lib/rampart/d.sqlite');
  });

  test('a complete LDAP section is accepted', () => {
    const result = parseConfig(LDAP.join('\n'));
    assert.ok(result.ok, result.ok ? '' : formatConfigError(result.error));
    assert.equal(result.value.directory.backend, 'ldap');
    assert.equal(result.value.directory.ldap.bindPasswordFile, '/etc/rampart/ldap-password');
    assert.equal(result.value.directory.ldap.bindPassword, null);
  });

  test('LDAP keys are required only with the LDAP backend, each named by its path', () => {
    assert.ok(
      parseConfig('directory:\n  ldap: { url: ldap://x.test }\n').ok,
      'sqlite ignores ldap',
    );
    const result = parseConfig('directory:\n  backend: ldap\n');
    assert.ok(!result.ok);
    const paths = result.error.issues.map((issue) => issue.path).sort();
    assert.deepEqual(paths, [
      'directory.ldap.bindDn',
      'directory.ldap.bindPassword',
      'directory.ldap.groupsDn',
      'directory.ldap.url',
      'directory.ldap.usersDn',
    ]);
    const missing = parseConfig(LDAP.filter((line) => !line.includes('usersDn')).join('\n'));
    assert.ok(!missing.ok);
    const issue = missing.error.issues[0];
    assert.ok(issue !== undefined);
    assert.equal(issue.path, 'directory.ldap.usersDn');
    assert.match(issue.message, /required when directory\.backend is ldap/);
  });

  test('bindPassword and bindPasswordFile: exactly one', () => {
    const both = parseConfig([...LDAP, '    bindPassword: hunter2', ''].join('\n'));
    assert.ok(!both.ok);
    assert.equal(both.error.issues[0]?.path, 'directory.ldap.bindPasswordFile');
    const inline = parseConfig(
      LDAP.map((line) =>
        line.includes('bindPasswordFile') ? '    bindPassword: hunter2' : line,
      ).join('\n'),
    );
    assert.ok(inline.ok, inline.ok ? '' : formatConfigError(inline.error));
  });

  test('values are checked: backend, URL, realms, unknown keys', () => {
    for (const [text, path] of [
      ['directory: { backend: postgres }\n', 'directory.backend'],
      ['directory: { realms: [] }\n', 'directory.realms'],
      ['directory: { realms: ["bad realm"] }\n', 'directory.realms.0'],
      ['directory: { ldap: { url: "http://x.test" } }\n', 'directory.ldap.url'],
      ['directory: { sqlite: { path: x } }\n', 'directory.sqlite.path'],
      ['directory: { sqlite: { file: "" } }\n', 'directory.sqlite.file'],
    ] as const) {
      const result = parseConfig(text);
      assert.ok(!result.ok, text);
      assert.equal(result.error.issues[0]?.path, path, text);
    }
  });
});
