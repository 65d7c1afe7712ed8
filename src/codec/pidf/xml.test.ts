// Hostile input: nothing here may expand an entity, recurse without bound or read a huge body.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeXmlText, parseXmlDocument, XML_NAMESPACE } from './xml.ts';

const PIDF_OPEN = '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">';

describe('parseXmlDocument', () => {
  test('refuses billion laughs before parsing', () => {
    const entities = Array.from(
      { length: 10 },
      (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`,
    ).join('');
    const body = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">${entities}]>${PIDF_OPEN}<note>&lol10;</note></presence>`;
    const parsed = parseXmlDocument(body);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.reason, 'markup-declaration');
  });

  test('refuses an external entity (XXE) and a bare DOCTYPE', () => {
    for (const body of [
      `<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>${PIDF_OPEN}&x;</presence>`,
      `<!DOCTYPE presence>${PIDF_OPEN}</presence>`,
      `${PIDF_OPEN}<!ENTITY x "y"></presence>`,
      `<!doctype presence>${PIDF_OPEN}</presence>`,
    ]) {
      const parsed = parseXmlDocument(body);
      assert.equal(parsed.ok, false, body);
      assert.equal(parsed.error.reason, 'markup-declaration');
    }
  });

  test('refuses deep nesting', () => {
    const parsed = parseXmlDocument(`${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.reason, 'too-deep');
  });

  test('refuses nesting just past the limit, accepts it at the limit', () => {
    const limits = { maxBytes: 65536, maxDepth: 4, maxElements: 100, maxAttributesPerElement: 4 };
    assert.equal(parseXmlDocument('<a><a><a><a/></a></a></a>', limits).ok, true);
    const deeper = parseXmlDocument('<a><a><a><a><a/></a></a></a></a>', limits);
    assert.equal(deeper.ok, false);
  });

  test('refuses a 1 MiB body without parsing it', () => {
    const body = Buffer.alloc(1 << 20, 0x20);
    body.write(PIDF_OPEN);
    const parsed = parseXmlDocument(body);
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.reason, 'too-large');
    const asString = parseXmlDocument(`${PIDF_OPEN}${'x'.repeat(1 << 20)}</presence>`);
    assert.equal(asString.ok, false);
    // Multi-byte characters count by their UTF-8 size.
    const wide = parseXmlDocument(`<a>${'é'.repeat(40000)}</a>`);
    assert.equal(wide.ok, false);
  });

  test('refuses too many elements and too many attributes', () => {
    const many = parseXmlDocument(`<a>${'<b/>'.repeat(5000)}</a>`);
    assert.equal(many.ok, false);
    assert.equal(many.error.reason, 'too-many-elements');
    const attrs = Array.from({ length: 40 }, (_, i) => `a${i}="x"`).join(' ');
    const wide = parseXmlDocument(`<a ${attrs}/>`);
    assert.equal(wide.ok, false);
    assert.equal(wide.error.reason, 'too-many-attributes');
  });

  test('refuses control characters', () => {
    assert.equal(parseXmlDocument('<a>\u0001</a>').ok, false);
  });

  test('resolves namespaces by scope and inherits xml:lang', () => {
    const parsed = parseXmlDocument(
      '<r xmlns="urn:one" xmlns:t="urn:two" xml:lang="de"><t:c x="1"><d xmlns="urn:three"/></t:c></r>',
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const root = parsed.value;
    assert.equal(root.ns, 'urn:one');
    assert.equal(root.lang, 'de');
    const c = root.children[0]!;
    assert.equal(c.ns, 'urn:two');
    assert.equal(c.local, 'c');
    assert.equal(c.attributes.get('x'), '1');
    assert.equal(c.lang, 'de');
    assert.equal(c.children[0]?.ns, 'urn:three');
    assert.equal(XML_NAMESPACE, 'http://www.w3.org/XML/1998/namespace');
  });
});

describe('decodeXmlText', () => {
  test('decodes only predefined entities and character references', () => {
    assert.equal(decodeXmlText('&lt;&gt;&amp;&quot;&apos;&#9;&#x1F600;'), `<>&"'\t\u{1F600}`);
    assert.equal(decodeXmlText('&lol;'), undefined);
    assert.equal(decodeXmlText('&#xD800;'), undefined);
    assert.equal(decodeXmlText('&#99999999;'), undefined);
    assert.equal(decodeXmlText('a & b'), undefined);
    assert.equal(decodeXmlText('&amp;lt;'), '&lt;');
  });
});
