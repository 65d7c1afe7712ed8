// Web access's WebSocket against hostile and broken input, on a real all-in-one deployment:
// only the reverse proxy (the deployment's client certificate and X-Rampart-User) opens a
// session; malformed, binary, oversized and flooding frames get an error event or a closed
// socket, and the session keeps working. Also: two sessions of one user exchange IM with
// another user's session, with no browser (the Chromium test drives the page itself).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { rampartCli, startRampart, type RampartInstance } from '../helpers/rampart.ts';

let rampart: RampartInstance | undefined;
let url = '';
let credentials: { cert: string; key: string; ca: string } | undefined;
const sockets: WebSocket[] = [];

interface Session {
  readonly ws: WebSocket;
  readonly events: { type: string; [key: string]: unknown }[];
  next(
    type: string,
    match?: (event: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
}

function open(
  headers: Record<string, string>,
  tls: { cert?: string; key?: string } = credentials ?? {},
): Promise<Session | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ca: credentials?.ca, ...tls });
    sockets.push(ws);
    const events: Session['events'] = [];
    const waiters: (() => void)[] = [];
    ws.on('message', (data: Buffer) => {
      events.push(JSON.parse(data.toString('utf8')) as Session['events'][number]);
      for (const waiter of waiters.splice(0)) waiter();
    });
    ws.on('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0 });
    });
    ws.on('error', reject);
    ws.on('open', () => {
      resolve({
        ws,
        events,
        next: (type, match = () => true) =>
          new Promise((found, fail) => {
            let seen = 0;
            const timer = setTimeout(() => {
              fail(new Error(`no ${type} event: ${JSON.stringify(events)}`));
            }, 10_000);
            const look = (): void => {
              for (; seen < events.length; seen++) {
                const event = events[seen];
                if (event?.type === type && match(event)) {
                  clearTimeout(timer);
                  found(event);
                  return;
                }
              }
              waiters.push(look);
            };
            look();
          }),
      });
    });
  });
}

async function session(user: string): Promise<Session> {
  const opened = await open({ 'x-rampart-user': `sip:${user}@example.test` });
  assert.ok('ws' in opened, JSON.stringify(opened));
  await opened.next('contacts');
  return opened;
}

before(async () => {
  rampart = await startRampart();
  for (const user of ['alice', 'bob'])
    await rampartCli(
      rampart.dataDir,
      'user',
      'add',
      `${user}@example.test`,
      '--password',
      `${user}-pw`,
    );
  const tls = join(rampart.dataDir, 'tls');
  credentials = {
    cert: await readFile(join(tls, 'server.pem'), 'utf8'),
    key: await readFile(join(tls, 'server-key.pem'), 'utf8'),
    ca: await readFile(join(tls, 'ca.pem'), 'utf8'),
  };
  const web = rampart.endpoint('web-services', 'internal', 'https');
  url = `wss://127.0.0.1:${String(web.port)}/webaccess/ws`;
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  await rampart?.stop();
});

describe('web access WebSocket', () => {
  test('only the reverse proxy opens a session (client certificate and X-Rampart-User)', async () => {
    assert.deepEqual(await open({}), { status: 403 });
    assert.deepEqual(await open({ 'x-rampart-user': 'sip:alice@example.test' }, {}), {
      status: 403,
    });
    assert.deepEqual(await open({ 'x-rampart-user': 'not an address' }), { status: 403 });
    assert.ok(rampart !== undefined);
    const admin = rampart.endpoint('admin', 'internal', 'http');
    const metrics = await (await fetch(`http://127.0.0.1:${String(admin.port)}/metrics`)).text();
    assert.match(metrics, /rampart_web_access_refused_total\{reason="upgrade-403"\} 3/);
  });

  test('sessions of two users exchange IM; a second tab of one user gets it too', async () => {
    const alice = await session('alice');
    const aliceAgain = await session('alice');
    const bob = await session('bob');
    bob.ws.send(JSON.stringify({ type: 'im', id: '1', to: 'sip:alice@example.test', text: 'hi' }));
    const sent = await bob.next('sent', (e) => e['id'] === '1');
    assert.equal(sent['ok'], true, JSON.stringify(sent));
    // The Front End forks to both of alice's registrations.
    for (const tab of [alice, aliceAgain]) {
      const received = await tab.next('im');
      assert.deepEqual([received['from'], received['text']], ['sip:bob@example.test', 'hi']);
    }
    bob.ws.close();
    aliceAgain.ws.close();
  });

  test('malformed, unknown and oversized commands: an error event, or the socket closed', async () => {
    const alice = await session('alice');
    alice.ws.send('{not json');
    await alice.next('error', (e) => e['message'] === 'malformed command');
    const errors = (): number => alice.events.filter((e) => e.type === 'error').length;
    const before = errors();
    alice.ws.send(JSON.stringify({ type: 'rm -rf', path: '/' }));
    alice.ws.send(JSON.stringify({ type: 'im', id: 'x', to: 'javascript:alert(1)', text: 'x' }));
    alice.ws.send(JSON.stringify({ type: 'im', id: 'y', to: 'sip:bob@example.test', text: '' }));
    await alice.next('error', () => errors() >= before + 3);
    // Binary frames are not part of the protocol: the socket is closed (1003).
    const closed = new Promise<number>((resolve) => alice.ws.once('close', resolve));
    alice.ws.send(Buffer.from([0, 1, 2]));
    assert.equal(await closed, 1003);
    // A frame over 16 KiB closes the socket too (1009, ws maxPayload).
    const big = await session('alice');
    const tooBig = new Promise<number>((resolve) => big.ws.once('close', resolve));
    big.ws.send(JSON.stringify({ type: 'search', query: 'x'.repeat(20_000) }));
    assert.equal(await tooBig, 1009);
  });

  test('a command flood is cut to the rate limit and the session keeps working', async () => {
    const alice = await session('alice');
    for (let i = 0; i < 200; i++) alice.ws.send(JSON.stringify({ type: 'search', query: 'ali' }));
    await alice.next('error', (e) => e['message'] === 'too many commands; slow down');
    const answered = alice.events.filter((e) => e.type === 'search').length;
    assert.ok(answered <= 25, `answered ${String(answered)} of 200`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    alice.ws.send(JSON.stringify({ type: 'search', query: 'bob' }));
    const found = await alice.next('search', (e) =>
      JSON.stringify(e['results']).includes('bob@example.test'),
    );
    assert.ok(found);
  });
});
