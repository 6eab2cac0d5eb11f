/** The repository's relative imports as edges between files (paths from the root), for the layout test. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ImportEdge {
  from: string;
  to: string;
  /** `import type …` / `export type … from`: erased when compiled. */
  typeOnly: boolean;
}

const ROOT = path.resolve(__dirname, '..', '..');
const SKIPPED = new Set(['node_modules', '.git', '.data', 'dist', 'generated', 'vendor', 'web']);
// Static imports and re-exports (the statement up to its specifier), dynamic import(), require() and jest.mock().
const STATEMENT = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
const BARE = /(?:^|\n)\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/g;
const CALL = /(?:import|require|jest\.mock|jest\.requireActual)\(\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !/\.variant-/.test(entry.name)) out.push(full);
  }
  return out;
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [base, `${base}.ts`, `${base}.js`, `${base}.mjs`, path.join(base, 'index.ts')].find(
    (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
  );
}

export function importGraph(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(ROOT)) {
    const source = readFileSync(file, 'utf8');
    const add = (specifier: string, typeOnly: boolean) => {
      const target = resolveImport(file, specifier);
      if (target) edges.push({ from: path.relative(ROOT, file), to: path.relative(ROOT, target), typeOnly });
    };
    for (const [, , type, specifier] of source.matchAll(STATEMENT)) add(specifier!, type !== undefined);
    for (const [, specifier] of source.matchAll(BARE)) add(specifier!, false);
    for (const [, specifier] of source.matchAll(CALL)) add(specifier!, false);
  }
  return edges;
}
