/**
 * Accounts over HTTP: sign up, sign in, sign out, the current user. When ALLOW_DEV_TOKENS=true
 * (the local stack and tests) also the dev-token endpoint and the list of demo accounts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../services/accounts/demo-accounts';
import { DomainError } from '../../lib/errors';
import type { Account, AccountsService } from '../../services/accounts/accounts.service';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/accounts/passwords';
import type { QuotaService } from '../../services/quota/quota.service';
import { errors, Timestamp, UserId } from '../schemas';

export interface AuthRoutesOptions {
  accounts: AccountsService;
  quota: Pick<QuotaService, 'setPlan' | 'getQuota'>;
  allowDevTokens: boolean;
  /** Per client address per minute: sign-ups, and dev tokens (cheap to ask for, so tight). */
  ratePerMinute: number;
}

const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
const Credentials = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254, description: 'Compared case-insensitively' }),
    password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
  },
  // A role or a plan in the body is refused, not ignored: neither is the client's to choose.
  { additionalProperties: false },
);
const User = Type.Object({ id: UserId, email: Type.String(), role: Role, plan: Type.String() });
const SessionResponse = Type.Object({
  user: User,
  token: Type.String({
    description: 'A bearer token for API clients; the same session as the HttpOnly cookie set with it',
  }),
  expiresAt: Timestamp,
});
const Me = Type.Object({
  id: UserId,
  email: Type.Union([Type.String(), Type.Null()], { description: 'Null for a dev-token user, who has no account' }),
  role: Role,
  plan: Type.String(),
});

const DevTokenRequest = Type.Object(
  {
    userId: UserId,
    role: Type.Optional(Role),
    /** Puts the user on this plan (e.g. `free`, `pro`): a demo convenience. */
    plan: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,32}$' })),
  },
  { additionalProperties: false },
);
const DevToken = Type.Object({ token: Type.String(), userId: UserId, role: Type.String(), expiresIn: Type.String() });
const DemoAccounts = Type.Object({
  password: Type.String(),
  accounts: Type.Array(Type.Object({ email: Type.String(), note: Type.String() })),
});

function sessionBody(account: Account, session: { token: string; expiresAt: Date }) {
  return { user: account, token: session.token, expiresAt: session.expiresAt.toISOString() };
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { accounts } = options;

  app.post(
    '/v1/auth/signup',
    {
      config: { rateLimit: { max: options.ratePerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['auth'],
        body: Credentials,
        response: { 201: SessionResponse, ...errors(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      const account = await accounts.createAccount({ email: request.body.email, password: request.body.password });
      return reply.code(201).send(sessionBody(account, await app.startSession(reply, account)));
    },
  );

  app.post(
    '/v1/auth/signin',
    {
      schema: {
        tags: ['auth'],
        body: Credentials,
        response: { 200: SessionResponse, ...errors(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      const account = await accounts.verifyCredentials({
        email: request.body.email,
        password: request.body.password,
        address: request.ip,
      });
      return sessionBody(account, await app.startSession(reply, account));
    },
  );

  app.post(
    '/v1/auth/signout',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['auth'],
        response: { 204: Type.Null(), ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      await app.endSession(request, reply);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/auth/me',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['auth'],
        response: { 200: Me, ...errors(401) },
      },
    },
    async (request) => {
      const { sub, sid, role } = request.user;
      if (sid) {
        const account = await accounts.findById(sub);
        if (!account) throw new DomainError('UNAUTHORIZED', 'The account no longer exists');
        return account;
      }
      return { id: sub, email: null, role, plan: (await options.quota.getQuota(sub)).plan };
    },
  );

  if (!options.allowDevTokens) return;

  app.post(
    '/v1/auth/dev-token',
    {
      config: { rateLimit: { max: options.ratePerMinute, timeWindow: '1 minute' } },
      schema: {
        tags: ['auth'],
        body: DevTokenRequest,
        response: { 200: DevToken, ...errors(400, 409, 429) },
      },
    },
    async (request) => {
      const { userId, role = 'user', plan } = request.body;
      if (await accounts.findById(userId)) {
        throw new DomainError('ACCOUNT_EXISTS', `${userId} is an account: sign in with its email and password instead`);
      }
      if (plan) await options.quota.setPlan(userId, plan);
      const expiresIn = '12h';
      return { token: app.jwt.sign({ sub: userId, role }, { expiresIn }), userId, role, expiresIn };
    },
  );

  app.get(
    '/v1/auth/demo-accounts',
    {
      schema: {
        tags: ['auth'],
        response: { 200: DemoAccounts },
      },
    },
    async () => ({ password: DEMO_PASSWORD, accounts: DEMO_ACCOUNTS.map(({ email, note }) => ({ email, note })) }),
  );
};
