/** The inventory service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';
import { poolConfig, type DatabasePoolSettings } from '../../lib/db/pool';

export type InventoryDb = PrismaClient;

export function createInventoryDb(url: string, pool?: DatabasePoolSettings): InventoryDb {
  return new PrismaClient({ adapter: new PrismaPg(poolConfig(url, pool)) });
}
