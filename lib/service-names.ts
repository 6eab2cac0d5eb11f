/**
 * The seven services of the store; each owns one PostgreSQL database. All but `accounts` also
 * own a Temporal task queue (workflows/contract.ts TASK_QUEUES): accounts is called by the API
 * and the operator commands only, and tells the quota service of plan changes itself.
 */
export const SERVICES = ['inventory', 'orders', 'payments', 'cart', 'quota', 'notifications', 'accounts'] as const;

export type ServiceName = (typeof SERVICES)[number];

/** The database a service owns on a shared server when only a server base URL is given. */
export function databaseNameFor(service: ServiceName): string {
  return `storefront_${service}`;
}
