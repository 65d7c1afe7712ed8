// The LDAP directory against a real OpenLDAP (Debian `slapd ldap-utils`): the shared Directory
// contract, the ACLs that keep secrets from everyone but the service account, filter
// injection, and reconnection after a slapd restart.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Client } from 'ldapts';
import type { Entry } from 'ldapts';
import { DEFAULT_POLICY } from '../../src/store/directory.ts';
import { LdapDirectory } from '../../src/store/ldap-directory.ts';
import type { LdapDirectoryOptions } from '../../src/store/ldap-directory.ts';
import { CONTRACT_REALMS, directoryContract } from '../helpers/directory-suite.ts';
import { sshaPassword, startSlapd } from '../helpers/slapd.ts';
import type { SlapdInstance } from '../helpers/slapd.ts';

const REALMS = CONTRACT_REALMS;

function optionsFor(slapd: SlapdInstance): LdapDirectoryOptions {
  return {
    url: slapd.url,
    bindDn: slapd.serviceDn,
    bindPassword: slapd.servicePassword,
    usersDn: slapd.usersDn,
    groupsDn: slapd.groupsDn,
    realms: REALMS,
  };
}

function attributeNames(entry: Entry): string[] {
  return Object.keys(entry).map((key) => key.toLowerCase());
}

async function searchAs(
  slapd: SlapdInstance,
  bind: { dn: string; password: string } | undefined,
  base: string,
  filter: string,
): Promise<Entry[]> {
  const client = new Client({ url: slapd.url, timeout: 5000 });
  try {
    if (bind !== undefined) await client.bind(bind.dn, bind.password);
    const result = await client.search(base, { scope: 'sub', filter, attributes: ['*'] });
    return result.searchEntries;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

// The shared contract: a fresh slapd (about 0.3 s to start) for every test, so each test
// sees an empty directory.
directoryContract('ldap', async () => {
  const slapd = await startSlapd();
  try {
    const directory = await LdapDirectory.open(optionsFor(slapd));
    return {
      directory,
      close: async () => {
        await directory.close();
        await slapd.stop();
      },
    };
  } catch (error) {
    await slapd.stop();
    throw error;
  }
});

describe('LDAP directory: OpenLDAP specifics', () => {
  let slapd: SlapdInstance;
  let directory: LdapDirectory;

  before(async () => {
    slapd = await startSlapd();
    directory = await LdapDirectory.open(optionsFor(slapd));
    await directory.addUser({ address: 'alice@example.test', password: 'alice-secret' });
    await directory.addUser({ address: "o'brien*(x)@example.test", password: 'pw-2' });
  });

  after(async () => {
    await directory.close();
    await slapd.stop();
  });

  test('open fails with `backend` on wrong service credentials', async () => {
    await assert.rejects(
      LdapDirectory.open({ ...optionsFor(slapd), bindPassword: 'wrong' }),
      (error: unknown) => error instanceof Error && 'reason' in error && error.reason === 'backend',
    );
  });

  test('secrets are stored as rampartPasswordHash (scrypt) and one HA1 per realm/algorithm', async () => {
    const [entry] = await searchAs(
      slapd,
      { dn: slapd.serviceDn, password: slapd.servicePassword },
      slapd.usersDn,
      '(rampartSipAddress=alice@example.test)',
    );
    assert.ok(entry);
    assert.match(String(entry['rampartPasswordHash']), /^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/);
    const ha1 = entry['rampartDigestHa1'];
    assert.ok(Array.isArray(ha1));
    const stored = ha1.map(String).sort();
    assert.equal(stored.length, REALMS.length * 2);
    for (const value of stored)
      assert.match(value, /^(MD5|SHA-256):(example|other)\.test:[0-9a-f]+$/);
    assert.equal(
      await directory.digestHa1('alice@example.test', 'example.test', 'MD5'),
      stored.find((v) => v.startsWith('MD5:example.test:'))?.split(':')[2],
    );
  });

  test('anonymous sees the user entry but not its HA1 or password hash', async () => {
    const entries = await searchAs(slapd, undefined, slapd.usersDn, '(objectClass=rampartUser)');
    assert.equal(
      entries.length,
      2,
      'the entries themselves are readable (the ACL is per attribute)',
    );
    for (const entry of entries) {
      const names = attributeNames(entry);
      assert.ok(names.includes('rampartsipaddress'));
      assert.ok(!names.includes('rampartdigestha1'), `anonymous read HA1 of ${entry.dn}`);
      assert.ok(!names.includes('rampartpasswordhash'), `anonymous read hash of ${entry.dn}`);
    }
    // Nor can anonymous probe them with a filter (no `search` access on the attribute).
    assert.deepEqual(await searchAs(slapd, undefined, slapd.usersDn, '(rampartDigestHa1=*)'), []);
    assert.deepEqual(
      await searchAs(slapd, undefined, slapd.usersDn, '(rampartPasswordHash=*)'),
      [],
    );
  });

  test('an ordinary user bound with its own password reads no secrets, not even its own', async () => {
    // A user with a userPassword, as an operator's provisioning might leave one.
    const dn = `uid=mallory@example.test,${slapd.usersDn}`;
    const root = new Client({ url: slapd.url });
    try {
      await root.bind(slapd.rootDn, slapd.rootPassword);
      await root.add(dn, {
        objectClass: ['inetOrgPerson', 'rampartUser'],
        uid: 'mallory@example.test',
        cn: 'Mallory',
        sn: 'mallory',
        rampartSipAddress: 'mallory@example.test',
        rampartDigestHa1: 'MD5:example.test:00112233445566778899aabbccddeeff',
        rampartPasswordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
        userPassword: sshaPassword('mallory-pw'),
      });
    } finally {
      await root.unbind();
    }
    try {
      const entries = await searchAs(
        slapd,
        { dn, password: 'mallory-pw' },
        slapd.usersDn,
        '(objectClass=rampartUser)',
      );
      assert.equal(entries.length, 3);
      for (const entry of entries) {
        const names = attributeNames(entry);
        assert.ok(!names.includes('rampartdigestha1'), `user read HA1 of ${entry.dn}`);
        assert.ok(!names.includes('rampartpasswordhash'), `user read hash of ${entry.dn}`);
        assert.ok(!names.includes('userpassword'), `user read userPassword of ${entry.dn}`);
      }
      // The same search as the service account does see them (so the check above can fail).
      const service = await searchAs(
        slapd,
        { dn: slapd.serviceDn, password: slapd.servicePassword },
        slapd.usersDn,
        '(rampartSipAddress=mallory@example.test)',
      );
      assert.ok(service[0] && attributeNames(service[0]).includes('rampartdigestha1'));
      // An ordinary user may not write the directory either.
      const client = new Client({ url: slapd.url });
      try {
        await client.bind(dn, 'mallory-pw');
        await assert.rejects(
          client.add(`uid=eve@example.test,${slapd.usersDn}`, {
            objectClass: ['inetOrgPerson'],
            uid: 'eve@example.test',
            cn: 'eve',
            sn: 'eve',
          }),
          /Insufficient|access/i,
        );
      } finally {
        await client.unbind();
      }
    } finally {
      await directory.removeUser('mallory@example.test');
    }
  });

  test('bulk-imported users get their sign-in hash at the first right sign-in', async () => {
    const readHash = async (): Promise<unknown> => {
      const [entry] = await searchAs(
        slapd,
        { dn: slapd.serviceDn, password: slapd.servicePassword },
        slapd.usersDn,
        '(rampartSipAddress=bulk@example.test)',
      );
      assert.ok(entry);
      return entry['rampartPasswordHash'];
    };
    assert.equal(await directory.addUsers([{ address: 'bulk@example.test', password: 'b' }]), 1);
    assert.equal(await readHash(), undefined);
    assert.equal(await directory.verifyPassword('bulk@example.test', 'wrong'), false);
    assert.equal(await readHash(), undefined);
    assert.equal(await directory.verifyPassword('bulk@example.test', 'b'), true);
    assert.match(String(await readHash()), /^scrypt\$/);
    assert.equal(await directory.verifyPassword('bulk@example.test', 'b'), true);
    assert.equal(await directory.verifyPassword('bulk@example.test', 'wrong'), false);
    await directory.removeUser('bulk@example.test');
  });

  test('filter injection finds nothing', async () => {
    const hostile = [
      '*',
      '*@example.test',
      '*)(uid=*',
      'alice@example.test)(objectClass=*',
      '*)(|(rampartSipAddress=*',
      'al*@example.test',
      'alice\0@example.test',
      '\\2a@example.test',
      'ąlice@example.test',
    ];
    for (const text of hostile) {
      assert.equal(await directory.getUser(text), undefined, `getUser(${JSON.stringify(text)})`);
      assert.equal(await directory.verifyPassword(text, 'alice-secret'), false);
      assert.equal(await directory.digestHa1(text, 'example.test', 'MD5'), undefined);
      assert.deepEqual(await directory.listUsers({ prefix: text }), [], `prefix ${text}`);
    }
    assert.deepEqual(await directory.listUsers({ prefix: '*' }), []);
    assert.deepEqual(await directory.listUsers({ prefix: 'a*' }), []);
    // A real address holding filter syntax is found exactly, and only it.
    const odd = await directory.getUser("o'brien*(x)@example.test");
    assert.equal(odd?.address, "o'brien*(x)@example.test");
    assert.deepEqual(
      (await directory.listUsers({ prefix: "o'brien*" })).map((user) => user.address),
      ["o'brien*(x)@example.test"],
    );
    assert.equal(await directory.verifyPassword("o'brien*(x)@example.test", 'pw-2'), true);
    // Group names go into filters too.
    await assert.rejects(directory.members('*'), { reason: 'unknown-group' });
    await assert.rejects(directory.addMember('*)(cn=*', 'alice@example.test'), {
      reason: 'unknown-group',
    });
  });

  test('DN specials in addresses and group names round-trip', async () => {
    const address = 'a,b+c=d;e@example.test';
    await directory.addUser({ address, password: 'x', displayName: '#Lučić, "the" ' });
    await directory.addGroup('sales, EMEA+1', 'Sales');
    await directory.addMember('sales, EMEA+1', address);
    assert.deepEqual(await directory.members('sales, EMEA+1'), [address]);
    assert.equal((await directory.getUser(address))?.displayName, '#Lučić, "the" ');
    await directory.removeUser(address);
    assert.deepEqual(await directory.members('sales, EMEA+1'), []);
    await directory.removeGroup('sales, EMEA+1');
  });

  test('an emptied groupOfNames keeps a placeholder member and reads as empty', async () => {
    await directory.addGroup('solo');
    await directory.addMember('solo', 'alice@example.test');
    await directory.removeMember('solo', 'alice@example.test');
    assert.deepEqual(await directory.members('solo'), []);
    assert.deepEqual(await directory.members('solo', { expand: true }), []);
    await directory.addMember('solo', 'alice@example.test');
    assert.deepEqual(await directory.members('solo'), ['alice@example.test']);
    await directory.removeGroup('solo');
  });

  test('survives a slapd restart (reconnects and binds again)', async () => {
    assert.equal((await directory.getUser('alice@example.test'))?.address, 'alice@example.test');
    await slapd.restart();
    assert.equal((await directory.getUser('alice@example.test'))?.address, 'alice@example.test');
    assert.equal(await directory.verifyPassword('alice@example.test', 'alice-secret'), true);
    await directory.updateUser('alice@example.test', { maxEndpoints: 3 });
    assert.equal((await directory.getUser('alice@example.test'))?.policy.maxEndpoints, 3);
  });

  test('a stopped slapd is a `backend` error, not a hang', async () => {
    const other = await startSlapd();
    const lonely = await LdapDirectory.open(optionsFor(other));
    try {
      await other.process.stop('SIGKILL');
      await assert.rejects(lonely.getUser('alice@example.test'), { reason: 'backend' });
    } finally {
      await lonely.close();
      await other.stop();
    }
  });
});

describe('LDAP directory: behaviour', () => {
  let slapd: SlapdInstance;
  let directory: LdapDirectory;

  before(async () => {
    slapd = await startSlapd();
    directory = await LdapDirectory.open({ ...optionsFor(slapd), realms: ['testrealm@host.com'] });
  });

  after(async () => {
    await directory.close();
    await slapd.stop();
  });

  test('users: add, get, list by prefix and page, count, update, remove', async () => {
    const added = await directory.addUser({
      address: 'sip:Bob@Example.TEST',
      password: 'pw',
      displayName: 'Bob',
      email: 'bob@mail.test',
      policy: { publicIm: true, maxEndpoints: 2 },
    });
    assert.deepEqual(added, {
      address: 'Bob@example.test',
      displayName: 'Bob',
      email: 'bob@mail.test',
      enabled: true,
      policy: { ...DEFAULT_POLICY, publicIm: true, maxEndpoints: 2 },
    });
    assert.deepEqual(await directory.getUser('bob@example.test'), undefined, 'user part is exact');
    // RFC 3261 §19.1.4: user parts compare case-sensitively; two users, two entries.
    await directory.addUser({ address: 'bob@example.test', password: 'pw' });
    await directory.removeUser('bob@example.test');
    assert.equal((await directory.getUser('Bob@example.test'))?.address, 'Bob@example.test');
    assert.deepEqual(await directory.getUser('Bob@EXAMPLE.test'), added);
    await assert.rejects(directory.addUser({ address: 'Bob@example.test', password: 'x' }), {
      reason: 'duplicate',
    });
    await assert.rejects(directory.addUser({ address: 'no-at-sign', password: 'x' }), {
      reason: 'invalid-address',
    });
    const count = await directory.addUsers(
      ['carol', 'dave', 'erin'].map((name) => ({
        address: `${name}@example.test`,
        password: name,
      })),
    );
    assert.equal(count, 3);
    assert.equal(await directory.countUsers(), 4);
    assert.deepEqual(
      (await directory.listUsers()).map((user) => user.address),
      ['Bob@example.test', 'carol@example.test', 'dave@example.test', 'erin@example.test'],
    );
    assert.deepEqual(
      (await directory.listUsers({ offset: 1, limit: 2 })).map((user) => user.address),
      ['carol@example.test', 'dave@example.test'],
    );
    assert.deepEqual(
      (await directory.listUsers({ prefix: 'da' })).map((user) => user.address),
      ['dave@example.test'],
    );
    const updated = await directory.updateUser('Bob@example.test', {
      enabled: false,
      federation: false,
      displayName: null,
      email: null,
    });
    assert.deepEqual(updated, await directory.getUser('Bob@example.test'));
    assert.equal(updated.enabled, false);
    assert.equal(updated.displayName, null);
    assert.equal(updated.email, null);
    assert.equal(updated.policy.federation, false);
    assert.equal(updated.policy.maxEndpoints, 2);
    await assert.rejects(directory.updateUser('nobody@example.test', { enabled: true }), {
      reason: 'unknown-user',
    });
    await directory.removeUser('erin@example.test');
    await assert.rejects(directory.removeUser('erin@example.test'), { reason: 'unknown-user' });
    assert.equal(await directory.countUsers(), 3);
  });

  test('passwords: verify, replace, and the RFC 2617 §3.5 HA1', async () => {
    await directory.addUser({ address: 'Mufasa@example.test', password: 'Circle Of Life' });
    // RFC 2617 §3.5: HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life").
    assert.equal(
      await directory.digestHa1('Mufasa@example.test', 'testrealm@host.com', 'MD5'),
      '939e7578ed9e3c518a452acee763bce9',
    );
    // RFC 7616 §3.9.1 uses the same user, realm "http-auth@example.org"; SHA-256 is kept too.
    assert.match(
      (await directory.digestHa1('Mufasa@example.test', 'testrealm@host.com', 'SHA-256')) ?? '',
      /^[0-9a-f]{64}$/,
    );
    assert.equal(await directory.digestHa1('Mufasa@example.test', 'other.test', 'MD5'), undefined);
    assert.equal(await directory.verifyPassword('Mufasa@example.test', 'Circle Of Life'), true);
    assert.equal(await directory.verifyPassword('Mufasa@example.test', 'circle of life'), false);
    await directory.setPassword('Mufasa@example.test', 'new one');
    assert.equal(await directory.verifyPassword('Mufasa@example.test', 'Circle Of Life'), false);
    assert.equal(await directory.verifyPassword('Mufasa@example.test', 'new one'), true);
    assert.notEqual(
      await directory.digestHa1('Mufasa@example.test', 'testrealm@host.com', 'MD5'),
      '939e7578ed9e3c518a452acee763bce9',
    );
    await assert.rejects(directory.setPassword('nobody@example.test', 'x'), {
      reason: 'unknown-user',
    });
  });

  test('groups: nesting, cycles, expansion, unknown names', async () => {
    await directory.addUser({ address: 'g1@example.test', password: 'x' });
    await directory.addUser({ address: 'g2@example.test', password: 'x' });
    await directory.addGroup('all', 'Everyone');
    await directory.addGroup('team');
    await assert.rejects(directory.addGroup('team'), { reason: 'duplicate' });
    await assert.rejects(directory.addGroup(' bad'), { reason: 'invalid-name' });
    await directory.addMember('all', 'g1@example.test');
    await directory.addMember('all', 'team');
    await directory.addMember('team', 'g2@example.test');
    await directory.addMember('team', 'all'); // a cycle
    await directory.addMember('team', 'g2@example.test'); // twice is once
    await assert.rejects(directory.addMember('team', 'ghost@example.test'), {
      reason: 'unknown-member',
    });
    await assert.rejects(directory.addMember('ghost', 'g1@example.test'), {
      reason: 'unknown-group',
    });
    assert.deepEqual(await directory.listGroups(), [
      { name: 'all', displayName: 'Everyone' },
      { name: 'team', displayName: null },
    ]);
    assert.deepEqual(await directory.members('all'), ['g1@example.test', 'team']);
    assert.deepEqual(await directory.members('all', { expand: true }), [
      'g1@example.test',
      'g2@example.test',
    ]);
    assert.deepEqual(await directory.members('team', { expand: true }), [
      'g1@example.test',
      'g2@example.test',
    ]);
    await directory.removeGroup('team');
    assert.deepEqual(await directory.members('all'), ['g1@example.test']);
    await assert.rejects(directory.removeGroup('team'), { reason: 'unknown-group' });
  });
});

describe('LDAP directory: TLS', () => {
  let slapd: SlapdInstance;

  before(async () => {
    slapd = await startSlapd({ tls: true });
  });

  after(async () => {
    await slapd.stop();
  });

  test('ldaps:// with the CA file, and StartTLS with the CA text, across a restart', async () => {
    const caFile = slapd.caCertFile ?? '';
    const ldapsUrl = slapd.ldapsUrl ?? '';
    const overLdaps = await LdapDirectory.open({
      ...optionsFor(slapd),
      url: ldapsUrl,
      tlsCa: caFile,
    });
    const overStartTls = await LdapDirectory.open({
      ...optionsFor(slapd),
      tlsCa: await readFile(caFile, 'utf8'),
    });
    try {
      await overLdaps.addUser({ address: 'tls@example.test', password: 'tls-pw' });
      assert.equal(await overStartTls.verifyPassword('tls@example.test', 'tls-pw'), true);
      await slapd.restart();
      // After the restart both must bind again (and StartTLS again) to see the hash, and
      // notice the dead connection at once rather than by waiting out the operation timeout.
      const started = Date.now();
      assert.equal(await overStartTls.verifyPassword('tls@example.test', 'tls-pw'), true);
      assert.equal(await overLdaps.verifyPassword('tls@example.test', 'tls-pw'), true);
      assert.ok(Date.now() - started < 5000, `reconnect took ${Date.now() - started} ms`);
    } finally {
      await overLdaps.close();
      await overStartTls.close();
    }
  });

  test('a server certificate from another CA is refused', async () => {
    const stranger = await startSlapd({ tls: true });
    try {
      await assert.rejects(
        LdapDirectory.open({
          ...optionsFor(slapd),
          url: slapd.ldapsUrl ?? '',
          tlsCa: stranger.caCertFile ?? '',
        }),
        { reason: 'backend' },
      );
    } finally {
      await stranger.stop();
    }
  });
});
