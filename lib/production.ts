/**
 * The production profile (docs/design.md "Production profile"): with NODE_ENV=production the API and
 * every worker refuse to start, naming every problem at once, rather than run with a secret
 * anyone can read in this repository, with dev tokens that mint any user and role, or with
 * payments going to stripe-mock. The check runs before any connection is opened or port bound.
 */
import { trustProxyFrom, type TrustProxy } from './trust-proxy';

type Env = Record<string, string | undefined>;

/** Secrets that ship in this repository (defaults, tests, examples): never good in production. */
export const KNOWN_JWT_SECRETS = [
  'local-development-secret-change-me-in-production',
  'change-me-in-production',
  'api-test-secret',
  'replace-with-at-least-32-random-bytes-openssl-rand-hex-32',
];
export const KNOWN_WEBHOOK_SECRETS = [
  'whsec_local_development_secret',
  'whsec_api_test',
  'whsec_replace_with_the_signing_secret_of_your_endpoint',
];
/** The id of the committed, test-only payload key the recorded histories are encrypted with (harness/history-encryption.ts). */
export const TEST_ONLY_ENCRYPTION_KEY_ID = 'histories-test-only';
/** The key stripe-mock accepts (devstack/dev-servers.ts STRIPE_MOCK_KEY): not a real account's. */
const STRIPE_MOCK_KEYS = ['sk_test_123'];

export const JWT_SECRET_MIN_BYTES = 32;

export function isProduction(env: Env = process.env): boolean {
  return env.NODE_ENV === 'production';
}

/** Every reason the environment is not safe to run in production; empty when it is. */
export function productionProblems(env: Env = process.env): string[] {
  const problems: string[] = [];
  const jwtSecret = env.JWT_SECRET;
  if (!jwtSecret) problems.push('JWT_SECRET is not set: set it to at least 32 random bytes (openssl rand -hex 32)');
  else if (KNOWN_JWT_SECRETS.includes(jwtSecret))
    problems.push('JWT_SECRET is a known default from this repository: anyone could sign tokens');
  else if (Buffer.byteLength(jwtSecret, 'utf8') < JWT_SECRET_MIN_BYTES)
    problems.push(`JWT_SECRET is shorter than ${JWT_SECRET_MIN_BYTES} bytes`);

  const webhookSecret = env.STRIPE_WEBHOOK_SECRET;
  if (!webhookSecret) problems.push("STRIPE_WEBHOOK_SECRET is not set: use your Stripe endpoint's signing secret");
  else if (KNOWN_WEBHOOK_SECRETS.includes(webhookSecret))
    problems.push('STRIPE_WEBHOOK_SECRET is a known default from this repository: anyone could forge webhooks');

  if ((env.ALLOW_DEV_TOKENS ?? '').trim().toLowerCase() === 'true')
    problems.push('ALLOW_DEV_TOKENS=true: dev tokens let anyone act as any user, admin included');

  const keyIds = (env.PAYLOAD_ENCRYPTION_KEYS ?? '').split(',').map((entry) => entry.trim().split(':')[0]);
  if (keyIds.includes(TEST_ONLY_ENCRYPTION_KEY_ID)) {
    problems.push(
      `PAYLOAD_ENCRYPTION_KEYS lists "${TEST_ONLY_ENCRYPTION_KEY_ID}", the test-only key committed in this repository: anyone could read the payloads`,
    );
  }

  const stripeKey = env.STRIPE_SECRET_KEY;
  if (!stripeKey)
    problems.push('STRIPE_SECRET_KEY is not set: payments would go to stripe-mock, which charges nothing');
  else if (STRIPE_MOCK_KEYS.includes(stripeKey))
    problems.push("STRIPE_SECRET_KEY is stripe-mock's key, not a Stripe account's");
  return problems;
}

/**
 * What only the API needs besides: a mail server (SMTP_URL) for the account mail it sends; and, as
 * production marks session cookies Secure, so browsers reach it over HTTPS, in practice through a TLS proxy. Without TRUST_PROXY every request would come from
 * the proxy's address and every per-address limit would count all customers as one; an API that
 * clients reach directly (TLS ended in the process's own network path) says so with
 * DIRECT_CONNECTIONS=true.
 */
export function apiProductionProblems(env: Env = process.env): string[] {
  const problems = productionProblems(env);
  // Without a mail server a forgotten password cannot be reset and a new address never verified:
  // development counts such addresses as verified, which production must not.
  if (!env.SMTP_URL?.trim())
    problems.push(
      'SMTP_URL is not set: password reset and address verification mail could not be sent; set it to your mail server, e.g. smtp://user:pass@mail.example.com:587',
    );
  let trustProxy: TrustProxy = false;
  try {
    trustProxy = trustProxyFrom(env.TRUST_PROXY);
  } catch (error) {
    problems.push((error as Error).message);
    return problems;
  }
  const direct = (env.DIRECT_CONNECTIONS ?? '').trim().toLowerCase() === 'true';
  if (trustProxy === false && !direct)
    problems.push(
      "TRUST_PROXY is not set: behind the TLS proxy that Secure cookies need, every client would share the proxy's address and its per-address limits; set it to the number of proxy hops or the proxies' addresses, or DIRECT_CONNECTIONS=true if clients reach the API directly",
    );
  return problems;
}

/**
 * Exits the process (status 78, EX_CONFIG) with every problem on stderr when NODE_ENV=production
 * and the environment is unsafe; returns quietly otherwise. `what` names the process ("API").
 */
export function refuseUnsafeProduction(
  what: string,
  env: Env = process.env,
  problemsOf: (env: Env) => string[] = productionProblems,
): void {
  if (!isProduction(env)) return;
  const problems = problemsOf(env);
  if (problems.length === 0) return;
  process.stderr.write(
    `${what} refuses to start with NODE_ENV=production:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\nSee docs/production.md.\n`,
  );
  process.exit(78);
}
