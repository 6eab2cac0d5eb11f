/** The payments service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type PaymentsDb = PrismaClient;

export function createPaymentsDb(url: string): PaymentsDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
