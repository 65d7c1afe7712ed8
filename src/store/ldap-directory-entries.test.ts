import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from './directory.ts';
import {
  findHa1,
  formatHa1,
  policyAttributes,
  userFromEntry,
  values,
} from './ldap-directory-entries.ts';

describe('LDAP entry mapping', () => {
  test('attribute names match case-insensitively (RFC 4512 §2.5); Buffers are text', () => {
    const entry = {
      dn: 'uid=a',
      RAMPARTSIPADDRESS: 'a@x.test',
      mail: [Buffer.from('a@mail.test')],
    };
    assert.deepEqual(values(entry, 'rampartSipAddress'), ['a@x.test']);
    assert.deepEqual(values(entry, 'mail'), ['a@mail.test']);
    assert.deepEqual(values(entry, 'dn'), []);
    assert.deepEqual(values(entry, 'cn'), []);
  });

  test('absent or malformed policy attributes fall back to the defaults', () => {
    const user = userFromEntry({
      dn: 'uid=a',
      rampartSipAddress: 'a@x.test',
      rampartPublicIm: 'TRUE',
      rampartFederation: 'yes',
      rampartMaxEndpoints: '-3',
    });
    assert.deepEqual(user, {
      address: 'a@x.test',
      displayName: null,
      email: null,
      enabled: true,
      policy: { ...DEFAULT_POLICY, publicIm: true },
    });
    assert.equal(userFromEntry({ dn: 'uid=b', cn: 'no address' }), undefined);
  });

  test('policy attributes are RFC 4517 Boolean and Integer strings', () => {
    assert.deepEqual(policyAttributes({ remoteAccess: false, maxEndpoints: 4 }), {
      rampartRemoteAccess: 'FALSE',
      rampartMaxEndpoints: '4',
    });
  });

  test('HA1 values are found by algorithm and realm, realms may hold colons', () => {
    const stored = [
      formatHa1('MD5', 'example.test', 'aa11'),
      formatHa1('SHA-256', 'example.test', 'bb22'),
      formatHa1('MD5', 'host:5061', 'cc33'),
      'MD5:broken:XYZ',
    ];
    assert.equal(findHa1(stored, 'MD5', 'example.test'), 'aa11');
    assert.equal(findHa1(stored, 'SHA-256', 'example.test'), 'bb22');
    assert.equal(findHa1(stored, 'MD5', 'host:5061'), 'cc33');
    assert.equal(findHa1(stored, 'MD5', 'host'), undefined);
    assert.equal(findHa1(stored, 'MD5', 'broken'), undefined);
    assert.equal(findHa1(stored, 'SHA-256', 'other.test'), undefined);
  });
});
