/**
 * A bounded, namespace-resolving XML reader on top of fast-xml-parser, for the small XML
 * bodies SIP carries (PIDF, watcher information). Everything hostile is refused before the
 * parser sees it: oversize input, invalid UTF-8, any markup declaration (`<!DOCTYPE`,
 * `<!ENTITY`, ...), so no entity can be defined and none expanded (billion laughs, XXE).
 * The parser runs with entity processing off; this module decodes the five predefined
 * entities and character references itself (XML 1.0 §4.6, §4.1) and refuses any other
 * reference. The result is checked for depth and element count. Nothing here throws.
 */
import { XMLParser, XMLValidator, type X2jOptions } from 'fast-xml-parser';
import { err, ok, type Result } from '../../lib/result.ts';

/** Namespace of the `xml:` prefix (Namespaces in XML 1.0 §3). */
export const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

/** Bounds on one XML document. */
export interface XmlLimits {
  /** Largest body accepted, in bytes (UTF-8). */
  readonly maxBytes: number;
  /** Deepest element nesting; the root is depth 1. */
  readonly maxDepth: number;
  /** Most elements in the document. */
  readonly maxElements: number;
  /** Most attributes on one element (namespace declarations included). */
  readonly maxAttributesPerElement: number;
}

/** Defaults sized for presence documents: 64 KiB, depth 16, 4096 elements. */
export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxBytes: 64 * 1024,
  maxDepth: 16,
  maxElements: 4096,
  maxAttributesPerElement: 32,
};

/** Why an XML body was refused. */
export type XmlErrorReason =
  | 'too-large'
  | 'encoding'
  | 'markup-declaration'
  | 'not-well-formed'
  | 'entity'
  | 'namespace'
  | 'too-deep'
  | 'too-many-elements'
  | 'too-many-attributes';

/** A refused XML body. */
export interface XmlError {
  readonly reason: XmlErrorReason;
  /** For logs; never echoed into a response. */
  readonly detail: string;
}

/** One element, namespace resolved. */
export interface XmlElement {
  /** Namespace URI; '' when the element is in no namespace. */
  readonly ns: string;
  /** Local name (without prefix). */
  readonly local: string;
  /** Attributes in no namespace, by local name, values decoded. */
  readonly attributes: ReadonlyMap<string, string>;
  /** `xml:lang` as in scope for this element (inherited), if any. */
  readonly lang: string | undefined;
  /** Child elements in document order. */
  readonly children: readonly XmlElement[];
  /** Character data directly inside this element (text and CDATA), decoded, untrimmed. */
  readonly text: string;
}

function fail(reason: XmlErrorReason, detail: string): { ok: false; error: XmlError } {
  return err({ reason, detail });
}

// The parser settings that make it safe: no entity processing at all (decoded below), no
// number coercion, attributes kept, CDATA apart so it is not entity-decoded, its own depth cap.
function parserOptions(limits: XmlLimits): X2jOptions {
  return {
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    cdataPropName: '#cdata',
    commentPropName: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: limits.maxDepth + 1,
  };
}

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** XML 1.0 §2.2 Char, for one code point. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

// Characters XML 1.0 §2.2 excludes; lone surrogates are caught by isWellFormed().
// eslint-disable-next-line no-control-regex
const NON_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/**
 * Decodes the predefined entities and character references in `raw`; undefined when it holds
 * any other reference or a bare `&` (XML 1.0 §4.1: a reference to an undeclared entity is a
 * well-formedness error, and no entity can be declared here).
 */
export function decodeXmlText(raw: string): string | undefined {
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) {
      out += raw.slice(i);
      break;
    }
    out += raw.slice(i, amp);
    const semi = raw.indexOf(';', amp + 1);
    // A reference is short; a far `;` means a bare `&`.
    if (semi < 0 || semi - amp > 12) return undefined;
    const name = raw.slice(amp + 1, semi);
    if (name.startsWith('#')) {
      const hex = name.startsWith('#x');
      const digits = name.slice(hex ? 2 : 1);
      if (!(hex ? /^[0-9a-fA-F]{1,6}$/ : /^[0-9]{1,7}$/).test(digits)) return undefined;
      const cp = Number.parseInt(digits, hex ? 16 : 10);
      // XML 1.0 §4.1 WFC Legal Character.
      if (!isXmlChar(cp)) return undefined;
      out += String.fromCodePoint(cp);
    } else {
      const value = PREDEFINED_ENTITIES[name];
      if (value === undefined) return undefined;
      out += value;
    }
    i = semi + 1;
  }
  return out;
}

/** Escapes character data for element content (XML 1.0 §2.4). */
export function escapeXmlText(text: string): string {
  return stripNonXmlChars(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#13;');
}

/**
 * Escapes an attribute value for a double-quoted attribute. Whitespace characters become
 * character references so attribute-value normalisation (XML 1.0 §3.3.3) keeps them.
 */
export function escapeXmlAttribute(text: string): string {
  return escapeXmlText(text).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

/** Removes what XML 1.0 cannot carry at all (control characters, lone surrogates). */
export function stripNonXmlChars(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed().replace(/\uFFFD/g, '');
  // eslint-disable-next-line no-control-regex
  return wellFormed.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

/** Finds a markup declaration (`<!` not opening a comment or CDATA section). */
function findMarkupDeclaration(text: string): number {
  let from = 0;
  for (;;) {
    const at = text.indexOf('<!', from);
    if (at < 0) return -1;
    if (!text.startsWith('<!--', at) && !text.startsWith('<![CDATA[', at)) return at;
    from = at + 2;
  }
}

type RawNode = Record<string, unknown>;

function isRecord(value: unknown): value is RawNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface WalkState {
  elements: number;
  readonly limits: XmlLimits;
}

interface Scope {
  readonly prefixes: ReadonlyMap<string, string>;
  readonly lang: string | undefined;
}

function splitQName(qname: string): [prefix: string, local: string] | undefined {
  const colon = qname.indexOf(':');
  if (colon < 0) return ['', qname];
  const prefix = qname.slice(0, colon);
  const local = qname.slice(colon + 1);
  if (prefix.length === 0 || local.length === 0 || local.includes(':')) return undefined;
  return [prefix, local];
}

function convertElement(
  qname: string,
  node: RawNode,
  scope: Scope,
  depth: number,
  state: WalkState,
): Result<XmlElement, XmlError> {
  if (depth > state.limits.maxDepth) return fail('too-deep', `depth over ${state.limits.maxDepth}`);
  state.elements++;
  if (state.elements > state.limits.maxElements)
    return fail('too-many-elements', `over ${state.limits.maxElements} elements`);

  const rawAttributes = node[':@'];
  const attributeEntries: [string, string][] = [];
  if (rawAttributes !== undefined) {
    if (!isRecord(rawAttributes)) return fail('not-well-formed', 'attributes');
    for (const [name, value] of Object.entries(rawAttributes)) {
      if (typeof value !== 'string')
        return fail('not-well-formed', `attribute ${name} has no value`);
      const decoded = decodeXmlText(value);
      if (decoded === undefined) return fail('entity', `reference in attribute ${name}`);
      attributeEntries.push([name, decoded]);
    }
  }
  if (attributeEntries.length > state.limits.maxAttributesPerElement)
    return fail('too-many-attributes', qname);

  // Namespaces in XML 1.0 §3: declarations on this element are in scope for it and below.
  let prefixes = scope.prefixes;
  let lang = scope.lang;
  const attributes = new Map<string, string>();
  for (const [name, value] of attributeEntries) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) {
      if (prefixes === scope.prefixes) prefixes = new Map(scope.prefixes);
      (prefixes as Map<string, string>).set(name === 'xmlns' ? '' : name.slice(6), value);
    }
  }
  for (const [name, value] of attributeEntries) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const split = splitQName(name);
    if (split === undefined) return fail('namespace', `attribute name ${name}`);
    const [prefix, local] = split;
    if (prefix === '') {
      attributes.set(local, value);
    } else if (prefix === 'xml') {
      if (local === 'lang') lang = value;
    } else if (!prefixes.has(prefix)) {
      return fail('namespace', `undeclared prefix ${prefix}`);
    }
    // Attributes in other namespaces are extensions nothing here reads.
  }

  const split = splitQName(qname);
  if (split === undefined) return fail('namespace', `element name ${qname}`);
  const [prefix, local] = split;
  const ns = prefixes.get(prefix);
  if (ns === undefined && prefix !== '') return fail('namespace', `undeclared prefix ${prefix}`);

  const childScope: Scope = { prefixes, lang };
  const children: XmlElement[] = [];
  let text = '';
  const content = node[qname];
  if (!Array.isArray(content)) return fail('not-well-formed', `content of ${qname}`);
  for (const child of content as unknown[]) {
    if (!isRecord(child)) return fail('not-well-formed', 'child node');
    const childName = Object.keys(child).find((k) => k !== ':@');
    if (childName === undefined) return fail('not-well-formed', 'empty node');
    if (childName === '#text') {
      const value = child['#text'];
      const decoded = typeof value === 'string' ? decodeXmlText(value) : undefined;
      if (decoded === undefined) return fail('entity', `reference in ${qname}`);
      text += decoded;
    } else if (childName === '#cdata') {
      const inner = child['#cdata'];
      if (Array.isArray(inner)) {
        for (const piece of inner as unknown[]) {
          if (isRecord(piece) && typeof piece['#text'] === 'string') text += piece['#text'];
        }
      }
    } else {
      const converted = convertElement(childName, child, childScope, depth + 1, state);
      if (!converted.ok) return converted;
      children.push(converted.value);
    }
  }
  return ok({ ns: ns ?? '', local, attributes, lang, children, text });
}

/**
 * Parses one XML document into a namespace-resolved element tree, within `limits`. Input may
 * be the raw body (checked as UTF-8) or an already decoded string.
 */
export function parseXmlDocument(
  input: Uint8Array | string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): Result<XmlElement, XmlError> {
  let text: string;
  if (typeof input === 'string') {
    // Bound before measuring exactly: a string's UTF-8 size is at most 3 bytes per unit.
    if (input.length > limits.maxBytes || Buffer.byteLength(input, 'utf8') > limits.maxBytes)
      return fail('too-large', `over ${limits.maxBytes} bytes`);
    if (!input.isWellFormed()) return fail('encoding', 'lone surrogate');
    text = input;
  } else {
    if (input.byteLength > limits.maxBytes)
      return fail('too-large', `over ${limits.maxBytes} bytes`);
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(input);
    } catch {
      return fail('encoding', 'invalid UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (NON_XML_CHARS.test(text)) return fail('encoding', 'character not allowed in XML');
  // No DTD, so no entity declarations: refused before any parser runs.
  const declaration = findMarkupDeclaration(text);
  if (declaration >= 0) return fail('markup-declaration', `markup declaration at ${declaration}`);

  // fast-xml-parser's parser accepts mismatched tags; its validator catches them. It is marked
  // deprecated in favour of a separate package the project does not declare.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const validation = XMLValidator.validate(text);
  if (validation !== true) return fail('not-well-formed', validation.err.msg);

  let parsed: unknown;
  try {
    parsed = new XMLParser(parserOptions(limits)).parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : 'parser failure';
    return fail(message.includes('nested') ? 'too-deep' : 'not-well-formed', message);
  }
  if (!Array.isArray(parsed)) return fail('not-well-formed', 'no document');
  const roots: RawNode[] = [];
  for (const node of parsed as unknown[]) {
    if (!isRecord(node)) return fail('not-well-formed', 'top-level node');
    const name = Object.keys(node).find((k) => k !== ':@');
    if (name === '#text') {
      if (typeof node['#text'] !== 'string' || node['#text'].trim() !== '')
        return fail('not-well-formed', 'text outside the root element');
      continue;
    }
    if (name === undefined || name.startsWith('?') || name === '#cdata')
      return fail('not-well-formed', 'content outside the root element');
    roots.push(node);
  }
  // XML 1.0 §2.1: exactly one root element.
  const root = roots[0];
  if (root === undefined || roots.length !== 1)
    return fail('not-well-formed', 'not exactly one root element');
  const rootName = Object.keys(root).find((k) => k !== ':@') ?? '';
  const scope: Scope = { prefixes: new Map([['xml', XML_NAMESPACE]]), lang: undefined };
  return convertElement(rootName, root, scope, 1, { elements: 0, limits });
}

/** Children of `element` with namespace `ns` and local name `local`. */
export function childrenNamed(element: XmlElement, ns: string, local: string): XmlElement[] {
  return element.children.filter((c) => c.ns === ns && c.local === local);
}

/** The first child of `element` with namespace `ns` and local name `local`. */
export function childNamed(element: XmlElement, ns: string, local: string): XmlElement | undefined {
  return element.children.find((c) => c.ns === ns && c.local === local);
}
