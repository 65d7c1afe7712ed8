/**
 * TLS material kept in the data directory: configured PEM files (watched and reloaded), or
 * a private CA and a server certificate generated on the first start and reused after.
 */
import 'reflect-metadata';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { webcrypto } from 'node:crypto';
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
import * as x509 from '@peculiar/x509';

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
  /** Where the CA certificate is on disk, to print for people. */
  readonly caPath: string | undefined;
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

/** Whether a PEM certificate covers every name and stays valid past the renewal margin. */
function stillGood(certPem: string, names: readonly string[]): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (new Date(cert.validTo).getTime() - Date.now() < RENEW_MARGIN_MS) return false;
    return names.every((name) =>
      isIP(name) === 0 ? cert.checkHost(name) !== undefined : cert.checkIP(name) !== undefined,
    );
  } catch {
    return false;
  }
}

/**
 * Loads configured PEM files (and watches them), or generates/reuses a private CA and a
 * server certificate in `<dataDir>/tls`.
 */
export async function loadTlsMaterial(options: TlsMaterialOptions): Promise<TlsMaterial> {
  const listeners = new Set<() => void>();
  if (options.certFile !== null && options.keyFile !== null) {
    const certFile = options.certFile;
    const keyFile = options.keyFile;
    const caFile = options.caFile;
    const read = (): { key: string; cert: string; ca: string } => ({
      key: readFileSync(keyFile, 'utf8'),
      cert: readFileSync(certFile, 'utf8'),
      ca: caFile === null ? '' : readFileSync(caFile, 'utf8'),
    });
    let current = read();
    const files = [certFile, keyFile, ...(caFile === null ? [] : [caFile])];
    const onFileChange = (): void => {
      try {
        const next = read();
        new NodeX509(next.cert); // refuse a half-written file: keep the old material
        current = next;
        for (const listener of listeners) listener();
      } catch {
        // Keep serving the previous certificate until the files are complete again.
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
      caPath: caFile ?? undefined,
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close() {
        if (closed) return;
        closed = true;
        for (const file of files) unwatchFile(file, onFileChange);
      },
    };
  }

  const dir = join(options.dataDir, 'tls');
  mkdirSync(dir, { recursive: true });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server-key.pem');
  let ca: CertificateAuthority;
  if (existsSync(caPath) && existsSync(caKeyPath)) {
    ca = { cert: readFileSync(caPath, 'utf8'), key: readFileSync(caKeyPath, 'utf8') };
  } else {
    ca = await createCertificateAuthority();
    writeFileSync(caPath, ca.cert);
    writePrivate(caKeyPath, ca.key);
  }
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...options.names])];
  let server: { cert: string; key: string };
  if (
    existsSync(certPath) &&
    existsSync(keyPath) &&
    stillGood(readFileSync(certPath, 'utf8'), names)
  ) {
    server = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } else {
    server = await issueCertificate(ca, names);
    writeFileSync(certPath, server.cert);
    writePrivate(keyPath, server.key);
  }
  return {
    key: server.key,
    cert: server.cert,
    ca: ca.cert,
    caPath,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      listeners.clear();
    },
  };
}
