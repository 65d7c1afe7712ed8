import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { RampartError } from '../lib/errors.ts';
import {
  createCertificateAuthority,
  issueCertificate,
  loadTlsMaterial,
  type TlsMaterialOptions,
} from './tls-material.ts';

function generated(dataDir: string, names: readonly string[]): TlsMaterialOptions {
  return { dataDir, certFile: null, keyFile: null, caFile: null, names };
}

async function withTlsServer<T>(
  options: TlsOptions,
  body: (port: number) => Promise<T>,
): Promise<T> {
  const server = createTlsServer(options, (socket) => {
    socket.on('data', (data: Buffer) => socket.write(data));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body((server.address() as AddressInfo).port);
  } finally {
    server.close();
  }
}

/** Completes a verified handshake; resolves with the server certificate's serial number. */
function handshake(
  port: number,
  ca: string,
  servername: string | undefined,
  client?: { cert: string; key: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        port,
        host: '127.0.0.1',
        ca,
        ...(servername === undefined ? {} : { servername }),
        ...(client ?? {}),
      },
      () => {
        const serial = socket.getPeerCertificate().serialNumber;
        // Under TLS 1.3 the server checks the client certificate after the handshake:
        // an echo proves the server accepted it.
        socket.once('data', () => {
          socket.end();
          resolve(serial);
        });
        socket.write('x');
      },
    );
    socket.on('error', reject);
    // A server that refuses the client certificate after the handshake may just close.
    socket.on('close', () => {
      reject(new Error('connection closed before the echo'));
    });
  });
}

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'rampart-tls-'));
}

describe('TLS material', () => {
  test('first start generates a CA and a server certificate with private keys 0600', async () => {
    const dataDir = temporaryDirectory();
    try {
      const material = await loadTlsMaterial(generated(dataDir, ['edge.example.test']));
      const dir = join(dataDir, 'tls');
      assert.equal(material.caPath, join(dir, 'ca.pem'));
      assert.equal(material.ca, readFileSync(join(dir, 'ca.pem'), 'utf8'));
      assert.equal(material.cert, readFileSync(join(dir, 'server.pem'), 'utf8'));
      assert.equal(material.key, readFileSync(join(dir, 'server-key.pem'), 'utf8'));
      for (const key of ['ca-key.pem', 'server-key.pem'])
        assert.equal(statSync(join(dir, key)).mode & 0o777, 0o600, key);
      material.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('the server certificate verifies against the CA for its names, localhost and 127.0.0.1 only', async () => {
    const dataDir = temporaryDirectory();
    try {
      const material = await loadTlsMaterial(generated(dataDir, ['edge.example.test']));
      await withTlsServer({ key: material.key, cert: material.cert }, async (port) => {
        for (const name of ['edge.example.test', 'localhost'])
          assert.ok(await handshake(port, material.ca, name), name);
        assert.ok(await handshake(port, material.ca, undefined), 'IP SAN 127.0.0.1');
        await assert.rejects(handshake(port, material.ca, 'not-covered.example.test'), {
          code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        });
        const stranger = await createCertificateAuthority('Some other CA');
        await assert.rejects(handshake(port, stranger.cert, 'localhost'));
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('later starts reuse the material; a change of names reissues from the same CA', async () => {
    const dataDir = temporaryDirectory();
    try {
      const first = await loadTlsMaterial(generated(dataDir, ['a.example.test', 'b.example.test']));
      const again = await loadTlsMaterial(generated(dataDir, ['b.example.test', 'a.example.test']));
      assert.equal(again.cert, first.cert, 'same names in another order: reused');
      assert.equal(again.key, first.key);
      const fewer = await loadTlsMaterial(generated(dataDir, ['a.example.test']));
      assert.notEqual(fewer.cert, first.cert, 'a removed name reissues');
      const other = await loadTlsMaterial(generated(dataDir, ['a.example.test', 'c.example.test']));
      assert.notEqual(other.cert, fewer.cert, 'a new name reissues');
      assert.equal(other.ca, first.ca, 'from the same CA');
      await withTlsServer({ key: other.key, cert: other.cert }, async (port) => {
        assert.ok(await handshake(port, first.ca, 'c.example.test'));
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a certificate expiring within 30 days, or from a replaced CA, is reissued', async () => {
    const dataDir = temporaryDirectory();
    try {
      const names = ['edge.example.test'];
      const first = await loadTlsMaterial(generated(dataDir, names));
      const dir = join(dataDir, 'tls');
      const ca = {
        cert: readFileSync(join(dir, 'ca.pem'), 'utf8'),
        key: readFileSync(join(dir, 'ca-key.pem'), 'utf8'),
      };
      const soon = await issueCertificate(ca, ['localhost', '127.0.0.1', '::1', ...names], {
        days: 10,
      });
      writeFileSync(join(dir, 'server.pem'), soon.cert);
      writeFileSync(join(dir, 'server-key.pem'), soon.key);
      const renewed = await loadTlsMaterial(generated(dataDir, names));
      assert.notEqual(renewed.cert, soon.cert);
      assert.equal(renewed.ca, first.ca);

      rmSync(join(dir, 'ca-key.pem'));
      const newCa = await loadTlsMaterial(generated(dataDir, names));
      assert.notEqual(newCa.ca, first.ca, 'a CA without its key is replaced');
      assert.notEqual(newCa.cert, renewed.cert, 'and the server certificate with it');
      await withTlsServer({ key: newCa.key, cert: newCa.cert }, async (port) => {
        assert.ok(await handshake(port, newCa.ca, 'edge.example.test'));
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a client certificate from issueCertificate passes a mutual TLS handshake', async () => {
    const ca = await createCertificateAuthority('Test CA');
    const server = await issueCertificate(ca, ['localhost']);
    const client = await issueCertificate(ca, ['partner.example.test'], { client: true });
    const options: TlsOptions = {
      ...server,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    };
    await withTlsServer(options, async (port) => {
      assert.ok(await handshake(port, ca.cert, 'localhost', client));
      const stranger = await createCertificateAuthority('Stranger CA');
      const forged = await issueCertificate(stranger, ['partner.example.test'], { client: true });
      await assert.rejects(handshake(port, ca.cert, 'localhost', forged));
    });
  });

  test('configured files that are missing or do not pair are refused with RAMPART_ERR_TLS', async () => {
    const dir = temporaryDirectory();
    try {
      const ca = await createCertificateAuthority('Test CA');
      const one = await issueCertificate(ca, ['localhost']);
      const two = await issueCertificate(ca, ['localhost']);
      const certFile = join(dir, 'cert.pem');
      const keyFile = join(dir, 'key.pem');
      writeFileSync(certFile, one.cert);
      writeFileSync(keyFile, two.key);
      const options = { dataDir: dir, certFile, keyFile, caFile: null, names: [] };
      await assert.rejects(
        loadTlsMaterial(options),
        (error: unknown) => error instanceof RampartError && error.code === 'RAMPART_ERR_TLS',
      );
      await assert.rejects(
        loadTlsMaterial({ ...options, keyFile: join(dir, 'missing.pem') }),
        /tls\.keyFile .*missing\.pem/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('configured files are reloaded on change; established connections keep working', async () => {
    const dir = temporaryDirectory();
    try {
      const ca = await createCertificateAuthority('Test CA');
      const one = await issueCertificate(ca, ['localhost']);
      const two = await issueCertificate(ca, ['localhost']);
      const certFile = join(dir, 'cert.pem');
      const keyFile = join(dir, 'key.pem');
      const caFile = join(dir, 'ca.pem');
      writeFileSync(certFile, one.cert);
      writeFileSync(keyFile, one.key);
      writeFileSync(caFile, ca.cert);
      const material = await loadTlsMaterial({
        dataDir: dir,
        certFile,
        keyFile,
        caFile,
        names: [],
        watchIntervalMs: 50,
      });
      assert.equal(material.caPath, caFile);
      assert.equal(material.ca, ca.cert);
      const server = createTlsServer({ key: material.key, cert: material.cert }, (socket) => {
        socket.on('data', (data: Buffer) => socket.write(data));
      });
      material.onChange(() => {
        server.setSecureContext({ key: material.key, cert: material.cert });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        const live = connect({ port, host: '127.0.0.1', ca: ca.cert, servername: 'localhost' });
        await new Promise((resolve) => live.once('secureConnect', resolve));
        const before = await handshake(port, ca.cert, 'localhost');
        const changed = new Promise<void>((resolve) => material.onChange(resolve));
        writeFileSync(keyFile, two.key);
        writeFileSync(certFile, two.cert);
        await changed;
        assert.equal(material.cert, two.cert);
        assert.equal(material.key, two.key);
        const after = await handshake(port, ca.cert, 'localhost');
        assert.notEqual(after, before, 'new handshakes see the new certificate');
        const echoed = new Promise<string>((resolve) =>
          live.once('data', (data: Buffer) => {
            resolve(data.toString());
          }),
        );
        live.write('ping');
        assert.equal(await echoed, 'ping', 'the connection made before the reload still works');
        live.end();
      } finally {
        material.close();
        material.close();
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
