/** The quota service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type QuotaDb = PrismaClient;

export function createQuotaDb(url: string): QuotaDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
