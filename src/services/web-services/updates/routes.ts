/**
 * Device updates: `POST /updates/check` with `{ "model", "version" }` answers
 * `{ "update": "<url>", "version", "sha256", "bytes" }` or `{ "update": "none" }`;
 * `GET /updates/files/<file>` serves the package with Range. Devices do not authenticate:
 * what they get is what an administrator published.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendFile } from '../http/send-file.ts';
import { IMMUTABLE, type WebContext } from '../context.ts';
import { MODEL, selectUpdate, VERSION } from './select.ts';
import { PACKAGE_FILE, readManifest } from './store.ts';

/** `https://host:port` the device reached, unless `publicBaseUrl` says otherwise. */
function baseUrl(request: FastifyRequest, configured: string | null): string {
  if (configured !== null) return configured.replace(/\/$/, '');
  return `https://${request.host}`;
}

/** Registers the device update routes. */
export function updatesRoutes(app: FastifyInstance, context: WebContext): void {
  const dir = context.paths.updates;
  app.post<{ Body: unknown }>('/updates/check', async (request, reply) => {
    const body = request.body as { model?: unknown; version?: unknown } | null;
    const model = body?.model;
    const version = body?.version;
    if (
      typeof model !== 'string' ||
      !MODEL.test(model) ||
      typeof version !== 'string' ||
      !VERSION.test(version)
    )
      return reply.code(400).send({ error: 'bad-request', expected: '{"model","version"}' });
    const update = selectUpdate(await readManifest(dir), model, version);
    if (update === undefined) return reply.send({ update: 'none' });
    return reply.send({
      update: `${baseUrl(request, context.settings.publicBaseUrl)}/updates/files/${update.file}`,
      version: update.version,
      sha256: update.sha256,
      bytes: update.bytes,
    });
  });
  app.route<{ Params: { file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/updates/files/:file',
    handler: async (request, reply) => {
      const { file } = request.params;
      if (!PACKAGE_FILE.test(file)) return reply.code(404).send({ error: 'not-found' });
      // Only what is offered is served: a package stored without approval stays private.
      const listed = (await readManifest(dir)).packages.some((p) => p.file === file && p.approved);
      if (!listed) return reply.code(404).send({ error: 'not-found' });
      return sendFile(request, reply, {
        path: join(dir, 'files', file),
        contentType: 'application/octet-stream',
        cacheControl: IMMUTABLE,
      });
    },
  });
}
