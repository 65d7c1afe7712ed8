import type { SipRequest, SipResponse } from '../../codec/sip/message.ts';

/**
 * Minimal message views for the machine tests. The machines read only `method`, `status` and
 * `raw`, so these skip the codec; the matching tests use real parsed messages.
 */
export function fakeRequest(
  method: string,
  raw = Buffer.from(`${method} sip:b@example.com SIP/2.0\r\n\r\n`),
): SipRequest {
  return {
    kind: 'request',
    method,
    requestUri: 'sip:b@example.com',
    version: 'SIP/2.0',
    raw,
    headers: [],
    headersStart: raw.length,
    bodyStart: raw.length,
    body: raw.subarray(raw.length),
  };
}

/** A minimal response view with `status`; see `fakeRequest`. */
export function fakeResponse(status: number): SipResponse {
  const raw = Buffer.from(`SIP/2.0 ${status} X\r\n\r\n`);
  return {
    kind: 'response',
    status,
    reason: 'X',
    version: 'SIP/2.0',
    raw,
    headers: [],
    headersStart: raw.length,
    bodyStart: raw.length,
    body: raw.subarray(raw.length),
  };
}

/**
 * A naive view of a whole message for the matching tests: start line plus one header per
 * line, names lower-cased. Stands in for the codec's `parseSipMessage` in these tests only.
 */
export function fakeParse(text: string): SipRequest | SipResponse {
  const raw = Buffer.from(text.replaceAll('\n', '\r\n'));
  const lines = raw.toString('latin1').split('\r\n');
  const startLine = lines[0] ?? '';
  const headers = [];
  let offset = startLine.length + 2;
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    headers.push({
      name: line.slice(0, colon).trim().toLowerCase(),
      value: line.slice(colon + 1).trim(),
      start: offset,
      end: offset + line.length + 2,
    });
    offset += line.length + 2;
  }
  const common = {
    raw,
    headers,
    headersStart: startLine.length + 2,
    bodyStart: offset + 2,
    body: raw.subarray(offset + 2),
  };
  const [first = '', second = '', ...rest] = startLine.split(' ');
  if (first.startsWith('SIP/')) {
    return {
      kind: 'response',
      status: Number(second),
      reason: rest.join(' '),
      version: first,
      ...common,
    };
  }
  return { kind: 'request', method: first, requestUri: second, version: rest.join(' '), ...common };
}
