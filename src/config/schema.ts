/**
 * The configuration schema: one YAML file, validated by zod. Every default lives here; a
 * missing file means the all-in-one deployment on loopback.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const sipUri = z.string().regex(/^sips?:/i, 'a sip: or sips: URI');
/** A listener port: a number (0 = ephemeral) or null to turn the listener off. */
const optionalPort = port.nullable();

const accessEdgeSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    external: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        /** Host written into Via and Record-Route when it differs from the bound one. */
        advertisedHost: z.string().min(1).nullable().default(null),
        udp: optionalPort.default(5060),
        tcp: optionalPort.default(5060),
        tls: optionalPort.default(5061),
        ws: optionalPort.default(5062),
        wss: optionalPort.default(5063),
      })
      .prefault({}),
    /** Static next hops by domain (exact, `*.suffix` or `*`); no match → RFC 3263 resolution. */
    routes: z
      .array(
        z.strictObject({
          domain: z.string().min(1),
          /** One next hop, or several: a request is then forked to all of them in parallel. */
          nextHop: z.union([sipUri, z.array(sipUri).min(1)]),
        }),
      )
      .default([]),
    dns: z.strictObject({ servers: z.array(z.string().min(1)).default([]) }).prefault({}),
    recordRoute: z.boolean().default(true),
    limits: z
      .strictObject({
        maxMessageBytes: z.number().int().min(1024).max(1048576).default(65536),
        maxConnectionsPerIp: z.number().int().min(1).default(50),
        maxConnections: z.number().int().min(1).default(10000),
        handshakeTimeoutMs: z.number().int().min(100).default(5000),
        idleTimeoutMs: z.number().int().min(1000).default(600000),
      })
      .prefault({}),
    timers: z
      .strictObject({
        t1Ms: z.number().int().min(10).default(500),
        t2Ms: z.number().int().min(100).default(4000),
        t4Ms: z.number().int().min(100).default(5000),
      })
      .prefault({}),
  })
  .prefault({});

/** The whole configuration file. */
export const configSchema = z.strictObject({
  /** SIP domains this deployment serves. */
  domains: z.array(z.string().min(1)).min(1).default(['example.test']),
  dataDir: z.string().min(1).default('./rampart-data'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    })
    .prefault({}),
  tls: z
    .strictObject({
      certFile: z.string().min(1).nullable().default(null),
      keyFile: z.string().min(1).nullable().default(null),
      caFile: z.string().min(1).nullable().default(null),
      /** Names the generated server certificate covers (besides localhost and the domains). */
      names: z.array(z.string().min(1)).default(['localhost']),
    })
    .prefault({})
    .refine((tls) => (tls.certFile === null) === (tls.keyFile === null), {
      error: 'tls.certFile and tls.keyFile go together',
    }),
  admin: z
    .strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(8080) })
    .prefault({}),
  shutdown: z.strictObject({ drainTimeoutMs: z.number().int().min(0).default(5000) }).prefault({}),
  'access-edge': accessEdgeSchema,
});

/** The validated, frozen configuration. */
export type RampartConfig = z.infer<typeof configSchema>;

/** The `access-edge` section. */
export type AccessEdgeConfig = RampartConfig['access-edge'];
