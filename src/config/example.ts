/** The complete, commented example printed by `rampart config example`. */
export const CONFIG_EXAMPLE = `# Rampart configuration. Every key is optional; shown here with its default.
# Unknown keys are errors. Check a file with: rampart config check FILE
# Relative paths (dataDir, tls.*File) are relative to the working directory.

# SIP domains this deployment serves.
domains: [example.test]

# Where Rampart keeps its state (generated certificates, endpoints.json, ...).
# --data-dir overrides it.
dataDir: ./rampart-data

# Worker processes. 1 runs everything in one process. N > 1 (or auto: one per CPU
# core) starts N workers that each run every service and share the listening ports
# through SO_REUSEPORT: the kernel keeps each client (address and port) on one worker.
# The main process supervises them (a worker that dies is restarted) and serves admin.
workers: 1

log:
  level: info            # trace | debug | info | warn | error | fatal

tls:
  # PEM files to use; when certFile/keyFile are null, a private CA and a server
  # certificate are generated into <dataDir>/tls on the first start and reused.
  # Configured files are watched and reloaded without dropping connections.
  certFile: null
  keyFile: null
  caFile: null
  # Names the generated certificate covers, besides localhost, 127.0.0.1, ::1 and the domains.
  names: [localhost]

# Admin HTTP listener: /healthz, /readyz, /metrics, /api/status. Keep it on loopback.
admin:
  host: 127.0.0.1
  port: 8080

shutdown:
  # On SIGTERM/SIGINT, in-flight transactions get this long to finish.
  drainTimeoutMs: 5000

access-edge:
  enabled: true
  external:
    host: 127.0.0.1          # address the listeners bind to
    advertisedHost: null     # host written in Via / Record-Route, if not the bound one
    # Each port: a number (0 = ephemeral) or null to turn that listener off.
    # tcp, tls, ws, wss and admin must not share a fixed port on one host.
    # --ephemeral-ports turns every port that is not null (admin too) into 0.
    udp: 5060
    tcp: 5060
    tls: 5061                # or a list, e.g. [5061, 443] (binding 443 needs privileges)
    ws: 5062                 # SIP over WebSocket (RFC 7118), subprotocol "sip"
    wss: 5063
    # More certificates for TLS/WSS, chosen by the name the client asks for (SNI);
    # other names get the deployment's certificate (tls: above).
    certificates: []
    #  - names: ["sip.example.org", "*.example.org"]
    #    certFile: /etc/rampart/example.org.pem
    #    keyFile: /etc/rampart/example.org.key
  # The side toward the corporate network. With an internal next hop (nextHop, or this
  # deployment's Director when nextHop is null) the edge runs its remote-user policy:
  # every request from outside goes to the next hop, P-Asserted-Identity and our own
  # P-Rampart-* headers are stripped and replaced by "P-Rampart-Origin: remote",
  # Via / Record-Route / Contact are hidden both ways, REGISTERs get a Path with a
  # flow token so the Director reaches each client over its own connection.
  internal:
    host: 127.0.0.1          # address of the internal interface
    tls: 5065                # mutual TLS (the deployment's CA) for the Director; worker i: 5065 + i
    tcp: null                # plain TCP, for a next hop without TLS (another SIP platform)
    nextHop: null            # e.g. "sip:192.0.2.50:5072;transport=tls", or a list (failover)
    hiddenHosts: []          # internal names/addresses a request from outside may not name
    healthCheckIntervalMs: 2000  # OPTIONS to each next hop; all down → 503 Retry-After
  remoteAccess: true         # false: every remote user is refused (403)
  # Federation: partner organisations and public IM providers, edge to edge over mutual
  # TLS. A partner's From domain (and P-Asserted-Identity) must be covered by its
  # certificate (RFC 5922); partners never speak for our domains. Requests from inside for
  # other domains go to the partner's edge: the allow list's "edge", else the
  # _sipfederationtls._tcp.<domain> SRV record, else RFC 3263. "rampart federation
  # allow|block|remove DOMAIN" keeps more entries in <dataDir>/edge-policy.sqlite (read
  # within a second); per user, the directory's federation / publicIm policy applies.
  federation:
    enabled: false
    discovery: false         # open federation: domains on no list found by DNS, throttled
    caFiles: []              # CAs for partners' certificates, besides the deployment's
    systemCas: true          # also the public CAs Node.js ships
    connectionsPerPartner: 1 # mutual-TLS connections per partner, used both ways
    maxPendingPerPartner: 200  # requests waiting for a partner connection; more → 503
    allow: []
    #  - domain: partner.example
    #    edge: sip.partner.example   # null: DNS SRV
    #    port: 5061
    #    verification: verified      # throttled: the "discovered" limits apply
    block: []                # e.g. ["spam.example", "*.bad.example"]
    providers: []
    #  - name: chat
    #    domains: ["chat.example"]
    #    edge: fed.chat.example
    #    port: 5061
    #    enabled: true
    #    allowMedia: false          # IM and presence only unless true
    discovered:              # limits on discovered partners; over → refused, watch list
      maxLocalUsers: 1000    # distinct local users one partner may contact per window
      windowSeconds: 3600
      messagesPerSecond: 20  # burst twice that
  # Static next hops: requests whose Request-URI host matches "domain" (exact,
  # "*.suffix" or "*") go to "nextHop". Without a match, RFC 3263 DNS resolution.
  routes: []
  #  - domain: example.test
  #    nextHop: "sip:127.0.0.1:5070;transport=udp"
  #  - domain: "*.example.org"   # a list forks each request to every hop in parallel
  #    nextHop: ["sip:192.0.2.10:5060", "sip:192.0.2.11:5060;transport=tcp"]
  dns:
    servers: []              # e.g. ["127.0.0.1:5353"]; empty = the system resolver
  recordRoute: true
  limits:
    maxMessageBytes: 65536   # larger messages are refused; a stream that sends one is closed
    maxConnectionsPerIp: 50
    maxConnections: 10000
    handshakeTimeoutMs: 5000 # TLS / WebSocket handshake deadline
    idleTimeoutMs: 600000    # streams with no traffic are closed
    maxHeaders: 100          # header lines per request from outside; more → 400
    messagesPerSecondPerIp: 200    # burst twice that; over → the address is banned
    messagesPerSecondPerUser: 50   # requests from one From address; over → banned
    banSeconds: 60           # each ban logs event "ban" with the address (fail2ban)
  timers:                    # RFC 3261 §17 timer bases
    t1Ms: 500
    t2Ms: 4000
    t4Ms: 5000

# The A/V Edge: a STUN/TURN server (RFC 8489, RFC 8656) relaying media across the
# perimeter. With only this service enabled it is a drop-in for coturn + TURN REST API.
av-edge:
  enabled: true
  realm: null                # realm of the long-term credentials; null = first domain
  external:
    host: 127.0.0.1
    advertisedHost: null     # public address for XOR-RELAYED-ADDRESS behind a 1:1 NAT
    relayHostV6: null        # IPv6 relay address (dual stack); null: IPv4 relays only
    udp: 3478
    tcp: 3478
    tls: 5349                # one port, a list (e.g. [5349, 443]) or null
  internal:
    host: 127.0.0.1          # production: the internal interface, on port 3478
    advertisedHost: null
    relayHostV6: null
    udp: 3479
    tcp: 3479
  relay:                     # relayed addresses come from this range on the side's host
    minPort: 50000
    maxPort: 59999
  auth:
    # TURN REST API secrets: username "<expiry>:<user>", password
    # base64(HMAC-SHA1(secret, username)). All are accepted (rotation); the first issues.
    # Empty: a secret is generated into <dataDir>/turn-secret on the first start.
    secrets: []
    users: []                # static users: [{ username: alice, password: "..." }]
    credentialTtlSeconds: 86400   # lifetime of what "rampart turn credentials" prints
    nonceLifetimeSeconds: 600     # older nonces get 438 Stale Nonce
    strictExpiry: true       # an allocation ends when its REST credential expires
  allocations:
    defaultLifetimeSeconds: 600
    maxLifetimeSeconds: 3600
    perUser: 100             # 486 Allocation Quota Reached beyond
    total: 20000             # 508 Insufficient Capacity beyond
  bandwidth:                 # bytes per second; 0 = no cap
    perAllocationBytesPerSecond: 0
    totalBytesPerSecond: 0
  peers:
    # Relaying to loopback, private, link-local, multicast, broadcast, unspecified and
    # reserved ranges is refused (403) unless allowed here, in every encoding (IPv4-mapped,
    # IPv4-compatible, 6to4, NAT64). deny always wins. Entries: CIDR, address or start-end.
    allow: []
    deny: []
    allowLoopback: false
    allowPrivate: false
  alternateServers: []       # ["192.0.2.20:3478"]: 300 Try Alternate beyond redirectAbove
  redirectAbove: 0
  limits:
    challengesPerSecondPerSource: 20   # error answers (401, 438, 400, 420) to unauthenticated requests, per source address
    maxConnectionsPerIp: 100
    maxConnections: 10000
    handshakeTimeoutMs: 5000
    allocateTimeoutMs: 10000 # a TCP/TLS client that has not allocated by then is closed
  memory:
    # After a burst of ended allocations, one full memory-reducing garbage collection gives
    # their memory back (RSS returns to where it was; the pause, tens of ms, is logged and in
    # rampart_heap_reclaim_seconds). 0 = leave it to V8's own schedule.
    reclaimAfterClosed: 1000 # ended allocations since the last collection
    reclaimQuietMs: 500      # ... and none ended for this long
    reclaimMinIntervalMs: 1000

# The directory: users, SIP addresses, per-user policy, digest HA1s, distribution lists.
# Manage it with "rampart user ..." and "rampart group ...".
directory:
  backend: sqlite            # sqlite (embedded, one machine) | ldap (many machines)
  realms: null               # realms an HA1 is kept for; null = the domains above
  sqlite:
    file: null               # null = <dataDir>/directory.sqlite
  # Required when backend is ldap (except tlsCaFile); give bindPassword or bindPasswordFile.
  ldap:
    url: null                # e.g. ldaps://ldap.example.test:636
    bindDn: null             # e.g. cn=rampart,ou=services,dc=example,dc=test
    bindPassword: null
    bindPasswordFile: null   # a file holding the bind password (first line)
    usersDn: null            # e.g. ou=people,dc=example,dc=test
    groupsDn: null           # e.g. ou=groups,dc=example,dc=test
    tlsCaFile: null          # PEM CA of the LDAP server; null = the system CAs

# The Director: authenticates every request arriving from outside (Digest, SHA-256 and
# MD5), checks the user's policy and routes to the user's home Front End. Homes no users.
director:
  enabled: true
  host: 127.0.0.1
  udp: null                  # listeners for the Access Edge; null = off
  tcp: 5070
  tls: 5071
  serverTls: 5072            # mutual TLS (deployment CA) for the Front End pool
  frontEnd: null             # the home pool's server TLS URI; null = this deployment's
  nonceLifetimeSeconds: 300  # older nonces with a right answer are challenged stale=true
  digestAlgorithms: [SHA-256, MD5]   # one challenge each, preferred first; [MD5] for old clients
  lockout:                   # per user; per source address 4x maxFailures
    maxFailures: 5
    windowSeconds: 900
    baseLockSeconds: 60      # doubles with each further lockout, up to maxLockSeconds
    maxLockSeconds: 3600

# The Front End: registrar (GRUU, outbound), presence, IM routing, roaming contacts and the
# TURN credential service. Internal clients connect here directly and are challenged here.
front-end:
  enabled: true
  host: 127.0.0.1
  udp: 5080
  tcp: 5080
  tls: 5081
  serverTls: 5082            # mutual TLS (deployment CA) for the Director
  # federationNextHop: sip:203.0.113.1:5065;transport=tls   # the Access Edge's internal side, for other domains; default: this process's edge
  registrar:
    minExpiresSeconds: 60    # shorter: 423 Interval Too Brief
    maxExpiresSeconds: 7200
    defaultExpiresSeconds: 3600
    maxBindings: 200000      # 503 beyond; per user: the directory policy maxEndpoints
  presence:
    minExpiresSeconds: 60
    maxExpiresSeconds: 3600
    defaultExpiresSeconds: 3600
    maxSubscriptionsPerUser: 500
    maxWatchersPerUser: 1000
  turnCredentialLifetimeSeconds: 28800
  nonceLifetimeSeconds: 300
  digestAlgorithms: [SHA-256, MD5]
  lockout:
    maxFailures: 5
    windowSeconds: 900
    baseLockSeconds: 60
    maxLockSeconds: 3600

# Internal web services behind the HTTP reverse proxy (HTTPS; the proxy presents the
# deployment certificate as a TLS client certificate): address book (/abs/), distribution
# list expansion (/dl/), meeting content (/meetings/), device updates (/updates/), and
# /auth/verify for the proxy's forms sign-in. Files live under <dataDir>/web-services.
web-services:
  enabled: true
  host: 127.0.0.1
  port: 8444                 # https; 0 = ephemeral, null = off
  publicBaseUrl: null        # URL devices are sent to (e.g. https://web.example.test); null: this listener
  abs:
    dailyAt: "01:30"         # UTC time of the daily full + delta generation; null: none
    intervalMinutes: 0       # also every N minutes (0: daily and on demand only)
    keepDays: 30             # older full and delta files are removed
  dl:
    maxMembers: 1000         # a list expanding to more users answers 413
    maxGroups: 1000          # nested lists visited at most per expansion
  meetings:
    maxFileBytes: 52428800   # 50 MiB per file (413 beyond)
    maxFilesPerMeeting: 100
    allowedContentTypes:     # the body must also look like the type it claims (415)
      - application/pdf
      - image/png
      - image/jpeg
      - image/gif
      - text/plain
      - application/vnd.openxmlformats-officedocument.presentationml.presentation
      - application/vnd.openxmlformats-officedocument.wordprocessingml.document
      - application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
  updates:
    maxPackageBytes: 1073741824   # largest package rampart updates publish accepts
  auth:                      # password checks (HTTP Basic, /auth/verify): per-user lockout
    maxFailures: 5
    windowSeconds: 900
    lockSeconds: 60

# HTTP reverse proxy (perimeter): one HTTPS listener that publishes only the listed path
# prefixes, each to an internal web service over HTTPS (mutual TLS: the deployment
# certificate is presented, so the service can trust X-Rampart-User). Everything else: 404.
reverse-proxy:
  enabled: true
  external:
    host: 127.0.0.1
    port: 8443               # https; 0 = ephemeral
    hosts: []                # Host values served (421 otherwise); [] = tls.names, localhost, the domains
    certificates: []         # by SNI, like access-edge.external.certificates
  routes: []
  #  - prefix: /abs/                    # normalised path under this prefix → this upstream
  #    upstream: https://127.0.0.1:8444
  #    auth: none                       # none (pass-through) | forms (signed-in session)
  #    maxBodyBytes: 1048576            # 413 beyond
  #    websocket: false                 # relay WebSocket upgrades on this route
  #    connections: 64                  # keep-alive pool to the upstream
  #    timeouts: { upstreamHeadersMs: 30000, upstreamBodyMs: 60000 }   # 504 beyond
  #  - prefix: /webaccess/
  #    upstream: https://127.0.0.1:8444
  #    auth: forms
  # Also publish this deployment's web services: /abs, /dl, /meetings, /updates
  # (pass-through) and /webaccess (forms sign-in, WebSocket), unless routes has the prefix;
  # the sign-in then checks passwords with them when signIn.verifyUrl is null.
  publishWebServices: true
  trustedProxies: []         # CIDRs whose X-Forwarded-*/Forwarded are appended to, not replaced
  limits:
    maxHeaderBytes: 16384    # request line + headers (431)
    maxHeaderCount: 100      # header lines (431)
    maxUrlBytes: 4096        # request target (414)
    maxRequestsPerConnection: 0   # 0: unlimited
  timeouts:
    headersMs: 10000         # whole request head (408; slowloris)
    requestMs: 300000        # whole request (408)
    idleMs: 60000            # idle keep-alive connection
  signIn:                    # forms sign-in, used by routes with auth: forms
    path: /signin            # GET: the form; POST: sign in (CSRF token, then verifyUrl)
    signOutPath: /signout
    verifyUrl: null          # null: this deployment's web services; e.g. https://127.0.0.1:8444/auth/verify: POST {user, password} → 200 {sipUri, displayName} | 401
    idleMinutes: 30
    maxHours: 12
    lockout:                 # per user; per source address addressFactor times as many
      maxFailures: 5
      windowSeconds: 900
      baseLockSeconds: 60    # doubling per lockout, up to maxLockSeconds
      maxLockSeconds: 3600
      addressFactor: 4
  sessionSecretFile: null    # null: <dataDir>/reverse-proxy-session-secret (share it between proxies)
  accessLog: true            # one JSON line per request (event "access")
`;
