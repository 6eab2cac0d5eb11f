/** The orders service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type OrdersDb = PrismaClient;

export function createOrdersDb(url: string): OrdersDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
