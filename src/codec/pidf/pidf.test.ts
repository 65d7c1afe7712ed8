import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePidf, serializePidf, type PidfDocument } from './pidf.ts';

// RFC 3863 §6, the first example, verbatim apart from the XML declaration's quotes.
const RFC3863_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
    xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    xmlns:myex="http://id.example.com/presence/"
    entity="pres:someone@example.com">
  <tuple id="bs35r9">
    <status>
      <basic>open</basic>
      <im:im>busy</im:im>
      <myex:location>home</myex:location>
    </status>
    <contact priority="0.8">im:someone@mobilecarrier.net</contact>
    <note xml:lang="en">Don't Disturb Please!</note>
    <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
    <timestamp>2001-10-27T16:49:29Z</timestamp>
  </tuple>
  <tuple id="eg92n8">
    <status>
      <basic>open</basic>
    </status>
    <contact priority="1.0">mailto:someone@example.com</contact>
  </tuple>
  <note>I'll be in Tokyo next week</note>
</presence>`;

// RFC 4480 §6-style document with person-level activities, other prefixes than ours.
const RPID_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf"
  xmlns:d="urn:ietf:params:xml:ns:pidf:data-model"
  xmlns:r="urn:ietf:params:xml:ns:pidf:rpid"
  entity="pres:someone@example.com">
  <tuple id="bs35r9"><status><basic>closed</basic></status></tuple>
  <d:person id="p1">
    <r:activities>
      <r:on-the-phone/>
      <r:meeting/>
      <r:x-unknown-extension/>
      <r:other>Golfing</r:other>
    </r:activities>
    <d:note xml:lang="en">In a call</d:note>
    <d:timestamp>2005-05-30T22:00:29.123+02:00</d:timestamp>
  </d:person>
</presence>`;

describe('parsePidf', () => {
  test('reads the RFC 3863 §6 example', () => {
    const parsed = parsePidf(Buffer.from(RFC3863_EXAMPLE));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const doc = parsed.value;
    assert.equal(doc.entity, 'pres:someone@example.com');
    assert.equal(doc.tuples.length, 2);
    assert.deepEqual(doc.tuples[0], {
      id: 'bs35r9',
      basic: 'open',
      contact: { uri: 'im:someone@mobilecarrier.net', priority: 0.8 },
      notes: [
        { text: "Don't Disturb Please!", lang: 'en' },
        { text: "Ne derangez pas, s'il vous plait", lang: 'fr' },
      ],
      timestamp: '2001-10-27T16:49:29Z',
    });
    assert.deepEqual(doc.tuples[1]?.contact, { uri: 'mailto:someone@example.com', priority: 1 });
    assert.deepEqual(doc.notes, [{ text: "I'll be in Tokyo next week" }]);
  });

  test('reads RPID activities whatever the prefixes, dropping unknown ones', () => {
    const parsed = parsePidf(RPID_EXAMPLE);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.deepEqual(parsed.value.persons, [
      {
        id: 'p1',
        activities: ['on-the-phone', 'meeting', 'other'],
        notes: [{ text: 'In a call', lang: 'en' }],
        timestamp: '2005-05-30T22:00:29.123+02:00',
      },
    ]);
    assert.equal(parsed.value.tuples[0]?.basic, 'closed');
  });

  const refused: readonly (readonly [string, string])[] = [
    ['not XML', 'hello'],
    ['wrong root', '<foo xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b"/>'],
    ['wrong namespace', '<presence xmlns="urn:x" entity="pres:a@b"/>'],
    ['no entity', '<presence xmlns="urn:ietf:params:xml:ns:pidf"/>'],
    ['entity not a URI', '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="alice"/>'],
    [
      'entity of another scheme',
      '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="http://x"/>',
    ],
    ['tuple without id', p('<tuple><status><basic>open</basic></status></tuple>')],
    ['tuple without status', p('<tuple id="a"></tuple>')],
    ['two statuses', p('<tuple id="a"><status/><status/></tuple>')],
    ['bad basic', p('<tuple id="a"><status><basic>maybe</basic></status></tuple>')],
    ['duplicate ids', p('<tuple id="a"><status/></tuple><tuple id="a"><status/></tuple>')],
    ['bad priority', p('<tuple id="a"><status/><contact priority="2">sip:x@y</contact></tuple>')],
    ['bad timestamp', p('<tuple id="a"><status/><timestamp>yesterday</timestamp></tuple>')],
    ['unclosed tag', p('<tuple id="a"><status></tuple>')],
    ['undeclared prefix', p('<x:tuple id="a"><status/></x:tuple>')],
    ['mustUnderstand extension', p('<e:x xmlns:e="urn:e" mustUnderstand="true"/>')],
    ['two roots', `${p('')}${p('')}`],
    ['undefined entity reference', p('<note>&nbsp;</note>')],
    ['bare ampersand', p('<note>a & b</note>')],
    ['illegal character reference', p('<note>&#0;</note>')],
    ['note with children', p('<note><b>x</b></note>')],
    ['long note', p(`<note>${'x'.repeat(1025)}</note>`)],
    [
      'too many tuples',
      p(Array.from({ length: 33 }, (_, i) => `<tuple id="t${i}"><status/></tuple>`).join('')),
    ],
  ];
  for (const [name, body] of refused) {
    test(`refuses ${name}`, () => {
      const parsed = parsePidf(body);
      assert.equal(parsed.ok, false, name);
      assert.equal(parsed.error.code, 'RAMPART_ERR_PIDF_PARSE');
    });
  }

  test('decodes predefined entities, character references and CDATA', () => {
    const parsed = parsePidf(p('<note>&lt;&amp;&#65;&#x42;<![CDATA[&lt;]]></note>'));
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.value.notes[0]?.text, '<&AB&lt;');
  });

  test('accepts a body with a BOM and comments', () => {
    const parsed = parsePidf(Buffer.from(`\uFEFF<!-- hi -->${p('<!-- c --><note>x</note>')}`));
    assert.ok(parsed.ok, JSON.stringify(parsed));
  });

  test('refuses invalid UTF-8', () => {
    const body = Buffer.concat([
      Buffer.from(p('<note>')),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('</note></presence>'),
    ]);
    const parsed = parsePidf(body);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.xml, 'encoding');
  });
});

describe('serializePidf', () => {
  test('writes a document that parses back to the same state', () => {
    const doc: PidfDocument = {
      entity: 'pres:alice@example.com',
      tuples: [
        {
          id: 'sip-1',
          basic: 'open',
          contact: { uri: 'sip:alice@192.0.2.1;transport=tls', priority: 0.5 },
          notes: [{ text: 'Lunch & "coffee" <back at 2>', lang: 'en' }],
          timestamp: '2024-01-02T03:04:05Z',
        },
        { id: 'sip-2', basic: 'closed', notes: [] },
      ],
      persons: [{ id: 'p', activities: ['busy', 'on-the-phone'], notes: [{ text: 'Call' }] }],
      notes: [],
    };
    const text = serializePidf(doc);
    assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<presence /);
    assert.match(text, /<rpid:on-the-phone\/>/);
    assert.match(text, /Lunch &amp; "coffee" &lt;back at 2&gt;/);
    const parsed = parsePidf(text);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.deepEqual(parsed.value, doc);
  });

  test('an empty state is a document with no tuples', () => {
    const text = serializePidf({ entity: 'pres:a@b', tuples: [], persons: [], notes: [] });
    const parsed = parsePidf(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.tuples, []);
  });

  test('drops characters XML cannot carry', () => {
    const text = serializePidf({
      entity: 'pres:a@b',
      tuples: [],
      persons: [],
      notes: [{ text: 'a\u0000b\u0007c\uD800d' }],
    });
    const parsed = parsePidf(text);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.value.notes[0]?.text, 'abcd');
  });
});

/** A presence document around `inner`. */
function p(inner: string): string {
  return `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@example.com">${inner}</presence>`;
}
