/**
 * The embedded store's own tests, run again under a real Node.js 22 (test/support/node22.ts) by a
 * nested vitest: once with node:sqlite forced, once with `auto`. In this checkout better-sqlite3's
 * binding is built for the project's Node.js 20, so on 22 it does not load and `auto` must fall
 * back to node:sqlite by itself, exactly as for an application whose binding was never built.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../fixtures/child-process.js'
import { node22OrSkip } from '../support/node22.js'

const node = await node22OrSkip('embedded store on Node.js 22')

/** Everything that opens the embedded file: store contract, integrity, migrations, reports, API keys. */
const EMBEDDED_TESTS = [
  'src/store/embedded/embedded-store.test.ts',
  'src/store/embedded/integrity.test.ts',
  'src/store/embedded/tenant-key-migration.test.ts',
  'src/store/embedded/sqlite-driver.test.ts',
  'src/store/report.test.ts',
  'src/store/isolating-insert.test.ts',
  'src/auth/key-store.test.ts',
]

async function vitestOnNode22(files: readonly string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(node!, [path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      maxBuffer: 32 * 1024 * 1024,
      // No colour codes, so the summary line can be read; NODE_OPTIONS of the outer run stay out.
      env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string; message: string }
    return { code: typeof failed.code === 'number' ? failed.code : 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}\n${failed.message}` }
  }
}

describe.skipIf(!node)('the embedded store under Node.js 22 through node:sqlite', () => {
  it('passes the store, integrity, migration, report and key-store tests with AUDITQ_EMBEDDED_DRIVER=node:sqlite', async () => {
    const { code, output } = await vitestOnNode22(EMBEDDED_TESTS, { AUDITQ_EMBEDDED_DRIVER: 'node:sqlite', AUDITQ_TEST_EXPECT_DRIVER: 'node:sqlite' })
    expect(code, output.slice(-6_000)).toBe(0)
    expect(output).toMatch(/Test Files\s+7 passed/)
    expect(output).not.toMatch(/ExperimentalWarning: SQLite/)
  }, 300_000)

  it('falls back to node:sqlite by itself (auto) where better-sqlite3 will not load', async () => {
    const { code, output } = await vitestOnNode22(['src/store/embedded/sqlite-driver.test.ts', 'src/store/embedded/embedded-store.test.ts'], {
      AUDITQ_EMBEDDED_DRIVER: '',
      AUDITQ_TEST_EXPECT_DRIVER: 'node:sqlite',
    })
    expect(code, output.slice(-6_000)).toBe(0)
    expect(output).toMatch(/Test Files\s+2 passed/)
  }, 300_000)
})
