/** Rampart's configuration: schema, loader and the commented example. */
export {
  configSchema,
  type AccessEdgeConfig,
  type AdminConfig,
  type DeepReadonly,
  type LogLevel,
  type MutableRampartConfig,
  type RampartConfig,
  type RouteConfig,
  type SipListenersConfig,
  type TlsConfig,
} from './schema.ts';
export {
  formatConfigError,
  loadConfig,
  parseConfig,
  type ConfigError,
  type ConfigIssue,
  type LoadConfigOptions,
} from './load.ts';
export { CONFIG_EXAMPLE } from './example.ts';
