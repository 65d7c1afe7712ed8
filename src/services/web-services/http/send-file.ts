/**
 * A small static-file sender: strong ETag and Last-Modified, conditional GET (304/412), one
 * byte range (206/416; several ranges get 200), and an optional pre-compressed gzip twin
 * chosen by Accept-Encoding. The file is streamed, never read whole.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { acceptsGzip, evaluatePreconditions, parseRange } from './range.ts';

/** What to send. */
export interface SendFileOptions {
  /** The file (the identity representation). */
  readonly path: string;
  /** Its gzip-compressed twin, served with `Content-Encoding: gzip` when accepted. */
  readonly gzipPath?: string;
  readonly contentType: string;
  readonly cacheControl: string;
  /** e.g. `attachment; filename="slides.pdf"`. */
  readonly contentDisposition?: string;
}

/** One string of a request header (the first when repeated). */
export function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function statFile(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends `options.path` (or its gzip twin) for a GET or HEAD; 404 when the file is absent.
 * Range applies to the representation sent: the compressed bytes when gzip was chosen
 * (its ETag differs from the identity one, RFC 9110 §8.8.3).
 */
export async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  options: SendFileOptions,
): Promise<FastifyReply> {
  const gzipPath = acceptsGzip(headerText(request, 'accept-encoding'))
    ? options.gzipPath
    : undefined;
  const gzip = gzipPath !== undefined;
  const path = gzipPath ?? options.path;
  const file = await statFile(path);
  if (file === undefined) return reply.code(404).send({ error: 'not-found' });
  const etag = `"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}${gzip ? '-gz' : ''}"`;
  reply.header('etag', etag);
  reply.header('last-modified', new Date(file.mtimeMs).toUTCString());
  reply.header('cache-control', options.cacheControl);
  reply.header('accept-ranges', 'bytes');
  if (options.gzipPath !== undefined) reply.header('vary', 'Accept-Encoding');
  const outcome = evaluatePreconditions(
    {
      ifNoneMatch: headerText(request, 'if-none-match'),
      ifModifiedSince: headerText(request, 'if-modified-since'),
      ifMatch: headerText(request, 'if-match'),
      ifUnmodifiedSince: headerText(request, 'if-unmodified-since'),
      ifRange: headerText(request, 'if-range'),
    },
    { etag, lastModifiedMs: file.mtimeMs },
  );
  if (outcome.kind === 'not-modified') return reply.code(304).send();
  if (outcome.kind === 'failed') return reply.code(412).send({ error: 'precondition-failed' });
  reply.header('content-type', options.contentType);
  if (gzip) reply.header('content-encoding', 'gzip');
  if (options.contentDisposition !== undefined)
    reply.header('content-disposition', options.contentDisposition);
  const range = outcome.honourRange
    ? parseRange(headerText(request, 'range'), file.size)
    : ({ kind: 'whole' } as const);
  if (range.kind === 'unsatisfiable') {
    // RFC 9110 §15.5.17: a 416 SHOULD carry Content-Range with the current length.
    reply.removeHeader('content-encoding');
    reply.removeHeader('content-disposition');
    reply.header('content-type', 'application/json; charset=utf-8');
    reply.header('content-range', `bytes */${String(file.size)}`);
    return reply.code(416).send({ error: 'range-not-satisfiable' });
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : file.size - 1;
  if (range.kind === 'partial') {
    reply.code(206);
    reply.header('content-range', `bytes ${String(start)}-${String(end)}/${String(file.size)}`);
  }
  reply.header('content-length', String(end - start + 1));
  if (request.method === 'HEAD' || file.size === 0) return reply.send();
  return reply.send(createReadStream(path, { start, end }));
}
