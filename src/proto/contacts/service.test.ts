import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTACTS_CONTENT_TYPE, parseContactList } from '../../codec/contacts/contacts.ts';
import { ContactListService, type ContactListChange } from './service.ts';
import { MemoryContactListStore } from './store.ts';

const OWNER = 'sip:alice@example.com';

function request(body: object | string, contentType: string | undefined = CONTACTS_CONTENT_TYPE) {
  return {
    owner: OWNER,
    contentType,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

describe('ContactListService', () => {
  test('get on a new user is the empty list, version 0', async () => {
    const service = new ContactListService(new MemoryContactListStore());
    const r = await service.handle(request({ op: 'get' }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers, [['Content-Type', CONTACTS_CONTENT_TYPE]]);
    assert.deepEqual(parseContactList(r.body ?? ''), {
      ok: true,
      value: { version: 0, groups: [], contacts: [] },
    });
  });

  test('a change is stored, answered with the full list and announced', async () => {
    const store = new MemoryContactListStore();
    const service = new ContactListService(store);
    const changes: ContactListChange[] = [];
    const off = service.onChange((c) => changes.push(c));
    const r = await service.handle(
      request({ op: 'put-contact', address: 'sip:Bob@X', name: 'Bob' }),
    );
    assert.equal(r.status, 200);
    const list = parseContactList(r.body ?? '');
    assert.ok(list.ok);
    assert.equal(list.value.version, 1);
    assert.equal(changes.length, 1);
    assert.equal(changes[0]?.owner, OWNER);
    assert.deepEqual(
      changes[0].list.contacts.map((c) => c.address),
      ['sip:Bob@x'],
    );
    assert.deepEqual(await store.get(OWNER), list.value);
    off();
    await service.handle(request({ op: 'put-group', name: 'g' }));
    assert.equal(changes.length, 1);
  });

  test('stale baseVersion is 412 with the current list', async () => {
    const service = new ContactListService(new MemoryContactListStore());
    await service.handle(request({ op: 'put-group', name: 'g' }));
    const r = await service.handle(request({ op: 'put-group', name: 'h', baseVersion: 0 }));
    assert.equal(r.status, 412);
    assert.equal(r.reason, 'Conditional Request Failed');
    const list = parseContactList(r.body ?? '');
    assert.ok(list.ok);
    assert.equal(list.value.version, 1);
  });

  test('wrong media type is 415, a bad body 400, an unknown contact 404', async () => {
    const service = new ContactListService(new MemoryContactListStore());
    assert.equal((await service.handle(request({ op: 'get' }, 'application/json'))).status, 415);
    assert.equal(
      (await service.handle({ ...request({ op: 'get' }), contentType: undefined })).status,
      415,
    );
    assert.equal((await service.handle(request('{'))).status, 400);
    assert.equal(
      (await service.handle(request({ op: 'delete-contact', address: 'sip:a@b' }))).status,
      404,
    );
  });

  test('a write racing another is applied again to the newer list', async () => {
    const store = new MemoryContactListStore();
    const service = new ContactListService(store);
    // Another node writes between this service's read and its write, once.
    let raced = false;
    const racing = {
      get: (owner: string) => store.get(owner),
      put: async (owner: string, list: Parameters<typeof store.put>[1], expected: number) => {
        if (!raced) {
          raced = true;
          await store.put(owner, { version: 1, groups: ['other'], contacts: [] }, 0);
        }
        return store.put(owner, list, expected);
      },
    };
    const r = await new ContactListService(racing).handle(
      request({ op: 'put-group', name: 'mine' }),
    );
    assert.equal(r.status, 200);
    assert.deepEqual((await service.list(OWNER)).groups, ['other', 'mine']);
  });

  test('a throwing listener is isolated', async () => {
    const errors: unknown[] = [];
    const service = new ContactListService(new MemoryContactListStore(), (e) => errors.push(e));
    service.onChange(() => {
      throw new Error('boom');
    });
    const r = await service.handle(request({ op: 'put-group', name: 'g' }));
    assert.equal(r.status, 200);
    assert.equal(errors.length, 1);
  });
});
