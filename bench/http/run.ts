// `npm run bench:http`: Rampart's reverse proxy and nginx (Debian) configured with the same
// route and upstream keep-alive, in front of the same HTTPS origin (nginx serving static
// files, mutual TLS), pinned to the same cores, measured with wrk: req/s and p99 for a small
// response, transfer rate for a 10 MB file, and the ratios Rampart / nginx.
//
// Layout: both proxies on --proxy-cpus (default core 0), origin and wrk on --load-cpus
// (default core 1). Proxies are measured one after the other; each gets a warm-up first.
// Access logs are on for both (nginx: combined format to a file; Rampart: one JSON line per
// request to a file). Total time ≈ 4 × (warmup + duration) + start-up: about 1 minute.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startNginx, type NginxInstance } from '../../test/helpers/nginx.ts';
import { freePort, tcpAccepts } from '../../test/helpers/ports.ts';
import { requireProgram, waitUntil } from '../../test/helpers/process.ts';
import { cpuSeconds, processTree } from '../turn/proc.ts';
import { removePem, testPem, type Pem } from './harness.ts';
import { formatTable, parseWrk, ratios, type WrkResult } from './report.ts';

const HERE = import.meta.dirname;
const REPO = resolve(HERE, '../..');

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    'big-connections': { type: 'string', default: '8' },
    workers: { type: 'string', default: '1' },
    'proxy-cpus': { type: 'string', default: '0' },
    'load-cpus': { type: 'string', default: '1' },
    'small-bytes': { type: 'string', default: '128' },
    out: { type: 'string' },
    /** Access logs of both proxies: on (default) or off. */
    'access-log': { type: 'string', default: 'on' },
    /**
     * Also measure `node-floor.ts` (node:https + undici dispatch, no checks: the least a Node
     * proxy of this design does) and print floor / nginx and rampart / floor.
     */
    floor: { type: 'boolean', default: false },
  },
});

const duration = Number(args.duration);
const warmup = Number(args.warmup);
const workers = Number(args.workers);
const proxyCpus = args['proxy-cpus'];
const loadCpus = args['load-cpus'];
const BIG_BYTES = 10 * 1024 * 1024;
const accessLog = args['access-log'] !== 'off';

function tlsLines(pem: Pem): string {
  return [
    `ssl_certificate ${pem.files.serverCertFile};`,
    `ssl_certificate_key ${pem.files.serverKeyFile};`,
    'ssl_protocols TLSv1.2 TLSv1.3;',
    'ssl_session_cache shared:SSL:10m;',
  ].join('\n    ');
}

/** The origin: nginx serving /bench/small and /bench/big over HTTPS, client cert required. */
async function startOrigin(pem: Pem, port: number, small: Buffer): Promise<NginxInstance> {
  return startNginx({
    ports: [port],
    cpus: loadCpus,
    files: { 'small.bin': small, 'big.bin': randomBytes(BIG_BYTES) },
    config: ({ workDir, common }) => `${common.main}
worker_processes 1;
events { worker_connections 4096; }
http {
  ${common.http}
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${String(port)} ssl;
    ${tlsLines(pem)}
    ssl_client_certificate ${pem.files.caCertFile};
    ssl_verify_client on;
    location = /bench/small { default_type application/octet-stream; alias ${join(workDir, 'small.bin')}; }
    location = /bench/big { default_type application/octet-stream; alias ${join(workDir, 'big.bin')}; }
  }
}
`,
  });
}

/** nginx as the reverse proxy: the same route, upstream keep-alive and mutual TLS. */
async function startNginxProxy(pem: Pem, port: number, originPort: number): Promise<NginxInstance> {
  return startNginx({
    ports: [port],
    cpus: proxyCpus,
    config: ({ common }) => `${common.main}
worker_processes ${String(workers)};
worker_cpu_affinity auto;
events { worker_connections 4096; }
http {
  ${common.http}
  ${accessLog ? '' : 'access_log off;'}
  keepalive_requests 1000000;
  upstream origin {
    server 127.0.0.1:${String(originPort)};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${String(port)} ssl reuseport;
    ${tlsLines(pem)}
    location /bench/ {
      proxy_pass https://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $proxy_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $host;
      proxy_ssl_certificate ${pem.files.serverCertFile};
      proxy_ssl_certificate_key ${pem.files.serverKeyFile};
      proxy_ssl_trusted_certificate ${pem.files.caCertFile};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
    location / { return 404; }
  }
}
`,
  });
}

/** Rampart with only the reverse proxy, from the CLI, pinned; output to a log file. */
async function startRampartProxy(
  pem: Pem,
  port: number,
  originPort: number,
  workDir: string,
): Promise<{ pid: number | undefined; stop: () => Promise<void> }> {
  const config = {
    dataDir: join(workDir, 'data'),
    workers,
    log: { level: 'info' },
    tls: {
      certFile: pem.files.serverCertFile,
      keyFile: pem.files.serverKeyFile,
      caFile: pem.files.caCertFile,
    },
    admin: { port: await freePort() },
    'access-edge': { enabled: false },
    'av-edge': { enabled: false },
    director: { enabled: false },
    'front-end': { enabled: false },
    'web-services': { enabled: false },
    'reverse-proxy': {
      enabled: true,
      accessLog,
      external: { port },
      routes: [
        {
          prefix: '/bench/',
          upstream: `https://127.0.0.1:${String(originPort)}`,
          connections: 64,
        },
      ],
    },
  };
  const configFile = join(workDir, 'rampart.yaml');
  await writeFile(configFile, stringify(config));
  const log = join(workDir, 'rampart.log');
  return startPinnedNode(
    'rampart',
    [join(REPO, 'bin/rampart.mjs'), 'start', '--config', configFile],
    port,
    log,
  );
}

/**
 * Starts `taskset -c <proxy cpus> node <args>` (output to `logFile`, or discarded) and waits
 * until it accepts TCP connections on `port`.
 */
async function startPinnedNode(
  name: string,
  args: readonly string[],
  port: number,
  logFile?: string,
): Promise<{ pid: number | undefined; stop: () => Promise<void> }> {
  const log = logFile === undefined ? 'ignore' : openSync(logFile, 'w');
  const child = spawn(
    requireProgram('taskset', 'util-linux'),
    ['-c', proxyCpus, process.execPath, ...args],
    { cwd: REPO, stdio: ['ignore', log, log] },
  );
  if (typeof log === 'number') closeSync(log);
  const hint = logFile === undefined ? '' : `; see ${logFile}`;
  const state = { exited: false };
  child.once('exit', () => {
    state.exited = true;
  });
  await waitUntil(
    async () => state.exited || (await tcpAccepts(port)),
    20_000,
    () => `${name} did not listen on ${String(port)}${hint}`,
  );
  if (state.exited) throw new Error(`${name} exited at start${hint}`);
  return {
    pid: child.pid, // taskset execs node: same pid
    stop: async () => {
      if (state.exited) return;
      const done = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** The floor (`node-floor.ts`), pinned to the proxy cores like the others. */
function startFloorProxy(
  pem: Pem,
  port: number,
  originPort: number,
): Promise<{ pid: number | undefined; stop: () => Promise<void> }> {
  return startPinnedNode(
    'node-floor',
    [
      join(HERE, 'node-floor.ts'),
      '--port',
      String(port),
      '--origin',
      `https://127.0.0.1:${String(originPort)}`,
      '--cert',
      pem.files.serverCertFile,
      '--key',
      pem.files.serverKeyFile,
      '--ca',
      pem.files.caCertFile,
    ],
    port,
  );
}

/** Runs wrk pinned to the load cores; resolves with its parsed output. */
function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const binary = requireProgram('wrk', 'wrk');
  const taskset = requireProgram('taskset', 'util-linux');
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      taskset,
      [
        '-c',
        loadCpus,
        binary,
        '-t1',
        `-c${String(connections)}`,
        `-d${String(seconds)}s`,
        '--latency',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited ${String(code)}\n${out}`));
      else resolveRun(parseWrk(out));
    });
  });
}

interface Figures {
  readonly small: WrkResult;
  readonly big: WrkResult;
  readonly smallCpuMicrosPerRequest: number;
}

/** CPU seconds (user + system) of `root` and its descendants so far. */
function treeCpuSeconds(root: number | undefined): number {
  return root === undefined ? Number.NaN : cpuSeconds(processTree(root));
}

async function measure(name: string, port: number, pid: number | undefined): Promise<Figures> {
  const base = `https://127.0.0.1:${String(port)}/bench`;
  const connections = Number(args.connections);
  process.stdout.write(
    `${name}: warm-up ${String(warmup)} s, then ${String(duration)} s small, ${String(duration)} s 10 MB\n`,
  );
  await wrk(`${base}/small`, connections, warmup);
  const cpuBefore = treeCpuSeconds(pid);
  const small = await wrk(`${base}/small`, connections, duration);
  const smallCpuMicrosPerRequest = ((treeCpuSeconds(pid) - cpuBefore) * 1e6) / small.requests;
  const big = await wrk(`${base}/big`, Number(args['big-connections']), duration);
  for (const [label, result] of [
    ['small', small],
    ['big', big],
  ] as const) {
    if (result.errors > 0 || result.non2xx > 0)
      process.stdout.write(
        `  ${name} ${label}: ${String(result.errors)} socket errors, ${String(result.non2xx)} non-2xx\n`,
      );
  }
  return { small, big, smallCpuMicrosPerRequest };
}

async function main(): Promise<void> {
  requireProgram('nginx', 'nginx');
  requireProgram('wrk', 'wrk');
  const pem = await testPem();
  const workDir = await mkdtemp(join(tmpdir(), 'rampart-bench-http-'));
  const [originPort, nginxPort, rampartPort, floorPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const small = Buffer.alloc(Number(args['small-bytes']), 'x');
  let origin: NginxInstance | undefined;
  let nginxProxy: NginxInstance | undefined;
  let rampart: { pid: number | undefined; stop: () => Promise<void> } | undefined;
  let floor: { pid: number | undefined; stop: () => Promise<void> } | undefined;
  try {
    origin = await startOrigin(pem, originPort, small);
    rampart = await startRampartProxy(pem, rampartPort, originPort, workDir);
    const rampartFigures = await measure('rampart', rampartPort, rampart.pid);
    await rampart.stop();
    rampart = undefined;
    nginxProxy = await startNginxProxy(pem, nginxPort, originPort);
    const nginxFigures = await measure('nginx', nginxPort, nginxProxy.process.pid);
    await nginxProxy.stop();
    nginxProxy = undefined;
    let floorFigures: Figures | undefined;
    if (args.floor) {
      floor = await startFloorProxy(pem, floorPort, originPort);
      floorFigures = await measure('node-floor', floorPort, floor.pid);
      await floor.stop();
      floor = undefined;
    }
    const result = {
      date: new Date().toISOString(),
      settings: {
        duration,
        warmup,
        connections: Number(args.connections),
        bigConnections: Number(args['big-connections']),
        workers,
        proxyCpus,
        loadCpus,
        smallBytes: small.length,
        accessLog,
        bigBytes: BIG_BYTES,
        node: process.version,
      },
      rampart: rampartFigures,
      nginx: nginxFigures,
      ratios: ratios(rampartFigures, nginxFigures),
      ...(floorFigures === undefined
        ? {}
        : {
            nodeFloor: floorFigures,
            floorRatios: {
              floorToNginx: ratios(floorFigures, nginxFigures),
              rampartToFloor: ratios(rampartFigures, floorFigures),
            },
          }),
    };
    process.stdout.write('\n' + formatTable(rampartFigures, nginxFigures) + '\n');
    if (floorFigures !== undefined) {
      process.stdout.write(
        '\n' + formatTable(floorFigures, nginxFigures, ['node-floor', 'nginx']) + '\n',
      );
      process.stdout.write(
        '\n' + formatTable(rampartFigures, floorFigures, ['rampart', 'node-floor']) + '\n',
      );
    }
    const out = args.out ?? join(HERE, 'results', `${new Date().toISOString().slice(0, 10)}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`results: ${out}\n`);
  } finally {
    await rampart?.stop();
    await floor?.stop();
    await nginxProxy?.stop();
    await origin?.stop();
    await rm(workDir, { recursive: true, force: true });
    await removePem(pem);
  }
}

await main();
