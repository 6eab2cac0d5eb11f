/**
 * The served OpenAPI document, linted as client generators and API portals read it: Spectral's
 * standard `spectral:oas` ruleset (.spectral.yaml), failing on any error or warning; and every
 * operation named by a unique, stable operationId.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { OPERATIONS } from './operations';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

interface SpectralResult {
  code: string;
  message: string;
  path: string[];
  severity: number;
}

let api: ApiHarness;
let document: { paths: Record<string, Record<string, { operationId?: string }>> };

beforeAll(async () => {
  api = await startApiHarness();
  document = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
});
afterAll(async () => api?.close());

it('has no Spectral spectral:oas error or warning', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const spectral = path.join(ROOT, 'node_modules', '.bin', 'spectral');
    const args = [
      'lint',
      file,
      '--ruleset',
      path.join(ROOT, '.spectral.yaml'),
      '--format',
      'json',
      '--quiet',
      '--fail-severity',
      'warn',
    ];
    // Spectral exits non-zero when it finds anything at or above --fail-severity; its report is on stdout either way.
    const outcome = await run(spectral, args, { cwd: ROOT }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    const results = JSON.parse(outcome.stdout.trim() || '[]') as SpectralResult[];
    expect(results.map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`)).toEqual([]);
    // No findings and a clean exit: a Spectral that failed to run at all must not pass for a clean document.
    expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 0, stderr: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('names every operation with the operationId of the operations table, each used once', () => {
  const served = Object.entries(document.paths).flatMap(([route, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      key: `${method.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`,
      id: operation.operationId,
    })),
  );
  for (const { key, id } of served) expect({ key, id }).toEqual({ key, id: OPERATIONS[key]?.operationId });
  const ids = served.map((operation) => operation.id);
  expect(new Set(ids).size).toBe(ids.length);
});
