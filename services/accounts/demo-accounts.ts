/**
 * The demo accounts the local seed creates (devstack/seed.ts) and `npm start` prints. They share
 * one documented password; the dashboard offers them as one-click sign-ins only when the API
 * runs with ALLOW_DEV_TOKENS=true (the local stack), never in the production profile.
 */
export const DEMO_PASSWORD = 'storefront-demo';

export interface DemoAccount {
  /** A fixed id, so that seeded usage and links stay valid across machines. */
  userId: string;
  email: string;
  planId: 'free' | 'pro';
  /** Builds already used in the current period. */
  buildsUsed: number;
  /** What the account shows, for the dashboard's demo buttons. */
  note: string;
}

/** `carol` is over the free plan's soft build limit (130 of 100): her next build tells her so. */
export const DEMO_ACCOUNTS: readonly DemoAccount[] = [
  { userId: 'alice', email: 'alice@example.com', planId: 'free', buildsUsed: 0, note: 'free plan' },
  { userId: 'bob', email: 'bob@example.com', planId: 'pro', buildsUsed: 0, note: 'pro plan' },
  { userId: 'carol', email: 'carol@example.com', planId: 'free', buildsUsed: 130, note: 'over her build quota' },
];
