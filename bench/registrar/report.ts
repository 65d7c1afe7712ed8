/**
 * Pure helpers of `npm run bench:registrar`: the benchmark's users and their credentials, the
 * files given to sipp (injection CSV) and to Kamailio (db_text `subscriber` table), the pass
 * verdict of a load step, ratios and the summary lines.
 */
import { createHash } from 'node:crypto';

/** A provisioned user: SIP user part and digest password. */
export interface RegistrarUser {
  readonly user: string;
  readonly password: string;
}

/** Characters that may not appear in a user or password: sipp CSV and db_text separators. */
const UNSAFE = /[;:\\\s[\]"]/;

/**
 * `count` users `<prefix>000000`, `<prefix>000001`, … with distinct passwords derived from the
 * index (deterministic, so a failed run can be replayed, and never equal to the user name).
 */
export function benchUsers(count: number, prefix = 'u'): RegistrarUser[] {
  if (!Number.isInteger(count) || count < 0 || count > 10_000_000) {
    throw new RangeError(`user count must be an integer in [0, 1e7], got ${count}`);
  }
  const users: RegistrarUser[] = [];
  for (let index = 0; index < count; index++) {
    const user = `${prefix}${String(index).padStart(6, '0')}`;
    // A fixed letter first: sipp reads a password starting with "0x" as hex (AKA keys).
    const password =
      'p' +
      createHash('sha256')
        .update(`rampart-bench-registrar:${user}`)
        .digest('base64url')
        .slice(0, 15);
    users.push({ user, password });
  }
  return users;
}

/** RFC 2617 §3.2.2.2 (RFC 3261 §22.4): HA1 = MD5(username ":" realm ":" password), hex. */
export function digestHa1(user: string, realm: string, password: string): string {
  return createHash('md5').update(`${user}:${realm}:${password}`).digest('hex');
}

function assertSafe(user: RegistrarUser): void {
  if (user.user === '' || UNSAFE.test(user.user) || UNSAFE.test(user.password)) {
    throw new Error(
      `user "${user.user}" or its password has a character sipp/db_text cannot carry`,
    );
  }
}

/**
 * The db_text `subscriber` table (Kamailio 5.6, table version 7) holding only HA1: the
 * `password` column stays empty (declared nullable) because auth_db runs with
 * `calculate_ha1 0` and reads `ha1`, so no plaintext password is stored.
 */
export function dbTextSubscriberTable(
  users: readonly RegistrarUser[],
  domain: string,
  realm: string,
): string {
  const lines = [
    'id(int,auto) username(string) domain(string) password(string,null) ha1(string) ha1b(string,null) ',
  ];
  users.forEach((user, index) => {
    assertSafe(user);
    lines.push(
      `${index + 1}:${user.user}:${domain}::${digestHa1(user.user, realm, user.password)}:`,
    );
  });
  return lines.join('\n') + '\n';
}

/**
 * The db_text table Kamailio's htable module loads at start into `auth` (user → HA1):
 * key_type 0 (plain key), value_type 0 (string), no expiry.
 */
export function dbTextHtableAuthTable(users: readonly RegistrarUser[], realm: string): string {
  const lines = [
    'id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) ',
  ];
  users.forEach((user, index) => {
    assertSafe(user);
    lines.push(`${index + 1}:${user.user}:0:0:${digestHa1(user.user, realm, user.password)}:0`);
  });
  return lines.join('\n') + '\n';
}

/**
 * The db_text `version` table the modules check at start (Kamailio 5.6: subscriber 7,
 * htable 2).
 */
export function dbTextVersionTable(): string {
  return (
    'id(int,auto) table_name(string) table_version(int) \n' +
    '0:version:1\n0:subscriber:7\n0:htable_auth:2\n'
  );
}

/**
 * sipp injection file (`-inf`), read SEQUENTIAL: one line per registration,
 * `user;[authentication username=user password=pw];instance`. sipp 3.6 does not expand
 * `[field0]` inside its `[authentication]` keyword but does expand keywords that come from an
 * injected field, hence the keyword in field 1. Each user appears `contactsPerUser` times in a
 * row with instances 0…n-1, giving that many distinct bindings per AOR.
 */
export function injectionCsv(users: readonly RegistrarUser[], contactsPerUser = 1): string {
  if (!Number.isInteger(contactsPerUser) || contactsPerUser < 1 || contactsPerUser > 1000) {
    throw new RangeError(`contactsPerUser must be an integer in [1, 1000], got ${contactsPerUser}`);
  }
  const lines = ['SEQUENTIAL'];
  for (const user of users) {
    assertSafe(user);
    for (let instance = 0; instance < contactsPerUser; instance++) {
      lines.push(
        `${user.user};[authentication username=${user.user} password=${user.password}];${instance}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** What one sipp run reported, as far as the verdict needs it. */
export interface StepCounts {
  /** Calls the step asked for (`-m`). */
  readonly calls: number;
  /** Target rate (calls/s, `-r`). */
  readonly rate: number;
  readonly successfulCalls: number;
  readonly failedCalls: number;
  readonly outgoingCalls: number;
  /** Retransmissions at the client plus at the uas (MESSAGE relays). */
  readonly retransmissions: number;
  readonly exitCode: number | null;
  readonly killedByHarness: boolean;
  /** Wall time over which the calls were offered. */
  readonly elapsedMs: number;
}

/**
 * Why a step did not pass, or 'ok'. A step passes when every call succeeded, nothing was
 * retransmitted (over UDP a retransmission means an answer came later than T1 = 500 ms, RFC
 * 3261 §17.1.2.2) and sipp really offered at least 85 % of the target rate.
 */
export function stepVerdict(counts: StepCounts): string {
  const problems: string[] = [];
  if (counts.exitCode === 0 && counts.failedCalls === 0 && counts.outgoingCalls < counts.calls) {
    problems.push(`sipp ended early (${counts.outgoingCalls}/${counts.calls} calls placed)`);
  }
  if (counts.successfulCalls !== counts.calls) {
    problems.push(`${counts.successfulCalls}/${counts.calls} calls ok`);
  }
  if (counts.failedCalls > 0) problems.push(`${counts.failedCalls} failed`);
  if (counts.retransmissions > 0) problems.push(`${counts.retransmissions} retransmissions`);
  if (counts.killedByHarness) problems.push('sipp overran its timeout');
  const offeredRate = counts.calls / Math.max(0.001, counts.elapsedMs / 1000);
  if (offeredRate < counts.rate * 0.85) problems.push(`offered only ${offeredRate.toFixed(0)}/s`);
  return problems.length === 0 ? 'ok' : problems.join(', ');
}

/** candidate / baseline, or null when the baseline has no figure (0, failed or absent). */
export function rateRatio(
  candidate: number | undefined,
  baseline: number | undefined,
): number | null {
  if (candidate === undefined || baseline === undefined || !(baseline > 0)) return null;
  return candidate / baseline;
}

/** Memory growth of a server per registered binding. */
export interface BindingMemory {
  readonly bindings: number;
  /** Sum of VmRSS over the server's processes (counts shared pages once per process). */
  readonly rssBytesPerBinding: number | null;
  /** Sum of Pss (shared pages split between the processes that map them): the real total. */
  readonly pssBytesPerBinding: number | null;
  /** Kamailio only: growth of the shared-memory pool's `real_used` (`kamcmd core.shmmem`). */
  readonly shmBytesPerBinding: number | null;
}

/** (after - before) / bindings, or null when nothing was registered or not measured. */
export function perBinding(
  before: number | undefined,
  after: number | undefined,
  bindings: number,
): number | null {
  if (before === undefined || after === undefined || !(bindings > 0)) return null;
  return (after - before) / bindings;
}

/** What was measured for one server; absent figures mean the phase failed or did not run. */
export interface ServerFigures {
  readonly name: string;
  readonly registerPerSecond?: number;
  readonly messagePerSecond?: number;
  /** CPU of the server per call at `--cpu-rate`, microseconds. */
  readonly registerCpuMicrosPerCall?: number;
  readonly messageCpuMicrosPerCall?: number;
  readonly memory?: BindingMemory;
  readonly error?: string;
}

function formatBytes(value: number | null): string {
  return value === null ? 'n/a' : `${Math.round(value)} B`;
}

function formatRatio(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(2);
}

/**
 * Summary lines: each server's figures, then `candidate`/other ratios for every other server
 * measured (rates: higher is better, goal ≥ 1.0; memory: PSS per binding, lower is better).
 */
export function summaryLines(servers: readonly ServerFigures[], candidate = 'rampart'): string[] {
  const lines: string[] = [];
  for (const server of servers) {
    const parts = [
      `REGISTER ${server.registerPerSecond ?? 'n/a'}/s`,
      `MESSAGE ${server.messagePerSecond ?? 'n/a'}/s`,
    ];
    if (
      server.registerCpuMicrosPerCall !== undefined ||
      server.messageCpuMicrosPerCall !== undefined
    )
      parts.push(
        `CPU per call REGISTER ${server.registerCpuMicrosPerCall ?? 'n/a'} µs, ` +
          `MESSAGE ${server.messageCpuMicrosPerCall ?? 'n/a'} µs`,
      );
    if (server.memory !== undefined) {
      const memory = server.memory;
      parts.push(
        `memory per binding (${memory.bindings}): RSS ${formatBytes(memory.rssBytesPerBinding)}, ` +
          `PSS ${formatBytes(memory.pssBytesPerBinding)}` +
          (memory.shmBytesPerBinding === null
            ? ''
            : `, shm pool ${formatBytes(memory.shmBytesPerBinding)}`),
      );
    }
    lines.push(
      `${server.name}: ${parts.join(', ')}` +
        (server.error === undefined ? '' : ` [error: ${server.error}]`),
    );
  }
  const a = servers.find((server) => server.name === candidate);
  if (a === undefined) return lines;
  for (const b of servers) {
    if (b === a) continue;
    lines.push(
      `ratio ${a.name}/${b.name} (goal ≥ 1.0): REGISTER ` +
        `${formatRatio(rateRatio(a.registerPerSecond, b.registerPerSecond))}, MESSAGE ` +
        `${formatRatio(rateRatio(a.messagePerSecond, b.messagePerSecond))}; PSS per binding ` +
        formatRatio(
          rateRatio(
            a.memory?.pssBytesPerBinding ?? undefined,
            b.memory?.pssBytesPerBinding ?? undefined,
          ),
        ) +
        (a.registerCpuMicrosPerCall === undefined && a.messageCpuMicrosPerCall === undefined
          ? ''
          : `; CPU per call (other / ${a.name}) REGISTER ` +
            `${formatRatio(rateRatio(b.registerCpuMicrosPerCall, a.registerCpuMicrosPerCall))}, ` +
            `MESSAGE ${formatRatio(rateRatio(b.messageCpuMicrosPerCall, a.messageCpuMicrosPerCall))}`),
    );
  }
  return lines;
}
