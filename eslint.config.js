// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'bin/**', '.cache/**', '.tools/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      // The core takes its environment as arguments; only the CLI entry reads the process.
      'no-restricted-globals': ['error', { name: 'process', message: 'Pass what you need in; only src/cli/main.ts may touch process.' }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/main.ts'],
    rules: { 'no-restricted-globals': 'off' },
  },
  {
    files: ['build/**/*.mjs', 'bench/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', AbortController: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
