import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SipRequest } from '../../codec/sip/message.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import type { HeaderLine } from '../../codec/sip/serialize.ts';
import { FakeClock } from '../../lib/clock.ts';
import { InMemoryBindingStore } from './memory-store.ts';
import { Registrar, type RegisterResult, type RegistrarOptions } from './registrar.ts';
import type { BindingStore } from './types.ts';

const ALICE = 'sip:alice@example.com';
const INSTANCE = '<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>';
const SECRET = 'a registrar secret of 32 bytes!!';
const T0 = 1_700_000_000_000;

interface RegisterSpec {
  contacts?: readonly string[];
  callId?: string;
  cseq?: number;
  expires?: string;
  to?: string;
  extra?: string;
  vias?: number;
}

function registerRequest(spec: RegisterSpec = {}): SipRequest {
  let vias = '';
  for (let i = 0; i < (spec.vias ?? 1); i++) {
    vias += `Via: SIP/2.0/TLS 192.0.2.${i + 1}:5061;branch=z9hG4bK${i}x\r\n`;
  }
  const raw = Buffer.from(
    'REGISTER sip:example.com SIP/2.0\r\n' +
      vias +
      'Max-Forwards: 70\r\n' +
      `From: <${ALICE}>;tag=a1\r\n` +
      `To: <${spec.to ?? ALICE}>\r\n` +
      `Call-ID: ${spec.callId ?? 'call-1'}\r\n` +
      `CSeq: ${spec.cseq ?? 1} REGISTER\r\n` +
      (spec.contacts ?? []).map((c) => `Contact: ${c}\r\n`).join('') +
      (spec.expires === undefined ? '' : `Expires: ${spec.expires}\r\n`) +
      (spec.extra ?? '') +
      'Content-Length: 0\r\n\r\n',
  );
  const parsed = parseSipMessage(raw);
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

function setup(options: Partial<RegistrarOptions> = {}): {
  registrar: Registrar;
  store: InMemoryBindingStore;
  clock: FakeClock;
} {
  const store = new InMemoryBindingStore();
  const registrar = new Registrar({
    store,
    domains: ['example.com'],
    gruuSecret: SECRET,
    ...options,
  });
  return { registrar, store, clock: new FakeClock(T0) };
}

function headerValue(result: RegisterResult, name: string): string[] {
  return result.headers
    .filter(([n]) => n.toLowerCase() === name.toLowerCase())
    .map(([, v]: HeaderLine) => v);
}

describe('Registrar: RFC 3261 §10.3', () => {
  it('step 7/8: adds a binding with the default expiry and lists it in the 200', async () => {
    const { registrar, store, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7:5061;transport=tls>'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.equal(result.aor, ALICE);
    assert.deepEqual(headerValue(result, 'Contact'), [
      '<sip:alice@198.51.100.7:5061;transport=tls>;expires=3600',
    ]);
    assert.equal(headerValue(result, 'Date')[0], new Date(T0).toUTCString());
    assert.equal(result.changes.added.length, 1);
    assert.equal(store.size, 1);
    const [binding] = registrar.lookup(ALICE, clock.now());
    assert.equal(binding?.expiresAt, T0 + 3600_000);
  });

  it('step 7: the expires parameter wins over the Expires header, and the maximum clamps', async () => {
    const { registrar, clock } = setup({ maxExpiresSeconds: 1800 });
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>;expires=120', '<sip:alice@198.51.100.8>'],
        expires: '86400',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    const contacts = headerValue(result, 'Contact').sort();
    assert.deepEqual(contacts, [
      '<sip:alice@198.51.100.7>;expires=120',
      '<sip:alice@198.51.100.8>;expires=1800',
    ]);
  });

  it('step 7: an interval under the minimum is answered 423 with Min-Expires', async () => {
    const { registrar, clock } = setup({ minExpiresSeconds: 60 });
    const result = await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>;expires=30'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 423);
    assert.deepEqual(headerValue(result, 'Min-Expires'), ['60']);
    assert.equal(registrar.size, 0);
  });

  it('step 7: refresh with a higher CSeq updates; same or lower CSeq on the same Call-ID is 500', async () => {
    const { registrar, clock } = setup();
    const contact = '<sip:alice@198.51.100.7>';
    const first = await registrar.register({
      request: registerRequest({ contacts: [contact], cseq: 5 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(first.status, 200);
    clock.advance(10_000);
    const stale = await registrar.register({
      request: registerRequest({ contacts: [`${contact};expires=600`], cseq: 5 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(stale.status, 500);
    assert.equal(registrar.lookup(ALICE, clock.now())[0]?.cseq, 5);
    assert.equal(registrar.lookup(ALICE, clock.now())[0]?.expiresAt, T0 + 3600_000);
    const refresh = await registrar.register({
      request: registerRequest({ contacts: [`${contact};expires=600`], cseq: 6 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(refresh.status, 200);
    assert.equal(refresh.changes.refreshed.length, 1);
    assert.equal(refresh.changes.added.length, 0);
    const binding = registrar.lookup(ALICE, clock.now())[0];
    assert.equal(binding?.expiresAt, clock.now() + 600_000);
    assert.equal(binding.registeredAt, T0);
  });

  it('step 7: a different Call-ID updates the binding whatever its CSeq', async () => {
    const { registrar, clock } = setup();
    const contact = '<sip:alice@198.51.100.7>';
    await registrar.register({
      request: registerRequest({ contacts: [contact], cseq: 50 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const other = await registrar.register({
      request: registerRequest({ contacts: [contact], cseq: 1, callId: 'call-2' }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(other.status, 200);
    assert.equal(registrar.lookup(ALICE, clock.now()).length, 1);
    assert.equal(registrar.lookup(ALICE, clock.now())[0]?.callId, 'call-2');
  });

  it('step 7: URI comparison (§19.1.4) matches an equivalent contact', async () => {
    const { registrar, clock } = setup();
    await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@Host.Example.NET:5060>'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const again = await registrar.register({
      request: registerRequest({ contacts: ['<sip:%61lice@host.example.net:5060>'], cseq: 2 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(again.status, 200);
    assert.equal(again.changes.refreshed.length, 1);
    assert.equal(registrar.size, 1);
  });

  it('step 7: expires=0 removes one binding; removing an unknown one is fine', async () => {
    const { registrar, store, clock } = setup();
    await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>', '<sip:alice@198.51.100.8>'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>;expires=0', '<sip:alice@203.0.113.9>;expires=0'],
        cseq: 2,
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.equal(result.changes.removed.length, 1);
    assert.deepEqual(headerValue(result, 'Contact'), ['<sip:alice@198.51.100.8>;expires=3600']);
    assert.equal(store.size, 1);
  });

  it('step 6: "*" with Expires: 0 removes every binding', async () => {
    const { registrar, store, clock } = setup();
    await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>', '<sip:alice@198.51.100.8>'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const result = await registrar.register({
      request: registerRequest({ contacts: ['*'], expires: '0', cseq: 2 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.equal(result.changes.removed.length, 2);
    assert.deepEqual(headerValue(result, 'Contact'), []);
    assert.equal(store.size, 0);
  });

  it('step 6: "*" without Expires: 0, or with other contacts, is 400', async () => {
    const { registrar, clock } = setup();
    for (const spec of [
      { contacts: ['*'] },
      { contacts: ['*'], expires: '10' },
      { contacts: ['*', '<sip:alice@198.51.100.7>'], expires: '0' },
      { contacts: ['*;expires=0'] },
    ]) {
      const result = await registrar.register({
        request: registerRequest(spec),
        authenticatedAor: ALICE,
        now: clock.now(),
      });
      assert.equal(result.status, 400, JSON.stringify(spec));
    }
  });

  it('step 6: "*" with the same Call-ID and an old CSeq is 500, nothing removed', async () => {
    const { registrar, clock } = setup();
    await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>'], cseq: 9 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const result = await registrar.register({
      request: registerRequest({ contacts: ['*'], expires: '0', cseq: 9 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 500);
    assert.equal(registrar.size, 1);
  });

  it('step 8: a REGISTER without Contact is a query listing the bindings', async () => {
    const { registrar, clock } = setup();
    await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    clock.advance(1000_500);
    const result = await registrar.register({
      request: registerRequest({ cseq: 2 }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.deepEqual(headerValue(result, 'Contact'), ['<sip:alice@198.51.100.7>;expires=2600']);
    assert.deepEqual(result.changes, { added: [], refreshed: [], removed: [] });
  });

  it('step 8: all or nothing — one bad contact leaves every binding unchanged', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>', '<sip:alice@198.51.100.8>;expires=5'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 423);
    assert.equal(registrar.size, 0);
  });

  it('step 8: a store failure is 500 and the tentative bindings are removed', async () => {
    const errors: unknown[] = [];
    const { registrar, store, clock } = setup({ onStoreError: (e) => errors.push(e) });
    store.failWith = new Error('disk full');
    const result = await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 500);
    assert.equal(result.reason, 'Binding Store Failure');
    assert.equal(registrar.lookup(ALICE, clock.now()).length, 0);
    assert.ok(errors.length >= 1);
  });

  it('step 8: writes reach the store at once, in order, not one per earlier commit', async () => {
    // A store that commits only when told to, as a batching store does: every REGISTER's
    // write must be handed over before any earlier one has committed.
    const calls: string[] = [];
    const pending: (() => void)[] = [];
    const inner = new InMemoryBindingStore();
    const store: BindingStore = {
      save: async (binding) => {
        calls.push(`save ${binding.aor}`);
        await new Promise<void>((resolve) => pending.push(resolve));
        await inner.save(binding);
      },
      delete: (id) => inner.delete(id),
      loadAll: () => inner.loadAll(),
    };
    const registrar = new Registrar({
      store,
      domains: ['example.com'],
      gruuSecret: SECRET,
      mayRegisterFor: () => true,
    });
    const users = ['alice', 'bob', 'carol'];
    const results = users.map((user) =>
      registrar.register({
        request: registerRequest({
          contacts: [`<sip:${user}@198.51.100.7>`],
          to: `sip:${user}@example.com`,
          callId: `call-${user}`,
        }),
        authenticatedAor: `sip:${user}@example.com`,
        now: T0,
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      calls,
      users.map((user) => `save sip:${user}@example.com`),
    );
    for (const commit of pending) commit();
    for (const result of await Promise.all(results)) assert.equal(result.status, 200);
    await registrar.flush();
    assert.equal(inner.size, 3);
  });

  it('step 4: registering another user is 403 unless policy allows it', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({ contacts: ['<sip:bob@198.51.100.7>'], to: 'sip:bob@example.com' }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 403);
    const admin = setup({ mayRegisterFor: (who) => who === ALICE });
    const allowed = await admin.registrar.register({
      request: registerRequest({ contacts: ['<sip:bob@198.51.100.7>'], to: 'sip:bob@example.com' }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.aor, 'sip:bob@example.com');
  });

  it('step 5: the AOR is canonical (params, escapes, sips, case) and another domain is 404', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>'],
        to: 'sips:%61lice@EXAMPLE.com;user=phone',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.equal(result.aor, ALICE);
    const foreign = await registrar.register({
      request: registerRequest({ contacts: ['<sip:x@198.51.100.7>'], to: 'sip:alice@example.org' }),
      authenticatedAor: 'sip:alice@example.org',
      now: clock.now(),
    });
    assert.equal(foreign.status, 404);
  });

  it('step 2: an unsupported Require is 420 with Unsupported', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>'],
        extra: 'Require: foo, path\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 420);
    assert.deepEqual(headerValue(result, 'Unsupported'), ['foo']);
  });

  it('rejects malformed contacts, q values and reg-ids with 400', async () => {
    const { registrar, clock } = setup();
    for (const contact of [
      '<sip:alice@198.51.100.7>;q=1.5',
      '<sip:alice@198.51.100.7>;q',
      '<sip:alice@198.51.100.7',
      `<sip:alice@198.51.100.7>;+sip.instance="${INSTANCE}";reg-id=0`,
    ]) {
      const result = await registrar.register({
        request: registerRequest({ contacts: [contact] }),
        authenticatedAor: ALICE,
        now: clock.now(),
      });
      assert.equal(result.status, 400, contact);
    }
    const many = await registrar.register({
      request: registerRequest({
        contacts: Array.from({ length: 17 }, (_, i) => `<sip:alice@198.51.100.${i + 1}>`),
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(many.status, 400);
  });

  it('lookup orders by q, and the 200 writes q and feature parameters back', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: [
          '<sip:alice@198.51.100.7>;q=0.1',
          '<sip:alice@198.51.100.8>;q=0.9;methods="INVITE, MESSAGE"',
          '<sip:alice@198.51.100.9>',
        ],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    const ordered = registrar.lookup('sip:alice@EXAMPLE.COM', clock.now()).map((b) => b.contact);
    assert.deepEqual(ordered, [
      'sip:alice@198.51.100.9',
      'sip:alice@198.51.100.8',
      'sip:alice@198.51.100.7',
    ]);
    assert.ok(
      headerValue(result, 'Contact').includes(
        '<sip:alice@198.51.100.8>;expires=3600;q=0.9;methods="INVITE, MESSAGE"',
      ),
    );
  });
});

describe('Registrar: caps', () => {
  it('refuses a binding beyond the per-user cap with 403 and a clear reason; refreshes still pass', async () => {
    const { registrar, clock } = setup();
    const ok = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>', '<sip:alice@198.51.100.8>'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
      maxEndpoints: 2,
    });
    assert.equal(ok.status, 200);
    const third = await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.9>'], cseq: 2 }),
      authenticatedAor: ALICE,
      now: clock.now(),
      maxEndpoints: 2,
    });
    assert.equal(third.status, 403);
    assert.equal(third.reason, 'Too Many Registered Endpoints (limit 2)');
    const refresh = await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>'], cseq: 3 }),
      authenticatedAor: ALICE,
      now: clock.now(),
      maxEndpoints: 2,
    });
    assert.equal(refresh.status, 200);
  });

  it('refuses new bindings beyond the global cap with 503 and Retry-After', async () => {
    const { registrar, clock } = setup({ maxBindings: 1 });
    await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:bob@198.51.100.8>'],
        to: 'sip:bob@example.com',
        callId: 'b',
      }),
      authenticatedAor: 'sip:bob@example.com',
      now: clock.now(),
    });
    assert.equal(result.status, 503);
    assert.deepEqual(headerValue(result, 'Retry-After'), ['60']);
  });
});

describe('Registrar: expiry, persistence', () => {
  it('expire(now) removes lapsed bindings at their deadline and returns them', async () => {
    const { registrar, store, clock } = setup();
    await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>;expires=60', '<sip:alice@198.51.100.8>;expires=120'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(registrar.nextExpiryAt, T0 + 60_000);
    clock.advance(59_999);
    assert.deepEqual(registrar.expire(clock.now()), []);
    clock.advance(1);
    const removed = registrar.expire(clock.now());
    assert.deepEqual(
      removed.map((b) => b.contact),
      ['sip:alice@198.51.100.7'],
    );
    assert.equal(registrar.nextExpiryAt, T0 + 120_000);
    await registrar.flush();
    assert.equal(store.size, 1);
  });

  it('a lapsed binding is invisible to lookup before the sweep', async () => {
    const { registrar, clock } = setup();
    await registrar.register({
      request: registerRequest({ contacts: ['<sip:alice@198.51.100.7>;expires=60'] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    clock.advance(60_000);
    assert.deepEqual(registrar.lookup(ALICE, clock.now()), []);
  });

  it('restores from the store at start, dropping expired bindings', async () => {
    const { registrar, store, clock } = setup();
    await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>;expires=60', '<sip:alice@198.51.100.8>;expires=600'],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    clock.advance(120_000);
    const restarted = new Registrar({ store, domains: ['example.com'], gruuSecret: SECRET });
    assert.deepEqual(await restarted.restore(clock.now()), { restored: 1, dropped: 1 });
    assert.deepEqual(
      restarted.lookup(ALICE, clock.now()).map((b) => b.contact),
      ['sip:alice@198.51.100.8'],
    );
    await restarted.flush();
    assert.equal(store.size, 1);
  });
});

describe('Registrar: GRUU (RFC 5627)', () => {
  const contact = `<sip:alice@198.51.100.7;transport=tls>;+sip.instance="${INSTANCE}"`;

  it('returns pub-gruu and temp-gruu with Supported: gruu, and both resolve to the binding', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({ contacts: [contact], extra: 'Supported: gruu, path\r\n' }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    const value = headerValue(result, 'Contact')[0] ?? '';
    const pub = /;pub-gruu="([^"]+)"/.exec(value)?.[1];
    const temp = /;temp-gruu="([^"]+)"/.exec(value)?.[1];
    assert.equal(pub, 'sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    assert.ok(temp !== undefined);
    assert.ok(temp.startsWith('sip:tgruu.'));
    assert.ok(temp.endsWith('@example.com;gr'));
    assert.ok(!temp.includes('alice'), 'a temporary GRUU does not reveal the AOR');
    const byPub = registrar.resolveGruu(pub, clock.now());
    assert.equal(byPub?.kind, 'public');
    assert.equal(byPub.bindings.length, 1);
    assert.equal(byPub.bindings[0]?.contact, 'sip:alice@198.51.100.7;transport=tls');
    const byTemp = registrar.resolveGruu(temp, clock.now());
    assert.equal(byTemp?.kind, 'temporary');
    assert.equal(byTemp.aor, ALICE);
    assert.equal(byTemp.bindings.length, 1);
  });

  it('issues a new temp-gruu per refresh, old ones stay valid; a new Call-ID invalidates them', async () => {
    const { registrar, clock } = setup();
    const tempOf = (result: RegisterResult): string =>
      /;temp-gruu="([^"]+)"/.exec(headerValue(result, 'Contact')[0] ?? '')?.[1] ?? '';
    const first = tempOf(
      await registrar.register({
        request: registerRequest({ contacts: [contact], extra: 'Supported: gruu\r\n' }),
        authenticatedAor: ALICE,
        now: clock.now(),
      }),
    );
    const second = tempOf(
      await registrar.register({
        request: registerRequest({ contacts: [contact], cseq: 2, extra: 'Supported: gruu\r\n' }),
        authenticatedAor: ALICE,
        now: clock.now(),
      }),
    );
    assert.notEqual(first, second);
    assert.equal(registrar.resolveGruu(first, clock.now())?.bindings.length, 1);
    assert.equal(registrar.resolveGruu(second, clock.now())?.bindings.length, 1);
    // Same instance, new Call-ID: same binding (keyed by instance), earlier temp GRUUs die.
    const third = await registrar.register({
      request: registerRequest({
        contacts: [contact],
        callId: 'call-after-reboot',
        extra: 'Supported: gruu\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(third.changes.refreshed.length, 1);
    assert.equal(registrar.resolveGruu(first, clock.now())?.bindings.length, 0);
    assert.equal(registrar.resolveGruu(tempOf(third), clock.now())?.bindings.length, 1);
  });

  it('does not resolve forged or altered temporary GRUUs, nor those of another secret', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({ contacts: [contact], extra: 'Supported: gruu\r\n' }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    const temp = /;temp-gruu="([^"]+)"/.exec(headerValue(result, 'Contact')[0] ?? '')?.[1] ?? '';
    const token = temp.slice('sip:tgruu.'.length, temp.indexOf('@'));
    const flipped = `${token.slice(0, 30)}${token[30] === 'A' ? 'B' : 'A'}${token.slice(31)}`;
    assert.equal(registrar.resolveGruu(temp.replace(token, flipped), clock.now()), undefined);
    assert.equal(registrar.resolveGruu('sip:tgruu.AAAA@example.com;gr', clock.now()), undefined);
    assert.equal(registrar.resolveGruu('sip:alice@example.com', clock.now()), undefined);
    const other = setup({ gruuSecret: 'another secret, also long enough' });
    assert.equal(other.registrar.resolveGruu(temp, clock.now()), undefined);
  });

  it('no GRUU without Supported: gruu; a GRUU as Contact is 403; expiry empties the GRUU', async () => {
    const { registrar, clock } = setup();
    const plain = await registrar.register({
      request: registerRequest({ contacts: [`${contact};expires=60`] }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.ok(!(headerValue(plain, 'Contact')[0] ?? '').includes('gruu'));
    const loop = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>'],
        cseq: 2,
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(loop.status, 403);
    clock.advance(60_000);
    registrar.expire(clock.now());
    const pub = 'sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6';
    assert.deepEqual(registrar.resolveGruu(pub, clock.now())?.bindings, []);
  });
});

describe('Registrar: outbound (RFC 5626) and Path (RFC 3327)', () => {
  const outboundContact = (host: string, regId: number): string =>
    `<sip:alice@${host};transport=tls;ob>;+sip.instance="${INSTANCE}";reg-id=${regId}`;

  it('remembers the flow, answers Require: outbound, replaces the flow on re-registration', async () => {
    const { registrar, clock } = setup();
    const first = await registrar.register({
      request: registerRequest({
        contacts: [outboundContact('198.51.100.7', 1)],
        extra: 'Supported: outbound, path\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
      flowId: 'flow-A',
    });
    assert.equal(first.status, 200);
    assert.deepEqual(headerValue(first, 'Require'), ['outbound']);
    assert.equal(registrar.lookup(ALICE, clock.now())[0]?.flowId, 'flow-A');
    assert.equal(registrar.lookup(ALICE, clock.now())[0]?.regId, 1);
    // The UA reconnected (new flow, new NAT address): same instance and reg-id replace it.
    const second = await registrar.register({
      request: registerRequest({
        contacts: [outboundContact('198.51.100.99', 1)],
        callId: 'call-1',
        cseq: 2,
        extra: 'Supported: outbound\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
      flowId: 'flow-B',
    });
    assert.equal(second.status, 200);
    const bindings = registrar.lookup(ALICE, clock.now());
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]?.flowId, 'flow-B');
    assert.equal(bindings[0].contact, 'sip:alice@198.51.100.99;transport=tls;ob');
    assert.deepEqual(registrar.flowFailed('flow-A'), []);
  });

  it('a second reg-id is a second binding; flowFailed drops only the bindings on that flow', async () => {
    const { registrar, store, clock } = setup();
    for (const [regId, flow] of [
      [1, 'flow-A'],
      [2, 'flow-B'],
    ] as const) {
      const result = await registrar.register({
        request: registerRequest({
          contacts: [outboundContact('198.51.100.7', regId)],
          callId: `c${regId}`,
          extra: 'Supported: outbound\r\n',
        }),
        authenticatedAor: ALICE,
        now: clock.now(),
        flowId: flow,
      });
      assert.equal(result.status, 200);
    }
    assert.equal(registrar.lookup(ALICE, clock.now()).length, 2);
    const removed = registrar.flowFailed('flow-A');
    assert.deepEqual(
      removed.map((b) => b.regId),
      [1],
    );
    assert.deepEqual(
      registrar.lookup(ALICE, clock.now()).map((b) => b.flowId),
      ['flow-B'],
    );
    await registrar.flush();
    assert.equal(store.size, 1);
  });

  it('439 when the first hop shows no outbound support; accepted through a Path with ob', async () => {
    const { registrar, clock } = setup();
    const noPath = await registrar.register({
      request: registerRequest({
        contacts: [outboundContact('198.51.100.7', 1)],
        vias: 2,
        extra: 'Supported: outbound\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(noPath.status, 439);
    const pathNoOb = await registrar.register({
      request: registerRequest({
        contacts: [outboundContact('198.51.100.7', 1)],
        vias: 2,
        extra: 'Path: <sip:edge.example.com;lr>\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(pathNoOb.status, 439);
    const viaEdge = await registrar.register({
      request: registerRequest({
        contacts: [outboundContact('198.51.100.7', 1)],
        vias: 2,
        extra:
          // The Director, nearer the registrar, put its value on top of the edge's (RFC 3327).
          'Supported: outbound, path\r\nPath: <sip:dir.example.com;lr>, <sip:abc@edge.example.com;lr;ob>\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
      flowId: 'edge-flow',
    });
    assert.equal(viaEdge.status, 200);
    assert.deepEqual(headerValue(viaEdge, 'Path'), [
      '<sip:dir.example.com;lr>',
      '<sip:abc@edge.example.com;lr;ob>',
    ]);
    assert.deepEqual(registrar.lookup(ALICE, clock.now())[0]?.path, [
      '<sip:dir.example.com;lr>',
      '<sip:abc@edge.example.com;lr;ob>',
    ]);
  });

  it('two Contacts with reg-id in one REGISTER are 400', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: [
          outboundContact('198.51.100.7', 1),
          `<sip:alice@198.51.100.8>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1`,
        ],
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 400);
  });

  it('Path is stored but not echoed without Supported: path', async () => {
    const { registrar, clock } = setup();
    const result = await registrar.register({
      request: registerRequest({
        contacts: ['<sip:alice@198.51.100.7>'],
        extra: 'Path: <sip:edge.example.com;lr>\r\n',
      }),
      authenticatedAor: ALICE,
      now: clock.now(),
    });
    assert.equal(result.status, 200);
    assert.deepEqual(headerValue(result, 'Path'), []);
    assert.deepEqual(registrar.lookup(ALICE, clock.now())[0]?.path, ['<sip:edge.example.com;lr>']);
  });
});
