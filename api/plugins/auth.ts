/**
 * Authentication: HS256 JWTs (`sub` = user id, `sid` = session, `exp`) through @fastify/jwt,
 * carried by the HttpOnly session cookie (the dashboard, its SSE stream) or
 * `Authorization: Bearer` (API clients). A token with a `sid` is good only while that session
 * is active in the accounts service, and its role comes from there. A token without one is a
 * dev token: accepted only when ALLOW_DEV_TOKENS=true, as a bearer token, never as a cookie.
 *
 * CSRF: a cookie-authenticated request that changes state must carry `X-CSRF-Token`, whose
 * value is an HMAC of the session id that the server sets in the readable `sf_csrf` cookie
 * (a signed double-submit cookie: another site can neither read it nor compute it), and an
 * `Origin`, when the browser sends one, naming this host. Bearer requests need neither: a
 * browser never adds an Authorization header on its own.
 *
 * Routes opt in with `preHandler: app.authenticate` (or `app.requireAdmin`). The SSE stream
 * also takes `?access_token=` for non-browser clients (EventSource cannot send headers); the
 * request logger redacts it (api/plugins/log-redaction.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import fastifyCookie from '@fastify/cookie';
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../lib/errors';
import { ROLES, type Account, type AccountsService, type Role } from '../../services/accounts/accounts.service';
import { isUuid } from '../../lib/ids';
import { enforcesAccess } from '../route-access';

export type { Role } from '../../services/accounts/accounts.service';

export interface Principal {
  sub: string;
  role: Role;
  /** The session, for tokens issued at sign-in; absent for dev tokens. */
  sid?: string;
}

/** What a token says. Only `sub`, `sid` and `exp` are trusted; `role` only in a dev token. */
interface TokenClaims {
  sub: string;
  sid?: string;
  role?: Role;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims;
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate(request: FastifyRequest): Promise<void>;
    requireAdmin(request: FastifyRequest): Promise<void>;
    /** The user id of a valid token on the request, without failing it (for rate-limit keys). */
    userIdOf(request: FastifyRequest): string | undefined;
    /** Opens a session for the account: sets the session and CSRF cookies, returns the bearer token. */
    startSession(reply: FastifyReply, account: Account): Promise<{ token: string; expiresAt: Date }>;
    /** Revokes the request's session (if any) and clears the cookies. */
    endSession(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** Refuses a cross-site request by its Origin (sign-up and sign-in, which have no session yet). */
    checkOrigin(request: FastifyRequest): void;
  }
  interface FastifyContextConfig {
    /** Accept `?access_token=` as well as the Authorization header (the SSE stream). */
    allowQueryToken?: boolean;
    /**
     * A POST that changes nothing (the codec's decode and encode), called by pages of these origins
     * (the Temporal Web UI's) with the session cookie: no CSRF token is asked for, which such a page
     * cannot have, only an Origin among these or this host. Forging it would change nothing, and
     * CORS keeps any other page from reading the answer.
     */
    readOnlyPostFrom?: readonly string[];
  }
}

export const SESSION_COOKIE = 'sf_session';
export const CSRF_COOKIE = 'sf_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export interface AuthOptions {
  jwtSecret: string;
  accounts: Pick<AccountsService, 'openSession' | 'activeSession' | 'revokeSession'>;
  /** Accept tokens without a session (POST /v1/auth/dev-token): the local stack and tests only. */
  allowDevTokens: boolean;
  /** Mark the cookies `Secure` (production, behind HTTPS). */
  secureCookies: boolean;
  /** Told of each session this instance revokes, once it is revoked: its open streams close before the sign-out answers. */
  onSessionEnded?: (sessionId: string) => void;
}

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type Credential = { token: string; source: 'bearer' | 'cookie' | 'query' };

export const auth = fp(
  async function auth(app: FastifyInstance, options: AuthOptions) {
    await app.register(fastifyCookie);
    // HS256 only: a token signed with another algorithm (or "none") is refused, not trusted.
    await app.register(fastifyJwt, {
      secret: options.jwtSecret,
      sign: { algorithm: 'HS256', expiresIn: '12h' },
      verify: { algorithms: ['HS256'] },
    });

    const csrfTokenFor = (sid: string) =>
      createHmac('sha256', options.jwtSecret).update(`csrf:${sid}`).digest('base64url');
    const cookieOptions = (expires: Date) => ({
      path: '/',
      sameSite: 'lax' as const,
      secure: options.secureCookies,
      expires,
    });

    // Each check carries the access it enforces: the OpenAPI document reads a route's security from its hooks.
    app.decorate(
      'authenticate',
      enforcesAccess('user', async function authenticate(request: FastifyRequest) {
        const credential = credentialOf(request);
        if (!credential) throw new DomainError('UNAUTHORIZED', 'Sign in, or send Authorization: Bearer <token>');
        let claims: Partial<TokenClaims>;
        try {
          claims = app.jwt.verify<Partial<TokenClaims>>(credential.token);
        } catch (error) {
          const code = (error as { code?: string }).code ?? '';
          if (code.includes('EXPIRED')) throw new DomainError('TOKEN_EXPIRED', 'The token has expired; sign in again');
          throw new DomainError('UNAUTHORIZED', 'The token is not valid');
        }
        if (typeof claims.sub !== 'string' || !USER_ID.test(claims.sub))
          throw new DomainError('UNAUTHORIZED', 'The token does not name a user');

        if (claims.sid !== undefined) {
          if (typeof claims.sid !== 'string' || !isUuid(claims.sid))
            throw new DomainError('UNAUTHORIZED', 'The token does not name a session');
          const session = await options.accounts.activeSession(claims.sid);
          if (!session || session.userId !== claims.sub)
            throw new DomainError('UNAUTHORIZED', 'The session has ended; sign in again');
          // The role is the account's as it is now; whatever a token might say is not read.
          request.user = { sub: claims.sub, role: session.account.role, sid: claims.sid };
        } else {
          if (!options.allowDevTokens || credential.source === 'cookie')
            throw new DomainError('UNAUTHORIZED', 'The token does not belong to a session; sign in');
          if (!(ROLES as readonly unknown[]).includes(claims.role))
            throw new DomainError('UNAUTHORIZED', 'The dev token does not name a role');
          request.user = { sub: claims.sub, role: claims.role as Role };
        }

        const readOnlyFrom = request.routeOptions.config.readOnlyPostFrom;
        if (credential.source === 'cookie' && readOnlyFrom && !SAFE_METHODS.has(request.method)) {
          const origin = request.headers.origin;
          if (origin !== undefined && !readOnlyFrom.includes(origin)) app.checkOrigin(request);
        } else if (credential.source === 'cookie' && !SAFE_METHODS.has(request.method)) {
          app.checkOrigin(request);
          const header = request.headers[CSRF_HEADER];
          if (typeof header !== 'string' || !sameSecret(header, csrfTokenFor(request.user.sid!))) {
            throw new DomainError(
              'CSRF_REJECTED',
              `A signed-in browser request that changes something needs the ${CSRF_HEADER} header (the ${CSRF_COOKIE} cookie's value)`,
            );
          }
        }
      }),
    );

    app.decorate('checkOrigin', function checkOrigin(request: FastifyRequest) {
      const origin = request.headers.origin;
      if (origin === undefined) return;
      if (!sameHost(origin, request.headers.host))
        throw new DomainError('CSRF_REJECTED', 'Cross-site requests are refused');
    });

    app.decorate('userIdOf', function userIdOf(request: FastifyRequest) {
      const credential = credentialOf(request);
      if (!credential) return undefined;
      try {
        const sub = app.jwt.verify<Partial<TokenClaims>>(credential.token).sub;
        return typeof sub === 'string' ? sub : undefined;
      } catch {
        return undefined;
      }
    });

    app.decorate(
      'requireAdmin',
      enforcesAccess('admin', async function requireAdmin(request: FastifyRequest) {
        await app.authenticate(request);
        if (request.user.role !== 'admin') throw new DomainError('FORBIDDEN', 'This needs the admin role');
      }),
    );

    app.decorate('startSession', async function startSession(reply: FastifyReply, account: Account) {
      const session = await options.accounts.openSession(account.id);
      const expiresIn = Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
      const token = app.jwt.sign({ sub: account.id, sid: session.id }, { expiresIn });
      reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(session.expiresAt), httpOnly: true });
      // Readable by the dashboard's script, which echoes it in X-CSRF-Token.
      reply.setCookie(CSRF_COOKIE, csrfTokenFor(session.id), { ...cookieOptions(session.expiresAt), httpOnly: false });
      return { token, expiresAt: session.expiresAt };
    });

    app.decorate('endSession', async function endSession(request: FastifyRequest, reply: FastifyReply) {
      if (request.user?.sid) {
        await options.accounts.revokeSession(request.user.sid);
        options.onSessionEnded?.(request.user.sid);
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/', sameSite: 'lax', secure: options.secureCookies, httpOnly: true });
      reply.clearCookie(CSRF_COOKIE, { path: '/', sameSite: 'lax', secure: options.secureCookies });
    });
  },
  { name: 'auth' },
);

/** The bearer header wins; then the session cookie; then `?access_token=` where the route allows it. */
function credentialOf(request: FastifyRequest): Credential | undefined {
  const header = request.headers.authorization;
  if (header) {
    const [scheme, token] = header.split(' ');
    return scheme?.toLowerCase() === 'bearer' && token ? { token, source: 'bearer' } : undefined;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (cookie) return { token: cookie, source: 'cookie' };
  if (request.routeOptions.config.allowQueryToken) {
    const query = request.query as { access_token?: unknown } | undefined;
    if (typeof query?.access_token === 'string' && query.access_token)
      return { token: query.access_token, source: 'query' };
  }
  return undefined;
}

/** The Origin names the host the request was sent to (compared as URLs, so a default port is no difference). */
function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
