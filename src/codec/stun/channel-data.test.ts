// ChannelData (RFC 8656 §12.4–§12.6): decoding, padding rules, and the header writer the
// relay path uses to build a message around data with one copy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RampartError } from '../../lib/errors.ts';
import {
  channelDataLength,
  decodeChannelData,
  encodeChannelData,
  writeChannelDataHeader,
} from './channel-data.ts';
import { isChannelData } from './routing.ts';

describe('decodeChannelData', () => {
  test('channel and data view, with or without padding', () => {
    const unpadded = Buffer.from('400100056162636465', 'hex');
    const result = decodeChannelData(unpadded);
    assert.ok(result.ok);
    assert.equal(result.value.channel, 0x4001);
    assert.equal(result.value.data.toString(), 'abcde');
    assert.equal(result.value.data.buffer, unpadded.buffer);
    const padded = Buffer.concat([unpadded, Buffer.alloc(3)]);
    const again = decodeChannelData(padded);
    assert.ok(again.ok);
    assert.equal(again.value.data.toString(), 'abcde');
  });

  test('zero-length data is valid (RFC 8656 §12.4: "0 is a valid length")', () => {
    const result = decodeChannelData(Buffer.from([0x4f, 0xff, 0, 0]));
    assert.ok(result.ok);
    assert.equal(result.value.data.length, 0);
  });

  test('errors name the reason and offset', () => {
    const error = (b: Buffer): unknown => {
      const result = decodeChannelData(b);
      return result.ok ? undefined : [result.error.reason, result.error.offset];
    };
    assert.deepEqual(error(Buffer.from([0x40, 0x00, 0x00])), ['too-short', 3]);
    assert.deepEqual(error(Buffer.from([0x00, 0x01, 0x00, 0x00])), ['not-channel-data', 0]);
    assert.deepEqual(error(Buffer.from([0x80, 0x00, 0x00, 0x00])), ['not-channel-data', 0]);
    // RFC 5766's 0x5000–0x7FFF range is accepted (see CHANNEL_NUMBER_MAX).
    assert.equal(error(Buffer.from([0x50, 0x00, 0x00, 0x00])), undefined);
    assert.equal(error(Buffer.from([0x7f, 0xff, 0x00, 0x00])), undefined);
    assert.deepEqual(error(Buffer.from([0x40, 0x00, 0x00, 0x04, 1, 2])), ['truncated', 6]);
    assert.deepEqual(error(Buffer.from([0x40, 0x00, 0x00, 0x01, 1, 0, 0, 0, 0])), [
      'trailing-bytes',
      5,
    ]);
  });
});

describe('encoding ChannelData', () => {
  test('frame length: no padding over UDP, padded to 4 over a stream (RFC 8656 §12.5)', () => {
    assert.equal(channelDataLength(5, 'datagram'), 9);
    assert.equal(channelDataLength(5, 'stream'), 12);
    assert.equal(channelDataLength(0, 'stream'), 4);
    assert.equal(channelDataLength(8, 'stream'), 12);
  });

  test('encodeChannelData pads with zeros for a stream only', () => {
    const data = Buffer.from([9, 8, 7, 6, 5]);
    assert.equal(encodeChannelData(0x4000, data, 'datagram').toString('hex'), '400000050908070605');
    assert.equal(
      encodeChannelData(0x4000, data, 'stream').toString('hex'),
      '400000050908070605000000',
    );
    assert.ok(isChannelData(encodeChannelData(0x4abc, data, 'stream')));
  });

  test('writeChannelDataHeader lets the data be placed once, after the header', () => {
    const data = Buffer.from('payload');
    const out = Buffer.alloc(channelDataLength(data.length, 'stream'));
    const at = writeChannelDataHeader(out, 0, 0x4123, data.length);
    assert.equal(at, 4);
    data.copy(out, at);
    const decoded = decodeChannelData(out);
    assert.ok(decoded.ok);
    assert.equal(decoded.value.channel, 0x4123);
    assert.equal(decoded.value.data.toString(), 'payload');
  });

  test('programmer errors throw', () => {
    const out = Buffer.alloc(8);
    assert.throws(() => writeChannelDataHeader(out, 0, 0x3fff, 0), RampartError);
    assert.throws(() => writeChannelDataHeader(out, 0, 0x8000, 0), RampartError);
    assert.throws(() => writeChannelDataHeader(out, 0, 0x4000, 0x10000), RampartError);
    assert.throws(() => writeChannelDataHeader(out, 5, 0x4000, 0), RampartError);
  });
});
