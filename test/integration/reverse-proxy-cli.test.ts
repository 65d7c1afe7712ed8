// `rampart start` with the reverse proxy on: its endpoint in endpoints.json, a published
// path through it to an HTTPS origin (mutual TLS with the deployment certificate), 404
// elsewhere, and one JSON access-log line per request on the log (stderr).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import {
  removePem,
  startOrigin,
  testPem,
  type Origin,
  type Pem,
  type SeenRequest,
} from '../../bench/http/harness.ts';
import { startRampart, type RampartInstance } from '../helpers/rampart.ts';
import { waitUntil } from '../helpers/process.ts';

let pem: Pem;
let origin: Origin;
let rampart: RampartInstance;
let agent: Agent;

before(async () => {
  pem = await testPem();
  origin = await startOrigin(pem);
  rampart = await startRampart({
    config: {
      tls: {
        certFile: pem.files.serverCertFile,
        keyFile: pem.files.serverKeyFile,
        caFile: pem.files.caCertFile,
      },
      'access-edge': { enabled: false },
      'av-edge': { enabled: false },
      director: { enabled: false },
      'front-end': { enabled: false },
      'web-services': { enabled: false },
      'reverse-proxy': {
        enabled: true,
        external: { port: 0 },
        routes: [{ prefix: '/abs/', upstream: origin.url }],
      },
    },
  });
  agent = new Agent({ connect: { ca: pem.ca } });
});

after(async () => {
  await agent.close();
  await rampart.stop();
  await origin.close();
  await removePem(pem);
});

test('rampart start publishes the configured path and nothing else', async () => {
  const endpoint = rampart.endpoint('reverse-proxy', 'external', 'https');
  const base = `https://127.0.0.1:${String(endpoint.port)}`;
  const hit = await request(`${base}/abs/full.lsabs`, { dispatcher: agent });
  assert.equal(hit.statusCode, 200);
  const seen = (await hit.body.json()) as SeenRequest;
  assert.equal(seen.url, '/abs/full.lsabs');
  assert.equal(seen.clientCertificate, '127.0.0.1');
  const miss = await request(`${base}/dl/`, { dispatcher: agent });
  assert.equal(miss.statusCode, 404);
  await miss.body.dump();
  await waitUntil(
    () => rampart.process.stderr().split('"event":"access"').length > 2,
    5000,
    () => `no access-log line:\n${rampart.process.stderr().slice(-2000)}`,
  );
  const lines = rampart.process
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"event":"access"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((line) => [line['service'], line['path'], line['status']]),
    [
      ['reverse-proxy', '/abs/full.lsabs', 200],
      ['reverse-proxy', '/dl/', 404],
    ],
  );
});
