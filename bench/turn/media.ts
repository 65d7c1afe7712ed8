/**
 * Paced ChannelData media over a set of allocations: every stream sends at a fixed rate with
 * its phase spread over the packet interval, the echo peer returns each packet through the
 * relay, and the generator measures loss, round trip and RFC 3550 jitter from a tag,
 * sequence number and send timestamp in the payload.
 *
 * Payload (after the 4-byte ChannelData header): run tag u32, stream index u32, sequence u32,
 * send time f64 (performance.now(), ms), then zeros.
 */
import { createSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { writeChannelDataHeader, type TransportAddress } from '../../src/codec/stun/index.ts';
import { BENCH_CHANNEL } from './allocations.ts';
import { ECHO_STATS_QUERY, type EchoStats } from './echo.ts';
import { JitterEstimator, quantileInPlace, summarizeStreams } from './stats.ts';
import type { TurnClient } from './turn-client.ts';

const HEADER = 4;
const TAG_AT = HEADER;
const INDEX_AT = HEADER + 4;
const SEQUENCE_AT = HEADER + 8;
const SENT_AT = HEADER + 12;
/** The smallest payload that holds tag, index, sequence and timestamp. */
export const MIN_PAYLOAD_BYTES = 20;
/** Round trips kept for percentiles; beyond this, RTTs are sampled no more. */
const MAX_RTT_SAMPLES = 2_000_000;
const TICK_MS = 1;

/** One paced run. */
export interface MediaRunOptions {
  /** Packets per second per stream. */
  readonly ratePerStream: number;
  readonly seconds: number;
  /** Wait after the last send before counting (late packets then count as lost). */
  readonly drainMs: number;
  /** Called once sending starts (to start a concurrent flood, sample CPU, …). */
  readonly onStart?: () => void;
}

/** What one run measured. */
export interface MediaRunResult {
  readonly streams: number;
  readonly ratePerStream: number;
  readonly targetPps: number;
  readonly sent: number;
  readonly received: number;
  readonly lossFraction: number;
  /** Streams that lost at least one packet. */
  readonly streamsWithLoss: number;
  readonly duplicates: number;
  /** Packets of an earlier run that arrived during this one. */
  readonly stale: number;
  /** Packets actually sent per second over the send window. */
  readonly offeredPps: number;
  /** Packets received back per second over the send window. */
  readonly receivedPps: number;
  readonly rttMedianMs: number;
  readonly rttP99Ms: number;
  readonly rttMaxMs: number;
  readonly jitterMeanMs: number;
  readonly jitterMaxMs: number;
  /** Send window plus drain, ms. */
  readonly windowMs: number;
  /** Generator CPU seconds used in the window (this process). */
  readonly generatorCpuSeconds: number;
}

interface Stream {
  readonly client: TurnClient;
  readonly index: number;
  sent: number;
  received: number;
  duplicates: number;
  seen: Uint8Array;
  jitter: JitterEstimator;
  nextSendAt: number;
}

/** Drives paced ChannelData over already bound allocations. */
export class MediaEngine {
  readonly #streams: Stream[];
  readonly #payloadBytes: number;
  readonly #template: Buffer;
  readonly #rtts = new Float64Array(MAX_RTT_SAMPLES);
  #rttCount = 0;
  #tag = 0;
  #stale = 0;

  constructor(clients: readonly TurnClient[], payloadBytes: number) {
    if (payloadBytes < MIN_PAYLOAD_BYTES) throw new Error(`payload < ${MIN_PAYLOAD_BYTES} bytes`);
    this.#payloadBytes = payloadBytes;
    this.#template = Buffer.alloc(HEADER + payloadBytes);
    writeChannelDataHeader(this.#template, 0, BENCH_CHANNEL, payloadBytes);
    this.#streams = clients.map((client, index) => {
      const stream: Stream = {
        client,
        index,
        sent: 0,
        received: 0,
        duplicates: 0,
        seen: new Uint8Array(0),
        jitter: new JitterEstimator(),
        nextSendAt: 0,
      };
      client.onChannelData = (datagram) => {
        this.#onReceive(stream, datagram);
      };
      return stream;
    });
  }

  #onReceive(stream: Stream, datagram: Buffer): void {
    const now = performance.now();
    if (datagram.length < HEADER + MIN_PAYLOAD_BYTES) return;
    if (datagram.readUInt32BE(TAG_AT) !== this.#tag) {
      this.#stale++;
      return;
    }
    const sequence = datagram.readUInt32BE(SEQUENCE_AT);
    if (sequence >= stream.seen.length) return;
    if (stream.seen[sequence] === 1) {
      stream.duplicates++;
      return;
    }
    stream.seen[sequence] = 1;
    stream.received++;
    const sentAt = datagram.readDoubleBE(SENT_AT);
    if (this.#rttCount < MAX_RTT_SAMPLES) this.#rtts[this.#rttCount++] = now - sentAt;
    stream.jitter.add(sentAt, now);
  }

  #send(stream: Stream): void {
    const datagram = Buffer.allocUnsafe(HEADER + this.#payloadBytes);
    this.#template.copy(datagram);
    datagram.writeUInt32BE(this.#tag, TAG_AT);
    datagram.writeUInt32BE(stream.index, INDEX_AT);
    datagram.writeUInt32BE(stream.sent, SEQUENCE_AT);
    datagram.writeDoubleBE(performance.now(), SENT_AT);
    stream.client.send(datagram);
    stream.sent++;
  }

  /** Sends for `seconds` at `ratePerStream` per stream, waits `drainMs`, reports. */
  async run(options: MediaRunOptions): Promise<MediaRunResult> {
    this.#tag++;
    this.#stale = 0;
    this.#rttCount = 0;
    const perStream = Math.max(1, Math.round(options.ratePerStream * options.seconds));
    const intervalMs = 1000 / options.ratePerStream;
    const count = this.#streams.length;
    const cpuBefore = process.cpuUsage();
    const start = performance.now() + 5;
    for (const stream of this.#streams) {
      stream.sent = 0;
      stream.received = 0;
      stream.duplicates = 0;
      stream.seen = new Uint8Array(perStream);
      stream.jitter = new JitterEstimator();
      // Phases spread evenly over one interval so the aggregate rate is smooth.
      stream.nextSendAt = start + (stream.index / Math.max(1, count)) * intervalMs;
    }
    options.onStart?.();
    // Bounded: every stream stops after perStream packets, and the loop after 3× the time.
    const hardStop = start + options.seconds * 3000 + 1000;
    let lastSendAt = start;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        let pending = false;
        for (const stream of this.#streams) {
          while (stream.sent < perStream && stream.nextSendAt <= now) {
            this.#send(stream);
            stream.nextSendAt += intervalMs;
            lastSendAt = now;
          }
          if (stream.sent < perStream) pending = true;
        }
        if (pending && now < hardStop) setTimeout(tick, TICK_MS);
        else resolve();
      };
      setTimeout(tick, Math.max(0, start - performance.now()));
    });
    const sendWindowMs = Math.max(1, lastSendAt - start);
    await new Promise((resolve) => setTimeout(resolve, options.drainMs));
    const cpu = process.cpuUsage(cpuBefore);
    const summary = summarizeStreams(
      this.#streams.map((s) => ({ sent: s.sent, received: s.received, jitterMs: s.jitter.jitter })),
    );
    let duplicates = 0;
    for (const stream of this.#streams) duplicates += stream.duplicates;
    const rttCount = this.#rttCount;
    this.#tag++; // whatever arrives from now on is stale
    return {
      streams: count,
      ratePerStream: options.ratePerStream,
      targetPps: options.ratePerStream * count,
      sent: summary.sent,
      received: summary.received,
      lossFraction: summary.lossFraction,
      streamsWithLoss: summary.streamsWithLoss,
      duplicates,
      stale: this.#stale,
      offeredPps: (summary.sent / sendWindowMs) * 1000,
      receivedPps: (summary.received / sendWindowMs) * 1000,
      rttMedianMs: quantileInPlace(this.#rtts, rttCount, 0.5),
      rttP99Ms: quantileInPlace(this.#rtts, rttCount, 0.99),
      // quantileInPlace sorted the samples: the last is the largest.
      rttMaxMs: rttCount === 0 ? Number.NaN : (this.#rtts[rttCount - 1] as number),
      jitterMeanMs: summary.jitterMeanMs,
      jitterMaxMs: summary.jitterMaxMs,
      windowMs: sendWindowMs + options.drainMs,
      generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }
}

/** Asks the echo peer for its counters (see {@link ECHO_STATS_QUERY}); undefined on timeout. */
export function queryEchoStats(
  peer: TransportAddress,
  timeoutMs = 2000,
): Promise<EchoStats | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (datagram) => {
      clearTimeout(timer);
      socket.close();
      try {
        resolve(JSON.parse(datagram.toString('utf8')) as EchoStats);
      } catch {
        resolve(undefined);
      }
    });
    socket.on('error', () => undefined);
    socket.bind(0, '127.0.0.1', () => {
      socket.send(ECHO_STATS_QUERY, peer.port, peer.address);
    });
  });
}
