import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareVersions, MODEL, selectUpdate, VERSION, type UpdatePackage } from './select.ts';

test('version order: numeric parts numerically, missing parts first', () => {
  assert.equal(compareVersions('4.0.10', '4.0.9'), 1);
  assert.equal(compareVersions('4.0', '4.0.1'), -1);
  assert.equal(compareVersions('4.0.1', '4.0.1'), 0);
  assert.equal(compareVersions('1.2.0-rc1', '1.2.0-rc2'), -1);
  assert.equal(compareVersions('1.10', '1.9'), 1);
  assert.equal(compareVersions('1.a', '1.2'), 1);
  assert.ok(VERSION.test('4.0.7577.4420'));
  assert.ok(!VERSION.test('1..2') && !VERSION.test('../x') && !VERSION.test(''));
  assert.ok(MODEL.test('CX600') && !MODEL.test('a/b') && !MODEL.test('.x'));
});

test('selectUpdate: highest approved version above the current one, for the model', () => {
  const pkg = (model: string, version: string, approved = true): UpdatePackage => ({
    model,
    version,
    approved,
    file: `${model}-${version}.bin`,
    bytes: 1,
    sha256: '',
    publishedAt: '',
  });
  const manifest = {
    version: 1 as const,
    packages: [
      pkg('cx600', '1.0'),
      pkg('cx600', '1.2'),
      pkg('cx600', '1.3', false),
      pkg('other', '9'),
    ],
  };
  assert.equal(selectUpdate(manifest, 'CX600', '1.0')?.version, '1.2');
  assert.equal(selectUpdate(manifest, 'cx600', '0.9')?.version, '1.2');
  assert.equal(selectUpdate(manifest, 'cx600', '1.2'), undefined, 'already current');
  assert.equal(selectUpdate(manifest, 'cx600', '2.0'), undefined, 'newer than any');
  assert.equal(selectUpdate(manifest, 'unknown', '0'), undefined);
});
