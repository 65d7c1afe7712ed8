/**
 * Loading the configuration: YAML → zod validation → a deeply frozen object. Errors name the
 * key path and the line:column in the file.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { err, ok, type Result } from '../lib/result.ts';
import { configSchema, type MutableRampartConfig, type RampartConfig } from './schema.ts';

/** One problem in a configuration file. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `access-edge.external.udp`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the file, when known. */
  readonly line?: number;
  readonly column?: number;
}

/** Why a configuration was refused. */
export interface ConfigError {
  readonly code: 'RAMPART_ERR_CONFIG';
  readonly file: string | undefined;
  readonly issues: readonly ConfigIssue[];
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The YAML file; absent → every default. */
  readonly file?: string;
  /** Overrides `dataDir`. */
  readonly dataDir?: string;
  /** Binds every enabled listener (and admin) to an ephemeral port. */
  readonly ephemeralPorts?: boolean;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Formats issues for people: `file:line:column key.path: message`. */
export function formatConfigError(error: ConfigError): string {
  return error.issues
    .map((issue) => {
      const where =
        issue.line === undefined
          ? (error.file ?? '<config>')
          : `${error.file ?? '<config>'}:${issue.line}:${issue.column ?? 1}`;
      return `${where} ${issue.path === '' ? '(top level)' : issue.path}: ${issue.message}`;
    })
    .join('\n');
}

function locate(
  doc: Document,
  counter: LineCounter,
  path: readonly PropertyKey[],
): { line: number; column: number } | undefined {
  // Walk as deep as the document goes; report the deepest node that exists.
  let node: unknown = doc.contents;
  let range: [number, number, number] | undefined | null = (
    doc.contents as { range?: [number, number, number] } | null
  )?.range;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => (item.key as { value?: unknown } | null)?.value === key,
      );
      if (pair === undefined) break;
      range = (pair.key as { range?: [number, number, number] } | null)?.range ?? range;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key] as { range?: [number, number, number] } | undefined;
      if (item === undefined) break;
      range = item.range ?? range;
      node = item;
    } else break;
  }
  if (!range) return undefined;
  const pos = counter.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

/** Parses and validates configuration text. */
export function parseConfig(
  text: string,
  file?: string,
): Result<MutableRampartConfig, ConfigError> {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return err({
      code: 'RAMPART_ERR_CONFIG',
      file,
      issues: doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        return {
          path: '',
          message: e.message.split('\n')[0] ?? 'YAML error',
          line: pos.line,
          column: pos.col,
        };
      }),
    });
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    return err({
      code: 'RAMPART_ERR_CONFIG',
      file,
      issues: parsed.error.issues.map((issue) => {
        const path = [...issue.path];
        // An unknown key is reported at the key itself.
        if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined)
          path.push(issue.keys[0]);
        const at = locate(doc, counter, path);
        return { path: path.map(String).join('.'), message: issue.message, ...(at ?? {}) };
      }),
    });
  }
  return ok(parsed.data);
}

/**
 * Loads the configuration file (or the defaults), applies the CLI overrides, resolves
 * relative paths (`dataDir`, `tls.*File`) against the working directory, and freezes it.
 */
export function loadConfig(options: LoadConfigOptions = {}): Result<RampartConfig, ConfigError> {
  let text = '';
  if (options.file !== undefined) {
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      return err({
        code: 'RAMPART_ERR_CONFIG',
        file: options.file,
        issues: [{ path: '', message: `cannot read: ${(error as Error).message}` }],
      });
    }
  }
  const parsed = parseConfig(text, options.file);
  if (!parsed.ok) return parsed;
  const config = parsed.value;
  if (options.dataDir !== undefined) config.dataDir = options.dataDir;
  config.dataDir = absolute(config.dataDir);
  config.tls.certFile = config.tls.certFile === null ? null : absolute(config.tls.certFile);
  config.tls.keyFile = config.tls.keyFile === null ? null : absolute(config.tls.keyFile);
  config.tls.caFile = config.tls.caFile === null ? null : absolute(config.tls.caFile);
  const federation = config['access-edge'].federation;
  federation.caFiles = federation.caFiles.map(absolute);
  if (options.ephemeralPorts === true) {
    config.admin.port = 0;
    const external = config['access-edge'].external;
    for (const transport of ['udp', 'tcp', 'ws', 'wss'] as const) {
      if (external[transport] !== null) external[transport] = 0;
    }
    if (config['web-services'].port !== null) config['web-services'].port = 0;
    config['reverse-proxy'].external.port = 0;
    const edgeInternal = config['access-edge'].internal;
    if (edgeInternal.tls !== null) edgeInternal.tls = 0;
    if (edgeInternal.tcp !== null) edgeInternal.tcp = 0;
    const edgeTls = external.tls;
    if (edgeTls !== null) external.tls = Array.isArray(edgeTls) ? edgeTls.map(() => 0) : 0;
    const av = config['av-edge'];
    if (av.external.udp !== null) av.external.udp = 0;
    if (av.external.tcp !== null) av.external.tcp = 0;
    const tls = av.external.tls;
    if (tls !== null) av.external.tls = Array.isArray(tls) ? tls.map(() => 0) : 0;
    if (av.internal.udp !== null) av.internal.udp = 0;
    if (av.internal.tcp !== null) av.internal.tcp = 0;
    for (const name of ['director', 'front-end'] as const) {
      const server = config[name];
      for (const transport of ['udp', 'tcp', 'tls', 'serverTls'] as const) {
        if (server[transport] !== null) server[transport] = 0;
      }
    }
  }
  return ok(deepFreeze<RampartConfig>(config));
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}
