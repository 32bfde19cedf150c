// Lint rules for the whole repository (`npm run lint`, run by CI through `npm test`).
// Formatting is prettier's job (`npm run format`); eslint checks correctness and project rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', '.cache/', 'dist/', 'build/', 'debug/', 'captures/', 'release/', 'out/', 'docs/contracts/', 'test/fixtures/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
      // TypeScript checks names itself (and knows Node's globals); eslint's copy only has false alarms.
      'no-undef': 'off',
    },
  },
  {
    // The detection core is exchange-neutral and pure (docs/ARCHITECTURE.md): adapters and I/O shells
    // import it, never the reverse.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/binance', '**/binance/**'],
              message: 'src/core is exchange-neutral: put exchange code in its adapter folder (docs/ADDING_A_SOURCE.md).',
            },
            {
              group: ['**/app/**', '**/capture/**', '**/collector/**', '**/ipc/**', '**/replay/**', '**/simulator/**', '**/widgets/**', 'node:*'],
              message: 'src/core is pure: no I/O; the shells around it pass in what it needs.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.cjs', 'webpack.config.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearTimeout: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
