import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SipStreamFramer, type StreamFramerOutput } from './stream-framer.ts';

const INVITE =
  'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
  'Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n' +
  'Max-Forwards: 70\r\n' +
  'From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n' +
  'To: Bob <sip:bob@biloxi.example.com>\r\n' +
  'Call-ID: 3848276298220188511@atlanta.example.com\r\n' +
  'CSeq: 1 INVITE\r\n' +
  'Content-Type: application/sdp\r\n' +
  'Content-Length: 23\r\n' +
  '\r\n' +
  'v=0\r\no=- 0 0 IN IP4 x\r\n';

const OPTIONS_COMPACT =
  'OPTIONS sip:carol@chicago.com SIP/2.0\r\n' +
  'v: SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n' +
  'i: a84b4c76e66710\r\n' +
  'L   :\r\n  0\r\n' +
  '\r\n';

const RESPONSE = 'SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\ncontent-LENGTH:5\r\n\r\nhello';

const MESSAGES = [INVITE, OPTIONS_COMPACT, RESPONSE];

/** Collapses outputs into strings so runs with different chunking compare equal. */
function describeOutputs(outputs: readonly StreamFramerOutput[]): string[] {
  return outputs.map((output) => {
    switch (output.type) {
      case 'message':
        return `message:${output.data.toString('latin1')}`;
      case 'ping':
        return 'ping';
      case 'error':
        return `error:${output.reason}`;
    }
  });
}

function feed(chunks: readonly Buffer[], maxMessageBytes?: number): string[] {
  const framer = new SipStreamFramer(maxMessageBytes === undefined ? {} : { maxMessageBytes });
  const outputs: StreamFramerOutput[] = [];
  for (const chunk of chunks) outputs.push(...framer.push(chunk));
  return describeOutputs(outputs);
}

function everySplit(stream: Buffer, expected: readonly string[], max?: number): void {
  const bytes: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
  assert.deepEqual(feed(bytes, max), expected, 'byte by byte');
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(
      feed([stream.subarray(0, cut), stream.subarray(cut)], max),
      expected,
      `split at ${cut}`,
    );
  }
}

void describe('SipStreamFramer', () => {
  void test('each message, split at every offset, comes out whole', () => {
    for (const message of MESSAGES) {
      everySplit(Buffer.from(message, 'latin1'), [`message:${message}`]);
    }
  });

  void test('pipelined messages with keep-alives between them, split at every offset', () => {
    const stream = Buffer.from(
      '\r\n' + INVITE + '\r\n\r\n' + OPTIONS_COMPACT + '\r\n' + RESPONSE + '\r\n\r\n',
      'latin1',
    );
    everySplit(stream, [
      `message:${INVITE}`,
      'ping',
      `message:${OPTIONS_COMPACT}`,
      `message:${RESPONSE}`,
      'ping',
    ]);
  });

  void test('a double CRLF is a ping, a lone CRLF is ignored', () => {
    assert.deepEqual(feed([Buffer.from('\r\n\r\n')]), ['ping']);
    assert.deepEqual(feed([Buffer.from('\r\n\r\n\r\n\r\n')]), ['ping', 'ping']);
    assert.deepEqual(feed([Buffer.from('\r\n')]), []);
    assert.deepEqual(feed([Buffer.from('\r\n' + RESPONSE)]), [`message:${RESPONSE}`]);
  });

  void test('a message from one chunk is a view of it; one from many chunks is a copy', () => {
    const chunk = Buffer.from(RESPONSE + RESPONSE, 'latin1');
    const framer = new SipStreamFramer();
    const [first, second] = framer.push(chunk);
    assert.ok(first?.type === 'message' && second?.type === 'message');
    assert.equal(first.data.buffer, chunk.buffer);
    assert.equal(second.data.byteOffset, chunk.byteOffset + RESPONSE.length);

    const head = Buffer.from(RESPONSE.slice(0, 10), 'latin1');
    const tail = Buffer.from(RESPONSE.slice(10) + RESPONSE.slice(0, 10), 'latin1');
    const split = new SipStreamFramer();
    assert.deepEqual(split.push(head), []);
    const [assembled] = split.push(tail);
    assert.ok(assembled?.type === 'message');
    // Later input must not overwrite a message already handed out.
    split.push(Buffer.from(RESPONSE.slice(10).replace('hello', 'XXXXX'), 'latin1'));
    assert.equal(assembled.data.toString('latin1'), RESPONSE);
  });

  void test('a Content-Length larger than what arrived waits and never takes the next message', () => {
    const liar = 'MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 40\r\n\r\n0123456789';
    const framer = new SipStreamFramer();
    assert.deepEqual(framer.push(Buffer.from(liar + RESPONSE.slice(0, 20))), []);
    assert.equal(framer.bufferedBytes, liar.length + 20);
    // The body the liar claimed is the 40 bytes that follow: the "next message" is body.
    const outputs = describeOutputs(framer.push(Buffer.from(RESPONSE.slice(20), 'latin1')));
    const claimed = liar + RESPONSE.slice(0, 30);
    // What follows the claimed body frames as its own (garbage) message for the parser to
    // reject: framing never loses its place by more than the lie.
    assert.deepEqual(outputs, [`message:${claimed}`, `message:${RESPONSE.slice(30)}`]);
    assert.equal(framer.bufferedBytes, 0);
  });

  void test('a Content-Length above the maximum is an error before the body arrives', () => {
    const huge = 'MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 70000\r\n\r\nabc';
    everySplit(Buffer.from(huge), ['error:too-large']);
    const framer = new SipStreamFramer({ maxMessageBytes: 100 });
    const head = 'MESSAGE sip:a@b SIP/2.0\r\nl: 70\r\n\r\n';
    assert.deepEqual(describeOutputs(framer.push(Buffer.from(head))), ['error:too-large']);
    assert.equal(framer.error, 'too-large');
    assert.deepEqual(framer.push(Buffer.from(RESPONSE)), [], 'nothing after an error');
  });

  void test('a header section that never ends is an error once over the maximum', () => {
    const framer = new SipStreamFramer({ maxMessageBytes: 1000 });
    const line = Buffer.from('X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
    assert.deepEqual(framer.push(Buffer.from('INVITE sip:a@b SIP/2.0\r\n')), []);
    let outputs: StreamFramerOutput[] = [];
    let pushed = 24;
    while (outputs.length === 0 && pushed < 5000) {
      outputs = framer.push(line);
      pushed += line.length;
    }
    assert.deepEqual(describeOutputs(outputs), ['error:too-large']);
    assert.ok(pushed > 1000 && pushed <= 1000 + line.length);
    assert.equal(framer.bufferedBytes, 0, 'memory released');
  });

  void test('missing, invalid and conflicting Content-Length are errors', () => {
    const cases: [string, string][] = [
      ['OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n', 'error:missing-content-length'],
      ['OPTIONS sip:a@b SIP/2.0\r\nContent-Length: abc\r\n\r\n', 'error:bad-content-length'],
      ['OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n', 'error:bad-content-length'],
      ['OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n\r\n', 'error:bad-content-length'],
      ['OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1 2\r\n\r\n', 'error:bad-content-length'],
      ['OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999\r\n\r\n', 'error:bad-content-length'],
      [
        'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\nContent-Length: 3\r\n\r\nabc',
        'error:bad-content-length',
      ],
      // A Content-Length-looking header that is another header does not count.
      ['OPTIONS sip:a@b SIP/2.0\r\nX-Content-Length: 3\r\n\r\n', 'error:missing-content-length'],
    ];
    for (const [input, expected] of cases) {
      everySplit(Buffer.from(input), [expected]);
    }
  });

  void test('the same Content-Length twice is accepted', () => {
    const message = 'OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\nok';
    assert.deepEqual(feed([Buffer.from(message)]), [`message:${message}`]);
  });

  void test('a message of exactly the maximum size passes; one byte more does not', () => {
    const head = 'MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\n';
    const message = head + '0123456789';
    everySplit(Buffer.from(message), [`message:${message}`], message.length);
    everySplit(Buffer.from(message), ['error:too-large'], message.length - 1);
  });

  void test('a large pipeline fed in random chunks yields every message (buffer growth and compaction)', () => {
    const body = 'x'.repeat(20000);
    const big = `MESSAGE sip:a@b SIP/2.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const sequence = [big, RESPONSE, INVITE, big, OPTIONS_COMPACT, big];
    const stream = Buffer.from(sequence.join(''), 'latin1');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 30000 }), { maxLength: 40 }), (sizes) => {
        const chunks: Buffer[] = [];
        let offset = 0;
        for (const size of sizes) {
          if (offset >= stream.length) break;
          chunks.push(stream.subarray(offset, offset + size));
          offset += size;
        }
        if (offset < stream.length) chunks.push(stream.subarray(offset));
        assert.deepEqual(
          feed(chunks),
          sequence.map((message) => `message:${message}`),
        );
      }),
      { numRuns: 200 },
    );
  });

  void test('property: arbitrary chunks never throw and never buffer much past the maximum', () => {
    const sipish = fc.constantFrom(
      '\r\n',
      '\r\n\r\n',
      'INVITE sip:a@b SIP/2.0\r\n',
      'Content-Length: 3\r\n',
      'l:0\r\n',
      'Content-Length: 99999\r\n',
      '\r\n',
      'abc',
      ' \t',
    );
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc.array(sipish, { maxLength: 8 }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 30 }), (chunks) => {
        const framer = new SipStreamFramer({ maxMessageBytes: 512 });
        let errors = 0;
        for (const piece of chunks) {
          for (const output of framer.push(piece)) {
            if (output.type === 'error') errors++;
            if (output.type === 'message') assert.ok(output.data.length <= 512);
          }
          assert.ok(framer.bufferedBytes >= 0 && framer.bufferedBytes <= 512 + piece.length);
        }
        assert.ok(errors <= 1);
      }),
      { numRuns: 2000 },
    );
  });
});
