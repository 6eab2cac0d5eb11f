/** The inventory service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type InventoryDb = PrismaClient;

export function createInventoryDb(url: string): InventoryDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
