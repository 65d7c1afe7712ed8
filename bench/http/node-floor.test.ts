import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { startProcess } from '../../test/helpers/process.ts';
import { removePem, startOrigin, testPem } from './harness.ts';

// The floor of bench:http must proxy as the real proxies do (mutual TLS upstream, the
// response streamed back), or its figures mean nothing.
test('node-floor proxies a request to the origin over mutual TLS and streams the answer', async () => {
  const pem = await testPem();
  const origin = await startOrigin(pem);
  const floor = startProcess('node-floor', process.execPath, [
    join(import.meta.dirname, 'node-floor.ts'),
    '--port',
    '0',
    '--origin',
    origin.url,
    '--cert',
    pem.files.serverCertFile,
    '--key',
    pem.files.serverKeyFile,
    '--ca',
    pem.files.caCertFile,
  ]);
  const client = new Agent({ connect: { ca: pem.ca, servername: 'localhost' } });
  try {
    await floor.waitForOutput(/listening on \d+/, 10_000);
    const port = Number(/listening on (\d+)/.exec(floor.stdout())?.[1]);
    const response = await request(`https://127.0.0.1:${String(port)}/bench/anything`, {
      dispatcher: client,
    });
    assert.equal(response.statusCode, 200);
    const seen = (await response.body.json()) as {
      url: string;
      headers: Record<string, string>;
      clientCertificate: string;
    };
    assert.equal(seen.url, '/bench/anything');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.notEqual(seen.clientCertificate, '', 'the origin saw the client certificate');
  } finally {
    await client.close();
    await floor.stop('SIGTERM', 5000);
    await origin.close();
    await removePem(pem);
  }
});
