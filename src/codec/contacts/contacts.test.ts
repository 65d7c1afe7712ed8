import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  canonicalContactAddress,
  CONTACTS_LIMITS,
  parseContactList,
  parseContactOp,
  serializeContactList,
  serializeContactOp,
} from './contacts.ts';

describe('parseContactOp', () => {
  test('reads each operation; addresses canonical, names trimmed', () => {
    assert.deepEqual(parseContactOp('{"op":"get"}'), { ok: true, value: { op: 'get' } });
    const put = parseContactOp(
      Buffer.from(
        '{"op":"put-contact","address":"sip:Bob@EXAMPLE.com;transport=tls","name":" Bob ","groups":["Work"],"baseVersion":3}',
      ),
    );
    assert.deepEqual(put, {
      ok: true,
      value: {
        op: 'put-contact',
        address: 'sip:Bob@example.com',
        name: 'Bob',
        groups: ['Work'],
        baseVersion: 3,
      },
    });
    const bare = parseContactOp('{"op":"put-contact","address":"sip:b@x"}');
    assert.deepEqual(bare, { ok: true, value: { op: 'put-contact', address: 'sip:b@x' } });
    assert.equal(parseContactOp('{"op":"delete-contact","address":"sips:b@x"}').ok, true);
    assert.equal(parseContactOp('{"op":"put-group","name":"Friends"}').ok, true);
    assert.equal(parseContactOp('{"op":"delete-group","name":"Friends"}').ok, true);
  });

  const refused: readonly (readonly [string, string | Uint8Array])[] = [
    ['not JSON', '{op:'],
    ['unknown op', '{"op":"drop-table"}'],
    ['unknown key', '{"op":"get","x":1}'],
    ['no user part', '{"op":"delete-contact","address":"sip:example.com"}'],
    ['not a sip URI', '{"op":"delete-contact","address":"mailto:a@b"}'],
    ['long name', `{"op":"put-group","name":"${'x'.repeat(CONTACTS_LIMITS.maxNameChars + 1)}"}`],
    ['empty group', '{"op":"put-group","name":"  "}'],
    ['control character', '{"op":"put-group","name":"a\\u0000b"}'],
    [
      'too many groups',
      `{"op":"put-contact","address":"sip:a@b","groups":${JSON.stringify(Array.from({ length: 21 }, (_, i) => `g${i}`))}}`,
    ],
    ['negative version', '{"op":"put-group","name":"a","baseVersion":-1}'],
    ['huge body', `{"op":"get","pad":"${'x'.repeat(20_000)}"}`],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['an array', '[]'],
    ['null', 'null'],
  ];
  for (const [name, body] of refused) {
    test(`refuses ${name}`, () => {
      const parsed = parseContactOp(body);
      assert.equal(parsed.ok, false);
      assert.equal(parsed.error.code, 'RAMPART_ERR_CONTACTS_PARSE');
    });
  }

  test('arbitrary input never throws; operations round-trip', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 })), (text) => {
        parseContactOp(text);
      }),
      { numRuns: 500 },
    );
    const op = { op: 'put-contact' as const, address: 'sip:a@b.c', name: 'A', groups: ['g'] };
    assert.deepEqual(parseContactOp(serializeContactOp(op)), { ok: true, value: op });
  });
});

describe('contact list body', () => {
  test('serialise → parse', () => {
    const list = {
      version: 4,
      groups: ['Work'],
      contacts: [{ address: 'sip:a@b', name: 'A', groups: ['Work'] }],
    };
    assert.deepEqual(parseContactList(serializeContactList(list)), { ok: true, value: list });
  });

  test('canonicalContactAddress', () => {
    assert.equal(
      canonicalContactAddress('sips:%61lice@Example.COM:5061;x=y'),
      'sip:alice@example.com:5061',
    );
    assert.equal(canonicalContactAddress('tel:+123'), undefined);
  });
});
