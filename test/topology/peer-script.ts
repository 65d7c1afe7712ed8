// A tiny network peer run inside a namespace (`ip netns exec <ns> node peer-script.ts ...`),
// so reachability is tested with the same sockets Rampart uses rather than with ping.
//
//   serve <host> <port> [tls]   UDP and TCP (or TLS) on host:port; answers every datagram or
//                               connection's first chunk with `{"from":"ip:port","received":..}`;
//                               prints "ready" once bound.
//   send <udp|tcp|tls> <host> <port> <text> <timeoutMs>
//                               sends text, prints one JSON {@link SendOutcome} line, exits 0.
//
// TLS material comes from RT_TLS_CERT, RT_TLS_KEY and RT_TLS_CA (PEM file paths). A TLS
// server asks for a client certificate when RT_TLS_CA is set, and the client presents one
// when RT_TLS_CERT is set.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';

/** What `send` prints. */
export type SendOutcome =
  | { readonly ok: true; readonly reply: string; readonly local: string }
  | { readonly ok: false; readonly error: string };

function pem(variable: string): Buffer | undefined {
  const path = process.env[variable];
  return path === undefined || path === '' ? undefined : readFileSync(path);
}

function answer(from: string, received: Buffer): string {
  return JSON.stringify({ from, received: received.toString('utf8') });
}

function serve(host: string, port: number, useTls: boolean): void {
  const udp = createSocket('udp4');
  udp.on('message', (message, remote) => {
    udp.send(answer(`${remote.address}:${remote.port}`, message), remote.port, remote.address);
  });
  const onConnection = (socket: Socket): void => {
    socket.once('data', (chunk: Buffer) => {
      socket.end(answer(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`, chunk));
    });
    socket.on('error', () => undefined);
  };
  const ca = pem('RT_TLS_CA');
  const stream = useTls
    ? tls.createServer(
        {
          cert: pem('RT_TLS_CERT'),
          key: pem('RT_TLS_KEY'),
          ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
        },
        onConnection,
      )
    : createServer(onConnection);
  let bound = 0;
  const onBound = (): void => {
    if (++bound === 2) process.stdout.write('ready\n');
  };
  udp.bind(port, host, onBound);
  stream.listen(port, host, onBound);
}

function send(transport: string, host: string, port: number, text: string, timeoutMs: number) {
  let close = (): void => undefined;
  let finished = false;
  // No process.exit(): Node must get to write the TLS key log (--tls-keylog) before exiting.
  const finish = (outcome: SendOutcome): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
    close();
  };
  const timer = setTimeout(() => {
    finish({ ok: false, error: 'ETIMEDOUT' });
  }, timeoutMs);
  const fail = (error: NodeJS.ErrnoException): void => {
    finish({ ok: false, error: error.code ?? error.message });
  };
  if (transport === 'udp') {
    const socket = createSocket('udp4');
    close = () => {
      socket.close();
    };
    socket.on('error', fail);
    socket.on('message', (message) => {
      const local = socket.address();
      finish({
        ok: true,
        reply: message.toString('utf8'),
        local: `${local.address}:${local.port}`,
      });
    });
    socket.send(text, port, host);
    return;
  }
  const ca = pem('RT_TLS_CA');
  const cert = pem('RT_TLS_CERT');
  const key = pem('RT_TLS_KEY');
  const socket =
    transport === 'tls'
      ? tls.connect({
          host,
          port,
          ...(ca === undefined ? {} : { ca }),
          ...(cert === undefined ? {} : { cert }),
          ...(key === undefined ? {} : { key }),
        })
      : createConnection({ host, port });
  close = () => {
    socket.destroy();
  };
  socket.on('error', fail);
  socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => socket.write(text));
  socket.once('data', (chunk: Buffer) => {
    finish({
      ok: true,
      reply: chunk.toString('utf8'),
      local: `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`,
    });
  });
}

const [command, ...args] = process.argv.slice(2);
if (command === 'serve' && args.length >= 2) {
  serve(args[0]!, Number(args[1]), args[2] === 'tls');
} else if (command === 'send' && args.length === 5) {
  send(args[0]!, args[1]!, Number(args[2]), args[3]!, Number(args[4]));
} else {
  process.stderr.write(
    `usage: serve <host> <port> [tls] | send <transport> <host> <port> <text> <ms>\n`,
  );
  process.exit(64);
}
