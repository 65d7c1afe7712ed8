/**
 * The behaviour every {@link Directory} backend must show, as one node:test suite that each
 * backend's test file runs against its own implementation (SQLite, LDAP). It uses only the
 * interface, and only what its documentation promises.
 *
 * The factory must return a fresh, empty directory configured with the realms
 * {@link CONTRACT_REALMS}; it is called once per test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import {
  DEFAULT_POLICY,
  DirectoryError,
  type Directory,
  type DirectoryErrorReason,
  type NewUser,
} from '../../src/store/directory.ts';

/** The realms the directory under test must be configured with, in this order. */
export const CONTRACT_REALMS: readonly string[] = Object.freeze(['example.test', 'other.test']);

/** A directory under test and how to dispose of it. */
export interface OpenedDirectory {
  readonly directory: Directory;
  close(): Promise<void>;
}

/** An HA1 computed here, independently of the code under test (RFC 7616 §3.4.2). */
function expectedHa1(user: string, realm: string, password: string, sha256: boolean): string {
  return createHash(sha256 ? 'sha256' : 'md5')
    .update(`${user}:${realm}:${password}`)
    .digest('hex');
}

async function rejectsWith(
  promise: Promise<unknown>,
  reason: DirectoryErrorReason,
  what: string,
): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) => {
      assert.ok(error instanceof DirectoryError, `${what}: not a DirectoryError: ${String(error)}`);
      assert.equal(error.reason, reason, `${what}: ${error.message}`);
      assert.equal(error.code, 'RAMPART_ERR_DIRECTORY');
      return true;
    },
    what,
  );
}

/** Runs the shared directory behaviour tests against the backend `open` returns. */
export function directoryContract(name: string, open: () => Promise<OpenedDirectory>): void {
  describe(`Directory contract: ${name}`, () => {
    let opened: OpenedDirectory | undefined;
    let dir: Directory;

    beforeEach(async () => {
      opened = await open();
      dir = opened.directory;
    });

    afterEach(async () => {
      await opened?.close();
      opened = undefined;
    });

    const user = (address: string, password = 'secret-1', extra: Partial<NewUser> = {}) =>
      dir.addUser({ address, password, ...extra });

    test('addUser returns the user with the default policy; getUser finds it', async () => {
      const added = await user('alice@example.test');
      const expected = {
        address: 'alice@example.test',
        displayName: null,
        email: null,
        enabled: true,
        policy: { ...DEFAULT_POLICY },
      };
      assert.deepEqual({ ...added, policy: { ...added.policy } }, expected);
      const got = await dir.getUser('alice@example.test');
      assert.ok(got !== undefined);
      assert.deepEqual({ ...got, policy: { ...got.policy } }, expected);
    });

    test('addUser keeps names, the enabled flag and a partial policy over the defaults', async () => {
      const added = await user('bob@example.test', 'pw', {
        displayName: 'Bob Builder',
        email: 'bob@mail.example.test',
        enabled: false,
        policy: { publicIm: true, maxEndpoints: 2 },
      });
      assert.equal(added.displayName, 'Bob Builder');
      assert.equal(added.email, 'bob@mail.example.test');
      assert.equal(added.enabled, false);
      assert.deepEqual({ ...added.policy }, { ...DEFAULT_POLICY, publicIm: true, maxEndpoints: 2 });
      assert.deepEqual(await dir.getUser('bob@example.test'), added);
    });

    test('addresses are canonicalised: sip: dropped, domain lower-cased, user part kept', async () => {
      const added = await user('sip:Alice@EXAMPLE.test');
      assert.equal(added.address, 'Alice@example.test');
      assert.equal((await dir.getUser('Alice@example.test'))?.address, 'Alice@example.test');
      assert.equal((await dir.getUser('sip:Alice@Example.TEST'))?.address, 'Alice@example.test');
      await rejectsWith(user('Alice@example.TEST'), 'duplicate', 'same user, other spelling');
    });

    test('a second user with the same address is a duplicate and changes nothing', async () => {
      await user('carol@example.test', 'first', { displayName: 'Carol' });
      await rejectsWith(user('carol@example.test', 'second'), 'duplicate', 'duplicate');
      assert.equal(await dir.countUsers(), 1);
      assert.equal((await dir.getUser('carol@example.test'))?.displayName, 'Carol');
      assert.equal(await dir.verifyPassword('carol@example.test', 'first'), true);
      assert.equal(await dir.verifyPassword('carol@example.test', 'second'), false);
    });

    test('malformed addresses are refused with invalid-address', async () => {
      for (const address of [
        '',
        'alice',
        '@example.test',
        'alice@',
        'alice@exa mple.test',
        'a b@example.test',
        'alice@example.test:5060',
        'sip:alice@example.test;transport=tcp',
        'alice@-bad-.test',
        '<sip:alice@example.test>',
        `${'x'.repeat(200)}@example.test`,
      ]) {
        await rejectsWith(user(address), 'invalid-address', JSON.stringify(address));
      }
      assert.equal(await dir.countUsers(), 0);
    });

    test('getUser of an unknown or malformed address is undefined', async () => {
      await user('alice@example.test');
      assert.equal(await dir.getUser('nobody@example.test'), undefined);
      assert.equal(await dir.getUser('alice@other.test'), undefined);
      assert.equal(await dir.getUser('not an address'), undefined);
    });

    test('listUsers is sorted by address and pages with prefix, limit and offset', async () => {
      const addresses = [
        'dave@example.test',
        'alice@example.test',
        'carol@other.test',
        'bob@example.test',
        'alan@example.test',
      ];
      for (const address of addresses) await user(address);
      const sorted = [...addresses].sort();
      const listed = async (options?: Parameters<Directory['listUsers']>[0]) =>
        (await dir.listUsers(options)).map((u) => u.address);
      assert.deepEqual(await listed(), sorted);
      assert.deepEqual(await listed({ prefix: 'al' }), ['alan@example.test', 'alice@example.test']);
      assert.deepEqual(await listed({ prefix: 'alice@' }), ['alice@example.test']);
      assert.deepEqual(await listed({ prefix: 'zed' }), []);
      assert.deepEqual(await listed({ limit: 2 }), sorted.slice(0, 2));
      assert.deepEqual(await listed({ offset: 3 }), sorted.slice(3));
      assert.deepEqual(await listed({ limit: 2, offset: 2 }), sorted.slice(2, 4));
      assert.deepEqual(await listed({ limit: 0 }), []);
      assert.deepEqual(await listed({ offset: 10 }), []);
      assert.deepEqual(await listed({ prefix: 'a', limit: 1, offset: 1 }), ['alice@example.test']);
      assert.equal(await dir.countUsers(), 5);
      const full = await dir.listUsers({ prefix: 'bob' });
      assert.deepEqual(full[0], await dir.getUser('bob@example.test'));
    });

    test('an empty directory lists and counts nothing', async () => {
      assert.deepEqual(await dir.listUsers(), []);
      assert.equal(await dir.countUsers(), 0);
      assert.deepEqual(await dir.listGroups(), []);
    });

    test('verifyPassword: the right password, not a wrong one, not an unknown user', async () => {
      await user('alice@example.test', 'correct horse');
      assert.equal(await dir.verifyPassword('alice@example.test', 'correct horse'), true);
      assert.equal(await dir.verifyPassword('sip:alice@EXAMPLE.test', 'correct horse'), true);
      assert.equal(await dir.verifyPassword('alice@example.test', 'correct horsE'), false);
      assert.equal(await dir.verifyPassword('alice@example.test', ''), false);
      assert.equal(await dir.verifyPassword('bob@example.test', 'correct horse'), false);
      assert.equal(await dir.verifyPassword('garbage', 'correct horse'), false);
    });

    test('digestHa1 is H(user-part:realm:password) for each realm and both algorithms', async () => {
      await user('sip:Alice@EXAMPLE.test', 'pässword');
      for (const realm of CONTRACT_REALMS) {
        assert.equal(
          await dir.digestHa1('Alice@example.test', realm, 'MD5'),
          expectedHa1('Alice', realm, 'pässword', false),
          `MD5 ${realm}`,
        );
        assert.equal(
          await dir.digestHa1('Alice@example.test', realm, 'SHA-256'),
          expectedHa1('Alice', realm, 'pässword', true),
          `SHA-256 ${realm}`,
        );
      }
      assert.equal(await dir.digestHa1('Alice@example.test', 'unknown.test', 'MD5'), undefined);
      assert.equal(await dir.digestHa1('Alice@example.test', 'unknown.test', 'SHA-256'), undefined);
      assert.equal(await dir.digestHa1('bob@example.test', 'example.test', 'MD5'), undefined);
    });

    test('setPassword replaces the sign-in hash and every HA1', async () => {
      await user('alice@example.test', 'old password');
      await dir.setPassword('sip:alice@example.test', 'new password');
      assert.equal(await dir.verifyPassword('alice@example.test', 'new password'), true);
      assert.equal(await dir.verifyPassword('alice@example.test', 'old password'), false);
      for (const realm of CONTRACT_REALMS) {
        assert.equal(
          await dir.digestHa1('alice@example.test', realm, 'MD5'),
          expectedHa1('alice', realm, 'new password', false),
        );
        assert.equal(
          await dir.digestHa1('alice@example.test', realm, 'SHA-256'),
          expectedHa1('alice', realm, 'new password', true),
        );
      }
      await rejectsWith(dir.setPassword('bob@example.test', 'x'), 'unknown-user', 'unknown');
    });

    test('updateUser changes the policy, the enabled flag and names; the rest stays', async () => {
      await user('alice@example.test', 'pw', { displayName: 'Alice', email: 'a@mail.test' });
      const updated = await dir.updateUser('alice@example.test', {
        enabled: false,
        federation: false,
        publicIm: true,
        maxEndpoints: 3,
      });
      const expectedPolicy = {
        ...DEFAULT_POLICY,
        federation: false,
        publicIm: true,
        maxEndpoints: 3,
      };
      assert.equal(updated.enabled, false);
      assert.deepEqual({ ...updated.policy }, expectedPolicy);
      assert.equal(updated.displayName, 'Alice');
      assert.equal(updated.email, 'a@mail.test');
      assert.deepEqual(await dir.getUser('alice@example.test'), updated);

      const renamed = await dir.updateUser('sip:alice@example.test', {
        displayName: 'Alice Liddell',
        email: null,
        enabled: true,
      });
      assert.equal(renamed.displayName, 'Alice Liddell');
      assert.equal(renamed.email, null);
      assert.equal(renamed.enabled, true);
      assert.deepEqual({ ...renamed.policy }, expectedPolicy);
      // The password is untouched by an update.
      assert.equal(await dir.verifyPassword('alice@example.test', 'pw'), true);
      await rejectsWith(
        dir.updateUser('bob@example.test', { enabled: false }),
        'unknown-user',
        'unknown user',
      );
    });

    test('removeUser removes the user, its secrets and its memberships', async () => {
      await user('alice@example.test', 'pw');
      await user('bob@example.test', 'pw');
      await dir.addGroup('sales');
      await dir.addMember('sales', 'alice@example.test');
      await dir.addMember('sales', 'bob@example.test');
      await dir.removeUser('sip:alice@example.test');
      assert.equal(await dir.getUser('alice@example.test'), undefined);
      assert.equal(await dir.countUsers(), 1);
      assert.equal(await dir.verifyPassword('alice@example.test', 'pw'), false);
      assert.equal(await dir.digestHa1('alice@example.test', 'example.test', 'MD5'), undefined);
      assert.deepEqual(await dir.members('sales'), ['bob@example.test']);
      assert.deepEqual(await dir.members('sales', { expand: true }), ['bob@example.test']);
      await rejectsWith(dir.removeUser('alice@example.test'), 'unknown-user', 'twice');
      // The address is free again, with fresh secrets.
      await user('alice@example.test', 'again');
      assert.equal(await dir.verifyPassword('alice@example.test', 'again'), true);
      assert.deepEqual(await dir.members('sales'), ['bob@example.test']);
    });

    test('groups: add, list sorted, duplicates, invalid names, remove', async () => {
      assert.deepEqual(await dir.addGroup('sales', 'Sales team'), {
        name: 'sales',
        displayName: 'Sales team',
      });
      assert.deepEqual(await dir.addGroup('engineering'), {
        name: 'engineering',
        displayName: null,
      });
      assert.deepEqual(await dir.listGroups(), [
        { name: 'engineering', displayName: null },
        { name: 'sales', displayName: 'Sales team' },
      ]);
      await rejectsWith(dir.addGroup('sales'), 'duplicate', 'duplicate group');
      for (const bad of ['', ' sales', 'sales ', 'tab\there', 'nl\nhere', 'x'.repeat(300)]) {
        await rejectsWith(dir.addGroup(bad), 'invalid-name', JSON.stringify(bad));
      }
      await dir.removeGroup('sales');
      assert.deepEqual(await dir.listGroups(), [{ name: 'engineering', displayName: null }]);
      await rejectsWith(dir.removeGroup('sales'), 'unknown-group', 'removed group');
      await rejectsWith(dir.members('sales'), 'unknown-group', 'members of removed group');
    });

    test('members: users and nested groups, direct and expanded', async () => {
      for (const address of ['carol@example.test', 'alice@example.test', 'bob@other.test']) {
        await user(address);
      }
      await dir.addGroup('all');
      await dir.addGroup('team');
      await dir.addGroup('empty');
      await dir.addMember('team', 'carol@example.test');
      await dir.addMember('team', 'sip:bob@OTHER.test');
      await dir.addMember('all', 'alice@example.test');
      await dir.addMember('all', 'team');
      await dir.addMember('all', 'empty');
      await dir.addMember('all', 'carol@example.test');
      // Adding a member twice is harmless.
      await dir.addMember('all', 'alice@example.test');
      assert.deepEqual(await dir.members('all'), [
        'alice@example.test',
        'carol@example.test',
        'empty',
        'team',
      ]);
      assert.deepEqual(await dir.members('all', { expand: false }), await dir.members('all'));
      assert.deepEqual(await dir.members('all', { expand: true }), [
        'alice@example.test',
        'bob@other.test',
        'carol@example.test',
      ]);
      assert.deepEqual(await dir.members('empty', { expand: true }), []);

      await dir.removeMember('all', 'team');
      assert.deepEqual(await dir.members('all', { expand: true }), [
        'alice@example.test',
        'carol@example.test',
      ]);
      await dir.removeMember('all', 'alice@example.test');
      assert.deepEqual(await dir.members('all'), ['carol@example.test', 'empty']);
    });

    test('nested groups: cycles and self-membership are tolerated, users listed once', async () => {
      await user('alice@example.test');
      await user('bob@example.test');
      for (const group of ['a', 'b', 'c']) await dir.addGroup(group);
      await dir.addMember('a', 'b');
      await dir.addMember('b', 'c');
      await dir.addMember('c', 'a');
      await dir.addMember('a', 'a');
      await dir.addMember('a', 'alice@example.test');
      await dir.addMember('c', 'alice@example.test');
      await dir.addMember('b', 'bob@example.test');
      for (const group of ['a', 'b', 'c']) {
        assert.deepEqual(
          await dir.members(group, { expand: true }),
          ['alice@example.test', 'bob@example.test'],
          group,
        );
      }
    });

    test('removing a group removes it from the groups it was a member of', async () => {
      await user('alice@example.test');
      await dir.addGroup('outer');
      await dir.addGroup('inner');
      await dir.addMember('inner', 'alice@example.test');
      await dir.addMember('outer', 'inner');
      await dir.removeGroup('inner');
      assert.deepEqual(await dir.members('outer'), []);
      assert.deepEqual(await dir.members('outer', { expand: true }), []);
    });

    test('member errors: unknown group, unknown member', async () => {
      await user('alice@example.test');
      await dir.addGroup('sales');
      await rejectsWith(dir.addMember('nope', 'alice@example.test'), 'unknown-group', 'group');
      await rejectsWith(dir.addMember('sales', 'bob@example.test'), 'unknown-member', 'user');
      await rejectsWith(dir.addMember('sales', 'no-such-group'), 'unknown-member', 'group');
      await rejectsWith(dir.removeMember('nope', 'alice@example.test'), 'unknown-group', 'rm');
      await rejectsWith(dir.members('nope'), 'unknown-group', 'members');
      assert.deepEqual(await dir.members('sales'), []);
    });

    test('addUsers adds every user, reports progress and returns the count', async () => {
      const total = 2500;
      function* generate(): Generator<NewUser> {
        for (let i = 0; i < total; i++) {
          yield {
            address: `sip:user${String(i).padStart(5, '0')}@EXAMPLE.test`,
            password: `pw-${i}`,
            ...(i % 2 === 0 ? { displayName: `User ${i}` } : {}),
            ...(i === 7 ? { enabled: false, policy: { publicIm: true } } : {}),
          };
        }
      }
      const progress: number[] = [];
      assert.equal(await dir.addUsers(generate(), (done) => progress.push(done)), total);
      assert.ok(progress.length >= 1, 'progress reported');
      assert.equal(progress.at(-1), total);
      for (let i = 1; i < progress.length; i++) {
        assert.ok((progress[i] ?? 0) >= (progress[i - 1] ?? 0), 'progress never goes back');
      }
      assert.ok(progress.every((done) => done >= 0 && done <= total));
      assert.equal(await dir.countUsers(), total);
      const first = await dir.getUser('user00000@example.test');
      assert.ok(first !== undefined);
      assert.equal(first.displayName, 'User 0');
      assert.equal(first.enabled, true);
      const seventh = await dir.getUser('user00007@example.test');
      assert.ok(seventh !== undefined);
      assert.equal(seventh.enabled, false);
      assert.equal(seventh.policy.publicIm, true);
      assert.equal(seventh.displayName, null);
      assert.equal(
        await dir.digestHa1('user01234@example.test', 'other.test', 'SHA-256'),
        expectedHa1('user01234', 'other.test', 'pw-1234', true),
      );
      assert.equal(
        await dir.digestHa1('user01234@example.test', 'example.test', 'MD5'),
        expectedHa1('user01234', 'example.test', 'pw-1234', false),
      );
      // Web sign-in works for imported users, the first time and after.
      assert.equal(await dir.verifyPassword('user00042@example.test', 'pw-41'), false);
      assert.equal(await dir.verifyPassword('user00042@example.test', 'pw-42'), true);
      assert.equal(await dir.verifyPassword('user00042@example.test', 'pw-42'), true);
      assert.equal(await dir.verifyPassword('user00042@example.test', 'pw-41'), false);
      assert.deepEqual(
        (await dir.listUsers({ prefix: 'user0249', limit: 3 })).map((u) => u.address),
        ['user02490@example.test', 'user02491@example.test', 'user02492@example.test'],
      );
    });

    test('addUsers of nothing returns 0', async () => {
      assert.equal(await dir.addUsers([]), 0);
      assert.equal(await dir.countUsers(), 0);
    });

    test('addUsers refuses an existing address and a malformed one', async () => {
      await user('alice@example.test', 'original');
      await rejectsWith(
        dir.addUsers([{ address: 'alice@example.test', password: 'x' }]),
        'duplicate',
        'existing',
      );
      await rejectsWith(
        dir.addUsers([{ address: 'not-an-address', password: 'x' }]),
        'invalid-address',
        'malformed',
      );
      assert.equal(await dir.verifyPassword('alice@example.test', 'original'), true);
    });
  });
}
