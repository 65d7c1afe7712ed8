/** Rampart's configuration: schema, loader and the commented example. */
export {
  configSchema,
  type AccessEdgeConfig,
  type DeepReadonly,
  type MutableRampartConfig,
  type RampartConfig,
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
