/**
 * `rampart federation allow|block|remove|list|test DOMAIN`: the administrator's federation
 * lists (kept in `<data-dir>/edge-policy.sqlite`, picked up by a running Access Edge within a
 * second) and a step-by-step check of the way to a partner's edge.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { RampartConfig } from '../config/index.ts';
import { checkFederationPartner } from '../services/access-edge/federation-check.ts';
import { FEDERATION_STORE_FILE, FederationStore } from '../store/federation-store.ts';
import { loadTlsMaterial } from '../store/tls-material.ts';
import { EXIT_CODES } from './exit-codes.ts';
import { adminBase } from './turn.ts';
import {
  action,
  CliFailure,
  type DirectoryCommandContext,
  type DirectoryCommandOptions,
} from './user.ts';

const DOMAIN =
  /^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function domainArgument(text: string): string {
  const domain = text.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw new CliFailure(EXIT_CODES.USAGE, `not a domain: ${text}`);
  return domain;
}

function withStore<T>(config: RampartConfig, body: (store: FederationStore) => T): T {
  const store = new FederationStore(join(config.dataDir, FEDERATION_STORE_FILE));
  try {
    return body(store);
  } finally {
    store.close();
  }
}

/** The watch list of the running deployment, or why it is not available. */
async function watchList(config: RampartConfig): Promise<string> {
  try {
    const response = await fetch(`${adminBase(config)}/api/federation/watchlist`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return `  (admin answered ${String(response.status)})\n`;
    const { partners } = (await response.json()) as {
      partners: { domain: string; reason: string; since: number; count: number }[];
    };
    if (partners.length === 0) return '  (none)\n';
    return partners
      .map(
        (p) =>
          `  ${p.domain}  over ${p.reason === 'rate' ? 'the message rate' : 'the local-user cap'}` +
          ` since ${new Date(p.since).toISOString()} (${String(p.count)} refused)\n`,
      )
      .join('');
  } catch {
    return '  (the deployment is not running)\n';
  }
}

/** Registers `rampart federation ...`. */
export function registerFederationCommands(
  program: Command,
  context: DirectoryCommandContext,
): void {
  const { common, load } = context;
  const federation = program
    .command('federation')
    .description('partner domains and public IM providers (Access Edge federation)');

  common(
    federation
      .command('allow')
      .argument('<domain>', 'partner domain, or *.suffix')
      .option('--edge <fqdn>', "the partner edge's name (default: DNS SRV)")
      .option('--port <port>', "the partner edge's port", '5061')
      .option('--throttled', 'apply the discovered-partner limits to this partner')
      .description('allow a partner domain (replaces a block of it)'),
  ).action(
    action(
      async (
        text: string,
        options: DirectoryCommandOptions & { edge?: string; port: string; throttled?: boolean },
      ) => {
        const domain = domainArgument(text);
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535)
          throw new CliFailure(EXIT_CODES.USAGE, `--port: not a port: ${options.port}`);
        withStore(load(options), (store) => {
          store.allow(domain, {
            edge: options.edge ?? null,
            port,
            verification: options.throttled === true ? 'throttled' : 'verified',
          });
        });
        process.stdout.write(`allowed ${domain}\n`);
        return Promise.resolve();
      },
    ),
  );

  common(
    federation
      .command('block')
      .argument('<domain>', 'domain, or *.suffix')
      .description('block a domain (replaces an allow of it)'),
  ).action(
    action((text: string, options: DirectoryCommandOptions) => {
      const domain = domainArgument(text);
      withStore(load(options), (store) => {
        store.block(domain);
      });
      process.stdout.write(`blocked ${domain}\n`);
      return Promise.resolve();
    }),
  );

  common(
    federation
      .command('remove')
      .argument('<domain>', 'domain')
      .description("remove a domain from the administrator's lists"),
  ).action(
    action((text: string, options: DirectoryCommandOptions) => {
      const domain = domainArgument(text);
      const removed = withStore(load(options), (store) => store.remove(domain));
      if (!removed) throw new CliFailure(EXIT_CODES.NOT_FOUND, `${domain} is on no list`);
      process.stdout.write(`removed ${domain}\n`);
      return Promise.resolve();
    }),
  );

  common(
    federation
      .command('list')
      .description('print the allow list, block list, providers and the watch list'),
  ).action(
    action(async (options: DirectoryCommandOptions) => {
      const config = load(options);
      const settings = config['access-edge'].federation;
      const stored = withStore(config, (store) => store.list());
      const lines = [
        `federation ${settings.enabled ? 'on' : 'off'}, discovery ${settings.discovery ? 'on' : 'off'}`,
        'allowed:',
        ...stored.flatMap((e) =>
          e.action === 'allow'
            ? [
                `  ${e.domain}  edge ${e.edge === null ? '(DNS)' : `${e.edge}:${String(e.port)}`}  ${e.verification}  (rampart federation, ${e.addedAt})`,
              ]
            : [],
        ),
        ...settings.allow.map(
          (a) =>
            `  ${a.domain}  edge ${a.edge === null ? '(DNS)' : `${a.edge}:${String(a.port)}`}  ${a.verification}  (config)`,
        ),
        'blocked:',
        ...stored.flatMap((e) =>
          e.action === 'block' ? [`  ${e.domain}  (rampart federation, ${e.addedAt})`] : [],
        ),
        ...settings.block.map((d) => `  ${d}  (config)`),
        'providers:',
        ...settings.providers.map(
          (p) =>
            `  ${p.name}  ${p.domains.join(', ')}  edge ${p.edge}:${String(p.port)}  ${p.enabled ? 'enabled' : 'disabled'}${p.allowMedia ? ', media' : ''}`,
        ),
        'watch list:',
      ];
      process.stdout.write(lines.join('\n') + '\n' + (await watchList(config)));
    }),
  );

  common(
    federation
      .command('test')
      .argument('<domain>', 'partner domain')
      .option('--timeout <ms>', 'per step', '5000')
      .description(
        'resolve the partner edge, connect with mutual TLS, check its certificate, send OPTIONS; exit 1 when a step fails',
      ),
  ).action(
    action(async (text: string, options: DirectoryCommandOptions & { timeout: string }) => {
      const domain = domainArgument(text);
      const config = load(options);
      const tls = await loadTlsMaterial({
        dataDir: config.dataDir,
        certFile: config.tls.certFile,
        keyFile: config.tls.keyFile,
        caFile: config.tls.caFile,
        names: [...config.tls.names, ...config.domains],
      });
      try {
        const steps = await checkFederationPartner({
          settings: config['access-edge'],
          domains: config.domains,
          stored: withStore(config, (store) => store.list()),
          tls,
          domain,
          timeoutMs: Number(options.timeout),
        });
        for (const s of steps)
          process.stdout.write(`${s.ok ? 'ok  ' : 'FAIL'}  ${s.step.padEnd(11)} ${s.detail}\n`);
        const passed = steps.some((s) => s.step === 'sip' && s.ok);
        if (!passed) throw new CliFailure(EXIT_CODES.FAILURE, `${domain}: federation test failed`);
      } finally {
        tls.close();
      }
    }),
  );
}
