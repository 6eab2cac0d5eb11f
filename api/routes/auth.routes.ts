/**
 * Accounts over HTTP: sign up, sign in, sign out, the current user. When ALLOW_DEV_TOKENS=true
 * (the local stack and tests) also the dev-token endpoint and the list of demo accounts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../../services/accounts/demo-accounts';
import { DomainError } from '../../lib/errors';
import type { Account, AccountsService, MailLink } from '../../services/accounts/accounts.service';
import type { AccountMail } from '../../services/accounts/mail';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/accounts/passwords';
import type { QuotaService } from '../../services/quota/quota.service';
import { errors, Text, Timestamp, UserId } from '../schemas';

export interface AuthRoutesOptions {
  accounts: AccountsService;
  quota: Pick<QuotaService, 'setPlan' | 'getQuota'>;
  allowDevTokens: boolean;
  /** Per client address per minute: sign-ups, and dev tokens (cheap to ask for, so tight). */
  ratePerMinute: number;
  /** Sign-in attempts per client address per minute (the route's limit; the throttle per account is separate). */
  signInPerMinute: number;
  /** Password-reset mails asked for per client address per minute (each account gets one a minute besides). */
  passwordResetsPerMinute: number;
  /** Told of the sessions a password change or a sign-out everywhere ended: their open streams close at once. */
  onSessionsEnded?: (sessionIds: readonly string[]) => void;
  /**
   * The account mail (reset and verification links). Without it no mail can be sent: a new
   * account's address then counts as verified at sign-up, and a reset link is never sent.
   */
  mail?: AccountMail;
}

const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
const Credentials = Type.Object(
  {
    email: Text({ minLength: 3, maxLength: 254, description: 'Compared case-insensitively' }),
    password: Text({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
  },
  // A role or a plan in the body is refused, not ignored: neither is the client's to choose.
  { additionalProperties: false },
);
const PasswordChange = Type.Object(
  {
    currentPassword: Text({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
    newPassword: Text({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
const LinkToken = Text({ minLength: 20, maxLength: 128, description: 'The token of the link in the mail' });
const ResetRequest = Type.Object({ email: Text({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false });
const ResetConfirm = Type.Object(
  { token: LinkToken, newPassword: Text({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }) },
  { additionalProperties: false },
);
const VerifyRequest = Type.Object({ token: LinkToken }, { additionalProperties: false });
const Accepted = Type.Object({ accepted: Type.Literal(true) });
const SessionsEnded = Type.Object({
  endedSessions: Type.Integer({ minimum: 0, description: 'How many sessions of the user this ended' }),
});
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
  emailVerified: Type.Boolean({
    description: 'Whether the address is proven (placing orders needs it); true for a dev-token user',
  }),
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

/** Runs `call`; a refusal that says when to come back (details.retryAfterSeconds) sets `Retry-After` on its answer. */
async function withRetryAfter<T>(reply: FastifyReply, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const seconds = error instanceof DomainError ? error.details?.retryAfterSeconds : undefined;
    if (typeof seconds === 'number') reply.header('retry-after', String(seconds));
    throw error;
  }
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { accounts } = options;

  /**
   * Mails a link without waiting for the SMTP server: the answer takes the same time whether the
   * address has an account or not (no enumeration by timing), and a mail server that is down
   * fails no request. A failure is logged, without the token.
   */
  function mailLink(link: MailLink | null, kind: 'passwordReset' | 'emailVerification'): void {
    if (!link || !options.mail) return;
    options.mail[kind](link.account.email, link.token, link.expiresAt).catch((error: unknown) =>
      app.log.warn({ err: error, userId: link.account.id, mail: kind }, 'account mail not sent'),
    );
  }

  app.post(
    '/v1/auth/signup',
    {
      config: { rateLimit: { max: options.ratePerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'signUp',
        summary: 'Create an account and sign in',
        description:
          'Creates a user with the `user` role on the `free` plan and opens a session: the answer carries a bearer token and sets the HttpOnly session cookie (and the `sf_csrf` cookie the dashboard echoes in `X-CSRF-Token`). ' +
          'Emails compare case-insensitively. 400 for a malformed email, a password under 10 characters, or any other field (a role or plan cannot be chosen); 403 CSRF_REJECTED for a cross-site Origin; 409 EMAIL_TAKEN; 429 RATE_LIMITED.',
        tags: ['auth'],
        body: Credentials,
        response: { 201: SessionResponse, ...errors(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      const account = await accounts.createAccount({
        email: request.body.email,
        password: request.body.password,
        address: request.ip,
        // No way to send a link: the address is taken as typed (docs/accounts.md, "Email verification").
        emailVerified: !options.mail,
      });
      if (options.mail) mailLink(await accounts.createLink(account.id, 'email_verification'), 'emailVerification');
      return reply.code(201).send(sessionBody(account, await app.startSession(reply, account)));
    },
  );

  app.post(
    '/v1/auth/signin',
    {
      config: { rateLimit: { max: options.signInPerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'signIn',
        summary: 'Sign in with email and password',
        description:
          'Opens a session as sign-up does. 401 INVALID_CREDENTIALS for a wrong password and an unknown email alike (after the same work, so timing does not tell them apart); 403 CSRF_REJECTED for a cross-site Origin. ' +
          '429 RATE_LIMITED, with `Retry-After`, before the password is checked: after 5 failures for one account from one address or 20 from one address within 15 minutes, while the account delays attempts after repeated failures (from addresses it has not signed in from), or past the route limit per address. Nothing locks the account: its owner signs in from another address. ' +
          '503 AUTH_BUSY, with `Retry-After`, when too many password checks are running or waiting.',
        tags: ['auth'],
        body: Credentials,
        response: { 200: SessionResponse, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      const account = await withRetryAfter(reply, () =>
        accounts.verifyCredentials({ email: request.body.email, password: request.body.password, address: request.ip }),
      );
      return sessionBody(account, await app.startSession(reply, account));
    },
  );

  app.post(
    '/v1/auth/signout',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'signOut',
        summary: 'Sign out: revoke the session',
        description:
          'Revokes the session of the cookie or bearer token: both are refused from then on. Clears the cookies. ' +
          'Cookie-authenticated calls need `X-CSRF-Token` (403 CSRF_REJECTED without it); 401 without a valid session.',
        tags: ['auth'],
        response: { 204: Type.Null(), ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      await app.endSession(request, reply);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/auth/password',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'changePassword',
        summary: 'Change the password; every other session ends',
        description:
          'For a signed-in user who knows the current password. The session asking stays; every other session of the user ends (its cookies, tokens and open streams), a stolen one included. ' +
          '400 for a new password under 10 characters or any other field; 401 without a session; 403 CURRENT_PASSWORD_WRONG (counted like a failed sign-in), FORBIDDEN for a dev-token user, CSRF_REJECTED by cookie without the CSRF header; 429 RATE_LIMITED with `Retry-After` (the sign-in throttle); 503 AUTH_BUSY.',
        tags: ['auth'],
        body: PasswordChange,
        response: { 200: SessionsEnded, ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      const { sub, sid } = request.user;
      if (!sid) throw new DomainError('FORBIDDEN', 'A dev-token user has no password');
      const { endedSessions } = await withRetryAfter(reply, () =>
        accounts.changePassword({
          userId: sub,
          sessionId: sid,
          currentPassword: request.body.currentPassword,
          newPassword: request.body.newPassword,
          address: request.ip,
        }),
      );
      options.onSessionsEnded?.(endedSessions);
      return { endedSessions: endedSessions.length };
    },
  );

  app.post(
    '/v1/auth/signout-everywhere',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'signOutEverywhere',
        summary: 'Sign out everywhere: revoke every session of the user',
        description:
          'Revokes every session of the user, this one included, and clears the cookies: every cookie and token of the user is refused from then on and their open streams close. ' +
          '401 without a session; 403 FORBIDDEN for a dev-token user (it has no sessions), CSRF_REJECTED by cookie without the CSRF header.',
        tags: ['auth'],
        response: { 200: SessionsEnded, ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      const { sub, sid } = request.user;
      if (!sid) throw new DomainError('FORBIDDEN', 'A dev-token user has no sessions to end');
      const others = await accounts.revokeSessionsOf(sub, sid);
      options.onSessionsEnded?.(others);
      await app.endSession(request, reply);
      return { endedSessions: others.length + 1 };
    },
  );

  app.post(
    '/v1/auth/password-reset',
    {
      config: { rateLimit: { max: options.passwordResetsPerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'requestPasswordReset',
        summary: 'Mail a password-reset link',
        description:
          'Mails the account of this address a one-use link (30 minutes) to choose a new password; at most one a minute per account. ' +
          'Answers 202 alike whether the address has an account or not, and at once (the mail goes out after the answer), so it tells no one which addresses have accounts. ' +
          '400 for a malformed body; 403 CSRF_REJECTED for a cross-site Origin; 429 RATE_LIMITED past 5 a minute per address.',
        tags: ['auth'],
        body: ResetRequest,
        response: { 202: Accepted, ...errors(400, 403, 429) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      mailLink(await accounts.createPasswordReset(request.body.email), 'passwordReset');
      return reply.code(202).send({ accepted: true });
    },
  );

  app.post(
    '/v1/auth/password-reset/confirm',
    {
      config: { rateLimit: { max: options.signInPerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'resetPassword',
        summary: 'Choose a new password with the link from the mail',
        description:
          'Sets the new password and uses the link up; every session of the user ends (sign in with the new password), and the address counts as verified. ' +
          '400 LINK_INVALID for a link unknown, used or expired (nothing changes), VALIDATION_FAILED for a new password under 10 characters; 403 CSRF_REJECTED; 429 RATE_LIMITED; 503 AUTH_BUSY.',
        tags: ['auth'],
        body: ResetConfirm,
        response: { 200: SessionsEnded, ...errors(400, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      app.checkOrigin(request);
      const { endedSessions } = await withRetryAfter(reply, () =>
        accounts.resetPassword(request.body.token, request.body.newPassword),
      );
      options.onSessionsEnded?.(endedSessions);
      return { endedSessions: endedSessions.length };
    },
  );

  app.post(
    '/v1/auth/verify-email',
    {
      config: { rateLimit: { max: options.signInPerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'verifyEmail',
        summary: 'Confirm the address with the link from the mail',
        description:
          'Marks the address of the account verified: it may place orders from then on. 400 LINK_INVALID for a link unknown, used or expired; 403 CSRF_REJECTED; 429 RATE_LIMITED.',
        tags: ['auth'],
        body: VerifyRequest,
        response: { 200: User, ...errors(400, 403, 429) },
      },
    },
    async (request) => {
      app.checkOrigin(request);
      return accounts.verifyEmail(request.body.token);
    },
  );

  app.post(
    '/v1/auth/verify-email/resend',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'resendVerification',
        summary: 'Mail the verification link again',
        description:
          'Mails a new verification link (48 hours) to the signed-in user, at most one a minute; nothing when the address is verified already or no mail server is set. 401 without a session; 403 FORBIDDEN for a dev-token user, CSRF_REJECTED.',
        tags: ['auth'],
        response: { 202: Accepted, ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      const { sub, sid } = request.user;
      if (!sid) throw new DomainError('FORBIDDEN', 'A dev-token user has no address to verify');
      if (!(await accounts.isEmailVerified(sub)))
        mailLink(await accounts.createLink(sub, 'email_verification'), 'emailVerification');
      return reply.code(202).send({ accepted: true });
    },
  );

  app.get(
    '/v1/auth/me',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'getCurrentUser',
        summary: 'The signed-in user',
        description:
          'The user of the session: id, email, role and plan as the accounts service has them now. 401 without a valid session or token.',
        tags: ['auth'],
        response: { 200: Me, ...errors(401) },
      },
    },
    async (request) => {
      const { sub, sid, role } = request.user;
      if (sid) {
        const account = await accounts.findById(sub);
        if (!account) throw new DomainError('UNAUTHORIZED', 'The account no longer exists');
        return { ...account, emailVerified: await accounts.isEmailVerified(sub) };
      }
      return { id: sub, email: null, role, plan: (await options.quota.getQuota(sub)).plan, emailVerified: true };
    },
  );

  if (!options.allowDevTokens) return;

  app.post(
    '/v1/auth/dev-token',
    {
      config: { rateLimit: { max: options.ratePerMinute, timeWindow: '1 minute' } },
      schema: {
        operationId: 'createDevToken',
        summary: 'A dev token for any user id (local stack only)',
        description:
          'Exists only when ALLOW_DEV_TOKENS=true, which the production profile refuses. Signs a token for an ad-hoc user id with the role asked for, and optionally puts that user on a plan. ' +
          'An id that belongs to an account is refused with 409 ACCOUNT_EXISTS: a real account signs in, and its role and plan cannot be set this way. 400 for a malformed id, role or plan; 429 RATE_LIMITED.',
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
        operationId: 'listDemoAccounts',
        summary: 'The seeded demo accounts (local stack only)',
        description:
          "Exists only when ALLOW_DEV_TOKENS=true: the demo accounts the local seed creates and their shared, documented password, for the dashboard's one-click demo sign-in.",
        tags: ['auth'],
        response: { 200: DemoAccounts },
      },
    },
    async () => ({ password: DEMO_PASSWORD, accounts: DEMO_ACCOUNTS.map(({ email, note }) => ({ email, note })) }),
  );
};
