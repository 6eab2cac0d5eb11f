/** The cart service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type CartDb = PrismaClient;

export function createCartDb(url: string): CartDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
