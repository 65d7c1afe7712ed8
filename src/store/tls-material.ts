/**
 * TLS material kept in the data directory: configured PEM files (watched and reloaded), or
 * a private CA and a server certificate generated on the first start and reused after.
 */
import 'reflect-metadata';
import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  unwatchFile,
  watchFile,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A generated server certificate is replaced when it expires within this margin. */
const RENEW_MARGIN_MS = 30 * DAY_MS;

/** Current certificates; getters always return the latest PEMs. */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** CA certificate(s) clients should trust (and we trust for outgoing TLS). */
  readonly ca: string;
  /**
   * Where the CA certificate is on disk, to print for people: `<dataDir>/tls/ca.pem` when
   * generated, `tls.caFile` when configured, `''` when certificates are configured without a CA.
   */
  readonly caPath: string;
  /** Called after the files changed on disk and were reloaded. */
  onChange(listener: () => void): () => void;
  /** Stops watching files. Idempotent. */
  close(): void;
}

/** Where to find or put the material. */
export interface TlsMaterialOptions {
  readonly dataDir: string;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly caFile: string | null;
  /** Names for a generated certificate (DNS names or IP addresses). */
  readonly names: readonly string[];
  /** How often configured files are polled for changes. */
  readonly watchIntervalMs?: number;
}

/** A CA's certificate and key, PEM. */
export interface CertificateAuthority {
  readonly cert: string;
  readonly key: string;
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (der === undefined) throw new Error('no key in PEM');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex');
}

/** Creates a private CA (ECDSA P-256, 10 years). */
export async function createCertificateAuthority(
  commonName = 'Rampart private CA',
): Promise<CertificateAuthority> {
  const now = Date.now();
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** Issues a certificate signed by `ca` for `names` (server and client use, 1 year). */
export async function issueCertificate(
  ca: CertificateAuthority,
  names: readonly string[],
  options: { readonly client?: boolean; readonly days?: number } = {},
): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const caCert = new x509.X509Certificate(ca.cert);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const unique = [...new Set(names)];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${unique.find((n) => isIP(n) === 0) ?? unique[0] ?? 'rampart'}`,
    issuer: caCert.subject,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + (options.days ?? 365) * DAY_MS),
    signingKey: await importKey(ca.key),
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        options.client === true
          ? [x509.ExtendedKeyUsage.clientAuth]
          : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      ),
      new x509.SubjectAlternativeNameExtension(
        unique.map((name) =>
          isIP(name) === 0
            ? { type: 'dns' as const, value: name }
            : { type: 'ip' as const, value: name },
        ),
      ),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

function writePrivate(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Canonical form of a certificate name: lower-case DNS name, or the normalised IP literal. */
function canonicalName(name: string): string {
  if (isIP(name) === 6) return new URL(`http://[${name}]/`).hostname;
  return name.toLowerCase();
}

/** The DNS and IP names of a certificate's subjectAltName, canonical. */
function certificateNames(cert: x509.X509Certificate): Set<string> {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = new Set<string>();
  for (const item of san?.names.items ?? []) {
    if (item.type === 'dns' || item.type === 'ip') names.add(canonicalName(item.value));
  }
  return names;
}

/** Whether `key` is the private key of `cert` (both PEM). */
function pairMatches(cert: string, key: string): boolean {
  try {
    createSecureContext({ cert, key });
    return true;
  } catch {
    return false;
  }
}

function expiresSoon(cert: NodeX509, now: number): boolean {
  return new Date(cert.validTo).getTime() - now < RENEW_MARGIN_MS;
}

/** Whether a generated CA can be reused: parses, is a CA, is not about to expire, has its key. */
function reusableCa(ca: CertificateAuthority, now: number): boolean {
  try {
    const cert = new NodeX509(ca.cert);
    return cert.ca && !expiresSoon(cert, now) && pairMatches(ca.cert, ca.key);
  } catch {
    return false;
  }
}

/**
 * Whether a generated server certificate can be reused: issued by `caPem`, for exactly
 * `names`, not expiring within the renewal margin, and matching its key.
 */
function reusableServer(
  server: { cert: string; key: string },
  caPem: string,
  names: readonly string[],
  now: number,
): boolean {
  try {
    const cert = new NodeX509(server.cert);
    const ca = new NodeX509(caPem);
    if (expiresSoon(cert, now) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    const have = certificateNames(new x509.X509Certificate(server.cert));
    const want = new Set(names.map(canonicalName));
    if (have.size !== want.size || [...want].some((name) => !have.has(name))) return false;
    return pairMatches(server.cert, server.key);
  } catch {
    return false;
  }
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RampartError(
      ERROR_CODES.TLS,
      `cannot read ${what} ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function readIfPresent(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * Loads configured PEM files (and watches them), or generates/reuses a private CA and a
 * server certificate in `<dataDir>/tls`. The generated server certificate covers `names`
 * plus `localhost`, 127.0.0.1 and ::1; it is reissued when that set changes, when it expires
 * within 30 days, or when the CA changed. Throws a `RAMPART_ERR_TLS` {@link RampartError}
 * when configured files are missing or do not form a key/certificate pair.
 */
export async function loadTlsMaterial(options: TlsMaterialOptions): Promise<TlsMaterial> {
  const listeners = new Set<() => void>();
  if (options.certFile !== null && options.keyFile !== null) {
    const certFile = options.certFile;
    const keyFile = options.keyFile;
    const caFile = options.caFile;
    const read = (): { key: string; cert: string; ca: string } => {
      const next = {
        key: readPem(keyFile, 'tls.keyFile'),
        cert: readPem(certFile, 'tls.certFile'),
        ca: caFile === null ? '' : readPem(caFile, 'tls.caFile'),
      };
      try {
        createSecureContext({
          key: next.key,
          cert: next.cert,
          ...(caFile === null ? {} : { ca: next.ca }),
        });
      } catch (error) {
        throw new RampartError(
          ERROR_CODES.TLS,
          `tls.certFile ${certFile} and tls.keyFile ${keyFile} are not a usable pair: ${(error as Error).message}`,
          { cause: error },
        );
      }
      return next;
    };
    let current = read();
    const files = [certFile, keyFile, ...(caFile === null ? [] : [caFile])];
    const onFileChange = (): void => {
      try {
        // A half-written or mismatched pair throws: keep the old material until it is whole.
        const next = read();
        if (next.key === current.key && next.cert === current.cert && next.ca === current.ca)
          return;
        current = next;
      } catch {
        return;
      }
      for (const listener of listeners) {
        try {
          listener();
        } catch {
          // One listener's failure must not keep the others on the old certificate.
        }
      }
    };
    const interval = options.watchIntervalMs ?? 2000;
    for (const file of files) watchFile(file, { interval, persistent: false }, onFileChange);
    let closed = false;
    return {
      get key() {
        return current.key;
      },
      get cert() {
        return current.cert;
      },
      get ca() {
        return current.ca;
      },
      caPath: caFile ?? '',
      onChange(listener) {
        listeners.add(listener);
        return () => {
          listeners.delete(listener);
        };
      },
      close() {
        if (closed) return;
        closed = true;
        listeners.clear();
        for (const file of files) unwatchFile(file, onFileChange);
      },
    };
  }

  const dir = join(options.dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server-key.pem');
  const now = Date.now();
  const storedCaCert = readIfPresent(caPath);
  const storedCaKey = readIfPresent(caKeyPath);
  let ca: CertificateAuthority;
  if (
    storedCaCert !== undefined &&
    storedCaKey !== undefined &&
    reusableCa({ cert: storedCaCert, key: storedCaKey }, now)
  ) {
    ca = { cert: storedCaCert, key: storedCaKey };
  } else {
    ca = await createCertificateAuthority();
    writePrivate(caKeyPath, ca.key);
    writeFileSync(caPath, ca.cert);
  }
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...options.names])];
  const storedCert = readIfPresent(certPath);
  const storedKey = readIfPresent(keyPath);
  let server: { cert: string; key: string };
  if (
    storedCert !== undefined &&
    storedKey !== undefined &&
    reusableServer({ cert: storedCert, key: storedKey }, ca.cert, names, now)
  ) {
    server = { cert: storedCert, key: storedKey };
  } else {
    server = await issueCertificate(ca, names);
    writePrivate(keyPath, server.key);
    writeFileSync(certPath, server.cert);
  }
  return {
    key: server.key,
    cert: server.cert,
    ca: ca.cert,
    caPath,
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      listeners.clear();
    },
  };
}
