import { randomBytes } from 'node:crypto';
import { apiProductionProblems, productionProblems } from './production';

/** A production environment with every secret its own. */
const safe = {
  NODE_ENV: 'production',
  JWT_SECRET: randomBytes(32).toString('hex'),
  STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
  STRIPE_SECRET_KEY: `sk_live_${randomBytes(12).toString('hex')}`,
};

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
