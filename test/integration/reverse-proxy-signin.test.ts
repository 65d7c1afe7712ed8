// Forms sign-in through the reverse proxy, against a tiny origin implementing the verifyUrl
// contract: CSRF-protected form, session cookie attributes and secrecy, a new session id at
// every sign-in, X-Rampart-User only on forms routes, lockout per user and per address,
// sign-out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import {
  removePem,
  startOrigin,
  startProxy,
  testPem,
  type Origin,
  type Pem,
  type ProxyUnderTest,
  type SeenRequest,
} from '../../bench/http/harness.ts';
import { SessionCodec } from '../../src/services/reverse-proxy/session.ts';

let pem: Pem;
let origin: Origin;
let agent: Agent;
let verifyCalls = 0;

const USERS: Record<string, { password: string; sipUri: string; displayName: string }> = {
  alice: { password: 'correct horse', sipUri: 'sip:alice@example.test', displayName: 'Alice' },
  bob: { password: 'battery staple', sipUri: 'sip:bob@example.test', displayName: 'Bob' },
};

before(async () => {
  pem = await testPem();
  origin = await startOrigin(pem, (req, res, body) => {
    if (req.url !== '/auth/verify') return false;
    verifyCalls++;
    const { user, password } = JSON.parse(body.toString()) as { user: string; password: string };
    const known = USERS[user];
    const ok = known !== undefined && known.password === password;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(ok ? JSON.stringify({ sipUri: known.sipUri, displayName: known.displayName }) : '{}');
    return true;
  });
  agent = new Agent({ connect: { ca: pem.ca } });
});

after(async () => {
  await agent.close();
  await origin.close();
  await removePem(pem);
});

function sectionFor(lockout: Record<string, number>): Record<string, unknown> {
  return {
    routes: [
      { prefix: '/webaccess/', upstream: origin.url, auth: 'forms' },
      { prefix: '/abs/', upstream: origin.url },
    ],
    signIn: { verifyUrl: `${origin.url}/auth/verify`, lockout },
  };
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function call(
  proxy: ProxyUnderTest,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  const response = await request(`${proxy.url}${path}`, {
    dispatcher: agent,
    method: method as 'GET',
    headers: {
      host: 'localhost',
      ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: await response.body.text(),
  };
}

function setCookies(reply: Reply): string[] {
  const value = reply.headers['set-cookie'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function cookiePair(reply: Reply, name: string): string {
  const found = setCookies(reply).find((c) => c.startsWith(`${name}=`));
  assert.ok(found !== undefined, `no ${name} cookie in ${JSON.stringify(setCookies(reply))}`);
  return found.split(';')[0] ?? '';
}

async function openForm(
  proxy: ProxyUnderTest,
  returnTo = '/',
): Promise<{ cookie: string; csrf: string }> {
  const reply = await call(proxy, 'GET', `/signin?return=${encodeURIComponent(returnTo)}`);
  assert.equal(reply.status, 200);
  const csrf = /name="csrf" value="([^"]+)"/.exec(reply.text)?.[1] ?? '';
  return { cookie: cookiePair(reply, '__Host-rampart-csrf'), csrf };
}

async function signIn(
  proxy: ProxyUnderTest,
  user: string,
  password: string,
  extra: Record<string, string> = {},
): Promise<Reply> {
  const form = await openForm(proxy);
  return call(
    proxy,
    'POST',
    '/signin',
    { cookie: form.cookie, ...extra },
    new URLSearchParams({ user, password, csrf: form.csrf, return: '/webaccess/app' }).toString(),
  );
}

function codecOf(proxy: ProxyUnderTest): SessionCodec {
  const secret = readFileSync(join(proxy.dataDir, 'reverse-proxy-session-secret'), 'utf8').trim();
  return new SessionCodec(Buffer.from(secret), { idleMs: 3_600_000, maxMs: 3_600_000 });
}

describe('forms sign-in', () => {
  let proxy: ProxyUnderTest;
  before(async () => {
    proxy = await startProxy(pem, sectionFor({ maxFailures: 3, addressFactor: 10 }));
  });
  after(async () => {
    await proxy.close();
  });

  test('a forms route without a session: GET → 303 to the form, POST → 401, nothing forwarded', async () => {
    const before = origin.seen.length;
    const get = await call(proxy, 'GET', '/webaccess/app?tab=chat');
    assert.equal(get.status, 303);
    assert.equal(get.headers.location, '/signin?return=%2Fwebaccess%2Fapp%3Ftab%3Dchat');
    const post = await call(proxy, 'POST', '/webaccess/api', {}, 'x=1');
    assert.equal(post.status, 401);
    assert.equal(origin.seen.length, before);
  });

  test('the form sets a Strict, HttpOnly, Secure CSRF cookie; posts without the pair are 403', async () => {
    const reply = await call(proxy, 'GET', '/signin');
    const cookie = setCookies(reply).find((c) => c.startsWith('__Host-rampart-csrf='));
    assert.match(cookie ?? '', /; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    assert.equal(reply.headers['cache-control'], 'no-store');
    const form = await openForm(proxy);
    const other = await openForm(proxy);
    const body = (csrf: string): string =>
      new URLSearchParams({
        user: 'alice',
        password: USERS['alice']?.password ?? '',
        csrf,
      }).toString();
    const calls = verifyCalls;
    assert.equal((await call(proxy, 'POST', '/signin', {}, body(form.csrf))).status, 403);
    assert.equal(
      (await call(proxy, 'POST', '/signin', { cookie: form.cookie }, body(''))).status,
      403,
    );
    assert.equal(
      (await call(proxy, 'POST', '/signin', { cookie: other.cookie }, body(form.csrf))).status,
      403,
    );
    const crossSite = await call(
      proxy,
      'POST',
      '/signin',
      { cookie: form.cookie, origin: 'https://evil.test' },
      body(form.csrf),
    );
    assert.equal(crossSite.status, 403);
    assert.equal(verifyCalls, calls, 'the verifier is not asked without a valid CSRF pair');
  });

  test('sign-in: a sealed, HttpOnly, Secure, SameSite session cookie; the user reaches forms routes only', async () => {
    const reply = await signIn(proxy, 'alice', 'correct horse');
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/webaccess/app');
    const raw = setCookies(reply).find((c) => c.startsWith('__Host-rampart-session='));
    assert.match(raw ?? '', /; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const session = cookiePair(reply, '__Host-rampart-session');
    assert.equal(
      Buffer.from(session.split('=')[1] ?? '', 'base64url')
        .toString('latin1')
        .includes('alice'),
      false,
    );
    const app = await call(proxy, 'GET', '/webaccess/app', {
      cookie: session,
      'x-rampart-user': 'sip:ceo@example.test',
    });
    assert.equal(app.status, 200);
    const seen = JSON.parse(app.text) as SeenRequest;
    assert.equal(seen.headers['x-rampart-user'], 'sip:alice@example.test');
    assert.equal(seen.clientCertificate, '127.0.0.1', 'the user header arrives over mutual TLS');
    const passThrough = await call(proxy, 'GET', '/abs/file', { cookie: session });
    assert.equal(
      (JSON.parse(passThrough.text) as SeenRequest).headers['x-rampart-user'],
      undefined,
    );
    const tampered = session.slice(0, -2) + (session.endsWith('A') ? 'BB' : 'AA');
    assert.equal((await call(proxy, 'GET', '/webaccess/app', { cookie: tampered })).status, 303);
  });

  test('every sign-in gets a new session id, also over an existing session', async () => {
    const codec = codecOf(proxy);
    const first = cookiePair(
      await signIn(proxy, 'bob', 'battery staple'),
      '__Host-rampart-session',
    );
    const second = cookiePair(
      await signIn(proxy, 'bob', 'battery staple', {}),
      '__Host-rampart-session',
    );
    const form = await openForm(proxy);
    const third = cookiePair(
      await call(
        proxy,
        'POST',
        '/signin',
        { cookie: `${form.cookie}; ${second}` },
        new URLSearchParams({
          user: 'bob',
          password: 'battery staple',
          csrf: form.csrf,
        }).toString(),
      ),
      '__Host-rampart-session',
    );
    const sids = [first, second, third].map(
      (c) => codec.open(c.split('=')[1] ?? '', Date.now())?.sid,
    );
    assert.ok(sids.every((sid) => typeof sid === 'string'));
    assert.equal(new Set(sids).size, 3);
  });

  test('lockout per user: after 3 failures even the right password is refused (429, verifier not asked)', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await signIn(proxy, 'alice', 'wrong')).status, 401);
    const calls = verifyCalls;
    const locked = await signIn(proxy, 'alice', 'correct horse');
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers['retry-after']) >= 1);
    assert.equal(verifyCalls, calls);
    // Another user from the same address is not locked.
    assert.equal((await signIn(proxy, 'bob', 'battery staple')).status, 303);
  });

  test('sign-out: a CSRF-protected POST ends the session; the old cookie no longer works', async () => {
    const session = cookiePair(
      await signIn(proxy, 'bob', 'battery staple'),
      '__Host-rampart-session',
    );
    const page = await call(proxy, 'GET', '/signout', { cookie: session });
    assert.equal(page.status, 200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    assert.equal(
      (await call(proxy, 'POST', '/signout', { cookie: session }, 'csrf=forged')).status,
      403,
    );
    const out = await call(
      proxy,
      'POST',
      '/signout',
      { cookie: session },
      `csrf=${encodeURIComponent(csrf)}`,
    );
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/signin');
    assert.match(setCookies(out)[0] ?? '', /^__Host-rampart-session=; .*Max-Age=0$/);
    const after = await call(proxy, 'GET', '/webaccess/app', { cookie: session });
    assert.equal(after.status, 303);
  });
});

describe('forms sign-in: lockout per address', () => {
  test('failures over several users lock the address (maxFailures × addressFactor)', async () => {
    const proxy = await startProxy(pem, sectionFor({ maxFailures: 2, addressFactor: 2 }));
    try {
      for (const user of ['u1', 'u2', 'u3', 'u4'])
        assert.equal((await signIn(proxy, user, 'wrong')).status, 401, user);
      assert.equal((await signIn(proxy, 'alice', 'correct horse')).status, 429);
    } finally {
      await proxy.close();
    }
  });
});
