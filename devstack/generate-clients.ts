/**
 * `npm run db:generate`: generates each service's Prisma client offline, skipping a service
 * whose schema (and Prisma version) has not changed since its last generation.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { commandLineOrExit } from '../lib/command-line';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const STAMP_FILE = '.schema-hash';

export interface GenerateResult {
  service: ServiceName;
  generated: boolean;
}

export function schemaPathFor(service: ServiceName): string {
  return path.join(ROOT, 'prisma', service, 'schema.prisma');
}

export function generatedDirFor(service: ServiceName): string {
  return path.join(ROOT, 'services', service, 'generated');
}

function prismaCli(): string {
  return require.resolve('prisma/build/index.js', { paths: [ROOT] });
}

function prismaVersion(): string {
  const manifest = path.join(path.dirname(path.dirname(prismaCli())), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function schemaHash(service: ServiceName, version: string): string {
  return createHash('sha256')
    .update(version)
    .update('\0')
    .update(readFileSync(schemaPathFor(service)))
    .digest('hex');
}

function isUpToDate(service: ServiceName, hash: string): boolean {
  const dir = generatedDirFor(service);
  const stamp = path.join(dir, STAMP_FILE);
  return existsSync(path.join(dir, 'client.ts')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash;
}

/** Generates the clients whose schema changed; `force` regenerates all of them. */
export async function generateClients(
  options: { services?: readonly ServiceName[]; force?: boolean } = {},
): Promise<GenerateResult[]> {
  const version = prismaVersion();
  const services = options.services ?? SERVICES;
  return Promise.all(
    services.map(async (service): Promise<GenerateResult> => {
      const hash = schemaHash(service, version);
      if (!options.force && isUpToDate(service, hash)) return { service, generated: false };
      try {
        await run(process.execPath, [prismaCli(), 'generate', '--schema', schemaPathFor(service)], {
          cwd: ROOT,
          // Any existing executable stops the CLI from downloading the schema engine it
          // does not need for `generate` (see docs/development.md "Machines").
          env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
        });
      } catch (error) {
        const { stderr, stdout } = error as { stderr?: string; stdout?: string };
        throw new Error(`prisma generate failed for ${service}:\n${stderr || stdout || (error as Error).message}`);
      }
      writeFileSync(path.join(generatedDirFor(service), STAMP_FILE), `${hash}\n`);
      return { service, generated: true };
    }),
  );
}

if (require.main === module) {
  const { force } = commandLineOrExit(
    'npm run db:generate -- [options]: generates the Prisma clients whose schema changed since their last generation.',
    { force: { type: 'boolean', help: 'generate every client, changed or not' } },
    (values) => ({ force: values.force ?? false }),
  );
  const started = Date.now();
  generateClients({ force })
    .then((results) => {
      for (const { service, generated } of results) {
        console.log(`${service.padEnd(14)} ${generated ? 'generated' : 'up to date'}`);
      }
      console.log(`done in ${Date.now() - started} ms`);
    })
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
