/**
 * The TURN benchmark's peer: one UDP socket on 127.0.0.1 that sends every datagram back to
 * where it came from (a relayed transport address, so the server relays it back to its
 * client as ChannelData). Run as its own process so it can be pinned:
 * `taskset -c 1 node bench/turn/echo.ts [--max-seconds 3600]`.
 *
 * Prints `{"port":N}` once bound. A datagram equal to {@link ECHO_STATS_QUERY} is answered
 * with `{"received":R,"sent":S}` (counts before the query) instead of being echoed.
 */
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

/** The control datagram that asks the echo peer for its counters. */
export const ECHO_STATS_QUERY = Buffer.from('RAMPART-BENCH-ECHO-STATS?');

/** Counters the echo peer reports. */
export interface EchoStats {
  readonly received: number;
  readonly sent: number;
}

/** The largest receive buffer Linux grants without privileges (net.core.rmem_max). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function main(): void {
  const { values } = parseArgs({
    options: {
      'max-seconds': { type: 'string', default: '3600' },
      port: { type: 'string', default: '0' },
    },
  });
  let received = 0;
  let sent = 0;
  const socket = createSocket({
    type: 'udp4',
    recvBufferSize: RECEIVE_BUFFER_BYTES,
    sendBufferSize: RECEIVE_BUFFER_BYTES,
  });
  socket.on('message', (datagram, from) => {
    if (datagram.length === ECHO_STATS_QUERY.length && datagram.equals(ECHO_STATS_QUERY)) {
      const stats: EchoStats = { received, sent };
      socket.send(JSON.stringify(stats), from.port, from.address);
      return;
    }
    received++;
    socket.send(datagram, from.port, from.address);
    sent++;
  });
  socket.on('error', (error) => {
    console.error(`echo: ${error.message}`);
  });
  socket.bind(Number(values.port), '127.0.0.1', () => {
    console.log(JSON.stringify({ port: socket.address().port }));
  });
  // Bounded: a peer left behind by a crashed harness goes away on its own.
  const lifetime = setTimeout(
    () => {
      socket.close();
    },
    Number(values['max-seconds']) * 1000,
  );
  lifetime.unref();
  const stop = (): void => {
    clearTimeout(lifetime);
    socket.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) main();
