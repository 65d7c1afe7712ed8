import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONTACTS_LIMITS,
  EMPTY_CONTACT_LIST,
  type ContactList,
} from '../../codec/contacts/contacts.ts';
import { applyContactOp } from './apply.ts';

function apply(list: ContactList, op: Parameters<typeof applyContactOp>[1]): ContactList {
  const r = applyContactOp(list, op);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value.list;
}

describe('applyContactOp', () => {
  test('put, rename, regroup, delete; each change bumps the version', () => {
    let list = apply(EMPTY_CONTACT_LIST, {
      op: 'put-contact',
      address: 'sip:b@x',
      name: 'Bob',
      groups: ['Work'],
    });
    assert.deepEqual(list, {
      version: 1,
      groups: ['Work'],
      contacts: [{ address: 'sip:b@x', name: 'Bob', groups: ['Work'] }],
    });
    list = apply(list, { op: 'put-contact', address: 'sip:b@x', name: 'Robert' });
    assert.deepEqual(list.contacts[0], { address: 'sip:b@x', name: 'Robert', groups: ['Work'] });
    list = apply(list, { op: 'put-group', name: 'Friends' });
    list = apply(list, { op: 'put-contact', address: 'sip:b@x', groups: ['Friends', 'Friends'] });
    assert.deepEqual(list.contacts[0]?.groups, ['Friends']);
    list = apply(list, { op: 'delete-group', name: 'Friends' });
    assert.deepEqual(list.contacts[0]?.groups, []);
    assert.deepEqual(list.groups, ['Work']);
    list = apply(list, { op: 'delete-contact', address: 'sip:b@x' });
    assert.deepEqual(list, { version: 6, groups: ['Work'], contacts: [] });
  });

  test('get and an existing group change nothing', () => {
    const list = apply(EMPTY_CONTACT_LIST, { op: 'put-group', name: 'g' });
    const r = applyContactOp(list, { op: 'put-group', name: 'g' });
    assert.deepEqual(r, { ok: true, value: { list, changed: false } });
    assert.deepEqual(applyContactOp(list, { op: 'get' }), {
      ok: true,
      value: { list, changed: false },
    });
  });

  test('a stale baseVersion is 412, a current one applies', () => {
    const list = apply(EMPTY_CONTACT_LIST, { op: 'put-group', name: 'g' });
    const stale = applyContactOp(list, { op: 'put-group', name: 'h', baseVersion: 0 });
    assert.deepEqual(stale, { ok: false, error: { status: 412, reason: 'version changed' } });
    assert.equal(applyContactOp(list, { op: 'put-group', name: 'h', baseVersion: 1 }).ok, true);
  });

  test('unknown contact or group is 404', () => {
    assert.equal(
      applyContactOp(EMPTY_CONTACT_LIST, { op: 'delete-contact', address: 'sip:a@b' }).ok,
      false,
    );
    const r = applyContactOp(EMPTY_CONTACT_LIST, { op: 'delete-group', name: 'g' });
    assert.equal(!r.ok && r.error.status, 404);
  });

  test('the contact cap is 403', () => {
    const full: ContactList = {
      version: 1,
      groups: [],
      contacts: Array.from({ length: CONTACTS_LIMITS.maxContacts }, (_, i) => ({
        address: `sip:u${i}@x`,
        name: '',
        groups: [],
      })),
    };
    const r = applyContactOp(full, { op: 'put-contact', address: 'sip:new@x' });
    assert.equal(!r.ok && r.error.status, 403);
    // Updating an existing contact still works at the cap.
    assert.equal(
      applyContactOp(full, { op: 'put-contact', address: 'sip:u1@x', name: 'U' }).ok,
      true,
    );
  });
});
