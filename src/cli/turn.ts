/**
 * `rampart turn credentials|sessions|disconnect`: issue a REST credential for this
 * deployment's A/V Edge (as coturn's turnadmin does for its secret), and list or end live
 * allocations through the admin API of a running `rampart start`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RampartConfig } from '../config/index.ts';
import type { Endpoint } from '../lib/endpoint.ts';
import { issueTurnCredential } from '../services/av-edge/index.ts';
import { avEdgeSettings } from './run.ts';

/** Text of `rampart turn credentials USER`. */
export function credentialsText(config: RampartConfig, user: string, ttlSeconds: number): string {
  const credential = issueTurnCredential(avEdgeSettings(config), user, ttlSeconds);
  return (
    `username: ${credential.username}\n` +
    `password: ${credential.password}\n` +
    `expires:  ${new Date(credential.expiresAt * 1000).toISOString()}\n`
  );
}

/** The admin base URL of the running deployment: endpoints.json first, else the config. */
export function adminBase(config: RampartConfig): string {
  try {
    const endpoints = JSON.parse(
      readFileSync(join(config.dataDir, 'endpoints.json'), 'utf8'),
    ) as Endpoint[];
    const admin = endpoints.find((e) => e.service === 'admin');
    if (admin !== undefined) {
      const host = admin.host.includes(':') ? `[${admin.host}]` : admin.host;
      return `http://${host}:${String(admin.port)}`;
    }
  } catch {
    // Not running from this data dir: fall back to the configured address.
  }
  const host = config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host;
  return `http://${host}:${String(config.admin.port)}`;
}

interface SessionRow {
  readonly side: string;
  readonly user: string;
  readonly transport: string;
  readonly client: string;
  readonly relayed: string;
  readonly ageSeconds: number;
  readonly expiresInSeconds: number;
  readonly bytesToPeer: number;
  readonly bytesToClient: number;
}

/** Text of `rampart turn sessions [USER]`: one line per live allocation. */
export async function sessionsText(config: RampartConfig, user?: string): Promise<string> {
  const query = user === undefined ? '' : `?user=${encodeURIComponent(user)}`;
  const response = await fetch(`${adminBase(config)}/api/turn/sessions${query}`);
  if (!response.ok) throw new Error(`admin answered ${String(response.status)}`);
  const { sessions } = (await response.json()) as { sessions: SessionRow[] };
  const header =
    'SIDE      USER                          TRANSPORT  CLIENT                 RELAYED                AGE   EXPIRES  TO-PEER     TO-CLIENT';
  const rows = sessions.map(
    (s) =>
      `${s.side.padEnd(9)} ${s.user.padEnd(29)} ${s.transport.padEnd(10)} ${s.client.padEnd(22)} ` +
      `${s.relayed.padEnd(22)} ${String(s.ageSeconds).padEnd(5)} ${String(s.expiresInSeconds).padEnd(8)} ` +
      `${String(s.bytesToPeer).padEnd(11)} ${String(s.bytesToClient)}`,
  );
  return [header, ...rows, `${String(sessions.length)} allocation(s)`].join('\n') + '\n';
}

/** `rampart turn disconnect USER`: ends every allocation of USER; returns how many. */
export async function disconnect(config: RampartConfig, user: string): Promise<number> {
  const response = await fetch(
    `${adminBase(config)}/api/turn/disconnect?user=${encodeURIComponent(user)}`,
    { method: 'POST' },
  );
  if (!response.ok) throw new Error(`admin answered ${String(response.status)}`);
  const { ended } = (await response.json()) as { ended: number | undefined };
  return ended ?? 0;
}
