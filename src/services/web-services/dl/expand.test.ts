import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandList, type ListSource } from './expand.ts';

function source(lists: Record<string, string[]>): ListSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    members: (list) => {
      calls.push(list);
      return Promise.resolve(lists[list] ?? []);
    },
    isList: (member) => member in lists,
  };
}

const limits = { maxMembers: 100, maxGroups: 100 };

test('nested lists expand to each user once, sorted; a shared sub-list is read once', async () => {
  const lists = source({
    all: ['b@x', 'eng', 'ops'],
    eng: ['a@x', 'core'],
    ops: ['c@x', 'core'],
    core: ['b@x', 'd@x'],
  });
  const result = await expandList('all', lists, limits);
  assert.deepEqual(result, {
    kind: 'expanded',
    users: ['a@x', 'b@x', 'c@x', 'd@x'],
    cycles: [],
    listsVisited: 4,
  });
  assert.deepEqual(lists.calls, ['all', 'eng', 'core', 'ops']);
});

test('cycles are reported as the path that closes them and do not loop', async () => {
  const result = await expandList(
    'a',
    source({ a: ['u1@x', 'b'], b: ['u2@x', 'c'], c: ['a', 'b', 'u3@x'], self: ['self'] }),
    limits,
  );
  assert.ok(result.kind === 'expanded');
  assert.deepEqual(result.cycles, [
    ['a', 'b', 'c', 'a'],
    ['b', 'c', 'b'],
  ]);
  assert.deepEqual(result.users, ['u1@x', 'u2@x', 'u3@x']);
  const self = await expandList('self', source({ self: ['self'] }), limits);
  assert.deepEqual(self, {
    kind: 'expanded',
    users: [],
    cycles: [['self', 'self']],
    listsVisited: 1,
  });
});

test('bounds: one user over maxMembers, one list over maxGroups', async () => {
  const users = Array.from({ length: 10 }, (_, i) => `u${String(i)}@x`);
  const lists = { big: [...users.slice(0, 5), 'more'], more: users.slice(5) };
  assert.equal(
    (await expandList('big', source(lists), { maxMembers: 10, maxGroups: 5 })).kind,
    'expanded',
  );
  assert.deepEqual(await expandList('big', source(lists), { maxMembers: 9, maxGroups: 5 }), {
    kind: 'too-large',
    bound: 'members',
  });
  const chain = Object.fromEntries(
    Array.from({ length: 6 }, (_, i) => [`l${String(i)}`, i < 5 ? [`l${String(i + 1)}`] : []]),
  );
  assert.equal(
    (await expandList('l0', source(chain), { maxMembers: 9, maxGroups: 6 })).kind,
    'expanded',
  );
  assert.deepEqual(await expandList('l0', source(chain), { maxMembers: 9, maxGroups: 5 }), {
    kind: 'too-large',
    bound: 'groups',
  });
});
