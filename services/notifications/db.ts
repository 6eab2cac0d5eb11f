/** The notifications service's Prisma client, on its own database through the node-postgres adapter. */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export type NotificationsDb = PrismaClient;

export function createNotificationsDb(url: string): NotificationsDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
}
