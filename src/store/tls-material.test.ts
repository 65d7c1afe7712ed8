import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueCertificate, loadTlsMaterial } from './tls-material.ts';

function handshake(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ca, servername }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert.serialNumber);
    });
    socket.on('error', reject);
  });
}

describe('TLS material', () => {
  test('generates a CA and a server certificate once, reuses them, and a client can verify them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rampart-tls-'));
    try {
      const first = await loadTlsMaterial({
        dataDir,
        certFile: null,
        keyFile: null,
        caFile: null,
        names: ['edge.example.test'],
      });
      assert.equal(first.caPath, join(dataDir, 'tls', 'ca.pem'));
      assert.equal(statSync(join(dataDir, 'tls', 'server-key.pem')).mode & 0o777, 0o600);
      const again = await loadTlsMaterial({
        dataDir,
        certFile: null,
        keyFile: null,
        caFile: null,
        names: ['edge.example.test'],
      });
      assert.equal(again.cert, first.cert);
      const renamed = await loadTlsMaterial({
        dataDir,
        certFile: null,
        keyFile: null,
        caFile: null,
        names: ['other.example.test'],
      });
      assert.notEqual(renamed.cert, first.cert, 'a new name gets a new certificate');
      assert.equal(renamed.ca, first.ca, 'from the same CA');
      const server = createTlsServer({ key: renamed.key, cert: renamed.cert }, (s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        for (const name of ['other.example.test', 'localhost'])
          assert.ok(await handshake(port, renamed.ca, name));
        await assert.rejects(handshake(port, renamed.ca, 'not-covered.example'));
      } finally {
        server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('configured PEM files are reloaded when they change; a listener picks them up without dropping connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-tls-'));
    try {
      const ca = await createCertificateAuthority('Test CA');
      const one = await issueCertificate(ca, ['localhost']);
      const two = await issueCertificate(ca, ['localhost']);
      const certFile = join(dir, 'cert.pem');
      const keyFile = join(dir, 'key.pem');
      writeFileSync(certFile, one.cert);
      writeFileSync(keyFile, one.key);
      const material = await loadTlsMaterial({
        dataDir: dir,
        certFile,
        keyFile,
        caFile: null,
        names: [],
        watchIntervalMs: 50,
      });
      const server = createTlsServer({ key: material.key, cert: material.cert }, (s) => {
        s.on('data', (d: Buffer) => {
          s.write(d);
        });
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
        await new Promise((resolve) => setTimeout(resolve, 150));
        const after = await handshake(port, ca.cert, 'localhost');
        assert.notEqual(after, before, 'new handshakes see the new certificate');
        assert.equal(material.cert, readFileSync(certFile, 'utf8'));
        // The connection made before the reload still works.
        const echoed = new Promise<string>((resolve) =>
          live.once('data', (d: Buffer) => {
            resolve(d.toString());
          }),
        );
        live.write('ping');
        assert.equal(await echoed, 'ping');
        live.end();
      } finally {
        material.close();
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
