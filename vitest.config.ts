import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Server-backed suites share one PostgreSQL; each uses its own schema, so files may run in parallel.
    pool: 'forks',
    // Prints, after the run, which suites skipped for a missing service and how to enable them.
    globalSetup: ['test/support/global-setup.ts'],
  },
})
