/**
 * Who may see whose presence (RFC 3856 §6.6: the presence agent authorizes each subscription).
 *
 * Default rule: watcher W may see P when W is on P's contact list. P's own rules override it:
 * `allow` or `block` for one address or for a whole domain. An address rule beats a domain rule;
 * at the same level `block` beats `allow`. A watcher neither listed nor ruled on is `pending`:
 * P decides, seeing the watcher through presence.winfo (RFC 3857). A user always sees herself.
 *
 * Pure data and one decision function; presence-agent.ts re-evaluates live subscriptions when
 * rules or contact lists change.
 */
import { err, ok, type Result } from '../../lib/result.ts';

/** What a rule does to a matching watcher. */
export type PresenceRuleAction = 'allow' | 'block';

/** One per-user rule: an exact address (`sip:bob@example.com`) or a domain (`example.com`). */
export type PresenceRule =
  | { readonly address: string; readonly action: PresenceRuleAction }
  | { readonly domain: string; readonly action: PresenceRuleAction };

/** The outcome for one watcher. */
export type AuthorizationDecision = 'allow' | 'block' | 'pending';

/** Most rules one user may keep. */
export const MAX_RULES_PER_USER = 500;

/** The domain of a canonical address (`sip:user@Domain:port` → `domain`), lower-cased. */
export function addressDomain(address: string): string {
  const at = address.lastIndexOf('@');
  const hostPort = at < 0 ? address.slice(address.indexOf(':') + 1) : address.slice(at + 1);
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']')).toLowerCase();
  const colon = hostPort.indexOf(':');
  return (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
}

/**
 * Decides whether `watcher` may see `owner`'s presence, given the owner's contact addresses
 * and rules. Addresses are compared as given: callers pass canonical addresses.
 */
export function decideAuthorization(
  watcher: string,
  owner: string,
  contacts: ReadonlySet<string>,
  rules: readonly PresenceRule[],
): AuthorizationDecision {
  if (watcher === owner) return 'allow';
  const byAddress = strongest(rules.filter((r) => 'address' in r && r.address === watcher));
  if (byAddress !== undefined) return byAddress;
  const domain = addressDomain(watcher);
  const byDomain = strongest(
    rules.filter((r) => 'domain' in r && r.domain.toLowerCase() === domain),
  );
  if (byDomain !== undefined) return byDomain;
  return contacts.has(watcher) ? 'allow' : 'pending';
}

function strongest(rules: readonly PresenceRule[]): AuthorizationDecision | undefined {
  if (rules.length === 0) return undefined;
  return rules.some((r) => r.action === 'block') ? 'block' : 'allow';
}

/** Why a rule set was refused. */
export interface PresenceRulesError {
  readonly code: 'RAMPART_ERR_INVALID_ARGUMENT';
  readonly reason: string;
}

/** Per-user rules and contact sets, in memory; the integrator loads them from storage. */
export class PresenceAuthorization {
  private readonly rules = new Map<string, readonly PresenceRule[]>();
  private readonly contacts = new Map<string, ReadonlySet<string>>();

  /** Replaces `owner`'s rules; refused when over {@link MAX_RULES_PER_USER}. */
  setRules(owner: string, rules: readonly PresenceRule[]): Result<void, PresenceRulesError> {
    if (rules.length > MAX_RULES_PER_USER)
      return err({ code: 'RAMPART_ERR_INVALID_ARGUMENT', reason: 'too many rules' });
    if (rules.length === 0) this.rules.delete(owner);
    else this.rules.set(owner, [...rules]);
    return ok(undefined);
  }

  /** `owner`'s rules. */
  rulesOf(owner: string): readonly PresenceRule[] {
    return this.rules.get(owner) ?? [];
  }

  /** Replaces the set of addresses on `owner`'s contact list. */
  setContacts(owner: string, addresses: Iterable<string>): void {
    const set = new Set(addresses);
    if (set.size === 0) this.contacts.delete(owner);
    else this.contacts.set(owner, set);
  }

  /** Forgets everything about `owner` (a user removed). */
  forget(owner: string): void {
    this.rules.delete(owner);
    this.contacts.delete(owner);
  }

  /** The decision for `watcher` watching `owner`. */
  decide(watcher: string, owner: string): AuthorizationDecision {
    return decideAuthorization(
      watcher,
      owner,
      this.contacts.get(owner) ?? new Set<string>(),
      this.rulesOf(owner),
    );
  }
}
