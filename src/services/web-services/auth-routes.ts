/**
 * `POST /auth/verify` `{ "user", "password" }` → 200 `{ "sipUri", "displayName" }` or 401:
 * the reverse proxy's forms sign-in. Only a peer with a client certificate from the
 * deployment CA may ask (403 otherwise); failures lock the user out (429 with Retry-After).
 */
import type { FastifyInstance } from 'fastify';
import { isTrustedPeer } from './auth.ts';
import type { WebContext } from './context.ts';

/** Registers `/auth/verify`. */
export function authRoutes(app: FastifyInstance, context: WebContext): void {
  app.post<{ Body: unknown }>('/auth/verify', async (request, reply) => {
    if (!isTrustedPeer(request))
      return reply.code(403).send({ error: 'client-certificate-required' });
    const body = request.body as { user?: unknown; password?: unknown } | null | undefined;
    const user = body?.user;
    const password = body?.password;
    if (typeof user !== 'string' || typeof password !== 'string')
      return reply.code(400).send({ error: 'bad-request', expected: '{"user","password"}' });
    const check = await context.auth.checkPassword(user, password);
    if (check.ok) {
      return reply.send({
        sipUri: `sip:${check.user.address}`,
        displayName: check.user.displayName,
      });
    }
    if (check.reason === 'locked') {
      context.logger.warn({ event: 'web-signin-locked', user }, 'sign-in refused: locked out');
      return reply
        .code(429)
        .header('retry-after', String(check.retryAfterSeconds))
        .send({ error: 'locked', retryAfterSeconds: check.retryAfterSeconds });
    }
    return reply.code(401).send({ error: 'bad-credentials' });
  });
}
