/**
 * Meeting content. The organiser (authenticated) creates a content space and uploads files;
 * participants download with the conference key (`X-Rampart-Conference-Key` header or
 * `?key=`).
 *
 * - `POST /meetings` `{ "key"? }` → 201 `{ "meetingId", "key" }`
 * - `PUT /meetings/<id>/content/<name>` (organiser; body = the file, Content-Type allowed
 *   and matching the bytes) → 201; 413 over `maxFileBytes`, 415 type refused, 409 too many
 * - `DELETE /meetings/<id>/content/<name>` (organiser) → 204
 * - `GET /meetings/<id>/content` (key) → `{ "files": [...] }`
 * - `GET|HEAD /meetings/<id>/content/<name>` (key) → the file, with Range, as an attachment
 */
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { headerText, sendFile } from '../http/send-file.ts';
import type { WebContext } from '../context.ts';
import { looksLike, mediaType } from './content-check.ts';
import { MEETING_FILE, MEETING_ID, MeetingStore, type Meeting, type MeetingFile } from './store.ts';

/** The header a participant presents the conference key in. */
export const CONFERENCE_KEY_HEADER = 'x-rampart-conference-key';

type Params = { Params: { id: string; name?: string }; Querystring: { key?: string } };

/** Registers the meeting content routes. */
export function meetingsRoutes(app: FastifyInstance, context: WebContext): void {
  const store = new MeetingStore(context.paths.meetings);
  const limits = context.settings.meetings;
  const allowed = new Set(limits.allowedContentTypes.map((t) => t.toLowerCase()));

  /** The meeting when the request carries its key; otherwise answers 404/403. */
  const withKey = async (
    request: FastifyRequest<Params>,
    reply: FastifyReply,
  ): Promise<Meeting | undefined> => {
    const meeting = await store.get(request.params.id);
    if (meeting === undefined) {
      await reply.code(404).send({ error: 'unknown-meeting' });
      return undefined;
    }
    const key = headerText(request, CONFERENCE_KEY_HEADER) ?? request.query.key;
    if (!store.keyMatches(meeting, key)) {
      await reply.code(403).send({ error: 'bad-key' });
      return undefined;
    }
    return meeting;
  };

  /** The meeting when the authenticated user organises it; otherwise answers. */
  const asOrganiser = async (
    request: FastifyRequest<Params>,
    reply: FastifyReply,
  ): Promise<Meeting | undefined> => {
    const identity = await context.auth.identify(request, reply);
    if (identity === undefined) return undefined;
    const meeting = await store.get(request.params.id);
    if (meeting === undefined) {
      await reply.code(404).send({ error: 'unknown-meeting' });
      return undefined;
    }
    if (meeting.organiser !== identity.user.address) {
      await reply.code(403).send({ error: 'not-organiser' });
      return undefined;
    }
    return meeting;
  };

  app.post<{ Body: unknown }>('/meetings', async (request, reply) => {
    const identity = await context.auth.identify(request, reply);
    if (identity === undefined) return reply;
    const key = (request.body as { key?: unknown } | null | undefined)?.key;
    if (key !== undefined && (typeof key !== 'string' || key.length < 16 || key.length > 256))
      return reply.code(400).send({ error: 'bad-key', expected: '16 to 256 characters' });
    const created = await store.create(identity.user.address, key);
    return reply.code(201).send({ meetingId: created.meeting.id, key: created.key });
  });

  app.get<Params>('/meetings/:id/content', async (request, reply) => {
    const meeting = await withKey(request, reply);
    if (meeting === undefined) return reply;
    return reply.header('cache-control', 'private, no-cache').send({ files: meeting.files });
  });

  app.route<Params>({
    method: ['GET', 'HEAD'],
    url: '/meetings/:id/content/:name',
    handler: async (request, reply) => {
      const meeting = await withKey(request, reply);
      if (meeting === undefined) return reply;
      const file = meeting.files.find((f) => f.name === request.params.name);
      if (file === undefined) return reply.code(404).send({ error: 'not-found' });
      reply.header('x-content-type-options', 'nosniff');
      return sendFile(request, reply, {
        path: store.filePath(meeting.id, file.name),
        contentType: file.contentType,
        cacheControl: 'private, no-cache',
        contentDisposition: `attachment; filename="${file.name}"`,
      });
    },
  });

  app.delete<Params>('/meetings/:id/content/:name', async (request, reply) => {
    const meeting = await asOrganiser(request, reply);
    if (meeting === undefined) return reply;
    const name = request.params.name ?? '';
    const removed = await store.update(meeting.id, (current) =>
      Promise.resolve({
        meeting: { ...current, files: current.files.filter((f) => f.name !== name) },
        result: current.files.some((f) => f.name === name),
      }),
    );
    if (removed !== true) return reply.code(404).send({ error: 'not-found' });
    await store.removeFile(meeting.id, name);
    return reply.code(204).send();
  });

  // Uploads are streamed to disk: the body reaches the handler unparsed, whatever its type.
  void app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, parsed) => {
      parsed(null, payload);
    });
    scope.put<Params>('/meetings/:id/content/:name', async (request, reply) => {
      const name = request.params.name ?? '';
      if (!MEETING_ID.test(request.params.id) || !MEETING_FILE.test(name))
        return reply.code(404).send({ error: 'not-found' });
      const meeting = await asOrganiser(request, reply);
      if (meeting === undefined) return reply;
      const type = mediaType(headerText(request, 'content-type'));
      if (type === undefined || !allowed.has(type))
        return reply
          .code(415)
          .header('connection', 'close')
          .send({ error: 'type-not-allowed', allowed: [...allowed] });
      const declared = Number(headerText(request, 'content-length') ?? '0');
      if (declared > limits.maxFileBytes)
        return reply
          .code(413)
          .header('connection', 'close')
          .send({ error: 'too-large', maxFileBytes: limits.maxFileBytes });
      const replacing = meeting.files.some((f) => f.name === name);
      if (!replacing && meeting.files.length >= limits.maxFilesPerMeeting)
        return reply
          .code(409)
          .header('connection', 'close')
          .send({ error: 'too-many-files', maxFilesPerMeeting: limits.maxFilesPerMeeting });
      const received = await store.receive(
        meeting.id,
        request.body as IncomingMessage,
        limits.maxFileBytes,
      );
      if (received.kind === 'too-large')
        return reply
          .code(413)
          .header('connection', 'close')
          .send({ error: 'too-large', maxFileBytes: limits.maxFileBytes });
      if (!looksLike(type, received.head)) {
        await rm(received.temporary, { force: true });
        return reply.code(415).send({ error: 'content-mismatch', contentType: type });
      }
      const file: MeetingFile = {
        name,
        contentType: type,
        bytes: received.bytes,
        sha256: received.sha256,
        uploadedAt: new Date().toISOString(),
      };
      await store.update(meeting.id, async (current) => {
        await store.keep(meeting.id, received.temporary, name);
        return {
          meeting: { ...current, files: [...current.files.filter((f) => f.name !== name), file] },
          result: true,
        };
      });
      context.logger.info(
        { event: 'meeting-upload', meeting: meeting.id, name, bytes: file.bytes, type },
        'meeting content uploaded',
      );
      return reply.code(201).send(file);
    });
    done();
  });
}
