/**
 * Planted variants bundled at the same moment (the replay tier and the versioning drill run in
 * two Jest workers at once) each get their own edit and nothing of the other's, and leave nothing
 * planted in the real workflow code.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { bundleVariant, VARIANTS } from './workflow-variants';

// Two webpack bundlings at once: about 20 s on a quiet 2-core machine, minutes on a busy one.
jest.setTimeout(300_000);

const plantedFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.variant-/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));

test('two variants bundled at once each carry their own edit only, and leave no file behind', async () => {
  const [reversed, ignored] = await Promise.all([
    bundleVariant(VARIANTS.undoOrderReversed),
    bundleVariant(VARIANTS.cancelDuringChargeIgnored),
  ]);
  // The undos oldest first in one bundle; the cancel during a charge dropped in the other.
  expect(reversed.code).toContain('undos.shift()');
  expect(reversed.code).toContain('if (requests.cancel) continue;');
  expect(ignored.code).not.toContain('undos.shift()');
  expect(ignored.code).not.toContain('if (requests.cancel) continue;');
  expect(ignored.code).toContain('undos.pop()');

  expect(plantedFiles(path.resolve(__dirname, '..', 'workflows'))).toEqual([]);
});
