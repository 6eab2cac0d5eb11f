/** The six services of the store; each owns one PostgreSQL database and one Temporal task queue. */
export const SERVICES = ['inventory', 'orders', 'payments', 'cart', 'quota', 'notifications'] as const;

export type ServiceName = (typeof SERVICES)[number];

export function isServiceName(name: string): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name);
}

/** The database a service owns on a shared server when only a server base URL is given. */
export function databaseNameFor(service: ServiceName): string {
  return `storefront_${service}`;
}
