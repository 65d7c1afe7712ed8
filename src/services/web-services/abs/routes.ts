/**
 * `GET /abs/index.json` (short cache) and `GET /abs/<file>` (immutable names; gzip twin when
 * accepted; Range; conditional GET). Both need an authenticated user: the address book is
 * the organisation's.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sendFile } from '../http/send-file.ts';
import { IMMUTABLE, type WebContext } from '../context.ts';
import { ABS_INDEX_FILE } from './generate.ts';
import { ABS_FILE_NAME } from './format.ts';

/** Media type of the NDJSON files. */
export const ABS_CONTENT_TYPE = 'application/x-ndjson; charset=utf-8';

/** Registers the address book routes. */
export function absRoutes(app: FastifyInstance, context: WebContext): void {
  const dir = context.paths.abs;
  app.route({
    method: ['GET', 'HEAD'],
    url: '/abs/index.json',
    handler: async (request, reply) => {
      if ((await context.auth.identify(request, reply)) === undefined) return reply;
      return sendFile(request, reply, {
        path: join(dir, ABS_INDEX_FILE),
        contentType: 'application/json; charset=utf-8',
        cacheControl: 'private, max-age=60',
      });
    },
  });
  app.route<{ Params: { name: string } }>({
    method: ['GET', 'HEAD'],
    url: '/abs/:name',
    handler: async (request, reply) => {
      const { name } = request.params;
      if (!ABS_FILE_NAME.test(name)) return reply.code(404).send({ error: 'not-found' });
      if ((await context.auth.identify(request, reply)) === undefined) return reply;
      return sendFile(request, reply, {
        path: join(dir, name),
        gzipPath: join(dir, `${name}.gz`),
        contentType: ABS_CONTENT_TYPE,
        cacheControl: IMMUTABLE.replace('public', 'private'),
      });
    },
  });
}
