/** Creates the seven service databases that do not exist yet. */
import { Client } from 'pg';
import { serviceDatabaseUrls } from '../lib/config';
import { SERVICES, type ServiceName } from '../lib/service-names';

type Env = Record<string, string | undefined>;

const INVALID_CATALOG_NAME = '3D000';
const DUPLICATE_DATABASE = '42P04';
const UNIQUE_VIOLATION = '23505';

/**
 * Creates each missing service database and returns the per-service URLs
 * (`<SERVICE>_DATABASE_URL` wins, else `storefront_<service>` on `serverUrl`).
 * Safe to run from two processes at once: losing the race to create is fine.
 */
export async function ensureDatabases(serverUrl: string, env: Env = process.env): Promise<Record<ServiceName, string>> {
  const urls = serviceDatabaseUrls(serverUrl, env);
  for (const service of SERVICES) await ensureDatabase(urls[service]);
  return urls;
}

/** Creates the database named in `url` when it does not exist; returns whether it created it. */
export async function ensureDatabase(url: string): Promise<boolean> {
  if (await databaseExists(url)) return false;
  const database = databaseNameOf(url);
  return withAdmin(url, async (admin) => {
    try {
      await admin.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Another process created it between our check and our CREATE.
      if (code === DUPLICATE_DATABASE || code === UNIQUE_VIOLATION) return false;
      throw error;
    }
  });
}

/** Runs `work` on a connection to the maintenance database of the server `url` names, then closes it. */
export async function withAdmin<T>(url: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: maintenanceUrl(url) });
  // A connection the server ends between two queries is reported by the next query (or by end());
  // without a listener, pg would also raise it as an 'error' event and end the whole process.
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

async function databaseExists(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === INVALID_CATALOG_NAME) return false;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`No database name in ${redactUrl(url)}`);
  return name;
}

/** The same server's `postgres` database, from which others are created and dropped. */
export function maintenanceUrl(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/postgres';
  return parsed.toString();
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A URL fit for messages and logs: the password is masked. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid URL>';
  }
}
