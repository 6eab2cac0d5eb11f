// ESLint flat config: typescript-eslint's recommended rules everywhere, plus a guard that
// keeps the workflow bundle deterministic (Temporal replays workflow code; a workflow that
// imports Prisma, the file system, a service or an activity implementation would have
// side effects the replay cannot reproduce).
import tseslint from 'typescript-eslint';

export const WORKFLOW_FORBIDDEN_IMPORTS = {
  paths: [
    { name: 'fs', message: 'Workflows must not touch the file system; do it in an activity.' },
    { name: 'node:fs', message: 'Workflows must not touch the file system; do it in an activity.' },
    { name: 'fs/promises', message: 'Workflows must not touch the file system; do it in an activity.' },
    { name: 'pg', message: 'Workflows must not talk to databases; do it in an activity.' },
    { name: 'stripe', message: 'Workflows must not call Stripe; do it in an activity.' },
    { name: '@prisma/client', message: 'Workflows must not use Prisma; do it in an activity.' },
    { name: '@temporalio/client', message: 'Workflows use @temporalio/workflow, not the client.' },
    { name: '@temporalio/activity', message: 'Activity context has no place in workflow code.' },
  ],
  patterns: [
    { group: ['**/services/**', '**/services'], message: 'Workflows reach services only through activities.' },
    {
      group: ['**/activities/**', '**/activities', '**/reconciler/**'],
      message: 'Import activity types only: `import type`.',
      allowTypeImports: true,
    },
    {
      group: [
        '**/generated/**',
        'node:*',
        '**/lib/db/**',
        '**/temporal/**',
        '**/worker/**',
        '**/ops/**',
        '**/devstack/**',
      ],
      message: 'Side-effecting module in workflow code.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.data/**',
      '**/generated/**',
      'coverage/**',
      'web/vendor/**',
      'bench/results/**',
      'dist/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Type-aware rules for the TypeScript sources (the project's tsconfig.json, through the project
  // service): a promise nobody awaits or catches loses its failure (an unhandled rejection ends the
  // process), and a promise handed where a plain callback is expected (an event listener, a
  // forEach, a condition) runs unawaited too.
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // The lint-guard test lints planted sources through stdin under these names, which no tsconfig includes.
        projectService: { allowDefaultProject: ['workflows/planted.workflow.ts', 'scripts/planted.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', WORKFLOW_FORBIDDEN_IMPORTS],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
