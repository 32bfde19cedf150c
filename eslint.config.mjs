// Lint rules for the whole repository (`npm run lint`, run by CI through `npm test`).
// Formatting is prettier's job (`npm run format`); eslint checks correctness and project rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Timer modules are the clock's business (src/clock). */
const TIMER_MODULES = ['timers', 'timers/promises', 'node:timers', 'node:timers/promises'].map((name) => ({
  name,
  message: 'use the injected Clock (src/clock)',
}));

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
    // One clock (src/clock): time, timers and jitter come from an injected Clock, so tests can
    // advance time instead of sleeping and accelerated runs stamp simulator time everywhere.
    // The simulator keeps its own clock (it is the exchange).
    files: ['src/**/*.ts'],
    ignores: ['src/clock/**', 'src/simulator/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval'].map((name) => ({ name, message: `use the injected Clock (src/clock): clock.after / clock.every instead of ${name}` })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'use the injected Clock (src/clock): clock.now()' },
        { object: 'Math', property: 'random', message: 'use the injected Clock (src/clock): clock.random()' },
        ...['setTimeout', 'setInterval'].map((property) => ({ object: 'globalThis', property, message: 'use the injected Clock (src/clock)' })),
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'new Date() reads the wall clock: use new Date(clock.now())' },
      ],
      'no-restricted-imports': ['error', { paths: TIMER_MODULES }],
    },
  },
  {
    // The detection core is exchange-neutral and pure (docs/ARCHITECTURE.md): adapters and I/O shells
    // import it, never the reverse. (Listed after the clock rule: for src/core this one wins, so it
    // repeats the timer modules.)
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: TIMER_MODULES,
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
