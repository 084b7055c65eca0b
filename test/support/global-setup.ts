/**
 * Runs once around the whole test run (vitest `globalSetup`). After the run it prints one line per
 * service that some suites skipped for lack of, naming them and how to enable them; see
 * skip-notice.ts for why.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { SKIP_NOTES_ENV, SKIP_NOTES_FILE, type MissingService, type SkipNote } from './skip-notice.js'

const ROOT = join(import.meta.dirname, '..', '..')

/** What each service is for, and how to get it. */
const HOW_TO_ENABLE: Record<MissingService, { what: string; how: string }> = {
  chromium: { what: 'browser tests', how: 'install Chromium (apt-get install -y chromium) or set AUDITQ_TEST_CHROMIUM to a Chromium/Chrome binary' },
  postgres: { what: 'PostgreSQL tests', how: 'start PostgreSQL (database `test`, trust auth on 127.0.0.1:5432) or set AUDITQ_TEST_DATABASE_URL' },
  redis: { what: 'Redis tests', how: 'start Redis on 127.0.0.1:6379 or set AUDITQ_TEST_REDIS_URL' },
  'redis-server': { what: 'tests that run their own redis-server', how: 'put redis-server on PATH (apt-get install -y redis-server)' },
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'auditq-test-skips-'))
  // Forked test workers inherit this process's environment.
  process.env[SKIP_NOTES_ENV] = dir
  return () => {
    try {
      for (const line of summarize(readNotes(join(dir, SKIP_NOTES_FILE)))) process.stderr.write(line + '\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

function readNotes(file: string): SkipNote[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return [] // nothing skipped
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as SkipNote)
}

/** One line per missing service: how many files skipped what, why, and how to enable them. */
export function summarize(notes: SkipNote[]): string[] {
  const byService = new Map<MissingService, { files: Set<string>; detail: string }>()
  for (const note of notes) {
    const entry = byService.get(note.service) ?? { files: new Set<string>(), detail: note.detail }
    entry.files.add(relative(ROOT, note.file))
    byService.set(note.service, entry)
  }
  return [...byService].map(([service, { files, detail }]) => {
    const { what, how } = HOW_TO_ENABLE[service]
    const list = [...files].sort()
    const named = list.length <= 3 ? list.join(', ') : `${list.slice(0, 2).join(', ')} and ${list.length - 2} more`
    return `skipped ${what} in ${list.length} file${list.length === 1 ? '' : 's'} (${named}): ${detail.replace(/\.$/, '')}; to run them, ${how}`
  })
}
