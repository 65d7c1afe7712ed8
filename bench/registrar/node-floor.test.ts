import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { startNodeFloorRegistrar } from './servers.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

// The floor of bench:registrar must do the digest work the real registrars do, or its
// figures mean nothing: 401 first, 200 only for the right password, 403 otherwise.
test('node-floor registrar: 401, then 200 for the right digest and 403 for a wrong one', async () => {
  const floor = await startNodeFloorRegistrar({ realm: 'example.test', children: 1 });
  const socket = createSocket('udp4');
  try {
    await floor.provision([{ user: 'alice', password: 'secret' }]);
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const exchange = async (authorization: string): Promise<string> => {
      const request =
        'REGISTER sip:example.test SIP/2.0\r\n' +
        `Via: SIP/2.0/UDP 127.0.0.1:${String(socket.address().port)};branch=z9hG4bK-1;rport\r\n` +
        'From: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\n' +
        'Call-ID: floor-test\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:5999>\r\n' +
        authorization +
        'Content-Length: 0\r\n\r\n';
      socket.send(request, floor.port, floor.host);
      const [answer] = (await once(socket, 'message')) as [Buffer];
      return answer.toString();
    };
    const challenge = await exchange('');
    assert.match(challenge, /^SIP\/2\.0 401 /);
    assert.match(challenge, /Call-ID: floor-test/);
    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const digest = (password: string): string => {
      const ha1 = md5(`alice:example.test:${password}`);
      const response = md5(`${ha1}:${nonce}:00000001:c1:auth:${md5('REGISTER:sip:example.test')}`);
      return (
        `Authorization: Digest username="alice",realm="example.test",cnonce="c1",nc=00000001,` +
        `qop=auth,uri="sip:example.test",nonce="${nonce}",response="${response}",algorithm=MD5\r\n`
      );
    };
    const ok = await exchange(digest('secret'));
    assert.match(ok, /^SIP\/2\.0 200 /);
    assert.match(ok, /Contact: <sip:alice@127\.0\.0\.1:5999>;expires=3600/);
    assert.match(await exchange(digest('wrong')), /^SIP\/2\.0 403 /);
  } finally {
    socket.close();
    await floor.stop();
  }
});
