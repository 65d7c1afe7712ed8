import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireProgram, startProcess } from './process.ts';

/** PEM files of a throwaway CA and a server certificate for 127.0.0.1 / localhost. */
export interface TestPki {
  readonly caCertFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const binary = requireProgram('openssl', 'openssl');
  const run = startProcess('openssl', binary, args, { cwd });
  const exit = await run.exited;
  if (exit.code !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed (${String(exit.code)}): ${run.stderr()}`);
  }
}

/**
 * Writes a CA (ca.pem) and a CA-signed server certificate (server.pem, server.key, EC
 * P-256, SAN IP:127.0.0.1 and DNS:localhost) into `dir`, with the openssl CLI.
 */
export async function createTestPki(dir: string): Promise<TestPki> {
  const caKey = join(dir, 'ca.key');
  const caCertFile = join(dir, 'ca.pem');
  const serverKeyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const serverCertFile = join(dir, 'server.pem');
  const extFile = join(dir, 'server.ext');
  await writeFile(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', caKey, '-out', caCertFile, '-days', '2']
      .concat(['-subj', '/CN=Rampart test CA', '-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
  );
  await openssl(
    ['req', '-new', ...ec, '-keyout', serverKeyFile, '-out', csr, '-subj', '/CN=127.0.0.1'],
    dir,
  );
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', caCertFile, '-CAkey', caKey, '-CAcreateserial'].concat([
      '-out',
      serverCertFile,
      '-days',
      '2',
      '-extfile',
      extFile,
    ]),
    dir,
  );
  return { caCertFile, serverCertFile, serverKeyFile };
}
