// Users, teams, tokens, browser sessions and the audit log.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SCOPES } from '../auth.js';
import { csrfFor, HubError, type Store } from '../store/index.js';
import { name, responses } from './schemas.js';

export const SESSION_COOKIE = 'pretext_session';

/** Whether a state-changing request made with a session cookie carries that session's CSRF token. */
export function csrfValid(req: FastifyRequest, sessionSecret: string): boolean {
  const sent = req.headers['x-csrf-token'];
  if (typeof sent !== 'string') return false;
  const want = Buffer.from(csrfFor(sessionSecret));
  const got = Buffer.from(sent);
  return got.length === want.length && timingSafeEqual(got, want);
}

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, secret: string, expiresAt: string): void {
  void reply.setCookie(SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.protocol === 'https',
    path: '/',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  void reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.protocol === 'https', path: '/' });
}

export function accountRoutes(app: FastifyInstance, store: Store): void {
  const { accounts } = store;

  app.get('/api/whoami', { schema: { response: responses({ 200: 'object' }) } }, (req) => {
    if (!req.actor) throw new HubError('no token presented', 401);
    return { user: req.actor.user, admin: req.actor.isAdmin, scope: req.actor.scope };
  });

  // Browser sign-in: the token is exchanged once for an HttpOnly, SameSite=Strict session
  // cookie, so page scripts never hold a long-lived credential; state-changing requests made
  // with the cookie must carry the session's CSRF token in X-CSRF-Token.
  app.post<{ Body: { token: string } }>(
    '/api/session',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', minLength: 1, maxLength: 200 } },
          additionalProperties: false,
        },
        response: responses({ 201: 'object' }, [413]),
      },
    },
    async (req, reply) => {
      const actor = await accounts.authenticate(req.body.token);
      if (!actor) throw new HubError('the token is unknown, revoked or expired', 401);
      const s = await accounts.openSession(actor);
      setSessionCookie(req, reply, s.secret, s.expiresAt);
      return reply
        .status(201)
        .send({ user: actor.user, admin: actor.isAdmin, scope: actor.scope, csrf: csrfFor(s.secret), expiresAt: s.expiresAt });
    },
  );
  app.get('/api/session', { schema: { response: responses({ 200: 'object' }) } }, (req) => {
    if (!req.actor || !req.session) throw new HubError('no browser session: sign in with a token', 401);
    return { user: req.actor.user, admin: req.actor.isAdmin, scope: req.actor.scope, csrf: csrfFor(req.session) };
  });
  app.delete('/api/session', { schema: { response: responses({ 204: 'empty' }, [403]) } }, async (req, reply) => {
    if (req.session) await accounts.closeSession(req.session);
    clearSessionCookie(req, reply);
    return reply.status(204).send();
  });

  app.post<{ Body: { name: string; admin?: boolean } }>(
    '/api/users',
    {
      schema: {
        body: { type: 'object', required: ['name'], properties: { name, admin: { type: 'boolean' } }, additionalProperties: false },
        response: responses({ 201: 'object' }, [403, 409, 413]),
      },
    },
    async (req, reply) => reply.status(201).send(await accounts.createUser(req.actor, req.body.name, req.body.admin ?? false)),
  );

  app.post<{ Body: { name: string } }>(
    '/api/teams',
    {
      schema: {
        body: { type: 'object', required: ['name'], properties: { name }, additionalProperties: false },
        response: responses({ 201: 'object' }, [403, 409, 413]),
      },
    },
    async (req, reply) => reply.status(201).send(await accounts.createTeam(req.actor, req.body.name)),
  );
  app.get('/api/teams', { schema: { response: responses({ 200: 'array' }, [403]) } }, (req) => accounts.listTeams(req.actor));
  app.put<{ Params: { team: string; user: string }; Body: { role: 'member' | 'admin' } }>(
    '/api/teams/:team/members/:user',
    {
      schema: {
        params: { type: 'object', required: ['team', 'user'], properties: { team: name, user: name }, additionalProperties: false },
        body: {
          type: 'object',
          required: ['role'],
          properties: { role: { type: 'string', enum: ['member', 'admin'] } },
          additionalProperties: false,
        },
        response: responses({ 200: 'object' }, [403, 404, 413]),
      },
    },
    async (req) => {
      await accounts.addMember(req.actor, req.params.team, req.params.user, req.body.role);
      return { team: req.params.team, user: req.params.user, role: req.body.role };
    },
  );

  app.post<{ Body: { name: string; scope: (typeof SCOPES)[number]; user?: string; expiresInDays?: number } }>(
    '/api/tokens',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'scope'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            scope: { type: 'string', enum: SCOPES },
            user: name,
            expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
          },
          additionalProperties: false,
        },
        response: responses({ 201: 'object' }, [403, 404, 413]),
      },
    },
    async (req, reply) => {
      const t = await accounts.createToken(req.actor, {
        user: req.body.user ?? req.actor?.user ?? '',
        name: req.body.name,
        scope: req.body.scope,
        expiresInDays: req.body.expiresInDays,
      });
      return reply.status(201).send(t);
    },
  );
  app.get('/api/tokens', { schema: { response: responses({ 200: 'array' }, [403]) } }, (req) => accounts.listTokens(req.actor));
  app.delete<{ Params: { id: number } }>(
    '/api/tokens/:id',
    {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1, maximum: 2 ** 53 - 1 } } },
        response: responses({ 204: 'empty' }, [403, 404]),
      },
    },
    async (req, reply) => {
      await accounts.revokeToken(req.actor, req.params.id);
      return reply.status(204).send();
    },
  );

  app.get('/api/audit', { schema: { response: responses({ 200: 'array' }, [403]) } }, (req) => accounts.auditLog(req.actor));
}
