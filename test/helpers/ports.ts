import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';

/** Ports handed out by this process, so two calls never return the same port. */
const handedOut = new Set<number>();

function bindTcp(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(undefined);
    });
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => {
        resolve(bound);
      });
    });
  });
}

function bindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: '127.0.0.1', port, exclusive: true }, () => {
      socket.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * A port on 127.0.0.1 that is free for both TCP and UDP right now (SIP peers listen on
 * both with one number). The kernel may still give it away before the caller binds it;
 * callers that spawn peers should retry on a bind failure.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindTcp(0);
    if (port === undefined || handedOut.has(port)) continue;
    // Peers such as socat listen on p and talk to p+n; keep the pair simple: just UDP too.
    if (!(await bindUdp(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free TCP+UDP port on 127.0.0.1 after 50 attempts');
}

/** `count` distinct free ports (see {@link freePort}). */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function tcpAccepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

/** True when a UDP socket is bound on 127.0.0.1:`port` (we cannot bind it ourselves). */
export async function udpBound(port: number): Promise<boolean> {
  return !(await bindUdp(port));
}
