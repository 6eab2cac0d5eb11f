/**
 * The docs tier: the README, CONTRIBUTING and docs/ name only what exists. Every `npm run` script
 * is in package.json, every `npm run ops` command is one scripts/ops.ts accepts, every setting is
 * read by the code (and every setting the product reads is in docs/configuration.md), every route
 * is served by the app (and every route the app serves is in docs/api.md), and every relative
 * link resolves. Each check is first shown to fail on a planted false item.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app';
import type { Services } from '../services';
import type { CheckoutClient } from '../temporal/checkout-client';
import { SERVICES } from '../lib/service-names';
import { databaseUrlVariable } from '../lib/config';
import {
  brokenLinks,
  composeVariables,
  headingAnchors,
  opsCommandsOf,
  routeKey,
  routesNamed,
  routesOfTree,
  settingsNamed,
  settingsRead,
  undocumentedSettings,
  unknownNpmScripts,
  unknownOpsCommands,
  unknownSettings,
  unlistedRoutes,
  unservedRoutes,
  type Page,
  type Source,
  type Tree,
} from './helpers/docs-checks';

const ROOT = path.resolve(__dirname, '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The pages this tier holds to the code. The changelog is history: it may name what is gone. */
const PAGES: Page[] = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
].map((file) => ({ path: file, text: read(file) }));
const page = (file: string) => PAGES.find((candidate) => candidate.path === file)!;

const SKIPPED = new Set(['node_modules', '.git', '.data', 'dist', 'generated', 'web', 'results', 'artifacts']);
function sources(dir: string): Source[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = dir === '.' ? entry.name : `${dir}/${entry.name}`;
    if (SKIPPED.has(entry.name)) return [];
    if (entry.isDirectory()) return sources(file);
    return /\.(ts|js|mjs)$/.test(entry.name) ? [{ path: file, text: read(file) }] : [];
  });
}

/** The folders of the product (what `npm start`, the API, the workers and `npm run ops` run), not its tests and tools. */
const PRODUCT =
  /^(worker\.ts|(lib|temporal|worker|api|ops|devstack|reconciler|activities|workflows|services|scripts|prisma)\/)/;
/** Set by the operating system for every program; not the product's settings. */
const SYSTEM = new Set(['HOME', 'PATH']);
/** Settings of other programs that the docs tell an operator to set (the Temporal Web UI server's). */
const FOREIGN = new Set(['TEMPORAL_CODEC_ENDPOINT']);

const union = (sets: Iterable<Set<string>>) => new Set([...sets].flatMap((set) => [...set]));

describe('the checks, on planted pages', () => {
  it('finds an npm script package.json lacks', () => {
    const planted = { path: 'p.md', text: 'Run `npm run lint`, then\n`npm run nosuch -- --x` and `npm start`.' };
    expect(unknownNpmScripts(planted, new Set(['lint', 'start']))).toEqual([
      { page: 'p.md', line: 2, what: 'npm run nosuch' },
    ]);
  });

  it('reads the ops commands where scripts/ops.ts declares them, and finds one it does not accept', () => {
    const script = [
      "import { ACCOUNT_COMMANDS, runAccountCommand } from '../ops/accounts';",
      "switch (parsed.command) { case 'list': case 'show': break; case undefined: break; }",
      "if (argv[0] === 'reconcile') {}",
    ].join('\n');
    const commands = opsCommandsOf(script, (from) => {
      expect(from).toBe('../ops/accounts');
      return "export const ACCOUNT_COMMANDS = new Set(['make-admin', 'set-plan']);";
    });
    expect([...commands].sort()).toEqual(['list', 'make-admin', 'reconcile', 'set-plan', 'show']);
    const planted = {
      path: 'p.md',
      text: '`npm run ops -- list --json`, `npm run ops -- <command>`\n| `npm run ops -- show\\|nosuch` |\nnpm run ops -- retired <id>',
    };
    expect(unknownOpsCommands(planted, commands).map(({ what, line }) => [line, what])).toEqual([
      [2, 'npm run ops -- nosuch'],
      [3, 'npm run ops -- retired'],
    ]);
  });

  it('reads the settings a source reads, in each way the code reads them', () => {
    const source = {
      path: 'x.ts',
      text: [
        'const a = env.ALPHA; const b = process.env.BETA ?? 1; const c = env["GAMMA"];',
        "const d = integer(env, 'DELTA', 3); const o = other.env.NOT_READ;",
        "const value = (name: string) => env[name]?.trim(); value('EPSILON_X');",
      ].join('\n'),
    };
    expect([...settingsRead(source)].sort()).toEqual(['ALPHA', 'BETA', 'DELTA', 'EPSILON_X', 'GAMMA']);
    expect(composeVariables('A: ${JWT_SECRET:?set it}\nB: $$notme ${PORT}')).toEqual(new Set(['JWT_SECRET', 'PORT']));
  });

  it('finds a setting nothing reads, and tells settings from shell variables', () => {
    const planted = {
      path: 'p.md',
      text: [
        '| variable | meaning |',
        '| --- | --- |',
        '| `PORT`, `NOSUCH_SETTING` | x |',
        '| `<SERVICE>_DATABASE_URL` | y |',
        '',
        '| error | meaning |',
        '| --- | --- |',
        '| `ORDER_NOT_FOUND` | not a setting |',
        '',
        'Run `PLANTED_TOO=1 npm start` or set `ALLOW_DEV_TOKENS=true`.',
        '```bash',
        'API=http://127.0.0.1:3000',
        'TOKEN=$(curl -s $API | jq -r .token)',
        'AUTH="authorization: Bearer $TOKEN"',
        'LOG_FORMAT=json npm start',
        'export THIRD_PLANTED=x',
        '```',
      ].join('\n'),
    };
    expect(settingsNamed(planted).map(({ name }) => name)).toEqual([
      'PORT',
      'NOSUCH_SETTING',
      '<SERVICE>_DATABASE_URL',
      'PLANTED_TOO',
      'ALLOW_DEV_TOKENS',
      'LOG_FORMAT',
      'THIRD_PLANTED',
    ]);
    const readByCode = new Set(['PORT', 'ORDERS_DATABASE_URL', 'ALLOW_DEV_TOKENS', 'LOG_FORMAT']);
    expect(unknownSettings(planted, readByCode)).toEqual([
      { page: 'p.md', line: 3, what: 'setting NOSUCH_SETTING' },
      { page: 'p.md', line: 10, what: 'setting PLANTED_TOO' },
      { page: 'p.md', line: 16, what: 'setting THIRD_PLANTED' },
    ]);
  });

  it('finds a setting the code reads that the configuration page lacks', () => {
    const configuration = { path: 'c.md', text: '| variable |\n| --- |\n| `PORT` |\n| `<SERVICE>_DATABASE_URL` |' };
    expect(undocumentedSettings(configuration, new Set(['PORT', 'CART_DATABASE_URL', 'NEW_SETTING']))).toEqual([
      'NEW_SETTING',
    ]);
  });

  it("reads the app's routes from Fastify's tree", () => {
    const tree = [
      '└── / (HEAD, GET)',
      '    ├── v1/orders (POST, GET, HEAD)',
      '    │   └── /:id (GET, HEAD)',
      '    │       └── /payment (POST)',
      '    ├── docs (GET, HEAD)',
      '    │   └── /json (GET, HEAD)',
      '    ├── styles.css (HEAD, GET)',
      '    └── * (OPTIONS)',
    ].join('\n');
    expect(routesOfTree(tree).map(({ method, path }) => `${method} ${path}`)).toEqual([
      'GET /',
      'POST /v1/orders',
      'GET /v1/orders',
      'GET /v1/orders/:id',
      'POST /v1/orders/:id/payment',
      'GET /docs',
      'GET /docs/json',
      'GET /styles.css',
    ]);
    expect(routeKey('GET', '/v1/orders/:id')).toBe(routeKey('GET', '/v1/orders/{id}?x=1'));
  });

  it('finds a route the app does not serve, and a served route the reference lacks', () => {
    const served = new Set(['GET /v1/orders', 'POST /v1/orders/:/payment', 'GET /v1/cart', 'GET /docs/json']);
    const planted = {
      path: 'api.md',
      text: '| `GET /v1/orders?status=X` | `POST /v1/orders/{id}/payment` | `GET /v1/nosuch` |\nSee `GET /docs/json`.',
    };
    expect(unservedRoutes(planted, served)).toEqual([{ page: 'api.md', line: 1, what: 'GET /v1/nosuch' }]);
    expect(unlistedRoutes(planted, served)).toEqual(['GET /v1/cart']);
  });

  it('finds a relative link whose file or heading does not exist', () => {
    expect([
      ...headingAnchors('# The design\n## Money is bounded\n## Money is bounded\n```\n# not a heading\n```'),
    ]).toEqual(['the-design', 'money-is-bounded', 'money-is-bounded-1']);
    const files: Record<string, string> = { 'docs/design.md': '# Design\n## Money is bounded', 'docs/x.png': '' };
    const tree: Tree = { exists: (file) => file in files || file === 'docs', read: (file) => files[file]! };
    const planted = {
      path: 'docs/p.md',
      text: [
        '[ok](design.md#money-is-bounded) ![img](x.png) [web](https://example.com/nosuch) [dir](../docs)',
        '[gone](nosuch.md) and [bad anchor](design.md#no-such-heading)',
        '`[in code](nosuch-either.md)`',
      ].join('\n'),
    };
    expect(brokenLinks(planted, tree).map(({ line, what }) => [line, what])).toEqual([
      [2, 'link to nosuch.md: no docs/nosuch.md'],
      [2, 'link to design.md#no-such-heading: no heading #no-such-heading in docs/design.md'],
    ]);
  });
});

describe('the docs, against the code', () => {
  const allSources = sources('.');

  it('name only npm scripts package.json has', () => {
    const scripts = new Set(Object.keys((JSON.parse(read('package.json')) as { scripts: object }).scripts));
    // The pattern sees the pages' commands: a miss here would let every false one through.
    expect(PAGES.flatMap((doc) => [...doc.text.matchAll(/\bnpm run \w/g)]).length).toBeGreaterThan(50);
    expect(PAGES.flatMap((doc) => unknownNpmScripts(doc, scripts))).toEqual([]);
  });

  it('name only ops commands scripts/ops.ts accepts', () => {
    const commands = opsCommandsOf(read('scripts/ops.ts'), (from) => read(`${path.join('scripts', from)}.ts`));
    // A parser that found nothing would flag every command; one that found too much, none.
    for (const known of ['list', 'retry', 'resolve', 'reconcile', 'make-admin', 'findings', 'set-current'])
      expect(commands).toContain(known);
    expect(commands).not.toContain('nosuch');
    expect(PAGES.flatMap((doc) => unknownOpsCommands(doc, new Set())).length).toBeGreaterThan(20);
    expect(PAGES.flatMap((doc) => unknownOpsCommands(doc, commands))).toEqual([]);
  });

  it('name only settings the code reads', () => {
    const readByCode = union([
      ...allSources.map(settingsRead),
      composeVariables(read('docker-compose.yml')),
      // The code builds these names at run time from the list of services (lib/config.ts).
      new Set(SERVICES.map(databaseUrlVariable)),
      FOREIGN,
    ]);
    expect(readByCode).toContain('TEMPORAL_API_KEY');
    expect(PAGES.flatMap(settingsNamed).length).toBeGreaterThan(50);
    expect(PAGES.flatMap((doc) => unknownSettings(doc, readByCode))).toEqual([]);
  });

  it('docs/configuration.md has every setting the product reads', () => {
    const product = union(
      allSources.filter((source) => PRODUCT.test(source.path) && !source.path.endsWith('.test.ts')).map(settingsRead),
    );
    for (const name of SYSTEM) product.delete(name);
    expect(product.size).toBeGreaterThan(30);
    expect(undocumentedSettings(page('docs/configuration.md'), product)).toEqual([]);
  });

  describe('routes', () => {
    let app: FastifyInstance;
    let tree: { method: string; path: string }[];
    let served: string[];

    beforeAll(async () => {
      // The app with every route registered (dev tokens and the codec on) and nothing behind it: no
      // route runs here, so every service call fails loudly if one were made.
      const unreachable: ProxyHandler<object> = {
        get: (_target, name) => (name === 'then' ? undefined : new Proxy(() => undefined, unreachable)),
        apply: () => Promise.reject(new Error('the docs tier calls no service')),
      };
      app = await buildApp({
        settings: {
          jwtSecret: 'docs-tier-secret-docs-tier-secret',
          allowDevTokens: true,
          stripeWebhookSecret: 'whsec_docs',
          orderTtlSeconds: 60,
        },
        services: new Proxy({}, unreachable) as unknown as Services,
        checkout: new Proxy({}, unreachable) as unknown as CheckoutClient,
        codec: {
          codec: { encode: async (payloads) => payloads, decode: async (payloads) => payloads },
          allowedOrigins: [],
        },
      });
      await app.ready();
      tree = routesOfTree(app.printRoutes({ commonPrefix: false }));
      served = tree.map(({ method, path }) => routeKey(method, path));
    });

    afterAll(() => app?.close());

    it("are read from the app's own table", () => {
      expect(served).toEqual(expect.arrayContaining(['POST /v1/orders', 'GET /healthz', 'POST /codec/decode']));
      // Each parsed route is one the app finds again: the tree was read right.
      // (A wildcard, the Swagger UI's /docs/*, is not a path hasRoute takes.)
      for (const { method, path: url } of tree.filter(({ path }) => !path.includes('*')))
        expect([method, url, app.hasRoute({ method, url })]).toEqual([method, url, true]);
    });

    it('the docs name only routes the app serves', () => {
      expect(PAGES.flatMap(routesNamed).length).toBeGreaterThan(50);
      expect(PAGES.flatMap((doc) => unservedRoutes(doc, new Set(served)))).toEqual([]);
    });

    it('docs/api.md lists every route the app serves', () => {
      expect(unlistedRoutes(page('docs/api.md'), served)).toEqual([]);
    });
  });

  it('link only to files and headings that exist', () => {
    const tree: Tree = {
      exists: (file) => existsSync(path.join(ROOT, file)) && (file !== '' || statSync(ROOT).isDirectory()),
      read,
    };
    const none: Tree = { exists: () => false, read: () => '' };
    expect(PAGES.flatMap((doc) => brokenLinks(doc, none)).length).toBeGreaterThan(50);
    expect(PAGES.flatMap((doc) => brokenLinks(doc, tree))).toEqual([]);
  });
});
