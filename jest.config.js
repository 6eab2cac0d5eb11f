// One Jest project per test tier (see DESIGN.md "Tests"), so a tier can be run alone:
//   npx jest --selectProjects workflow
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const common = {
  transform,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testPathIgnorePatterns: ['/node_modules/', '/.data/'],
};

/** @type {import('jest').Config} */
module.exports = {
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{lib,services,activities,scripts,api,workflows,prisma}/**/*.test.ts'],
      testPathIgnorePatterns: [
        ...common.testPathIgnorePatterns,
        '\\.workflow\\.test\\.ts$',
        '\\.replay\\.test\\.ts$',
        '\\.api\\.test\\.ts$',
      ],
    },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/**/*.workflow.test.ts'] },
    { ...common, displayName: 'replay', testMatch: ['<rootDir>/**/*.replay.test.ts'] },
    { ...common, displayName: 'api', testMatch: ['<rootDir>/**/*.api.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.test.ts'] },
  ],
};
