/**
 * Building XML with fast-xml-parser's XMLBuilder in its preserveOrder shape. Values are
 * escaped here (XML 1.0 §2.4, §3.3.3), so the builder copies them as they are.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { escapeXmlAttribute, escapeXmlText } from './xml.ts';

/** A node in fast-xml-parser's preserveOrder shape, values pre-escaped. */
export type XmlBuildNode = Record<string, unknown>;

/** An element node; `attributes` values are escaped here. */
export function xmlElement(
  name: string,
  children: readonly XmlBuildNode[],
  attributes?: Readonly<Record<string, string | undefined>>,
): XmlBuildNode {
  const node: XmlBuildNode = { [name]: children };
  if (attributes !== undefined) {
    const escaped: Record<string, string> = {};
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== undefined) escaped[key] = escapeXmlAttribute(value);
    }
    if (Object.keys(escaped).length > 0) node[':@'] = escaped;
  }
  return node;
}

/** A text node, escaped here. */
export function xmlText(text: string): XmlBuildNode {
  return { '#text': escapeXmlText(text) };
}

/** An element holding only text. */
export function xmlTextElement(
  name: string,
  text: string,
  attributes?: Readonly<Record<string, string | undefined>>,
): XmlBuildNode {
  return xmlElement(name, text === '' ? [] : [xmlText(text)], attributes);
}

// XMLBuilder is marked deprecated in favour of fast-xml-builder, which fast-xml-parser wraps;
// the project declares fast-xml-parser only.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const BUILDER = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  suppressEmptyNode: true,
  format: false,
});

/** Serialises one root node as a document with an XML declaration. */
export function buildXmlDocument(root: XmlBuildNode): string {
  const built: unknown = BUILDER.build([root]);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${String(built)}`;
}
