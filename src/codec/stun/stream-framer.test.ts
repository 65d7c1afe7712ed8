// StunStreamFramer: STUN and ChannelData frames back to back on a stream, every split of the
// stream giving the same frames, garbage reported as an error value at its stream offset.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RampartError } from '../../lib/errors.ts';
import { Software } from './attributes-auth.ts';
import { Data } from './attributes-turn.ts';
import { encodeChannelData } from './channel-data.ts';
import { STUN_METHOD } from './constants.ts';
import { encodeStun } from './encode.ts';
import { StunStreamFramer, type StunFramerOutput } from './stream-framer.ts';

const TID = Buffer.alloc(12, 3);
const BINDING = encodeStun(
  {
    method: STUN_METHOD.Binding,
    cls: 'request',
    transactionId: TID,
    attributes: [Software.of('client')],
  },
  { fingerprint: true },
);
const SEND = encodeStun({
  method: STUN_METHOD.Send,
  cls: 'indication',
  transactionId: TID,
  attributes: [Data.of(Buffer.alloc(301, 0x5a))],
});
const CHANNEL_ODD = encodeChannelData(0x4001, Buffer.from('abcde'), 'stream');
const CHANNEL_EMPTY = encodeChannelData(0x4fff, Buffer.alloc(0), 'stream');
const STREAM = Buffer.concat([BINDING, CHANNEL_ODD, SEND, CHANNEL_EMPTY, BINDING]);
const EXPECTED: readonly (readonly [string, Buffer])[] = [
  ['stun', BINDING],
  ['channel-data', CHANNEL_ODD],
  ['stun', SEND],
  ['channel-data', CHANNEL_EMPTY],
  ['stun', BINDING],
];

function summary(outputs: readonly StunFramerOutput[]): unknown[] {
  return outputs.map((o) =>
    o.type === 'error' ? ['error', o.reason, o.offset] : [o.type, o.data],
  );
}

function feed(framer: StunStreamFramer, chunks: readonly Buffer[]): StunFramerOutput[] {
  return chunks.flatMap((chunk) => framer.push(chunk));
}

describe('StunStreamFramer', () => {
  test('frames a stream given in one chunk, as views of the chunk', () => {
    const framer = new StunStreamFramer();
    const outputs = framer.push(STREAM);
    assert.deepEqual(summary(outputs), EXPECTED);
    for (const o of outputs) if (o.type !== 'error') assert.equal(o.data.buffer, STREAM.buffer);
    assert.equal(framer.bufferedBytes, 0);
  });

  test('every split into two chunks gives the same frames', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const framer = new StunStreamFramer();
      const outputs = feed(framer, [STREAM.subarray(0, cut), STREAM.subarray(cut)]);
      assert.deepEqual(summary(outputs), EXPECTED, `cut at ${cut}`);
    }
  });

  test('byte by byte, frames are copies the framer does not touch again', () => {
    const framer = new StunStreamFramer();
    const chunks = Array.from(STREAM, (byte) => Buffer.from([byte]));
    const outputs = feed(framer, chunks);
    assert.deepEqual(summary(outputs), EXPECTED);
    const first = outputs[0];
    assert.ok(first !== undefined && first.type === 'stun');
    const copy = Buffer.from(first.data);
    feed(
      framer,
      Array.from(SEND, (byte) => Buffer.from([byte])),
    );
    assert.deepEqual(first.data, copy);
  });

  test('a partial frame is held until complete', () => {
    const framer = new StunStreamFramer();
    assert.deepEqual(framer.push(BINDING.subarray(0, 10)), []);
    assert.equal(framer.bufferedBytes, 10);
    assert.deepEqual(summary(framer.push(BINDING.subarray(10))), [['stun', BINDING]]);
    assert.equal(framer.bufferedBytes, 0);
  });

  test('a frame completed by the last byte of a chunk is returned at once', () => {
    const framer = new StunStreamFramer();
    assert.deepEqual(framer.push(CHANNEL_EMPTY.subarray(0, 1)), []);
    assert.deepEqual(summary(framer.push(CHANNEL_EMPTY.subarray(1))), [
      ['channel-data', CHANNEL_EMPTY],
    ]);
    assert.deepEqual(framer.push(BINDING.subarray(0, 5)), []);
    assert.deepEqual(framer.push(BINDING.subarray(5, 8)), []);
    assert.deepEqual(summary(framer.push(BINDING.subarray(8))), [['stun', BINDING]]);
  });

  test('garbage is an error at its stream offset, then the framer stays silent', () => {
    const framer = new StunStreamFramer();
    // A TLS ClientHello record sent to a plain TCP port: top bits 00, but no magic cookie.
    const clientHello = Buffer.from('1603010200010001fc0303', 'hex');
    const outputs = framer.push(Buffer.concat([BINDING, clientHello]));
    assert.deepEqual(summary(outputs), [
      ['stun', BINDING],
      ['error', 'bad-magic-cookie', BINDING.length],
    ]);
    assert.equal(framer.error, 'bad-magic-cookie');
    assert.deepEqual(framer.push(BINDING), []);
  });

  test('each kind of garbage has its reason', () => {
    const reason = (bytes: Buffer, max?: number): unknown => {
      const framer = new StunStreamFramer(max === undefined ? {} : { maxFrameBytes: max });
      return summary(framer.push(bytes));
    };
    const badCookie = Buffer.from(BINDING);
    badCookie[5] = 0;
    assert.deepEqual(reason(badCookie), [['error', 'bad-magic-cookie', 0]]);
    const badLength = Buffer.from(BINDING);
    badLength.writeUInt16BE(6, 2);
    assert.deepEqual(reason(badLength), [['error', 'bad-stun-length', 0]]);
    assert.deepEqual(reason(Buffer.from([0xc0, 0, 0, 0])), [
      ['error', 'not-stun-or-channel-data', 0],
    ]);
    assert.deepEqual(reason(Buffer.from([0xff])), [['error', 'not-stun-or-channel-data', 0]]);
    assert.deepEqual(reason(SEND, 100), [['error', 'too-large', 0]]);
    assert.deepEqual(reason(encodeChannelData(0x4000, Buffer.alloc(200), 'stream'), 100), [
      ['error', 'too-large', 0],
    ]);
  });

  test('maxFrameBytes bounds the frames accepted, not less than a STUN header', () => {
    const framer = new StunStreamFramer({ maxFrameBytes: SEND.length });
    assert.deepEqual(summary(framer.push(SEND)), [['stun', SEND]]);
    assert.throws(() => new StunStreamFramer({ maxFrameBytes: 19 }), RampartError);
    assert.throws(() => new StunStreamFramer({ maxFrameBytes: 1.5 }), RampartError);
  });
});
