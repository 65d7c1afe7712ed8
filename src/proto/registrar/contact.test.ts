import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatContactParams,
  formatQValue,
  parseQValue,
  parseRegisterContacts,
} from './contact.ts';
import { GruuCodec, publicGruu } from './gruu.ts';

describe('qvalue (RFC 3261 §25.1)', () => {
  it('reads and writes thousandths exactly', () => {
    for (const [text, value] of [
      ['0', 0],
      ['0.', 0],
      ['0.5', 500],
      ['0.005', 5],
      ['0.999', 999],
      ['1', 1000],
      ['1.000', 1000],
    ] as const) {
      assert.equal(parseQValue(text), value, text);
    }
    for (const text of ['1.5', '1.001', '0.1234', '2', '.5', '', '-0']) {
      assert.equal(parseQValue(text), undefined, text);
    }
    assert.equal(formatQValue(500), '0.5');
    assert.equal(formatQValue(5), '0.005');
    assert.equal(formatQValue(0), '0');
    assert.equal(formatQValue(1000), '1');
  });
});

describe('parseRegisterContacts', () => {
  it('reads expires, q, +sip.instance and reg-id; keeps other parameters', () => {
    const parsed = parseRegisterContacts([
      '"A" <sip:a@192.0.2.1>;expires=60;q=0.2;+sip.instance="<urn:uuid:1>";reg-id=2;audio',
    ]);
    assert.ok(parsed.ok && !parsed.value.star);
    const contact = parsed.value.contacts[0];
    assert.ok(contact);
    assert.equal(contact.expires, 60);
    assert.equal(contact.qThousandths, 200);
    assert.equal(contact.instance, '<urn:uuid:1>');
    assert.equal(contact.regId, 2);
    assert.deepEqual(contact.params, [
      ['+sip.instance', '<urn:uuid:1>'],
      ['reg-id', '2'],
      ['audio', null],
    ]);
    assert.equal(
      formatContactParams(contact.params),
      ';+sip.instance="<urn:uuid:1>";reg-id=2;audio',
    );
  });

  it('reads a malformed expires parameter as absent (RFC 3261 §20.19)', () => {
    const parsed = parseRegisterContacts(['<sip:a@192.0.2.1>;expires=99999999999999']);
    assert.ok(parsed.ok && !parsed.value.star);
    assert.equal(parsed.value.contacts[0]?.expires, undefined);
  });

  it('never throws on arbitrary contact values', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 200 }), { maxLength: 20 }), (values) => {
        parseRegisterContacts(values);
      }),
    );
  });
});

describe('GRUU', () => {
  it('escapes the public GRUU gr value and refuses a non-URN instance', () => {
    assert.equal(
      publicGruu('sip:a@example.com', '<urn:x-test:a#b>'),
      'sip:a@example.com;gr=urn:x-test:a%23b',
    );
    const codec = new GruuCodec('0123456789abcdef0123456789abcdef');
    assert.deepEqual(codec.open('sip:a@example.com;gr=urn:x-test:a%23b'), {
      kind: 'public',
      aor: 'sip:a@example.com',
      instance: '<urn:x-test:a#b>',
    });
    assert.equal(publicGruu('sip:a@example.com', '"not a urn"'), undefined);
  });

  it('opens what it issues and nothing else; never throws', () => {
    const codec = new GruuCodec('0123456789abcdef0123456789abcdef');
    const temp = codec.temporary('sip:a@example.com', '<urn:uuid:1>', 'cid', 'example.com');
    const target = codec.open(temp);
    assert.equal(target?.aor, 'sip:a@example.com');
    assert.equal(target.instance, '<urn:uuid:1>');
    assert.equal(codec.open(`${temp}x`), undefined);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        codec.open(`sip:tgruu.${text}@example.com;gr`);
        codec.open(text);
      }),
    );
  });

  it('refuses a short secret', () => {
    assert.throws(() => new GruuCodec('short'), { code: 'RAMPART_ERR_INVALID_ARGUMENT' });
  });
});
