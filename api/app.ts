/**
 * The storefront API's app factory: tests call buildApp() and app.inject(); api/server.ts
 * only listens. Cross-cutting parts are named plugins; each resource has its routes module.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import type { NotificationSignaller } from '../temporal/notification-signal';
import type { CheckoutClient } from '../temporal/checkout-client';
import type { TrustProxy } from '../lib/trust-proxy';
import type { Services } from '../services';
import type { NotificationHub } from '../services/notifications/live';
import { SessionWatch } from '../services/accounts/session-watch';
import type { AccountMail } from '../services/accounts/mail';
import { readThroughCatalogue, type Catalogue } from './catalogue-cache';
import { auth } from './plugins/auth';
import { redactingLogger } from './plugins/log-redaction';
import { errorHandler } from './plugins/errors';
import { metrics } from './plugins/metrics';
import { securityHeaders } from './plugins/security-headers';
import { openapi } from './plugins/openapi';
import { utf8Json } from './plugins/utf8-json';
import { tracing } from './plugins/tracing';
import type { Tracing } from '../temporal/tracing';
import type { PayloadCodec } from '@temporalio/common';
import { codecRoutes } from './routes/codec.routes';
import { authRoutes } from './routes/auth.routes';
import { cartRoutes } from './routes/cart.routes';
import { dashboardRoutes } from './routes/dashboard.routes';
import { healthRoutes, type ReadinessProbe } from './routes/health.routes';
import { DEFAULT_SSE_KEEP_ALIVE_MS, notificationRoutes } from './routes/notifications.routes';
import { orderRoutes } from './routes/orders.routes';
import { productRoutes } from './routes/products.routes';
import { refundRoutes } from './routes/refunds.routes';
import { RefundClient } from '../temporal/refund-client';
import { usageRoutes } from './routes/usage.routes';
import { webhookRoutes } from './routes/webhooks.routes';

export type { ReadinessProbe } from './routes/health.routes';

export interface ApiSettings {
  jwtSecret: string;
  allowDevTokens: boolean;
  stripeWebhookSecret: string;
  orderTtlSeconds: number;
  /** Session cookies marked `Secure` (the production profile, served over HTTPS). */
  secureCookies?: boolean;
  /** The proxies whose X-Forwarded-For names the client (TRUST_PROXY): every per-address limit then counts clients, not the proxy. */
  trustProxy?: TrustProxy;
  /** The production profile: GET /metrics is never on the public port. */
  production?: boolean;
  /** METRICS_PORT: GET /metrics is served there (api/metrics-server.ts), never on the public port. */
  metricsPort?: number;
}

export interface AppDeps {
  settings: ApiSettings;
  services: Services;
  checkout: CheckoutClient;
  probes?: ReadinessProbe[];
  /** How long one readiness probe may take before it counts as down. */
  probeTimeoutMs?: number;
  /** How long one /readyz result serves every caller (default 1 s). */
  readinessCacheMs?: number;
  logger?: FastifyServerOptions['logger'];
  /** Requests per minute: sign-ups and dev tokens per client address, sign-ins per client address, order placements per user. */
  rateLimits?: { devTokens?: number; signIns?: number; passwordResets?: number; orders?: number };
  /** Live notifications: the process's one hub (LISTEN only while streams are open), created and closed by its owner (api/server.ts). Without it the stream answers 503. */
  notificationHub?: NotificationHub;
  /** Signals users' notification workflows (a Temporal Client): POST /v1/usage tells of crossed thresholds through it. Without it recording answers 503. */
  notifier?: NotificationSignaller;
  /** Keep-alive comment interval of notification streams (default 15 s); each stream's session is re-checked as often. */
  sseKeepAliveMs?: number;
  /**
   * The accounts database, listened to while streams are open, so that a session revoked through
   * another instance closes this one's streams as it commits. Without it they close at the next
   * keep-alive (a sign-out through this instance closes them at once either way).
   */
  sessionEvents?: { connectionString: string; applicationName?: string };
  /** Request spans that parent the workflows' (temporal/tracing.ts); undefined when tracing is off. */
  tracing?: Tracing;
  /** The payload codec and the Web UI origins: serves /codec/encode and /codec/decode; undefined when encryption is off. */
  codec?: { codec: PayloadCodec; allowedOrigins: readonly string[] };
  /** The catalogue GET /v1/products answers from: the process's CatalogueCache (api/server.ts). Without it every request reads the database. */
  catalogue?: Catalogue;
  /** Open notification streams per user on this instance (default 5); one more gets 429 TOO_MANY_STREAMS. */
  sseMaxStreamsPerUser?: number;
  /** The account mail (password reset and verification links); without it none is sent and new addresses count as verified. */
  mail?: AccountMail;
}

/** Request bodies larger than this are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // A number of hops as the function Fastify builds from one (its types take no number): trust the nearest n.
  const trusted = deps.settings.trustProxy ?? false;
  const trustProxy = typeof trusted === 'number' ? (_address: string, hop: number) => hop < trusted : trusted;
  const app = Fastify({
    // Whatever logger the caller asks for, request lines never carry a token, cookie or password.
    logger: redactingLogger(deps.logger ?? false),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy,
    // Every log line of a request carries its id; a caller's X-Request-Id is kept for tracing.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // Past this a path parameter gets Fastify's bare 414 (no error code); a request line longer than
    // Node's 16 KiB header limit never arrives, so every id instead reaches its schema and gets 400.
    routerOptions: { maxParamLength: 16_384 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Query strings, path parameters and headers arrive as text and are coerced to their schemas'
  // types; a JSON body carries its own types, so a number where the contract says a string is
  // refused rather than turned into one.
  const bodyValidator = addFormats(
    new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false }),
  );
  const textValidator = addFormats(
    new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false }),
  );
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyValidator : textValidator).compile(schema),
  );
  // A callback hook, not an async one: every response pays for it, and this one never waits.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  if (deps.tracing) await app.register(tracing, { tracing: deps.tracing });
  await app.register(errorHandler);
  await app.register(utf8Json);
  await app.register(securityHeaders, {});
  await app.register(rateLimit, {
    global: false,
    // Thrown, so the one error handler answers it as 429 RATE_LIMITED like every other error.
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Too many requests: at most ${context.max} per ${context.after}`), { statusCode: 429 }),
  });
  await app.register(openapi);
  // Order, refund and drift counts are not for anyone on the internet: public only in development.
  await app.register(metrics, {
    ...deps.services,
    publicRoute: !deps.settings.production && deps.settings.metricsPort === undefined,
  });
  const { services, checkout, settings } = deps;
  // Open streams end with their session: the app's own, closed after the streams (preClose) are.
  const sessionWatch = new SessionWatch({
    sessions: services.accounts,
    connectionString: deps.sessionEvents?.connectionString,
    applicationName: deps.sessionEvents?.applicationName,
    recheckMs: deps.sseKeepAliveMs ?? DEFAULT_SSE_KEEP_ALIVE_MS,
    onError: (error) => app.log.warn({ err: error }, 'session watch'),
  });
  app.addHook('onClose', () => sessionWatch.close());
  await app.register(auth, {
    jwtSecret: settings.jwtSecret,
    accounts: services.accounts,
    allowDevTokens: settings.allowDevTokens,
    secureCookies: settings.secureCookies ?? false,
    onSessionEnded: (sessionId) => sessionWatch.ended(sessionId),
  });

  await app.register(healthRoutes, {
    probes: deps.probes ?? [],
    probeTimeoutMs: deps.probeTimeoutMs ?? 2_000,
    cacheMs: deps.readinessCacheMs,
  });
  await app.register(authRoutes, {
    accounts: services.accounts,
    quota: services.quota,
    allowDevTokens: settings.allowDevTokens,
    ratePerMinute: deps.rateLimits?.devTokens ?? 30,
    signInPerMinute: deps.rateLimits?.signIns ?? 30,
    passwordResetsPerMinute: deps.rateLimits?.passwordResets ?? 5,
    onSessionsEnded: (sessionIds) => sessionIds.forEach((sessionId) => sessionWatch.ended(sessionId)),
    mail: deps.mail,
  });
  const catalogue = deps.catalogue ?? readThroughCatalogue((query) => services.inventory.listProductsPage(query));
  await app.register(productRoutes, { inventory: services.inventory, catalogue });
  await app.register(cartRoutes, { cart: services.cart, inventory: services.inventory });
  await app.register(orderRoutes, {
    services,
    refunds: services.refunds,
    checkout,
    orderTtlSeconds: settings.orderTtlSeconds,
    ratePerMinute: deps.rateLimits?.orders ?? 60,
  });
  // Refunds after the sale steer their own saga, over the checkout client's Temporal connection.
  const refunds = new RefundClient(checkout.temporal.client, { deadlineMs: checkout.temporal.deadlineMs });
  await app.register(refundRoutes, { services, refunds });
  await app.register(webhookRoutes, {
    payments: services.payments,
    refunds: { service: services.refunds, client: refunds },
    checkout,
    webhookSecret: settings.stripeWebhookSecret,
  });
  await app.register(usageRoutes, { quota: services.quota, notifier: deps.notifier });
  await app.register(notificationRoutes, {
    notifications: services.notifications,
    hub: deps.notificationHub,
    sessions: sessionWatch,
    keepAliveMs: deps.sseKeepAliveMs,
    maxStreamsPerUser: deps.sseMaxStreamsPerUser,
  });
  await app.register(dashboardRoutes);
  if (deps.codec) await app.register(codecRoutes, deps.codec);

  return app;
}
