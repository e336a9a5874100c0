// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * The layers of src/ (docs/architecture.md, "Layers"), lowest first:
 * core → backends (the contract: backend.ts and roles/; then the stores) → ratelimit →
 * worker → bus → observability → streams and console (the HTTP API and its page) → config and create.ts → cli. A layer imports only from layers below it;
 * testing/ may import any of src/; nothing in src/ imports from outside src/.
 */
const STORES = ['sql', 'postgres', 'pglite', 'redis'].map((s) => `./src/backends/${s}`);
const ABOVE_BACKENDS = [
  './src/ratelimit',
  './src/worker',
  './src/bus',
  './src/observability',
  './src/streams',
  './src/console',
  './src/config',
  './src/create.ts',
  './src/cli',
  './src/testing',
  './src/index.ts',
];

/** @type {{ target: string | string[]; from: string | string[]; except?: string[]; message: string }[]} */
const LAYER_ZONES = [
  {
    target: './src',
    from: ['./test', './examples', './bench', './scripts'],
    message:
      'src/ is the published package: it may not import tests, examples, benchmarks or scripts (they are not shipped).',
  },
  {
    target: './src/core',
    from: './src',
    except: ['./core'],
    message:
      'core/ is the bottom layer and imports nothing of ours outside core/: move what it needs into core/ (a type other layers share belongs here).',
  },
  {
    target: './src/backends',
    from: ABOVE_BACKENDS,
    message:
      'backends/ (the store contract and the stores) sits below the rate limiter, worker, bus, config, CLI and testing, and may not import them: a store is driven by the engine, never the other way round.',
  },
  {
    target: ['./src/backends/*.ts', './src/backends/roles/**'],
    from: STORES,
    message:
      'The store contract (backends/*.ts, backends/roles/) may not import a store: every store implements the contract, so the contract names none of them.',
  },
  {
    target: './src/backends/sql/**',
    from: ['./src/backends/postgres', './src/backends/pglite', './src/backends/redis'],
    message:
      'backends/sql/ is the layer shared by the PostgreSQL and embedded stores and may not import a store: give it what it needs through the SqlDriver interface.',
  },
  {
    target: './src/backends/postgres/**',
    from: ['./src/backends/pglite', './src/backends/redis'],
    message:
      'A store may not import another store (postgres/ builds on sql/ only): share code through backends/sql/ or core/.',
  },
  {
    target: './src/backends/pglite/**',
    from: ['./src/backends/postgres', './src/backends/redis'],
    message:
      'A store may not import another store (pglite/ builds on sql/ only): share code through backends/sql/ or core/.',
  },
  {
    target: './src/backends/redis/**',
    from: ['./src/backends/sql', './src/backends/postgres', './src/backends/pglite'],
    message:
      'A store may not import another store (redis/ does not build on sql/): move a store-neutral helper to core/ or the contract.',
  },
  {
    target: './src/ratelimit',
    from: ABOVE_BACKENDS.filter((p) => p !== './src/ratelimit'),
    message:
      'ratelimit/ sits below the worker, bus, config, CLI and testing, and may not import them: the worker asks the limiter, not the other way round.',
  },
  {
    target: './src/ratelimit',
    from: STORES,
    message:
      'ratelimit/ reaches a store only through the limits role (backends/roles/limits.ts), never a store itself.',
  },
  {
    target: './src/worker',
    from: [
      './src/bus',
      './src/observability',
      './src/streams',
      './src/console',
      './src/config',
      './src/create.ts',
      './src/cli',
      './src/testing',
      './src/index.ts',
      ...STORES,
    ],
    message:
      'worker/ sits below the bus, config, CLI and testing, and reaches the store only through the roles (backends/roles/): it may not import a layer above it or a store.',
  },
  {
    target: './src/bus',
    from: [
      './src/observability',
      './src/streams',
      './src/console',
      './src/config',
      './src/create.ts',
      './src/cli',
      './src/testing',
      './src/index.ts',
      ...STORES,
    ],
    message:
      'bus/ sits below config, create.ts, the CLI and testing, and reaches the store only through the roles: it may not import a layer above it or a store.',
  },
  {
    target: './src/observability',
    from: [
      './src/streams',
      './src/console',
      './src/config',
      './src/create.ts',
      './src/cli',
      './src/testing',
      './src/index.ts',
      ...STORES,
    ],
    message:
      'observability/ (metrics, the health server, the stats line) listens to the bus and the worker from above: it may not import config, create.ts, the CLI, testing or a store.',
  },
  {
    target: './src/streams',
    from: [
      './src/console',
      './src/config',
      './src/create.ts',
      './src/cli',
      './src/testing',
      './src/index.ts',
      ...STORES,
    ],
    message:
      'streams/ (stream consumers and producers, the outbox relay) works above the bus and observability: it may not import the console, config, create.ts, the CLI, testing or a store. Only its transports (streams/transports/<name>/) import their client library.',
  },
  {
    target: './src/console',
    from: [
      './src/streams',
      './src/config',
      './src/create.ts',
      './src/cli',
      './src/testing',
      './src/index.ts',
      ...STORES,
    ],
    message:
      'console/ (the HTTP API and the page it serves) drives the bus from above: it may not import config, create.ts, the CLI, testing or a store.',
  },
  {
    target: ['./src/config', './src/create.ts'],
    from: ['./src/cli', './src/testing', './src/index.ts'],
    message:
      'config/ and create.ts sit below the CLI and testing and may not import them (create.ts loads the stores by dynamic import).',
  },
  {
    target: './src/cli',
    from: ['./src/testing', './src/index.ts'],
    message:
      'cli/ may not import testing/ (test tools are not part of the command) nor index.ts (import the module itself).',
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'bench/node_modules/',
      'bench/results/',
      'coverage/',
      '.dispatchbox/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-cycle': 'error',
      // A rejection passed on unchanged (a handler's, whatever it threw) keeps its reason;
      // a new one must be an Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='only']",
          message: 'Focused tests (.only) stop the rest of the suite from running.',
        },
      ],
    },
    settings: {
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: ['./tsconfig.json', './console/tsconfig.json'],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
  },
  {
    files: ['src/**'],
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: LAYER_ZONES }],
    },
  },
  {
    // The console page (console/): a browser program, type-checked with its own
    // tsconfig (the project service finds console/tsconfig.json: DOM, Preact's JSX). It
    // talks to the server only over HTTP, so of src/ it may import the pure load model alone.
    files: ['console/**'],
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './console',
              from: './src',
              except: ['./console/load-model.ts'],
              message:
                'The console page runs in the browser and reaches the server over HTTP (/api): of src/ it may import only the pure load model (src/console/load-model.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    // A library writes nothing to stdout, the application's: its logs go through pino to
    // stderr (config/logger.ts). Only the CLI prints, through its CliIo.
    files: ['src/**'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'stdout',
          message: 'The library writes nothing to stdout; log through the bus logger (stderr).',
        },
      ],
    },
  },
  {
    // Plain JavaScript, and the packed-package check (compiled against the installed
    // package by test/readme.test.ts, outside this project's type-check): no type information.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'test/packed/**'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The container image's scripts and example handlers run on Node without a build.
    files: ['deploy/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', fetch: 'readonly', AbortSignal: 'readonly' },
    },
  },
  {
    // The peers' adapters import packages installed only by `npm --prefix bench install`;
    // without them their types are unresolved, so they are linted without type information.
    files: [
      'bench/adapters/bullmq.ts',
      'bench/adapters/graphile.ts',
      'bench/adapters/pgboss.ts',
      'bench/adapters/pgboss-pglite.ts',
    ],
    ...tseslint.configs.disableTypeChecked,
  },
);
