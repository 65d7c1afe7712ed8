import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { encodeChannelData } from '../../src/codec/stun/index.ts';
import { startNodeFloor, stunAnswers } from './servers.ts';
import { TurnClient, restCredential } from './turn-client.ts';

// The floor of bench:turn must carry the benchmark's load exactly as the real servers do,
// or its figures mean nothing: Allocate (after one 401), ChannelBind, ChannelData both ways.
test('node-floor answers Binding and relays ChannelData through an allocation both ways', async () => {
  const floor = await startNodeFloor({
    realm: 'bench.test',
    secret: 'a-secret-of-sixteen-chars',
    relayMinPort: 50000,
    relayMaxPort: 59999,
    serverCpus: '0-1',
    workers: 1,
  });
  const peer = createSocket('udp4');
  let client: TurnClient | undefined;
  try {
    assert.ok(await stunAnswers(floor.host, floor.port));
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening');
    // The peer echoes whatever the relay sends it.
    peer.on('message', (data, from) => {
      peer.send(data, from.port, from.address);
    });
    client = await TurnClient.open({
      host: floor.host,
      port: floor.port,
      credential: restCredential('a-secret-of-sixteen-chars', 'bench', 3600, Date.now() / 1000),
    });
    const relayed = await client.allocate();
    assert.equal(relayed.address, '127.0.0.1');
    const peerAddress = { family: 4 as const, address: '127.0.0.1', port: peer.address().port };
    await client.createPermission(peerAddress);
    await client.channelBind(0x4000, peerAddress);
    const echoed = new Promise<Buffer>((resolve) => {
      if (client !== undefined) client.onChannelData = resolve;
    });
    client.send(encodeChannelData(0x4000, Buffer.from('floor payload'), 'datagram'));
    const datagram = await echoed;
    assert.equal(datagram.readUInt16BE(0), 0x4000);
    assert.equal(datagram.subarray(4, 4 + datagram.readUInt16BE(2)).toString(), 'floor payload');
    await client.refresh(0);
  } finally {
    client?.close();
    peer.close();
    await floor.stop();
  }
});
