import { loadSettings } from './config';
import { KNOWN_JWT_SECRETS } from './production';

test('an API started without settings refuses dev tokens and signs with no known secret', () => {
  const bare = loadSettings({});
  expect(bare.allowDevTokens).toBe(false);
  expect(KNOWN_JWT_SECRETS).not.toContain(bare.jwtSecret);
  expect(Buffer.byteLength(bare.jwtSecret)).toBeGreaterThanOrEqual(32);
  // Each process its own: no two share a secret nobody set.
  expect(loadSettings({}).jwtSecret).not.toBe(bare.jwtSecret);
});

test('the launcher (or an operator) turns the conveniences on explicitly', () => {
  const local = loadSettings({
    ALLOW_DEV_TOKENS: 'true',
    JWT_SECRET: 'local-development-secret-change-me-in-production',
  });
  expect(local.allowDevTokens).toBe(true);
  expect(local.jwtSecret).toBe('local-development-secret-change-me-in-production');
});
