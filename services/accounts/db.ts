/** The accounts service's database: its Prisma client and plain SQL on the same pool (lib/db/service-db.ts). */
import { PrismaClient } from './generated/client';
import type { DatabasePoolSettings } from '../../lib/db/pool';
import { openServiceDb, type ServiceDb } from '../../lib/db/service-db';

export type AccountsDb = ServiceDb<PrismaClient>;

export function createAccountsDb(url: string, pool?: DatabasePoolSettings): AccountsDb {
  return openServiceDb(PrismaClient, url, pool);
}
