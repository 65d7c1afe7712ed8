/**
 * Distribution list expansion: a depth-first walk over nested lists that reports every
 * cycle it closes, visits each list once, and stops as soon as a bound is passed. Pure apart
 * from the injected member lookup.
 */

/** Where the walk reads lists from. */
export interface ListSource {
  /** The direct members of a list: user addresses and names of lists. */
  members(list: string): Promise<readonly string[]>;
  /** Whether a member names a list (else it is a user). */
  isList(member: string): boolean;
}

/** Bounds of one expansion. */
export interface ExpansionLimits {
  /** More distinct users than this: `too-large`. */
  readonly maxMembers: number;
  /** More lists visited than this (the root counts): `too-large`. */
  readonly maxGroups: number;
}

/** The users a list reaches, or which bound it passed. */
export type Expansion =
  | {
      readonly kind: 'expanded';
      /** Each user once, sorted. */
      readonly users: readonly string[];
      /** Each cycle as the path that closes it: `['a', 'b', 'a']`. */
      readonly cycles: readonly (readonly string[])[];
      readonly listsVisited: number;
    }
  | { readonly kind: 'too-large'; readonly bound: 'members' | 'groups' };

/** Expands `root` within `limits`. */
export async function expandList(
  root: string,
  source: ListSource,
  limits: ExpansionLimits,
): Promise<Expansion> {
  const users = new Set<string>();
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  let bound: 'members' | 'groups' | undefined;

  const visit = async (list: string): Promise<void> => {
    if (done.size + onPath.size >= limits.maxGroups) {
      bound = 'groups';
      return;
    }
    path.push(list);
    onPath.add(list);
    for (const member of await source.members(list)) {
      if (bound !== undefined) break;
      if (!source.isList(member)) {
        users.add(member);
        if (users.size > limits.maxMembers) bound = 'members';
        continue;
      }
      if (onPath.has(member)) {
        cycles.push([...path.slice(path.indexOf(member)), member]);
        continue;
      }
      if (done.has(member)) continue;
      await visit(member);
    }
    path.pop();
    onPath.delete(list);
    done.add(list);
  };

  await visit(root);
  if (bound !== undefined) return { kind: 'too-large', bound };
  return {
    kind: 'expanded',
    users: [...users].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    cycles,
    listsVisited: done.size,
  };
}
