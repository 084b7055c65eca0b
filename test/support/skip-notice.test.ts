import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { summarize } from './global-setup.js'

const ROOT = join(import.meta.dirname, '..', '..')

describe('tests that skip for a missing service say so', () => {
  it('a run without Chromium ends with one line naming the skipped browser files and how to enable them', () => {
    // A nested run of one browser file, locally (no CI) and pointed at a Chromium that is not there.
    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/browser/outage.test.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, CI: '', AUDITQ_TEST_CHROMIUM: '/nonexistent/chromium' },
      timeout: 120_000,
    })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stderr.split('\n').filter((line) => line.includes('skipped browser tests'))
    expect(lines).toEqual([
      'skipped browser tests in 1 file (test/browser/outage.test.ts): no Chromium at /nonexistent/chromium; to run them, install Chromium (apt-get install -y chromium) or set AUDITQ_TEST_CHROMIUM to a Chromium/Chrome binary',
    ])
  }, 150_000)

  it('one line per service, however many files skipped, naming a few of them', () => {
    const notes = ['a', 'b', 'c', 'd'].map((name) => ({ service: 'postgres' as const, detail: 'unreachable at postgres://x/test: ECONNREFUSED', file: join(ROOT, 'src', `${name}.test.ts`) }))
    notes.push({ ...notes[0]! }) // a file that checked twice counts once
    expect(summarize(notes)).toEqual([
      'skipped PostgreSQL tests in 4 files (src/a.test.ts, src/b.test.ts and 2 more): unreachable at postgres://x/test: ECONNREFUSED; to run them, start PostgreSQL (database `test`, trust auth on 127.0.0.1:5432) or set AUDITQ_TEST_DATABASE_URL',
    ])
    expect(summarize([])).toEqual([])
  })
})
