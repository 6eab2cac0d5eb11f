/** The orders service's database: its Prisma client and plain SQL on the same pool (lib/db/service-db.ts). */
import { PrismaClient } from './generated/client';
import type { DatabasePoolSettings } from '../../lib/db/pool';
import { openServiceDb, type ServiceDb } from '../../lib/db/service-db';

export type OrdersDb = ServiceDb<PrismaClient>;

export function createOrdersDb(url: string, pool?: DatabasePoolSettings): OrdersDb {
  return openServiceDb(PrismaClient, url, pool);
}
