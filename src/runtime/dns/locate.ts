import { ERROR_CODES, RampartError } from '../../lib/errors.ts';
import { err, ok, type Result } from '../../lib/result.ts';
import {
  ServerLocator,
  type LocateAction,
  type LocatorOptions,
} from '../../proto/locate/locator.ts';
import type { LocateError, LocatedTarget, SipLocateUri } from '../../proto/locate/types.ts';
import type { DnsQuerier } from './resolver.ts';

/** Options of {@link locateSipServer}. */
export interface LocateSipServerOptions extends LocatorOptions {
  /** Where DNS questions go, typically a shared {@link CachingDnsResolver}. */
  readonly resolver: DnsQuerier;
}

/**
 * Runs RFC 3263 §4 location for `uri`: asks each batch of DNS questions of the
 * {@link ServerLocator} in parallel and returns the ordered failover targets (§4.3), or
 * why there are none. Never rejects.
 */
export async function locateSipServer(
  uri: SipLocateUri,
  options: LocateSipServerOptions,
): Promise<Result<readonly LocatedTarget[], LocateError>> {
  const locator = new ServerLocator(uri, options);
  let actions: readonly LocateAction[] = locator.start();
  for (;;) {
    const next: LocateAction[] = [];
    for (const action of actions) {
      switch (action.type) {
        case 'done':
          return ok(action.targets);
        case 'failed':
          return err(action.error);
        case 'query':
          await Promise.all(
            action.queries.map(async (query) => {
              const answer = await options.resolver.query(query);
              next.push(...locator.handle({ type: 'answer', query, answer }));
            }),
          );
          break;
      }
    }
    if (next.length === 0) {
      throw new RampartError(ERROR_CODES.INVALID_STATE, 'ServerLocator stopped without a result');
    }
    actions = next;
  }
}
