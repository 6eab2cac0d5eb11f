/** The quota service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';
import { poolConfig, type DatabasePoolSettings } from '../../lib/db/pool';

export type QuotaDb = PrismaClient;

export function createQuotaDb(url: string, pool?: DatabasePoolSettings): QuotaDb {
  return new PrismaClient({ adapter: new PrismaPg(poolConfig(url, pool)) });
}
