/**
 * Authentication: HS256 JWTs (`sub` = user id, `role` user|admin) through @fastify/jwt.
 * Routes opt in with `preHandler: app.authenticate` (or `app.requireAdmin`); the SSE stream
 * may also carry the token as `?access_token=`, because EventSource cannot send headers.
 */
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../lib/errors';

export type Role = 'user' | 'admin';
export interface Principal {
  sub: string;
  role: Role;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Principal;
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>;
    requireAdmin(request: FastifyRequest): Promise<void>;
    /** The user id of a valid token on the request, without failing it (for rate-limit keys). */
    userIdOf(request: FastifyRequest): string | undefined;
  }
  interface FastifyContextConfig {
    /** Accept `?access_token=` as well as the Authorization header (the SSE stream). */
    allowQueryToken?: boolean;
  }
}

export interface AuthOptions {
  jwtSecret: string;
  /** How long a dev token lives. */
  tokenTtl?: string;
}

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const auth = fp(
  async function auth(app: FastifyInstance, options: AuthOptions) {
    // HS256 only: a token signed with another algorithm (or "none") is refused, not trusted.
    await app.register(fastifyJwt, {
      secret: options.jwtSecret,
      sign: { algorithm: 'HS256', expiresIn: options.tokenTtl ?? '12h' },
      verify: { algorithms: ['HS256'] },
    });

    app.decorate('authenticate', async function authenticate(request: FastifyRequest) {
      const token = tokenOf(request);
      if (!token) throw new DomainError('UNAUTHORIZED', 'Sign in: send Authorization: Bearer <token>');
      let claims: Partial<Principal>;
      try {
        claims = app.jwt.verify<Partial<Principal>>(token);
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (code.includes('EXPIRED')) throw new DomainError('TOKEN_EXPIRED', 'The token has expired; sign in again');
        throw new DomainError('UNAUTHORIZED', 'The token is not valid');
      }
      if (typeof claims.sub !== 'string' || !USER_ID.test(claims.sub) || (claims.role !== 'user' && claims.role !== 'admin')) {
        throw new DomainError('UNAUTHORIZED', 'The token does not name a user and a role');
      }
      request.user = { sub: claims.sub, role: claims.role };
    });

    app.decorate('userIdOf', function userIdOf(request: FastifyRequest) {
      const token = tokenOf(request);
      if (!token) return undefined;
      try {
        const sub = app.jwt.verify<Partial<Principal>>(token).sub;
        return typeof sub === 'string' ? sub : undefined;
      } catch {
        return undefined;
      }
    });

    app.decorate('requireAdmin', async function requireAdmin(request: FastifyRequest) {
      await app.authenticate(request);
      if (request.user.role !== 'admin') throw new DomainError('FORBIDDEN', 'This needs the admin role');
    });
  },
  { name: 'auth' },
);

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const [scheme, token] = header.split(' ');
    return scheme?.toLowerCase() === 'bearer' && token ? token : undefined;
  }
  if (request.routeOptions.config.allowQueryToken) {
    const query = request.query as { access_token?: unknown } | undefined;
    if (typeof query?.access_token === 'string' && query.access_token) return query.access_token;
  }
  return undefined;
}
