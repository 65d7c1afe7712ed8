/**
 * The TURN REST shared secret of an all-in-one deployment: when `av-edge.auth.secrets` is
 * empty, one is generated into `<data-dir>/turn-secret` (mode 0600) at the first start and
 * reused, so `rampart start` and `rampart turn credentials` agree without configuration.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, RampartError } from '../lib/errors.ts';

/** Where the generated secret lives. */
export function turnSecretPath(dataDir: string): string {
  return join(dataDir, 'turn-secret');
}

/** Reads the generated secret, creating it (32 random bytes, hex) when absent. */
export function loadOrCreateTurnSecret(dataDir: string): string {
  return loadOrCreateSecret(dataDir, turnSecretPath(dataDir));
}

/**
 * The secret of the SIP servers' stateless Digest nonces and temporary GRUUs,
 * `<data-dir>/sip-secret`, shared by the Director and the Front End of a deployment.
 */
export function loadOrCreateSipSecret(dataDir: string): string {
  return loadOrCreateSecret(dataDir, join(dataDir, 'sip-secret'));
}

function loadOrCreateSecret(dataDir: string, path: string): string {
  try {
    const secret = readFileSync(path, 'utf8').trim();
    if (secret.length < 16) {
      throw new RampartError(ERROR_CODES.CONFIG, `${path}: secret shorter than 16 characters`);
    }
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  // 'wx': never overwrite a secret another process wrote in the meantime.
  try {
    writeFileSync(path, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return loadOrCreateSecret(dataDir, path);
    throw error;
  }
  return secret;
}
