import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseUdpFlowId, udpFlowId } from './udp-listener.ts';

describe('UDP flow ids', () => {
  test('property: an id names its listener and remote address again', () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(
        fc.stringMatching(/^udp[0-9]{1,4}$/),
        address,
        fc.integer({ min: 1, max: 65535 }),
        (listenerId, host, port) => {
          const parsed = parseUdpFlowId(udpFlowId(listenerId, { address: host, port }));
          assert.deepEqual(parsed, { listenerId, remote: { address: host, port } });
        },
      ),
    );
  });

  test('anything else is not a UDP flow id', () => {
    for (const id of [
      'tcp/1',
      'udp/',
      'udp/udp1',
      'udp/udp1/127.0.0.1',
      'udp/udp1/127.0.0.1/',
      'udp/udp1/127.0.0.1/x',
      'udp/udp1/127.0.0.1/5060/extra',
    ]) {
      assert.equal(parseUdpFlowId(id), undefined, id);
    }
  });
});
