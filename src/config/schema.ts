/**
 * The configuration schema: one YAML file, validated by zod. Every default lives here; a
 * missing file means the all-in-one deployment on loopback.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { certificateName, DNS_NAME, hostOrAddress } from './primitives.ts';
import { reverseProxySchema } from './reverse-proxy-schema.ts';
import { webServicesSchema } from './web-services-schema.ts';

/** A SIP domain, compared in lower case. */
const domainName = z
  .string()
  .regex(DNS_NAME, 'a DNS name')
  .transform((name) => name.toLowerCase());

/** A route's domain pattern: exact, `*.suffix` or `*`. */
const domainPattern = z
  .string()
  .refine(
    (pattern) =>
      pattern === '*' || DNS_NAME.test(pattern.startsWith('*.') ? pattern.slice(2) : pattern),
    'a DNS name, "*.suffix" or "*"',
  )
  .transform((pattern) => pattern.toLowerCase());

/** A DNS server: `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53` or `[2001:db8::53]:5353`. */
const dnsServer = z.string().refine((server) => {
  if (isIP(server) !== 0) return true;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(server);
  if (match === null) return false;
  const address = match[1] ?? match[2] ?? '';
  const family = match[1] === undefined ? 4 : 6;
  return isIP(address) === family && Number(match[3]) <= 65535;
}, 'an IP address, optionally with :port ([v6]:port)');

const port = z.number().int().min(0).max(65535);
const sipUri = z.string().regex(/^sips?:[^\s]+$/i, 'a sip: or sips: URI');
/** A listener port: a number (0 = ephemeral) or null to turn the listener off. */
const optionalPort = port.nullable();
/** A TLS listener port, several, or null (off). */
const tlsPorts = z.union([port, z.array(port).min(1)]).nullable();

const accessEdgeSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    external: z
      .strictObject({
        host: hostOrAddress.default('127.0.0.1'),
        /** Host written into Via and Record-Route when it differs from the bound one. */
        advertisedHost: hostOrAddress.nullable().default(null),
        udp: optionalPort.default(5060),
        tcp: optionalPort.default(5060),
        /** One port or several (e.g. [5061, 443]: clients behind firewalls that pass only 443). */
        tls: tlsPorts.default(5061),
        ws: optionalPort.default(5062),
        wss: optionalPort.default(5063),
        /**
         * More certificates for the TLS and WSS listeners, chosen by the name the client asks
         * for (SNI): exact names or `*.suffix`. Others get the deployment's certificate.
         */
        certificates: z
          .array(
            z.strictObject({
              names: z.array(certificateName).min(1),
              certFile: z.string().min(1),
              keyFile: z.string().min(1),
            }),
          )
          .default([]),
      })
      .prefault({}),
    /**
     * The side toward the corporate network. When there is an internal next hop (set here, or
     * this deployment's Director), the edge applies its remote-user policy: everything from
     * outside goes to the next hop, trust headers are stripped and replaced by our mark,
     * topology is hidden both ways.
     */
    internal: z
      .strictObject({
        /** The address of the internal interface. */
        host: hostOrAddress.default('127.0.0.1'),
        /** Mutual TLS (the deployment's CA): where the Director reaches remote users. */
        tls: optionalPort.default(5065),
        /** Plain TCP, for an internal next hop that speaks no TLS (another SIP platform). */
        tcp: optionalPort.default(null),
        /** The internal next hop(s), in order of preference; null: this deployment's Director. */
        nextHop: z
          .union([sipUri, z.array(sipUri).min(1)])
          .nullable()
          .default(null),
        /** Internal names and addresses a request from outside may not name (403). */
        hiddenHosts: z.array(hostOrAddress).default([]),
        /** OPTIONS health check of each next hop; one unanswered within the interval marks it down. */
        healthCheckIntervalMs: z.number().int().min(100).max(60000).default(2000),
      })
      .prefault({}),
    /** Remote users may sign in from outside (per user, the Director's remoteAccess policy). */
    remoteAccess: z.boolean().default(true),
    /**
     * Federation with partner organisations and public IM providers, edge to edge over
     * mutual TLS. Partners present certificates; the domain they claim must be one their
     * certificate covers (RFC 5922).
     */
    federation: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Open federation: a domain on no list is found by DNS SRV and throttled. */
        discovery: z.boolean().default(false),
        /** CA certificates (PEM files) trusted for partners' certificates, besides the deployment's. */
        caFiles: z.array(z.string().min(1)).default([]),
        /** Also trust the public CAs Node.js ships (partners with commercial certificates). */
        systemCas: z.boolean().default(true),
        /** Mutual-TLS connections kept per partner, used both ways. */
        connectionsPerPartner: z.number().int().min(1).max(16).default(1),
        /** Requests waiting for a partner connection; more are refused at once (503). */
        maxPendingPerPartner: z.number().int().min(1).max(10000).default(200),
        /** Partners: a domain (or `*.suffix`), its edge's FQDN (else DNS), how far trusted. */
        allow: z
          .array(
            z.strictObject({
              domain: domainPattern,
              edge: hostOrAddress.nullable().default(null),
              port: port.default(5061),
              verification: z.enum(['verified', 'throttled']).default('verified'),
            }),
          )
          .default([]),
        /** Domains (or `*.suffix`) never federated with, whatever else says. */
        block: z.array(domainPattern).default([]),
        /** Public IM providers: federation with a provider profile (IM and presence only). */
        providers: z
          .array(
            z.strictObject({
              name: z.string().min(1),
              domains: z.array(domainPattern).min(1),
              edge: hostOrAddress,
              port: port.default(5061),
              enabled: z.boolean().default(true),
              /** INVITE (audio/video) with the provider's users. */
              allowMedia: z.boolean().default(false),
            }),
          )
          .default([]),
        /** Limits on discovered partners (and allow-listed ones marked `throttled`). */
        discovered: z
          .strictObject({
            maxLocalUsers: z.number().int().min(1).default(1000),
            windowSeconds: z.number().int().min(1).default(3600),
            messagesPerSecond: z.number().int().min(1).default(20),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Static next hops by domain (exact, `*.suffix` or `*`); no match → RFC 3263 resolution. */
    routes: z
      .array(
        z.strictObject({
          domain: domainPattern,
          /** One next hop, or several: a request is then forked to all of them in parallel. */
          nextHop: z.union([sipUri, z.array(sipUri).min(1)]),
        }),
      )
      .default([]),
    dns: z.strictObject({ servers: z.array(dnsServer).default([]) }).prefault({}),
    recordRoute: z.boolean().default(true),
    limits: z
      .strictObject({
        maxMessageBytes: z.number().int().min(1024).max(1048576).default(65536),
        maxConnectionsPerIp: z.number().int().min(1).default(50),
        maxConnections: z.number().int().min(1).default(10000),
        handshakeTimeoutMs: z.number().int().min(100).default(5000),
        idleTimeoutMs: z.number().int().min(1000).default(600000),
        /** Header lines per request from outside; more → 400. */
        maxHeaders: z.number().int().min(16).max(1000).default(100),
        /** Messages per second from one address (burst: twice as many); over → banned. */
        messagesPerSecondPerIp: z.number().int().min(1).default(200),
        /** Requests per second from one user (From address) from outside; over → banned. */
        messagesPerSecondPerUser: z.number().int().min(1).default(50),
        /** How long a ban lasts. */
        banSeconds: z.number().int().min(1).default(60),
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

/** Lockout after repeated authentication failures (per user; per source address four times as many). */
const lockoutSchema = z
  .strictObject({
    maxFailures: z.number().int().min(1).default(5),
    windowSeconds: z.number().int().min(1).default(900),
    baseLockSeconds: z.number().int().min(1).default(60),
    maxLockSeconds: z.number().int().min(1).default(3600),
  })
  .prefault({});

/**
 * Digest algorithms offered, one challenge each, in order of preference (RFC 8760 §2.4).
 * Some clients (baresip 1.0, sipp 3.6) fail on any challenge that is not MD5: list only MD5
 * for them.
 */
const digestAlgorithms = z
  .array(z.enum(['SHA-256', 'MD5']))
  .min(1)
  .refine((list) => new Set(list).size === list.length, 'each algorithm once')
  .default(['SHA-256', 'MD5']);

const directorSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    host: hostOrAddress.default('127.0.0.1'),
    /** Listeners for the Access Edge (and, in a test topology, external clients). */
    udp: optionalPort.default(null),
    tcp: optionalPort.default(5070),
    tls: optionalPort.default(5071),
    /** Mutual TLS for the Front End pool (certificates from the deployment's CA). */
    serverTls: optionalPort.default(5072),
    /** The home Front End pool (its server TLS URI); null = this deployment's Front End. */
    frontEnd: sipUri.nullable().default(null),
    nonceLifetimeSeconds: z.number().int().min(10).max(86400).default(300),
    digestAlgorithms,
    lockout: lockoutSchema,
  })
  .prefault({});

const frontEndSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    host: hostOrAddress.default('127.0.0.1'),
    /** Listeners for internal clients. */
    udp: optionalPort.default(5080),
    tcp: optionalPort.default(5080),
    tls: optionalPort.default(5081),
    /** Mutual TLS for the Director (certificates from the deployment's CA). */
    serverTls: optionalPort.default(5082),
    /**
     * Where requests for other domains (federation) go: the Access Edge's internal listener,
     * e.g. `sip:203.0.113.1:5065;transport=tls`. Null: this process's own Access Edge.
     */
    federationNextHop: sipUri.nullable().default(null),
    registrar: z
      .strictObject({
        minExpiresSeconds: z.number().int().min(1).default(60),
        maxExpiresSeconds: z.number().int().min(1).default(7200),
        defaultExpiresSeconds: z.number().int().min(1).default(3600),
        maxBindings: z.number().int().min(1).default(200000),
      })
      .prefault({}),
    presence: z
      .strictObject({
        minExpiresSeconds: z.number().int().min(1).default(60),
        maxExpiresSeconds: z.number().int().min(1).default(3600),
        defaultExpiresSeconds: z.number().int().min(1).default(3600),
        /** Subscriptions one user may hold as a watcher. */
        maxSubscriptionsPerUser: z.number().int().min(1).default(500),
        /** Watchers of one user. */
        maxWatchersPerUser: z.number().int().min(1).default(1000),
      })
      .prefault({}),
    /** Lifetime of TURN credentials handed out by the TURN credential service. */
    turnCredentialLifetimeSeconds: z.number().int().min(60).max(604800).default(28800),
    nonceLifetimeSeconds: z.number().int().min(10).max(86400).default(300),
    digestAlgorithms,
    lockout: lockoutSchema,
  })
  .prefault({});

/** A CIDR (`192.0.2.0/24`, `2001:db8::/32`), a single address, or a `start-end` range. */
const addressRange = z.string().refine((text) => {
  const [start, end, extra] = text.split('-');
  if (extra !== undefined) return false;
  if (end !== undefined) return isIP(start ?? '') !== 0 && isIP(end) !== 0;
  const [address, bits, more] = text.split('/');
  if (more !== undefined || isIP(address ?? '') === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(address ?? '') === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}, 'a CIDR (192.0.2.0/24), an address, or a start-end range');

/** An IPv6 address literal. */
const ipv6Address = z.string().refine((text) => isIP(text) === 6, 'an IPv6 address');

/** A TLS listener: one port, several (5349 and 443), or null for none. */

const avEdgeSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Realm of the long-term credentials; default: the first of `domains`. */
    realm: domainName.nullable().default(null),
    external: z
      .strictObject({
        host: hostOrAddress.default('127.0.0.1'),
        /** Address clients see for relayed candidates (XOR-RELAYED-ADDRESS) behind a 1:1 NAT. */
        advertisedHost: hostOrAddress.nullable().default(null),
        /** An IPv6 address for IPv6 relays (REQUESTED-/ADDITIONAL-ADDRESS-FAMILY); null: none. */
        relayHostV6: ipv6Address.nullable().default(null),
        udp: optionalPort.default(3478),
        tcp: optionalPort.default(3478),
        tls: tlsPorts.default(5349),
      })
      .prefault({}),
    internal: z
      .strictObject({
        host: hostOrAddress.default('127.0.0.1'),
        advertisedHost: hostOrAddress.nullable().default(null),
        relayHostV6: ipv6Address.nullable().default(null),
        udp: optionalPort.default(3479),
        tcp: optionalPort.default(3479),
      })
      .prefault({}),
    /** Relay transport addresses are taken from this port range, on the side's host. */
    relay: z
      .strictObject({
        minPort: port.default(50000),
        maxPort: port.default(59999),
      })
      .prefault({})
      .refine((relay) => relay.minPort > 0 && relay.minPort <= relay.maxPort, {
        error: 'relay.minPort must be > 0 and <= relay.maxPort',
      }),
    auth: z
      .strictObject({
        /**
         * TURN REST API shared secrets (username `<expiry>:<user>`, password
         * base64(HMAC-SHA1(secret, username))). All are accepted; the first issues credentials.
         */
        secrets: z.array(z.string().min(16, 'at least 16 characters')).default([]),
        /** Static long-term users. */
        users: z
          .array(
            z.strictObject({ username: z.string().min(1).max(508), password: z.string().min(1) }),
          )
          .default([]),
        /** Lifetime of credentials `rampart turn credentials` issues. */
        credentialTtlSeconds: z.number().int().min(60).max(604800).default(86400),
        /** Nonces expire after this long (438 Stale Nonce). */
        nonceLifetimeSeconds: z.number().int().min(30).max(86400).default(600),
        /** An allocation ends when the REST credential that created it expires. */
        strictExpiry: z.boolean().default(true),
      })
      .prefault({}),
    allocations: z
      .strictObject({
        defaultLifetimeSeconds: z.number().int().min(60).default(600),
        maxLifetimeSeconds: z.number().int().min(60).default(3600),
        /** Allocations one user may hold at once (486 beyond). */
        perUser: z.number().int().min(1).default(100),
        /** Allocations this server holds at once (508 beyond). */
        total: z.number().int().min(1).default(20000),
      })
      .prefault({}),
    bandwidth: z
      .strictObject({
        /** Bytes per second one allocation may relay (0: no cap). */
        perAllocationBytesPerSecond: z.number().int().min(0).default(0),
        /** Bytes per second the whole server relays (0: no cap). */
        totalBytesPerSecond: z.number().int().min(0).default(0),
      })
      .prefault({}),
    /**
     * Which peers may be relayed to. Loopback, private, link-local, multicast, broadcast,
     * unspecified and reserved ranges are refused unless allowed here; `deny` always wins.
     */
    peers: z
      .strictObject({
        allow: z.array(addressRange).default([]),
        deny: z.array(addressRange).default([]),
        allowLoopback: z.boolean().default(false),
        allowPrivate: z.boolean().default(false),
      })
      .prefault({}),
    /** Other A/V Edges to send clients to (300 Try Alternate) once `redirectAbove` is reached. */
    alternateServers: z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-f:.]+\]:\d{1,5}$/i, 'host:port'))
      .default([]),
    redirectAbove: z.number().int().min(0).default(0),
    limits: z
      .strictObject({
        /** Error answers (401, 438, 400, 420) to unauthenticated requests per second to one source. */
        challengesPerSecondPerSource: z.number().int().min(1).default(20),
        maxConnectionsPerIp: z.number().int().min(1).default(100),
        maxConnections: z.number().int().min(1).default(10000),
        handshakeTimeoutMs: z.number().int().min(100).default(5000),
        /** A TCP/TLS client that has not allocated within this time is closed. */
        allocateTimeoutMs: z.number().int().min(100).default(10000),
      })
      .prefault({}),
    /**
     * Memory back to the system after a burst of ended allocations: one full, memory-reducing
     * collection once `reclaimAfterClosed` allocations have ended and none for `reclaimQuietMs`
     * (at most every `reclaimMinIntervalMs`). 0 = leave it to V8's own schedule.
     */
    memory: z
      .strictObject({
        reclaimAfterClosed: z.number().int().min(0).default(1000),
        reclaimQuietMs: z.number().int().min(10).default(500),
        reclaimMinIntervalMs: z.number().int().min(100).default(1000),
      })
      .prefault({}),
  })
  .prefault({});

/** An `ldap:` or `ldaps:` URL (RFC 4516 §2), host and optional port only. */
const ldapUrl = z.string().regex(/^ldaps?:\/\/[^\s/?#]+\/?$/i, 'an ldap:// or ldaps:// URL');

/** The keys an LDAP directory needs; checked only when `backend` is `ldap`. */
const LDAP_REQUIRED = ['url', 'bindDn', 'usersDn', 'groupsDn'] as const;

/**
 * The directory of users, addresses, policy, HA1s and distribution lists: SQLite embedded
 * (default) or LDAP (OpenLDAP, Active Directory) for many machines.
 */
const directorySchema = z
  .strictObject({
    backend: z.enum(['sqlite', 'ldap']).default('sqlite'),
    /** Realms a digest HA1 is kept for; null: the configured `domains`. */
    realms: z.array(domainName).min(1).nullable().default(null),
    sqlite: z
      .strictObject({
        /** The database file; null: `<dataDir>/directory.sqlite`. */
        file: z.string().min(1).nullable().default(null),
      })
      .prefault({}),
    ldap: z
      .strictObject({
        url: ldapUrl.nullable().default(null),
        bindDn: z.string().min(1).nullable().default(null),
        /** The bind password inline, or (better) in a file; exactly one with `ldap`. */
        bindPassword: z.string().min(1).nullable().default(null),
        bindPasswordFile: z.string().min(1).nullable().default(null),
        usersDn: z.string().min(1).nullable().default(null),
        groupsDn: z.string().min(1).nullable().default(null),
        /** PEM CA bundle that signed the LDAP server's certificate; null: the system's. */
        tlsCaFile: z.string().min(1).nullable().default(null),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((directory, context) => {
    if (directory.backend !== 'ldap') return;
    for (const key of LDAP_REQUIRED) {
      if (directory.ldap[key] === null) {
        context.addIssue({
          code: 'custom',
          path: ['ldap', key],
          message: `directory.ldap.${key} is required when directory.backend is ldap`,
        });
      }
    }
    const { bindPassword, bindPasswordFile } = directory.ldap;
    if ((bindPassword === null) === (bindPasswordFile === null)) {
      context.addIssue({
        code: 'custom',
        path: ['ldap', bindPassword === null ? 'bindPassword' : 'bindPasswordFile'],
        message:
          'directory.ldap needs exactly one of bindPassword and bindPasswordFile when directory.backend is ldap',
      });
    }
  });

/** The whole configuration file. */
export const configSchema = z
  .strictObject({
    /** SIP domains this deployment serves. */
    domains: z.array(domainName).min(1).default(['example.test']),
    dataDir: z.string().min(1).default('./rampart-data'),
    /** Worker processes sharing the listening ports (SO_REUSEPORT); `auto`: one per core. */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
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
        names: z.array(certificateName).default(['localhost']),
      })
      .prefault({})
      .refine((tls) => (tls.certFile === null) === (tls.keyFile === null), {
        error: 'tls.certFile and tls.keyFile go together',
      }),
    admin: z
      .strictObject({ host: hostOrAddress.default('127.0.0.1'), port: port.default(8080) })
      .prefault({}),
    shutdown: z
      .strictObject({ drainTimeoutMs: z.number().int().min(0).default(5000) })
      .prefault({}),
    'access-edge': accessEdgeSchema,
    'av-edge': avEdgeSchema,
    directory: directorySchema,
    director: directorSchema,
    'front-end': frontEndSchema,
    'web-services': webServicesSchema,
    'reverse-proxy': reverseProxySchema,
  })
  .superRefine((config, context) => {
    // Stream listeners (TCP, TLS, WS, WSS, the admin HTTP) cannot share a fixed port on one
    // host; UDP and TCP can. The issue is reported at the second key, naming the first.
    const owners = new Map<string, string>();
    const claim = (
      host: string,
      listenerPort: number | null,
      path: readonly string[],
      kind: 'stream' | 'udp' = 'stream',
    ): void => {
      if (listenerPort === null || listenerPort === 0) return;
      const key = `${kind}|${host}|${listenerPort}`;
      const owner = owners.get(key);
      if (owner === undefined) {
        owners.set(key, path.join('.'));
        return;
      }
      context.addIssue({
        code: 'custom',
        path: [...path],
        message: `port ${listenerPort} on ${host} is already used by ${owner}`,
      });
    };
    claim(config.admin.host, config.admin.port, ['admin', 'port']);
    const external = config['access-edge'].external;
    for (const transport of ['tcp', 'tls', 'ws', 'wss'] as const) {
      const ports = external[transport];
      if (!Array.isArray(ports)) {
        claim(external.host, ports, ['access-edge', 'external', transport]);
        continue;
      }
      ports.forEach((listenerPort, i) => {
        claim(external.host, listenerPort, ['access-edge', 'external', transport, String(i)]);
      });
    }
    const edgeInternal = config['access-edge'].internal;
    for (const transport of ['tls', 'tcp'] as const)
      claim(edgeInternal.host, edgeInternal[transport], ['access-edge', 'internal', transport]);
    for (const name of ['director', 'front-end'] as const) {
      const server = config[name];
      if (!server.enabled) continue;
      for (const transport of ['tcp', 'tls', 'serverTls'] as const)
        claim(server.host, server[transport], [name, transport]);
      claim(server.host, server.udp, [name, 'udp'], 'udp');
    }
    claim(external.host, external.udp, ['access-edge', 'external', 'udp'], 'udp');
    const av = config['av-edge'];
    if (av.enabled) {
      claim(av.external.host, av.external.tcp, ['av-edge', 'external', 'tcp']);
      const tls = av.external.tls;
      (Array.isArray(tls) ? tls : [tls]).forEach((tlsPort, i) => {
        claim(av.external.host, tlsPort, [
          'av-edge',
          'external',
          'tls',
          ...(Array.isArray(tls) ? [String(i)] : []),
        ]);
      });
      claim(av.internal.host, av.internal.tcp, ['av-edge', 'internal', 'tcp']);
      claim(av.external.host, av.external.udp, ['av-edge', 'external', 'udp'], 'udp');
      claim(av.internal.host, av.internal.udp, ['av-edge', 'internal', 'udp'], 'udp');
    }
    const web = config['web-services'];
    if (web.enabled) claim(web.host, web.port, ['web-services', 'port']);
    const proxy = config['reverse-proxy'];
    if (proxy.enabled)
      claim(proxy.external.host, proxy.external.port, ['reverse-proxy', 'external', 'port']);
  })
  .transform((config) => ({
    ...config,
    // The directory keeps HA1s for the configured domains unless told otherwise.
    directory: { ...config.directory, realms: config.directory.realms ?? config.domains },
  }));

/** Makes every property and array of `T` read-only, recursively. */
export type DeepReadonly<T> = T extends readonly (infer Item)[]
  ? readonly DeepReadonly<Item>[]
  : T extends object
    ? { readonly [Key in keyof T]: DeepReadonly<T[Key]> }
    : T;

/** The configuration as the schema outputs it, before the loader freezes it. */
export type MutableRampartConfig = z.output<typeof configSchema>;

/** The validated, deeply frozen configuration. Paths (`dataDir`, `tls.*File`) are absolute. */
export type RampartConfig = DeepReadonly<MutableRampartConfig>;

/** The `access-edge` section: what `startAccessEdge` receives. */
export type AccessEdgeConfig = RampartConfig['access-edge'];
/** The external listeners of the Access Edge; a null port is off. */
export type SipListenersConfig = AccessEdgeConfig['external'];
/** One static next-hop route. */
export type RouteConfig = AccessEdgeConfig['routes'][number];
/** The `av-edge` section: what `startAvEdge` receives. */
export type AvEdgeConfig = RampartConfig['av-edge'];
/** The `tls` section. */
export type TlsConfig = RampartConfig['tls'];
/** The `admin` section. */
export type AdminConfig = RampartConfig['admin'];
/** The `directory` section: what `openDirectory` receives. */
export type DirectoryConfig = RampartConfig['directory'];
/** The `director` section. */
export type DirectorConfig = RampartConfig['director'];
/** The `front-end` section. */
export type FrontEndConfig = RampartConfig['front-end'];
/** A log level name. */
export type LogLevel = RampartConfig['log']['level'];
/** The `web-services` section: what `startWebServices` receives. */
export type WebServicesConfig = RampartConfig['web-services'];
/** The `reverse-proxy` section: what `startReverseProxy` receives. */
export type ReverseProxyConfig = RampartConfig['reverse-proxy'];
