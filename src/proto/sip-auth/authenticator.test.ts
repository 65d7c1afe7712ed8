import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SipRequest } from '../../codec/sip/message.ts';
import { parseSipMessage } from '../../codec/sip/parse.ts';
import { FakeClock } from '../../lib/clock.ts';
import {
  SipAuthenticator,
  type AuthResult,
  type SipAuthenticatorOptions,
} from './authenticator.ts';

const REALM = 'example.com';
const PASSWORD = 'correct horse';
const SECRET = 'nonce secret of at least 16 bytes';
const T0 = 1_700_000_000_000;
const SOURCE = { sourceIp: '198.51.100.7' };

/** H() computed here with node:crypto, independently of src/proto/digest. */
function h(algorithm: 'MD5' | 'SHA-256', text: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(text)
    .digest('hex');
}

/** The directory: HA1 = H(user:realm:password) for alice, per hash. */
function lookupHa1(user: string, realm: string, hash: string): Promise<string | undefined> {
  if (user !== 'alice' || realm !== REALM) return Promise.resolve(undefined);
  if (hash === 'MD5') return Promise.resolve(h('MD5', `alice:${REALM}:${PASSWORD}`));
  if (hash === 'SHA-256') return Promise.resolve(h('SHA-256', `alice:${REALM}:${PASSWORD}`));
  return Promise.resolve(undefined);
}

function authenticator(options: Partial<SipAuthenticatorOptions> = {}): SipAuthenticator {
  return new SipAuthenticator({ realms: [REALM], nonceSecret: SECRET, lookupHa1, ...options });
}

function request(authorization?: string, from = 'sip:alice@example.com'): SipRequest {
  const raw = Buffer.from(
    'REGISTER sip:example.com SIP/2.0\r\n' +
      'Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKa\r\n' +
      `From: <${from}>;tag=1\r\nTo: <${from}>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n` +
      (authorization === undefined ? '' : `${authorization}\r\n`) +
      'Content-Length: 0\r\n\r\n',
  );
  const parsed = parseSipMessage(raw);
  assert.ok(parsed.ok && parsed.value.kind === 'request');
  return parsed.value;
}

interface Challenge {
  readonly nonce: string;
  readonly algorithm: string;
  readonly stale: boolean;
}

function challenges(result: AuthResult): Challenge[] {
  assert.ok(!result.ok);
  return result.headers.map(([, value]) => ({
    nonce: /nonce="([^"]+)"/.exec(value)?.[1] ?? '',
    algorithm: /algorithm=([A-Za-z0-9-]+)/.exec(value)?.[1] ?? '',
    stale: /stale=TRUE/.test(value),
  }));
}

interface ClientInput {
  readonly nonce: string;
  readonly algorithm?: 'MD5' | 'SHA-256';
  readonly username?: string;
  readonly password?: string;
  readonly nc?: string;
  readonly uri?: string;
  readonly header?: string;
}

/** A UA answering a challenge (RFC 7616 §3.4.1, qop=auth), computed with node:crypto. */
function answer(input: ClientInput): string {
  const algorithm = input.algorithm ?? 'SHA-256';
  const username = input.username ?? 'alice';
  const uri = input.uri ?? 'sip:example.com';
  const nc = input.nc ?? '00000001';
  const cnonce = 'client-nonce';
  const ha1 = h(algorithm, `alice:${REALM}:${input.password ?? PASSWORD}`);
  const ha2 = h(algorithm, `REGISTER:${uri}`);
  const response = h(algorithm, `${ha1}:${input.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `${input.header ?? 'Authorization'}: Digest username="${username}", realm="${REALM}", ` +
    `nonce="${input.nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}, ` +
    `qop=auth, nc=${nc}, cnonce="${cnonce}"`
  );
}

async function firstChallenge(auth: SipAuthenticator, now: number): Promise<Challenge> {
  const result = await auth.authenticate(request(), now, SOURCE);
  const [first] = challenges(result);
  assert.ok(first);
  return first;
}

describe('SipAuthenticator', () => {
  it('challenges with SHA-256 then MD5, qop=auth (RFC 8760 §2.4)', async () => {
    const result = await authenticator().authenticate(request(), T0, SOURCE);
    assert.ok(!result.ok && result.outcome === 'challenge');
    assert.equal(result.status, 401);
    assert.equal(result.failure, 'no-credentials');
    assert.deepEqual(
      result.headers.map(([name]) => name),
      ['WWW-Authenticate', 'WWW-Authenticate'],
    );
    assert.deepEqual(
      challenges(result).map((c) => c.algorithm),
      ['SHA-256', 'MD5'],
    );
    assert.match(result.headers[0]?.[1] ?? '', /^Digest realm="example\.com", qop="auth"/);
  });

  it('a retransmitted request within the second gets the same challenge (stateless UAS)', async () => {
    const auth = authenticator();
    const first = await auth.authenticate(request(), T0 + 100, SOURCE);
    const again = await auth.authenticate(request(), T0 + 900, SOURCE);
    assert.ok(!first.ok && !again.ok);
    assert.deepEqual(again.headers, first.headers);
    // Another request (another branch), or the same one a second later: another nonce.
    const other = request().raw.toString().replace('branch=z9hG4bKa', 'branch=z9hG4bKb');
    const parsed = parseSipMessage(Buffer.from(other));
    assert.ok(parsed.ok && parsed.value.kind === 'request');
    const otherNonce = challenges(await auth.authenticate(parsed.value, T0 + 100, SOURCE))[0];
    const laterNonce = challenges(await auth.authenticate(request(), T0 + 1100, SOURCE))[0];
    const firstNonce = challenges(first)[0]?.nonce;
    assert.notEqual(otherNonce?.nonce, firstNonce);
    assert.notEqual(laterNonce?.nonce, firstNonce);
    // Another instance (another salt) answers the same request with another nonce.
    const elsewhere = challenges(await authenticator().authenticate(request(), T0 + 100, SOURCE));
    assert.notEqual(elsewhere[0]?.nonce, firstNonce);
  });

  it('authenticates with SHA-256 and with MD5 against independently computed HA1s', async () => {
    for (const algorithm of ['SHA-256', 'MD5'] as const) {
      const auth = authenticator();
      const { nonce } = await firstChallenge(auth, T0);
      const result = await auth.authenticate(
        request(answer({ nonce, algorithm })),
        T0 + 1000,
        SOURCE,
      );
      assert.deepEqual(
        result,
        { ok: true, address: 'sip:alice@example.com', username: 'alice', realm: REALM },
        algorithm,
      );
    }
  });

  it('accepts the username written as user@domain', async () => {
    const auth = authenticator();
    const { nonce } = await firstChallenge(auth, T0);
    const result = await auth.authenticate(
      request(answer({ nonce, username: 'alice@example.com' })),
      T0,
      SOURCE,
    );
    assert.equal(result.ok, true);
    const other = await auth.authenticate(
      request(answer({ nonce, username: 'alice@example.org', nc: '00000002' })),
      T0,
      SOURCE,
    );
    assert.ok(!other.ok && other.outcome === 'challenge');
  });

  it('407 with Proxy-Authenticate when acting as a proxy', async () => {
    const auth = authenticator({ proxy: true });
    const result = await auth.authenticate(request(), T0, SOURCE);
    assert.ok(!result.ok && result.outcome === 'challenge');
    assert.equal(result.status, 407);
    assert.equal(result.headers[0]?.[0], 'Proxy-Authenticate');
    const { nonce } = challenges(result)[0] ?? { nonce: '' };
    const ok = await auth.authenticate(
      request(answer({ nonce, header: 'Proxy-Authorization' })),
      T0,
      SOURCE,
    );
    assert.equal(ok.ok, true);
    // Credentials in Authorization are not looked at by a proxy.
    const wrongHeader = await auth.authenticate(
      request(answer({ nonce, nc: '00000002' })),
      T0,
      SOURCE,
    );
    assert.ok(!wrongHeader.ok && wrongHeader.failure === 'no-credentials');
  });

  it('an expired nonce with a right response is challenged again with stale=TRUE', async () => {
    const clock = new FakeClock(T0);
    const auth = authenticator({ nonceLifetimeMs: 60_000 });
    const { nonce } = await firstChallenge(auth, clock.now());
    clock.advance(60_001);
    const result = await auth.authenticate(request(answer({ nonce })), clock.now(), SOURCE);
    assert.ok(!result.ok && result.outcome === 'challenge');
    assert.equal(result.failure, 'nonce-stale');
    assert.ok(challenges(result).every((c) => c.stale));
    // With a wrong password the expired nonce is not `stale`: a plain challenge, counted.
    const wrong = await auth.authenticate(
      request(answer({ nonce, password: 'nope' })),
      clock.now(),
      SOURCE,
    );
    assert.ok(!wrong.ok && wrong.outcome === 'challenge');
    assert.equal(wrong.failure, 'wrong-password');
    assert.ok(challenges(wrong).every((c) => !c.stale));
  });

  it('a replayed nonce-count is challenged again', async () => {
    const auth = authenticator();
    const { nonce } = await firstChallenge(auth, T0);
    const authorization = answer({ nonce });
    assert.equal((await auth.authenticate(request(authorization), T0, SOURCE)).ok, true);
    const replay = await auth.authenticate(request(authorization), T0 + 10, SOURCE);
    assert.ok(!replay.ok && replay.outcome === 'challenge');
    assert.equal(replay.failure, 'nonce-count-replay');
    const next = await auth.authenticate(request(answer({ nonce, nc: '00000002' })), T0, SOURCE);
    assert.equal(next.ok, true);
  });

  it('a forged nonce is challenged, not counted', async () => {
    const auth = authenticator({ userLockout: { maxFailures: 1 } });
    const result = await auth.authenticate(
      request(answer({ nonce: 'AQAAAAAAAAAAAAAAAAAAAAAAAAAA' })),
      T0,
      SOURCE,
    );
    assert.ok(!result.ok && result.failure === 'nonce-invalid');
    assert.equal(auth.userLockout.check(`alice@${REALM}`, T0).locked, false);
  });

  it('locks the user after N wrong passwords (403, says so), and success resets the count', async () => {
    const clock = new FakeClock(T0);
    const auth = authenticator({
      userLockout: { maxFailures: 3, baseLockMs: 60_000 },
      ipLockout: { maxFailures: 100 },
    });
    const { nonce } = await firstChallenge(auth, clock.now());
    let nc = 1;
    const attempt = (password: string): Promise<AuthResult> =>
      auth.authenticate(
        request(answer({ nonce, password, nc: (nc++).toString(16).padStart(8, '0') })),
        clock.now(),
        SOURCE,
      );
    assert.equal((await attempt('x')).ok, false);
    assert.equal((await attempt('x')).ok, false);
    assert.equal((await attempt(PASSWORD)).ok, true, 'success resets the counter');
    assert.equal((await attempt('x')).ok, false);
    assert.equal((await attempt('x')).ok, false);
    const third = await attempt('x');
    assert.ok(!third.ok && third.outcome === 'forbidden');
    assert.equal(third.status, 403);
    assert.equal(third.reason, 'Account Locked After Too Many Failed Attempts');
    assert.equal(third.lockedUntil, clock.now() + 60_000);
    const locked = await attempt(PASSWORD);
    assert.ok(!locked.ok && locked.failure === 'user-locked', 'even the right password');
    clock.advance(60_000);
    const { nonce: fresh } = await firstChallenge(auth, clock.now());
    const after = await auth.authenticate(request(answer({ nonce: fresh })), clock.now(), SOURCE);
    assert.equal(after.ok, true);
  });

  it('locks a source address that keeps failing, whatever the user', async () => {
    const auth = authenticator({
      ipLockout: { maxFailures: 2 },
      userLockout: { maxFailures: 100 },
    });
    const { nonce } = await firstChallenge(auth, T0);
    await auth.authenticate(
      request(answer({ nonce, username: 'mallory' }), 'sip:mallory@example.com'),
      T0,
      SOURCE,
    );
    const second = await auth.authenticate(
      request(answer({ nonce, password: 'x', nc: '00000002' })),
      T0,
      SOURCE,
    );
    assert.ok(!second.ok && second.failure === 'source-locked');
    assert.equal(second.reason, 'Source Address Locked After Too Many Failed Attempts');
    const noCredentials = await auth.authenticate(request(), T0, SOURCE);
    assert.ok(!noCredentials.ok && noCredentials.outcome === 'forbidden');
    const elsewhere = await auth.authenticate(request(), T0, { sourceIp: '203.0.113.1' });
    assert.ok(!elsewhere.ok && elsewhere.outcome === 'challenge');
  });

  it('unknown users are challenged like wrong passwords', async () => {
    const auth = authenticator();
    const { nonce } = await firstChallenge(auth, T0);
    const result = await auth.authenticate(
      request(answer({ nonce, username: 'nobody' }), 'sip:nobody@example.com'),
      T0,
      SOURCE,
    );
    assert.ok(!result.ok && result.outcome === 'challenge');
    assert.equal(result.failure, 'unknown-user');
  });

  it('refuses a From that is not the authenticated user, and a foreign domain', async () => {
    const auth = authenticator();
    const { nonce } = await firstChallenge(auth, T0);
    const spoof = await auth.authenticate(
      request(answer({ nonce }), 'sip:bob@example.com'),
      T0,
      SOURCE,
    );
    assert.ok(!spoof.ok && spoof.failure === 'from-mismatch');
    assert.equal(spoof.status, 403);
    const foreign = await auth.authenticate(
      request(undefined, 'sip:alice@example.org'),
      T0,
      SOURCE,
    );
    assert.ok(!foreign.ok && foreign.failure === 'unknown-realm');
  });

  it('400 for malformed credentials and for a digest uri that is not the Request-URI', async () => {
    const auth = authenticator();
    const malformed = await auth.authenticate(
      request('Authorization: Digest username="alice", realm="example.com"'),
      T0,
      SOURCE,
    );
    assert.ok(!malformed.ok && malformed.outcome === 'bad-request');
    const { nonce } = await firstChallenge(auth, T0);
    const otherUri = await auth.authenticate(
      request(answer({ nonce, uri: 'sip:elsewhere.example.com' })),
      T0,
      SOURCE,
    );
    assert.ok(!otherUri.ok && otherUri.failure === 'uri-mismatch');
    assert.equal(otherUri.status, 400);
  });

  it('applies the user policy check after authentication', async () => {
    const auth = authenticator({
      checkUser: () => ({ allowed: false, reason: 'Remote Access Not Allowed' }),
    });
    const { nonce } = await firstChallenge(auth, T0);
    const result = await auth.authenticate(request(answer({ nonce })), T0, SOURCE);
    assert.ok(!result.ok && result.outcome === 'forbidden');
    assert.equal(result.reason, 'Remote Access Not Allowed');
    assert.equal(result.failure, 'policy');
  });

  it('offers only the configured algorithms and refuses the others', async () => {
    const auth = authenticator({ algorithms: ['SHA-256'] });
    const first = await auth.authenticate(request(), T0, SOURCE);
    assert.deepEqual(
      challenges(first).map((c) => c.algorithm),
      ['SHA-256'],
    );
    const { nonce } = challenges(first)[0] ?? { nonce: '' };
    const md5 = await auth.authenticate(request(answer({ nonce, algorithm: 'MD5' })), T0, SOURCE);
    assert.ok(!md5.ok && md5.failure === 'algorithm-not-offered');
  });
});
