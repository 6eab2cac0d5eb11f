/** Settings from the environment, with the working local defaults of docs/design.md. */
import { randomBytes } from 'node:crypto';
import { SERVICES, type ServiceName, databaseNameFor } from './service-names';
import { trustProxyFrom, type TrustProxy } from './trust-proxy';
import { DEFAULT_DATABASE_POOL, type DatabasePoolSettings } from './db/pool';

export interface Settings {
  port: number;
  host: string;
  temporalAddress: string;
  temporalNamespace: string;
  /** How long the API waits on one Temporal call before answering 503 TEMPORAL_UNAVAILABLE. */
  temporalDeadlineMs: number;
  orderTtlSeconds: number;
  stripeSecretKey: string | undefined;
  stripeApiBase: string;
  stripeWebhookSecret: string;
  jwtSecret: string;
  allowDevTokens: boolean;
  /** NODE_ENV=production: cookies are Secure, dev tokens are off unless asked for (and then refused, lib/production.ts). */
  production: boolean;
  secureCookies: boolean;
  /** TRUST_PROXY: the proxies whose X-Forwarded-For names the client (lib/trust-proxy.ts); false: the peer is the client. */
  trustProxy: TrustProxy;
  /** Account mail (password reset links, address verification). */
  mail: MailSettings;
  /** METRICS_PORT: GET /metrics is served on this port only (not the public one); unset: public in development, off in production. */
  metricsPort: number | undefined;
  /** Each service database's pool: DB_POOL_MAX connections, DB_CONNECTION_TIMEOUT_MS to get one, DB_STATEMENT_TIMEOUT_MS per statement. */
  databasePool: DatabasePoolSettings;
}

export interface MailSettings {
  /** SMTP_URL, e.g. smtp://user:pass@mail.example.com:587; unset: no mail goes out (the API logs each one it could not send). */
  smtpUrl: string | undefined;
  /** MAIL_FROM: the sender of account mail. */
  from: string;
  /** PUBLIC_URL: where users reach the dashboard, for the links in mail; never taken from a request's Host header. */
  publicUrl: string;
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

/** How long an order waits for payment unless ORDER_TTL_SECONDS says otherwise. */
export const DEFAULT_ORDER_TTL_SECONDS = 900;

export function loadSettings(env: Env = process.env): Settings {
  const production = env.NODE_ENV === 'production';
  return {
    port: integer(env, 'PORT', 3000),
    host: env.HOST ?? '127.0.0.1',
    temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE ?? 'default',
    temporalDeadlineMs: integer(env, 'TEMPORAL_DEADLINE_MS', 10_000),
    orderTtlSeconds: integer(env, 'ORDER_TTL_SECONDS', DEFAULT_ORDER_TTL_SECONDS),
    stripeSecretKey: env.STRIPE_SECRET_KEY || undefined,
    stripeApiBase: env.STRIPE_API_BASE ?? 'http://127.0.0.1:12111',
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET ?? 'whsec_local_development_secret',
    // No known secret by default: unset, each process signs with its own random one (sessions end
    // with it). The local launcher (devstack/local-stack.ts) and the tests set theirs.
    jwtSecret: env.JWT_SECRET || randomBytes(32).toString('hex'),
    // Off unless asked for: the local launcher asks; production refuses it (lib/production.ts).
    allowDevTokens: (env.ALLOW_DEV_TOKENS ?? 'false') === 'true',
    production,
    secureCookies: production,
    trustProxy: trustProxyFrom(env.TRUST_PROXY),
    metricsPort: env.METRICS_PORT ? integer(env, 'METRICS_PORT', 0) : undefined,
    databasePool: {
      max: integer(env, 'DB_POOL_MAX', DEFAULT_DATABASE_POOL.max),
      connectionTimeoutMs: integer(env, 'DB_CONNECTION_TIMEOUT_MS', DEFAULT_DATABASE_POOL.connectionTimeoutMs),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', DEFAULT_DATABASE_POOL.statementTimeoutMs),
    },
    mail: {
      smtpUrl: env.SMTP_URL || undefined,
      from: env.MAIL_FROM || 'Storefront <no-reply@storefront.invalid>',
      publicUrl: (env.PUBLIC_URL || `http://${env.HOST ?? '127.0.0.1'}:${env.PORT || 3000}`).replace(/\/+$/, ''),
    },
  };
}

/** The default server when neither DATABASE_URL nor a per-service URL is set. */
export const LOCAL_POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * The URL of each service's database: `<SERVICE>_DATABASE_URL` wins; otherwise the
 * service's own database (`storefront_<service>`) on the server of `serverUrl`.
 */
export function serviceDatabaseUrls(serverUrl: string, env: Env = process.env): Record<ServiceName, string> {
  const urls = {} as Record<ServiceName, string>;
  for (const service of SERVICES) {
    const own = env[databaseUrlVariable(service)];
    urls[service] = own || withDatabase(serverUrl, databaseNameFor(service));
  }
  return urls;
}

/** The environment variable that points a process at one service's database. */
export function databaseUrlVariable(service: ServiceName): string {
  return `${service.toUpperCase()}_DATABASE_URL`;
}

/** The environment that points a process (a worker, the API) at these databases: what serviceDatabaseUrls reads back. */
export function databaseUrlEnv(urls: Partial<Record<ServiceName, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(urls).map(([service, url]) => [databaseUrlVariable(service as ServiceName), url!]),
  );
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Each service's database URL as the environment gives it (DATABASE_URL as the server base). */
export function databaseUrlsFromEnv(env: Env = process.env): Record<ServiceName, string> {
  return serviceDatabaseUrls(env.DATABASE_URL || LOCAL_POSTGRES_URL, env);
}
