// Lint rules that enforce the Temporal sandbox (no node built-ins in workflows) and that no
// promise is left floating anywhere: a forgotten await in an activity is a lost error.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no node built-ins, no activity
    // implementations (only `import type`), nothing from lib/ that touches I/O.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'workflow code must not import node built-ins' })),
            // Packages by exact name: a pattern like 'minio' would also match our own `../lib/minio/*`.
            ...['pg', 'minio', 'openpgp', 'pino'].map((name) => ({ name, message: 'not deterministic: keep I/O in activities' })),
          ],
          patterns: [
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'workflows import activities with `import type` only' },
            { group: ['../workers/*', '../client/*', 'pg/*', 'minio/*', '@aws-sdk/*', 'openpgp/*', 'pino/*'], message: 'not deterministic: keep I/O in activities' },
          ],
        },
      ],
    },
  },
);
