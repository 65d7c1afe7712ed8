/**
 * The `reverse-proxy` section: the HTTPS listener facing the Internet that publishes only
 * the configured path prefixes of the internal web services (issue 7).
 *
 * On by default: with `publishWebServices` it publishes this deployment's web services
 * (address book, DL expansion, meeting content, device updates, and web access behind the
 * forms sign-in) besides the configured routes.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { certificateName, hostOrAddress } from './primitives.ts';

/** A name a client may send in Host or SNI: an IP literal, a DNS name or `*.suffix`. */
const publishedName = certificateName;

/** A published path prefix: starts with `/`, no dot segments, no encoded bytes, no `//`. */
const pathPrefix = z
  .string()
  .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/, 'a path starting with "/" (unreserved characters)')
  .refine(
    (prefix) => !prefix.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(prefix),
    'no "//" and no "." or ".." segments',
  );

/** An internal upstream: an `https://host[:port]` origin. */
const upstreamUrl = z
  .string()
  .regex(
    /^https:\/\/(\[[0-9a-f:.]+\]|[^\s/?#@[\]]+)(:\d{1,5})?\/?$/i,
    'an https://host[:port] origin',
  );

/** A CIDR block or a single address (IPv4 or IPv6). */
const cidr = z.string().refine((value) => {
  const [address = '', bits, extra] = value.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'an IP address or CIDR block (192.0.2.0/24, 2001:db8::/32)');

const routeTimeouts = z
  .strictObject({
    /** Time for the upstream to send its response headers (504 beyond). */
    upstreamHeadersMs: z.number().int().min(100).default(30_000),
    /** Longest pause between two chunks of the upstream's response body. */
    upstreamBodyMs: z.number().int().min(100).default(60_000),
  })
  .prefault({});

const routeSchema = z.strictObject({
  /** Requests whose normalised path is this prefix or under it (segment boundary) match. */
  prefix: pathPrefix,
  /** The internal web service; the path is forwarded unchanged. */
  upstream: upstreamUrl,
  /** `none`: pass-through (public); `forms`: a signed-in session is required. */
  auth: z.enum(['none', 'forms']).default('none'),
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .max(8 * 1024 ** 3)
    .default(1024 * 1024),
  /** WebSocket upgrades on this route are relayed. */
  websocket: z.boolean().default(false),
  /** Keep-alive connections to the upstream (undici Pool). */
  connections: z.number().int().min(1).max(1024).default(64),
  timeouts: routeTimeouts,
});

/** The zod schema of the `reverse-proxy` section. */
export const reverseProxySchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    external: z
      .strictObject({
        host: hostOrAddress.default('127.0.0.1'),
        /** HTTPS; 0 = ephemeral. */
        port: z.number().int().min(0).max(65535).default(8443),
        /**
         * Values of Host (port ignored) this proxy answers; others get 421. Empty: the
         * deployment's `tls.names`, `localhost`, the bound host and the SIP domains.
         */
        hosts: z.array(publishedName).default([]),
        /** Certificates chosen by SNI (exact names or `*.suffix`); others get the deployment's. */
        certificates: z
          .array(
            z.strictObject({
              names: z.array(publishedName).min(1),
              certFile: z.string().min(1),
              keyFile: z.string().min(1),
            }),
          )
          .default([]),
      })
      .prefault({}),
    routes: z.array(routeSchema).default([]),
    /**
     * Also publish the web services this deployment runs: /abs, /dl, /meetings, /updates
     * (pass-through: they authenticate) and /webaccess (forms sign-in, WebSocket), unless a
     * route above has the same prefix. The sign-in then verifies passwords with them when
     * `signIn.verifyUrl` is null.
     */
    publishWebServices: z.boolean().default(true),
    /** Peers whose X-Forwarded-* / Forwarded headers are kept (appended to); others' are replaced. */
    trustedProxies: z.array(cidr).default([]),
    limits: z
      .strictObject({
        /** Total size of the request line and headers (431 beyond). */
        maxHeaderBytes: z.number().int().min(1024).max(262_144).default(16_384),
        /** Header lines per request (431 beyond). */
        maxHeaderCount: z.number().int().min(8).max(1000).default(100),
        /** Length of the request target (414 beyond). */
        maxUrlBytes: z.number().int().min(64).max(65_536).default(4096),
        /** Requests on one client connection before it is closed (0: unlimited). */
        maxRequestsPerConnection: z.number().int().min(0).default(0),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        /** A client must send the whole request head within this (408 beyond; slowloris). */
        headersMs: z.number().int().min(100).default(10_000),
        /** A client must send the whole request (head and body) within this (408 beyond). */
        requestMs: z.number().int().min(100).default(300_000),
        /** An idle keep-alive connection is closed after this. */
        idleMs: z.number().int().min(100).default(60_000),
      })
      .prefault({}),
    signIn: z
      .strictObject({
        /** The sign-in form (GET) and its submission (POST). */
        path: pathPrefix.default('/signin'),
        /** Sign-out: GET shows a button, POST (with its CSRF token) ends the session. */
        signOutPath: pathPrefix.default('/signout'),
        /** Internal HTTPS URL checking a user's password (POST JSON {user, password}). */
        verifyUrl: z
          .string()
          .regex(/^https:\/\/[^\s]+$/i, 'an https:// URL')
          .nullable()
          .default(null),
        /** Session lifetime without activity, and in total. */
        idleMinutes: z.number().int().min(1).default(30),
        maxHours: z.number().int().min(1).default(12),
        lockout: z
          .strictObject({
            /** Failures per user within the window before the user is locked. */
            maxFailures: z.number().int().min(1).default(5),
            windowSeconds: z.number().int().min(1).default(900),
            baseLockSeconds: z.number().int().min(1).default(60),
            maxLockSeconds: z.number().int().min(1).default(3600),
            /** Per source address, this many times as many failures are allowed. */
            addressFactor: z.number().int().min(1).default(4),
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * File holding the session secret (cookie encryption, CSRF tokens). Null: generated
     * into `<dataDir>/reverse-proxy-session-secret` on the first start. Every worker (and
     * every proxy behind one load balancer) must use the same secret.
     */
    sessionSecretFile: z.string().min(1).nullable().default(null),
    /** One JSON line per request on the log (`event: "access"`). */
    accessLog: z.boolean().default(true),
  })
  .prefault({})
  .superRefine((section, context) => {
    const seen = new Set<string>();
    section.routes.forEach((route, i) => {
      if (seen.has(route.prefix)) {
        context.addIssue({
          code: 'custom',
          path: ['routes', i, 'prefix'],
          message: `prefix ${route.prefix} is published twice`,
        });
      }
      seen.add(route.prefix);
      if (
        route.auth === 'forms' &&
        section.signIn.verifyUrl === null &&
        !section.publishWebServices
      ) {
        context.addIssue({
          code: 'custom',
          path: ['routes', i, 'auth'],
          message: 'auth "forms" needs reverse-proxy.signIn.verifyUrl',
        });
      }
    });
  });

/** The `reverse-proxy` section as the schema outputs it. */
export type ReverseProxySection = z.output<typeof reverseProxySchema>;
