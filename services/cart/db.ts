/** The cart service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';
import { poolConfig, type DatabasePoolSettings } from '../../lib/db/pool';

export type CartDb = PrismaClient;

export function createCartDb(url: string, pool?: DatabasePoolSettings): CartDb {
  return new PrismaClient({ adapter: new PrismaPg(poolConfig(url, pool)) });
}
