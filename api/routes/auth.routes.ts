/** POST /v1/auth/dev-token: a signed token for a demo user; registered only when ALLOW_DEV_TOKENS=true. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { QuotaService } from '../../services/quota/quota.service';
import { errors, UserId } from '../schemas';

export interface AuthRoutesOptions {
  quota: Pick<QuotaService, 'setPlan'>;
  /** Requests per minute per client address: tokens are cheap to ask for, so this is tight. */
  ratePerMinute: number;
}

const DevTokenRequest = Type.Object(
  {
    userId: UserId,
    role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
    /** Puts the user on this plan (e.g. `free`, `pro`): a demo convenience. */
    plan: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,32}$' })),
  },
  { additionalProperties: false },
);
const DevToken = Type.Object({ token: Type.String(), userId: UserId, role: Type.String(), expiresIn: Type.String() });

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  app.post(
    '/v1/auth/dev-token',
    {
      config: { rateLimit: { max: options.ratePerMinute, timeWindow: '1 minute' } },
      schema: { tags: ['auth'], body: DevTokenRequest, response: { 200: DevToken, ...errors(400, 429) } },
    },
    async (request) => {
      const { userId, role = 'user', plan } = request.body;
      if (plan) await options.quota.setPlan(userId, plan);
      const expiresIn = '12h';
      return { token: app.jwt.sign({ sub: userId, role }, { expiresIn }), userId, role, expiresIn };
    },
  );
};
