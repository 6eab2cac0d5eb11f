/**
 * Prisma CLI config for the accounts database, for users who have Prisma's schema engine:
 *   npx prisma migrate status --config prisma/accounts/prisma.config.ts
 * Paths are relative to this file. The URL is ACCOUNTS_DATABASE_URL, else storefront_accounts on
 * the server of DATABASE_URL (or the local default), as the app itself resolves it.
 */
import { defineConfig } from 'prisma/config';
import { LOCAL_POSTGRES_URL, serviceDatabaseUrls } from '../../lib/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: serviceDatabaseUrls(process.env.DATABASE_URL || LOCAL_POSTGRES_URL).accounts },
});
