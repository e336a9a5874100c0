import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node 20 has no native decorators: lower them like tsc does for the build.
  esbuild: { target: 'es2022' },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more parallel files only make every server-backed file slower.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
