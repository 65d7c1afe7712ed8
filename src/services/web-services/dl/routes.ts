/**
 * `GET /dl/<list>`: the members of a distribution list (SIP address, display name, e-mail)
 * with nested lists expanded, for an authenticated user. 404 for an unknown list, 413 when
 * it reaches more than `dl.maxMembers` users or `dl.maxGroups` lists.
 */
import type { FastifyInstance } from 'fastify';
import { DirectoryError } from '../../../store/directory.ts';
import type { WebContext } from '../context.ts';
import { expandList } from './expand.ts';

/** One member in the answer. */
export interface DlMember {
  readonly sipUri: string;
  readonly displayName: string | null;
  readonly email: string | null;
}

/** Registers the DL expansion route. */
export function dlRoutes(app: FastifyInstance, context: WebContext): void {
  const { directory, settings } = context;
  app.get<{ Params: { name: string } }>('/dl/:name', async (request, reply) => {
    const identity = await context.auth.identify(request, reply);
    if (identity === undefined) return reply;
    const { name } = request.params;
    const groups = new Map((await directory.listGroups()).map((g) => [g.name, g]));
    const group = groups.get(name);
    if (group === undefined) return reply.code(404).send({ error: 'unknown-group', name });
    const expansion = await expandList(
      name,
      {
        members: async (list) => {
          try {
            return await directory.members(list);
          } catch (error) {
            // A nested list removed while we walk is simply empty.
            if (error instanceof DirectoryError && error.reason === 'unknown-group') return [];
            throw error;
          }
        },
        isList: (member) => groups.has(member),
      },
      { maxMembers: settings.dl.maxMembers, maxGroups: settings.dl.maxGroups },
    );
    if (expansion.kind === 'too-large') {
      context.logger.info(
        { event: 'dl-too-large', list: name, bound: expansion.bound },
        'distribution list over its bound',
      );
      return reply.code(413).send({
        error: 'too-large',
        name,
        bound: expansion.bound,
        maxMembers: settings.dl.maxMembers,
        maxGroups: settings.dl.maxGroups,
      });
    }
    if (expansion.cycles.length > 0) {
      context.logger.warn(
        { event: 'dl-cycle', list: name, cycles: expansion.cycles },
        'distribution list nests itself',
      );
    }
    const members: DlMember[] = [];
    for (const address of expansion.users) {
      const user = await directory.getUser(address);
      if (user?.enabled !== true) continue;
      members.push({ sipUri: `sip:${address}`, displayName: user.displayName, email: user.email });
    }
    return reply.header('cache-control', 'private, no-cache').send({
      name,
      displayName: group.displayName,
      members,
      cycles: expansion.cycles,
    });
  });
}
