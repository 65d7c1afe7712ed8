// Property tests (fast-check): arbitrary input never throws, and any composed state survives
// serialise → parse unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parsePidf,
  RPID_ACTIVITIES,
  serializePidf,
  type PidfDocument,
  type PidfNote,
} from './pidf.ts';
import { parseXmlDocument } from './xml.ts';

const PIDF_OPEN = '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">';

test('arbitrary strings and bytes never throw', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (text) => {
      parsePidf(text);
      parsePidf(`${PIDF_OPEN}${text}</presence>`);
      parsePidf(`${PIDF_OPEN}<tuple id="a"><status>${text}</status></tuple></presence>`);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      parsePidf(bytes);
    }),
    { numRuns: 300 },
  );
});

test('XML-looking garbage never throws', () => {
  const piece = fc.constantFrom(
    '<',
    '>',
    '</',
    '/>',
    '<a',
    '</a>',
    '<![CDATA[',
    ']]>',
    '<!--',
    '-->',
    '&',
    '&amp;',
    '&#x',
    ';',
    '"',
    "'",
    '=',
    ' x="1"',
    'xmlns:p="urn:p"',
    'p:',
    '<?xml version="1.0"?>',
    '<?pi',
    '?>',
    'tuple',
    'status',
    'basic',
    'open',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
      const text = pieces.join('');
      parseXmlDocument(text);
      parsePidf(`${PIDF_OPEN}${text}</presence>`);
    }),
    { numRuns: 1000 },
  );
});

const noteText = fc
  .string({ maxLength: 40, unit: 'grapheme' })
  .map((s) => s.replace(/[^\t\n\u0020-\uD7FF\uE000-\uFFFD]/gu, '').trim());
const note: fc.Arbitrary<PidfNote> = fc.record(
  { text: noteText, lang: fc.constantFrom('en', 'fr', 'de-CH') },
  { requiredKeys: ['text'], noNullPrototype: true },
);
const id = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,15}$/);
const timestamp = fc
  .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
  .map((d) => d.toISOString());

const pidfDocument: fc.Arbitrary<PidfDocument> = fc
  .record(
    {
      entity: fc.stringMatching(/^(pres|sip):[a-z0-9.]{1,12}@[a-z0-9.]{1,12}$/),
      tuples: fc.array(
        fc.record(
          {
            id,
            basic: fc.constantFrom('open' as const, 'closed' as const, undefined),
            contact: fc.record(
              {
                uri: fc.stringMatching(/^sip:[a-z0-9]{1,8}@[a-z0-9.]{1,12}(;transport=tls)?$/),
                priority: fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
              },
              { requiredKeys: ['uri'], noNullPrototype: true },
            ),
            notes: fc.array(note, { maxLength: 3 }),
            timestamp,
          },
          { requiredKeys: ['id', 'basic', 'notes'], noNullPrototype: true },
        ),
        { maxLength: 5 },
      ),
      persons: fc.array(
        fc.record(
          {
            id,
            activities: fc.uniqueArray(fc.constantFrom(...RPID_ACTIVITIES), { maxLength: 4 }),
            notes: fc.array(note, { maxLength: 2 }),
            timestamp,
          },
          { requiredKeys: ['id', 'activities', 'notes'], noNullPrototype: true },
        ),
        { maxLength: 2 },
      ),
      notes: fc.array(note, { maxLength: 3 }),
    },
    { noNullPrototype: true },
  )
  // xs:ID values are unique across the document.
  .filter((doc) => {
    const ids = [...doc.tuples.map((t) => t.id), ...doc.persons.map((p) => p.id)];
    return new Set(ids).size === ids.length;
  });

test('serialize → parse round trip', () => {
  fc.assert(
    fc.property(pidfDocument, (doc) => {
      const parsed = parsePidf(serializePidf(doc));
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.deepEqual(parsed.value, doc);
    }),
    { numRuns: 300 },
  );
});
