/** A static next hop for a domain: `example.com`, `*.example.com`, or `*` for any. */
export interface StaticRoute {
  /** Exact domain, `*.suffix` (matches strict subdomains), or `*`. Case-insensitive. */
  readonly domain: string;
}

function normalise(domain: string): string {
  const lower = domain.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Picks the static route for `domain`, most specific first: an exact match, then the
 * wildcard with the longest suffix, then `*`. Returns `undefined` when none applies (then
 * RFC 3263 DNS location runs). Ties keep the first route listed.
 */
export function matchStaticRoute<R extends StaticRoute>(
  routes: readonly R[],
  domain: string,
): R | undefined {
  const target = normalise(domain);
  let best: R | undefined;
  let bestScore = -1;
  for (const route of routes) {
    const pattern = normalise(route.domain);
    let score: number;
    if (pattern === target) {
      score = Number.MAX_SAFE_INTEGER;
    } else if (pattern === '*') {
      score = 0;
    } else if (pattern.startsWith('*.') && target.endsWith(pattern.slice(1))) {
      score = pattern.length;
    } else {
      continue;
    }
    if (score > bestScore) {
      best = route;
      bestScore = score;
    }
  }
  return best;
}
