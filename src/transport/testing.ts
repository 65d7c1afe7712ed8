/**
 * Test support for the transport layer: throwaway X.509 certificates and event waiting.
 * Not used by production code.
 */
import { webcrypto } from 'node:crypto';
import type { SipTransportEvents, SipTransportLayer } from './transport-layer.ts';

installReflectMetadata();
// @peculiar/x509 needs the Reflect metadata API (via tsyringe) before it loads.
const x509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type MetadataTarget = object;

/**
 * The part of the Reflect metadata proposal that tsyringe and TypeScript decorator
 * output use, so @peculiar/x509 loads without the reflect-metadata package.
 */
function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === 'function') return;
  const store = new WeakMap<MetadataTarget, Map<string, unknown>>();
  const slot = (key: PropertyKey, property: PropertyKey | undefined): string =>
    `${String(property)}\u0000${String(key)}`;
  const getOwn = (key: PropertyKey, target: MetadataTarget, property?: PropertyKey): unknown =>
    store.get(target)?.get(slot(key, property));
  const define = (
    key: PropertyKey,
    value: unknown,
    target: MetadataTarget,
    property?: PropertyKey,
  ) => {
    let map = store.get(target);
    if (map === undefined) {
      map = new Map();
      store.set(target, map);
    }
    map.set(slot(key, property), value);
  };
  const get = (key: PropertyKey, target: MetadataTarget, property?: PropertyKey): unknown => {
    for (
      let current: MetadataTarget | null = target;
      current !== null;
      current = Object.getPrototypeOf(current) as MetadataTarget | null
    ) {
      const map = store.get(current);
      const name = slot(key, property);
      if (map?.has(name) === true) return map.get(name);
    }
    return undefined;
  };
  reflect.defineMetadata = define;
  reflect.getOwnMetadata = getOwn;
  reflect.getMetadata = get;
  reflect.hasMetadata = (key: PropertyKey, target: MetadataTarget, property?: PropertyKey) =>
    get(key, target, property) !== undefined;
  reflect.metadata =
    (key: PropertyKey, value: unknown) =>
    (target: MetadataTarget, property?: PropertyKey): void => {
      define(key, value, target, property);
    };
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A PEM certificate and its PEM private key. */
export interface TestCredentials {
  readonly cert: string;
  readonly key: string;
}

/** A CA that issues test certificates. */
export interface TestAuthority extends TestCredentials {
  /** Issues a leaf certificate for `commonName`, valid for `localhost` and 127.0.0.1. */
  /** A certificate for `commonName` (and `moreNames`), localhost and 127.0.0.1. */
  issue(commonName: string, moreNames?: readonly string[]): Promise<TestCredentials>;
}

let serial = 1;

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** Creates a throwaway certificate authority (ECDSA P-256) in memory. */
export async function createTestAuthority(name = 'Rampart Test CA'): Promise<TestAuthority> {
  const now = Date.now();
  const caKeys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return {
    cert: caCert.toString('pem'),
    key: await exportKey(caKeys.privateKey),
    issue: async (commonName, moreNames = []) => {
      const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: `CN=${commonName}`,
        issuer: caCert.subject,
        notBefore: new Date(now - DAY_MS),
        notAfter: new Date(now + DAY_MS),
        signingKey: caKeys.privateKey,
        publicKey: keys.publicKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
          new x509.SubjectAlternativeNameExtension([
            { type: 'dns', value: 'localhost' },
            { type: 'dns', value: commonName },
            ...moreNames.map((value) => ({ type: 'dns' as const, value })),
            { type: 'ip', value: '127.0.0.1' },
          ]),
        ],
      });
      return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
    },
  };
}

/** Resolves with the arguments of the next `event` that satisfies `accept`, or rejects after `timeoutMs`. */
export function nextEvent<K extends keyof SipTransportEvents>(
  layer: SipTransportLayer,
  event: K,
  accept: (...args: SipTransportEvents[K]) => boolean = () => true,
  timeoutMs = 3000,
): Promise<SipTransportEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = layer.on(event, (...args) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    });
  });
}

/** A minimal SIP request with a correct Content-Length. */
export function sipRequest(method: string, body = '', extraHeaders = ''): Buffer {
  return Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\n` +
      `Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK${(serial++).toString()}\r\n` +
      `Call-ID: ${method.toLowerCase()}-${(serial++).toString()}@example.com\r\n` +
      `CSeq: 1 ${method}\r\n` +
      extraHeaders +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}
