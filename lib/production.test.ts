import { randomBytes } from 'node:crypto';
import { apiProductionProblems, productionProblems } from './production';

/** A production environment with every secret its own. */
const safe = {
  NODE_ENV: 'production',
  JWT_SECRET: randomBytes(32).toString('hex'),
  STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
  STRIPE_SECRET_KEY: `sk_live_${randomBytes(12).toString('hex')}`,
  SMTP_URL: 'smtp://mail.example.com:587',
};

test('the API refuses to run without a mail server: no password reset, and unverified addresses would count as verified', () => {
  const withoutMail = { ...safe, TRUST_PROXY: '1', SMTP_URL: undefined };
  expect(apiProductionProblems(withoutMail)).toEqual([expect.stringContaining('SMTP_URL is not set')]);
  expect(apiProductionProblems({ ...withoutMail, SMTP_URL: ' ' })).toEqual([expect.stringContaining('SMTP_URL')]);
  // Named beside the other problems, even one that ends the TRUST_PROXY check early.
  expect(apiProductionProblems({ ...withoutMail, TRUST_PROXY: 'true' })).toEqual([
    expect.stringContaining('SMTP_URL is not set'),
    expect.stringContaining('TRUST_PROXY must be'),
  ]);
  // The workers send no mail.
  expect(productionProblems({ ...withoutMail })).toEqual([]);
});

test('the API refuses Secure cookies without TRUST_PROXY, unless told clients reach it directly', () => {
  expect(productionProblems(safe)).toEqual([]);
  expect(apiProductionProblems(safe)).toEqual([expect.stringContaining('TRUST_PROXY is not set')]);
  expect(apiProductionProblems({ ...safe, TRUST_PROXY: '1' })).toEqual([]);
  expect(apiProductionProblems({ ...safe, TRUST_PROXY: '10.0.0.0/8' })).toEqual([]);
  expect(apiProductionProblems({ ...safe, DIRECT_CONNECTIONS: 'true' })).toEqual([]);
  expect(apiProductionProblems({ ...safe, TRUST_PROXY: 'true' })).toEqual([
    expect.stringContaining('TRUST_PROXY must be'),
  ]);
});
