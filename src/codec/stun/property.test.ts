// Property tests (fast-check): hostile bytes never throw anywhere in the codec, generated
// messages survive encode → decode → encode unchanged, and the stream framer gives the same
// frames however the stream is cut.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ipToBytes, type TransportAddress } from './address.ts';
import * as attributesAddress from './attributes-address.ts';
import * as attributesAuth from './attributes-auth.ts';
import * as attributesError from './attributes-error.ts';
import * as attributesTurn from './attributes-turn.ts';
import { decodeChannelData, encodeChannelData } from './channel-data.ts';
import { STUN_ATTR, STUN_CLASS, type StunClass } from './constants.ts';
import { decodeStun } from './decode.ts';
import {
  encodeStun,
  rawAttribute,
  type StunAttributeWriter,
  type StunEncodeOptions,
} from './encode.ts';
import {
  verifyFingerprint,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
} from './integrity.ts';
import type { StunMessage } from './message.ts';
import { isChannelData, isStun } from './routing.ts';
import { StunStreamFramer, type StunFramerOutput } from './stream-framer.ts';

const KEY = Buffer.from('property-key');

/** Every get/add pair. */
const CODECS: readonly { readonly get: (msg: StunMessage) => unknown }[] = [
  ...Object.values(attributesAddress),
  attributesAuth.Username,
  attributesAuth.Userhash,
  attributesAuth.Realm,
  attributesAuth.Nonce,
  attributesAuth.Software,
  attributesAuth.AlternateDomain,
  attributesAuth.PasswordAlgorithm,
  attributesAuth.PasswordAlgorithms,
  attributesError.ErrorCode,
  attributesError.UnknownAttributes,
  attributesError.AddressErrorCode,
  attributesTurn.Lifetime,
  attributesTurn.ConnectionId,
  attributesTurn.ChannelNumber,
  attributesTurn.Data,
  attributesTurn.RequestedTransport,
  attributesTurn.RequestedAddressFamily,
  attributesTurn.AdditionalAddressFamily,
  attributesTurn.EvenPort,
  attributesTurn.ReservationToken,
  attributesTurn.DontFragment,
  attributesTurn.Icmp,
];

/** Reads everything a server might read from a decoded message. */
function readEverything(msg: StunMessage): void {
  for (const codec of CODECS) codec.get(msg);
  for (const codec of Object.values(attributesAddress)) codec.getAll(msg);
  verifyMessageIntegrity(msg, KEY);
  verifyMessageIntegritySha256(msg, KEY);
  verifyFingerprint(msg);
}

const KNOWN_TYPES = Object.values(STUN_ATTR);

/** Raw TLVs with types worth hitting and lengths that are sometimes lies. */
const rawTlv = fc
  .tuple(
    fc.oneof(fc.constantFrom(...KNOWN_TYPES), fc.integer({ min: 0, max: 0xffff })),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(0, 0, 0, 1, 4, 300),
  )
  .map(([type, value, lie]) => {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(value.length + lie, 2);
    return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
  });

/** Bytes that start like STUN, so decoding gets past the header. */
const stunish = fc
  .tuple(
    fc.integer({ min: 0, max: 0x3fff }),
    fc.uint8Array({ minLength: 12, maxLength: 12 }),
    fc.array(rawTlv, { maxLength: 8 }),
    fc.boolean(),
  )
  .map(([type, tid, tlvs, honestLength]) => {
    const body = Buffer.concat(tlvs);
    const head = Buffer.alloc(20);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(honestLength ? body.length & 0xffff : (body.length + 4) & 0xffff, 2);
    head.writeUInt32BE(0x2112a442, 4);
    head.set(tid, 8);
    return Buffer.concat([head, body]);
  });

const anyBytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));

describe('hostile bytes never throw', () => {
  test('decodeStun and every getter and verifier', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, stunish), (bytes) => {
        isStun(bytes);
        isStun(bytes, 'stream');
        const result = decodeStun(bytes);
        if (result.ok) readEverything(result.value);
        else assert.equal(result.error.code, 'RAMPART_ERR_STUN_PARSE');
      }),
      { numRuns: 2000 },
    );
  });

  test('decodeChannelData', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        isChannelData(bytes);
        const result = decodeChannelData(bytes);
        if (result.ok) assert.ok(result.value.data.length <= bytes.length - 4);
      }),
      { numRuns: 2000 },
    );
  });

  test('the stream framer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(anyBytes, stunish), { maxLength: 6 }),
        fc.integer({ min: 20, max: 400 }),
        (chunks, max) => {
          const framer = new StunStreamFramer({ maxFrameBytes: max });
          const outputs = chunks.flatMap((chunk) => framer.push(chunk));
          assert.ok(outputs.filter((o) => o.type === 'error').length <= 1);
        },
      ),
    );
  });
});

const address: fc.Arbitrary<TransportAddress> = fc.oneof(
  fc.record({
    family: fc.constant(4 as const),
    address: fc.ipV4(),
    port: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({
    family: fc.constant(6 as const),
    address: fc.ipV6(),
    port: fc.integer({ min: 0, max: 0xffff }),
  }),
);
const text = fc.string({ maxLength: 40 });
const bytes = (max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const attribute: fc.Arbitrary<StunAttributeWriter> = fc.oneof(
  address.map((a) => attributesAddress.XorMappedAddress.of(a)),
  address.map((a) => attributesAddress.XorPeerAddress.of(a)),
  address.map((a) => attributesAddress.MappedAddress.of(a)),
  text.map((t) => attributesAuth.Username.of(t)),
  text.map((t) => attributesAuth.Software.of(t)),
  text.map((t) => attributesAuth.Realm.of(t)),
  fc.integer({ min: 300, max: 699 }).map((code) => attributesError.ErrorCode.of(code)),
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 5 })
    .map((t) => attributesError.UnknownAttributes.of(t)),
  fc.nat({ max: 0xffffffff }).map((n) => attributesTurn.Lifetime.of(n)),
  fc.integer({ min: 0x4000, max: 0x4fff }).map((n) => attributesTurn.ChannelNumber.of(n)),
  bytes(64).map((d) => attributesTurn.Data.of(d)),
  fc.boolean().map((reserveNext) => attributesTurn.EvenPort.of({ reserveNext })),
  fc.constant(attributesTurn.DontFragment.of()),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), bytes(12))
    .map(([type, value]) => rawAttribute(type === STUN_ATTR.FINGERPRINT ? 0x8fff : type, value)),
);

const options: fc.Arbitrary<StunEncodeOptions> = fc.record(
  {
    integrity: fc.record({
      key: fc.constant(KEY),
      algorithm: fc.constantFrom('sha1' as const, 'sha256' as const, 'both' as const),
    }),
    fingerprint: fc.boolean(),
  },
  { requiredKeys: ['fingerprint'] },
);

const INTEGRITY_TYPES: ReadonlySet<number> = new Set([
  STUN_ATTR.MESSAGE_INTEGRITY,
  STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
  STUN_ATTR.FINGERPRINT,
]);

describe('encode → decode → encode', () => {
  test('generated messages decode to what was encoded and re-encode to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xfff }),
        fc.constantFrom(...(Object.keys(STUN_CLASS) as StunClass[])),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.array(attribute, { maxLength: 8 }),
        options,
        (method, cls, transactionId, attributes, encodeOptions) => {
          // A raw MESSAGE-INTEGRITY in the middle would make what follows ignorable by design.
          const plain = attributes.filter((a) => !INTEGRITY_TYPES.has(a.type));
          const raw = encodeStun({ method, cls, transactionId, attributes: plain }, encodeOptions);
          const result = decodeStun(raw);
          assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.error));
          const msg = result.value;
          assert.equal(msg.method, method);
          assert.equal(msg.cls, cls);
          assert.deepEqual(msg.transactionId, Buffer.from(transactionId));
          const body = msg.attributes.filter((a) => !INTEGRITY_TYPES.has(a.type));
          assert.deepEqual(
            body.map((a) => a.type),
            plain.map((a) => a.type),
          );
          const integrity = encodeOptions.integrity;
          if (integrity !== undefined) {
            assert.equal(verifyMessageIntegrity(msg, KEY), integrity.algorithm !== 'sha256');
            assert.equal(verifyMessageIntegritySha256(msg, KEY), integrity.algorithm !== 'sha1');
          }
          assert.equal(verifyFingerprint(msg), encodeOptions.fingerprint === true);
          const again = encodeStun(
            {
              method: msg.method,
              cls: msg.cls,
              transactionId: msg.transactionId,
              attributes: body.map((a) => rawAttribute(a.type, a.value)),
            },
            encodeOptions,
          );
          assert.deepEqual(again, raw);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('addresses come back as the same address', () => {
    fc.assert(
      fc.property(
        fc.array(address, { minLength: 1, maxLength: 4 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (peers, transactionId) => {
          const raw = encodeStun({
            method: 8,
            cls: 'request',
            transactionId,
            attributes: peers.map((p) => attributesAddress.XorPeerAddress.of(p)),
          });
          const result = decodeStun(raw);
          assert.ok(result.ok);
          const read = attributesAddress.XorPeerAddress.getAll(result.value);
          assert.ok(read.ok);
          assert.deepEqual(
            read.value.map((p) => [p.family, ipToBytes(p.address), p.port]),
            peers.map((p) => [p.family, ipToBytes(p.address), p.port]),
          );
        },
      ),
    );
  });
});

const frame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.array(attribute, { maxLength: 4 }), fc.boolean()).map(([attributes, fingerprint]) =>
    encodeStun(
      {
        method: 1,
        cls: 'request',
        transactionId: Buffer.alloc(12, 1),
        attributes: attributes.filter((a) => !INTEGRITY_TYPES.has(a.type)),
      },
      { fingerprint },
    ),
  ),
  fc
    .tuple(fc.integer({ min: 0x4000, max: 0x4fff }), bytes(70))
    .map(([channel, data]) => encodeChannelData(channel, data, 'stream')),
);

function frames(outputs: readonly StunFramerOutput[]): Buffer[] {
  return outputs.map((o) => (o.type === 'error' ? Buffer.from(`error ${o.reason}`) : o.data));
}

describe('stream framing is independent of how the stream is cut', () => {
  test('any cuts give the frames that were sent', () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (sent, cutSeeds) => {
          const stream = Buffer.concat(sent);
          const cuts = [...new Set(cutSeeds.map((seed) => seed % (stream.length + 1)))].sort(
            (a, b) => a - b,
          );
          const chunks: Buffer[] = [];
          let start = 0;
          for (const cut of [...cuts, stream.length]) {
            chunks.push(stream.subarray(start, cut));
            start = cut;
          }
          const framer = new StunStreamFramer();
          assert.deepEqual(frames(chunks.flatMap((chunk) => framer.push(chunk))), sent);
          assert.equal(framer.bufferedBytes, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('garbage gives the same frames and error at every single cut', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 3 }), anyBytes, (sent, tail) => {
        const stream = Buffer.concat([...sent, tail]);
        const whole = frames(new StunStreamFramer().push(stream));
        for (let cut = 0; cut <= stream.length; cut++) {
          const framer = new StunStreamFramer();
          const split = [
            ...framer.push(stream.subarray(0, cut)),
            ...framer.push(stream.subarray(cut)),
          ];
          assert.deepEqual(frames(split), whole, `cut at ${cut}`);
        }
      }),
      { numRuns: 100 },
    );
  });
});
