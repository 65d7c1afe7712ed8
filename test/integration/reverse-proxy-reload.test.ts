// The reverse proxy takes a certificate replaced on disk without a restart: new handshakes
// get the new certificate, a keep-alive connection opened before keeps working.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { createTestAuthority, type TestAuthority } from '../../src/transport/testing.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';

let dir = '';
let authority: TestAuthority | undefined;
let rampart: RampartInstance | undefined;
let port = 0;

function serialOfNewHandshake(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca: authority?.cert, servername: 'localhost' },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      },
    );
    socket.once('error', reject);
  });
}

function get(agent: HttpsAgent, path: string): Promise<{ status: number; socketSerial: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, agent, ca: authority?.cert, servername: 'localhost' },
      (res) => {
        // The socket is handed back to the agent at the end of the response: read it now.
        const socket = res.socket as unknown as { getPeerCertificate(): { serialNumber: string } };
        const socketSerial = socket.getPeerCertificate().serialNumber;
        res.resume();
        res.once('end', () => {
          resolve({ status: res.statusCode ?? 0, socketSerial });
        });
      },
    );
    req.once('error', reject);
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rampart-proxy-reload-'));
  authority = await createTestAuthority('Proxy reload CA');
  const leaf = await authority.issue('proxy.example.test');
  await writeFile(join(dir, 'ca.pem'), authority.cert);
  await writeFile(join(dir, 'cert.pem'), leaf.cert);
  await writeFile(join(dir, 'key.pem'), leaf.key);
  rampart = await startRampart({
    config: {
      tls: {
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        caFile: join(dir, 'ca.pem'),
      },
      'av-edge': { enabled: false },
    },
  });
  port = rampart.endpoint('reverse-proxy', 'external', 'https').port;
});

after(async () => {
  await rampart?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a certificate replaced on disk serves new handshakes; open connections stay up', async () => {
  assert.ok(authority !== undefined);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  try {
    const before = await get(agent, '/nowhere');
    assert.equal(before.status, 404);
    const renewed = await authority.issue('proxy.example.test');
    await writeFile(join(dir, 'key.pem'), renewed.key);
    await writeFile(join(dir, 'cert.pem'), renewed.cert);
    const deadline = Date.now() + 15_000;
    while ((await serialOfNewHandshake()) === before.socketSerial && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 250));
    assert.notEqual(await serialOfNewHandshake(), before.socketSerial);
    // The keep-alive connection opened before the reload is the same one, still answering.
    const again = await get(agent, '/nowhere');
    assert.equal(again.status, 404);
    assert.equal(again.socketSerial, before.socketSerial);
  } finally {
    agent.destroy();
  }
});
