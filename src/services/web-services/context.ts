/** What every route group of the web services receives. */
import type { RampartConfig } from '../../config/schema.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Directory } from '../../store/directory.ts';
import type { WebAuthenticator } from './auth.ts';
import type { webServicesPaths } from './files.ts';

/** The `web-services` configuration section. */
export type WebServicesSettings = RampartConfig['web-services'];

/** Shared by the route groups. */
export interface WebContext {
  readonly settings: WebServicesSettings;
  readonly directory: Directory;
  readonly auth: WebAuthenticator;
  readonly paths: ReturnType<typeof webServicesPaths>;
  readonly logger: Logger;
}

/** Cache-Control of files whose name changes whenever their content does. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
