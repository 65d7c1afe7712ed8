/**
 * `node-floor`: the least work a Node.js registrar does for bench:registrar's REGISTER load —
 * a measuring stick, not a registrar. One UDP socket; each REGISTER is split into lines, the
 * few headers a response copies are picked out, and it is answered: without credentials, a
 * 401 with a random nonce (qop=auth, MD5, as sipp 3.6 expects); with them, the digest
 * response is checked against the user's HA1 (RFC 7616 §3.4.1) and the binding kept in a Map
 * (memory only, as Kamailio/htable keeps it) before the 200 with the Contact. No parsing of
 * anything else, no syntax checks, no nonce validation or replay check, no transactions, no
 * persistence, no other method. Replies go only to a datagram's source.
 *
 * Run by `servers.ts` (`--servers node-floor`): `node bench/registrar/node-floor.ts --port P
 * --realm R --users FILE` (FILE: JSON `[{user, password}]`, read again on SIGHUP).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '5060' },
    host: { type: 'string', default: '127.0.0.1' },
    realm: { type: 'string', default: 'example.test' },
    users: { type: 'string', default: '' },
  },
});
const realm = args.realm;

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

let ha1ByUser = new Map<string, string>();
function loadUsers(): void {
  const users = JSON.parse(readFileSync(args.users, 'utf8')) as {
    user: string;
    password: string;
  }[];
  ha1ByUser = new Map(users.map((u) => [u.user, md5(`${u.user}:${realm}:${u.password}`)]));
}
if (args.users !== '') loadUsers();
process.on('SIGHUP', loadUsers);

/** `user contact` → expiry (ms since epoch). */
const bindings = new Map<string, number>();
const MAX_BINDINGS = 2_000_000;

const socket = createSocket({
  type: 'udp4',
  recvBufferSize: 4 * 1024 * 1024,
  sendBufferSize: 4 * 1024 * 1024,
});

/** The value of digest parameter `name` in an Authorization header value, unquoted. */
function param(value: string, name: string): string {
  let at = value.indexOf(`${name}=`);
  // A whole parameter name: `nonce=` must not match inside `cnonce=`.
  while (at > 0 && value[at - 1] !== ' ' && value[at - 1] !== ',')
    at = value.indexOf(`${name}=`, at + 1);
  if (at === -1) return '';
  const start = at + name.length + 1;
  if (value[start] === '"') return value.slice(start + 1, value.indexOf('"', start + 1));
  const end = value.indexOf(',', start);
  return value.slice(start, end === -1 ? undefined : end).trim();
}

function reply(lines: readonly string[], status: string, extra: string, to: RemoteInfo): void {
  let head = `SIP/2.0 ${status}\r\n`;
  for (const line of lines) {
    const lower = line.slice(0, 8).toLowerCase();
    if (lower.startsWith('via:')) head += `${line};received=${to.address}\r\n`;
    else if (lower.startsWith('to:')) head += `${line};tag=floor\r\n`;
    else if (lower.startsWith('from:') || lower.startsWith('call-id:') || lower.startsWith('cseq:'))
      head += `${line}\r\n`;
  }
  socket.send(`${head}${extra}Content-Length: 0\r\n\r\n`, to.port, to.address);
}

socket.on('message', (datagram: Buffer, from: RemoteInfo) => {
  const text = datagram.toString('latin1');
  if (!text.startsWith('REGISTER ')) return;
  const lines = text.split('\r\n');
  let authorization = '';
  let contact = '';
  let to = '';
  for (const line of lines) {
    const lower = line.slice(0, 14).toLowerCase();
    if (lower.startsWith('authorization:')) authorization = line.slice(14).trim();
    else if (lower.startsWith('contact:')) contact = line.slice(8).trim();
    else if (lower.startsWith('to:')) to = line.slice(3).trim();
  }
  if (authorization === '') {
    const nonce = randomBytes(16).toString('hex');
    reply(
      lines,
      '401 Unauthorized',
      `WWW-Authenticate: Digest realm="${realm}", nonce="${nonce}", qop="auth", algorithm=MD5\r\n`,
      from,
    );
    return;
  }
  const user = param(authorization, 'username');
  const ha1 = ha1ByUser.get(user);
  const ha2 = md5(`REGISTER:${param(authorization, 'uri')}`);
  const expected =
    ha1 === undefined
      ? ''
      : md5(
          `${ha1}:${param(authorization, 'nonce')}:${param(authorization, 'nc')}:` +
            `${param(authorization, 'cnonce')}:auth:${ha2}`,
        );
  if (expected === '' || expected !== param(authorization, 'response') || !to.includes(user)) {
    reply(lines, '403 Forbidden', '', from);
    return;
  }
  if (bindings.size < MAX_BINDINGS) bindings.set(`${user} ${contact}`, Date.now() + 3_600_000);
  reply(lines, '200 OK', `Contact: ${contact};expires=3600\r\n`, from);
});
socket.on('error', (error) => {
  console.error(`node-floor: ${error.message}`);
});
socket.bind(Number(args.port), args.host, () => {
  console.log(`node-floor listening on ${args.host}:${String(socket.address().port)}`);
});
process.on('SIGTERM', () => {
  process.exit(0);
});
