/**
 * The lint rule that keeps workflow code free of side-effecting imports must really fire:
 * we lint planted files as if they lived in workflows/ and read ESLint's verdict.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const eslintBin = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');

function lintAsWorkflow(
  source: string,
  fileName = 'workflows/planted.workflow.ts',
): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [eslintBin, '--stdin', '--stdin-filename', fileName], {
    cwd: root,
    input: source,
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('workflow import guard', () => {
  it.each([
    ["import { PrismaClient } from '@prisma/client';", 'Prisma'],
    ["import { readFileSync } from 'fs';", 'file system'],
    ["import { readFileSync } from 'node:fs';", 'file system'],
    ["import { createInventoryActivities } from '../activities/inventory.activities';", 'activity types only'],
    ["import { InventoryService } from '../services/inventory/inventory.service';", 'only through activities'],
  ])('refuses %s', (importLine, reason) => {
    const result = lintAsWorkflow(`${importLine}\nexport const x = 1;\n`);
    expect(result.status).toBe(1);
    expect(result.output).toContain(reason);
  });

  it('allows type-only imports of activities and the workflow SDK', () => {
    const source = [
      "import type { createInventoryActivities } from '../activities/inventory.activities';",
      "import { proxyActivities } from '@temporalio/workflow';",
      'export const acts = proxyActivities<ReturnType<typeof createInventoryActivities>>({ startToCloseTimeout: 1000 });',
      '',
    ].join('\n');
    const result = lintAsWorkflow(source);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('does not apply outside workflows/', () => {
    const result = lintAsWorkflow(
      "import { readFileSync } from 'fs';\nexport const r = readFileSync;\n",
      'scripts/planted.ts',
    );
    expect(result.status).toBe(0);
  });
});
