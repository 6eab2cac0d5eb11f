/** The accounts service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type AccountsDb = PrismaClient;

export function createAccountsDb(url: string): AccountsDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
