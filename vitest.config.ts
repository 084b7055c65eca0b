import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Server-backed suites share one PostgreSQL; each uses its own schema, so files may run in parallel.
    pool: 'forks',
    // At least three files at once: most of them wait on PostgreSQL, Redis, rsyslog or Chromium
    // rather than compute, and vitest's default (cores - 1) ran one file at a time on two cores
    // (the whole suite 850 s there, 590 s with three).
    maxWorkers: Math.max(3, availableParallelism() - 1),
    // Prints, after the run, which suites skipped for a missing service and how to enable them.
    globalSetup: ['test/support/global-setup.ts'],
  },
})
