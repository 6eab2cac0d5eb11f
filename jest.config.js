// One Jest project per test tier (see docs/testing.md), so a tier can be run alone:
//   npx jest --selectProjects workflow
// typebox 1.x, content-disposition 2 (under @fastify/static), cookie 1 (under light-my-request)
// and @apidevtools/json-schema-ref-parser (under swagger-parser, the OpenAPI test) ship only ES modules; Jest,
// unlike Node 20.19+ (which tsx uses), cannot require them, so swc turns them into CommonJS. @fastify/cookie
// loads cookie 2 with a dynamic import(), which Jest refuses outside --experimental-vm-modules: swc turns it into a require.
const ESM_ONLY = '(typebox|content-disposition|cookie|@fastify/cookie|@apidevtools/json-schema-ref-parser)';
const transform = { '^.+\\.ts$': ['@swc/jest'], [`^.+/node_modules/${ESM_ONLY}/.+\\.m?js$`]: ['@swc/jest'] };
const common = {
  transform,
  transformIgnorePatterns: [`/node_modules/(?!${ESM_ONLY}/)`],
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/.data/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

const CONTRACT = '<rootDir>/test/helpers/contract-setup.ts';

/** @type {import('jest').Config} */
module.exports = {
  // Two test files at a time on this 2-core machine (Jest's default is one fewer than the cores): most
  // files spend their time waiting on servers, child processes and timers, not on the CPU. Each Jest
  // worker has a Temporal namespace and databases of its own (test/helpers), so files never meet.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{lib,services,activities,scripts,api,workflows,prisma,harness,temporal,worker,ops,devstack,reconciler,bench}/**/*.test.ts',
      ],
      testPathIgnorePatterns: [
        ...common.testPathIgnorePatterns,
        '\\.workflow\\.test\\.ts$',
        '\\.replay\\.test\\.ts$',
        '\\.api\\.test\\.ts$',
        '\\.cluster\\.test\\.ts$',
        '\\.fuzz\\.test\\.ts$',
        '\\.docs\\.test\\.ts$',
        '\\.operator\\.test\\.ts$',
      ],
    },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/**/*.workflow.test.ts'] },
    { ...common, displayName: 'replay', testMatch: ['<rootDir>/**/*.replay.test.ts'] },
    // The contract tier rides on the API and end-to-end tiers: their traffic is checked against /docs/json.
    { ...common, displayName: 'api', testMatch: ['<rootDir>/**/*.api.test.ts'], setupFilesAfterEnv: [CONTRACT] },
    // Requests generated from the routes' schemas (fast-check, fixed seed); `npm run fuzz -- --runs N` for long runs.
    { ...common, displayName: 'fuzz', testMatch: ['<rootDir>/**/*.fuzz.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      setupFilesAfterEnv: [CONTRACT],
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: [
        ...common.testPathIgnorePatterns,
        '\\.cluster\\.test\\.ts$',
        '\\.docs\\.test\\.ts$',
        '\\.operator\\.test\\.ts$',
      ],
    },
    // A real Temporal cluster (harness/temporal-cluster.ts): four server processes on PostgreSQL, mTLS.
    { ...common, displayName: 'cluster', testMatch: ['<rootDir>/**/*.cluster.test.ts'] },
    // The real Temporal CLI's reset, terminate and cancel against a running API and workers, then the reconciler.
    { ...common, displayName: 'operator', testMatch: ['<rootDir>/**/*.operator.test.ts'] },
    // What the README, CONTRIBUTING and docs/ name exists: scripts, ops commands, settings, routes, links.
    { ...common, displayName: 'docs', testMatch: ['<rootDir>/**/*.docs.test.ts'] },
  ],
};
