/**
 * The layout's one rule: imports run one way, from the entry points down to the shared library,
 * and never in a circle. A new import against the grain fails here, naming the file and the import.
 * The order, and why each folder sits where it does, is CONTRIBUTING.md "The layout".
 */
import { readFileSync } from 'node:fs';
import { importGraph, type ImportEdge } from './helpers/import-graph';

/** Folders from the top (entry points) to the bottom (what every part shares); a file may import its own folder or one below. */
const LAYERS: readonly (readonly string[])[] = [
  ['worker.ts', 'scripts', 'bench', 'test'],
  ['harness'],
  ['api', 'ops'],
  ['worker'],
  ['devstack'],
  ['reconciler'],
  ['activities'],
  ['temporal'],
  ['workflows'],
  ['services'],
  ['prisma'],
  ['lib'],
];

const layerOf = (file: string): { index: number; folder: string } => {
  const folder = file.includes('/') ? file.slice(0, file.indexOf('/')) : file;
  const index = LAYERS.findIndex((layer) => layer.includes(folder));
  if (index < 0) throw new Error(`${file} is in no layer of test/layout.test.ts: give its folder a place`);
  return { index, folder };
};

/**
 * Workflows name their activities by type (`proxyActivities<ReturnType<typeof createXActivities>>`),
 * the idiom of Temporal's samples: a type-only import of an activities module, erased from the bundle.
 */
const isActivityTypeImport = (edge: ImportEdge) =>
  edge.typeOnly && edge.from.startsWith('workflows/') && /\.activities\.ts$/.test(edge.to);

/** A test sits beside the code it tests, but it is an entry point: it may import anything, and nothing imports it. */
const isTest = (file: string) => /\.test\.ts$/.test(file);

function againstTheGrain(edge: ImportEdge): boolean {
  const from = layerOf(edge.from);
  const to = layerOf(edge.to);
  if (from.folder === to.folder || isActivityTypeImport(edge) || isTest(edge.from)) return false;
  // The entry points may use each other (a benchmark runs a script); below them, neighbours stay apart.
  return from.index === 0 ? to.index < from.index : to.index <= from.index;
}

/** Every cycle of imports (Tarjan's strongly connected components of more than one file, or a file importing itself). */
function cycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (next.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the layout', () => {
  const edges = importGraph();

  it('sees the whole tree', () => {
    // A parser that silently found nothing would pass both checks below.
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual(
      expect.objectContaining({ from: 'worker.ts', to: 'worker/process.ts', typeOnly: false }),
    );
  });

  it('nothing imports a test', () => {
    expect(edges.filter(({ to }) => isTest(to)).map(({ from, to }) => `${from} imports ${to}`)).toEqual([]);
  });

  it('imports run one way: from the entry points down to lib/', () => {
    const upward = edges.filter(againstTheGrain).map(({ from, to }) => `${from} imports ${to}`);
    expect(upward).toEqual([]);
  });

  it('has no circle of imports', () => {
    expect(cycles(edges)).toEqual([]);
  });

  it('npm start imports nothing of the test and benchmark harness', () => {
    const launcher = readFileSync('scripts/start.js', 'utf8');
    expect(launcher).toContain("'devstack', 'local-stack.ts'");
    const reached = new Set(['devstack/local-stack.ts']);
    for (let grew = true; grew;) {
      grew = false;
      for (const { from, to } of edges)
        if (reached.has(from) && !reached.has(to)) {
          reached.add(to);
          grew = true;
        }
    }
    expect([...reached].filter((file) => /^(harness|test|bench)\//.test(file))).toEqual([]);
  });

  it('finds an upward import and a circle when there is one', () => {
    const planted: ImportEdge[] = [
      { from: 'lib/money.ts', to: 'services/orders/orders.service.ts', typeOnly: false },
      { from: 'services/orders/orders.service.ts', to: 'lib/money.ts', typeOnly: false },
    ];
    expect(planted.filter(againstTheGrain)).toHaveLength(1);
    expect(cycles(planted)).toEqual([['lib/money.ts', 'services/orders/orders.service.ts']]);
  });
});
