/**
 * A suite that needs a service skips locally when the service is missing (CI=true turns that into
 * a failure instead). The skip must not be silent, or a green local run hides that the browser or
 * PostgreSQL tests never ran: each skipping file notes what it lacked here, and the global setup
 * (test/support/global-setup.ts) prints one line per missing service, with how to provide it,
 * after the run.
 */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'

/** Set by the global setup: the directory the notes go to. Unset (say, a custom vitest config): notes are dropped. */
export const SKIP_NOTES_ENV = 'AUDITQ_TEST_SKIP_NOTES'
export const SKIP_NOTES_FILE = 'skipped.ndjson'

export type MissingService = 'postgres' | 'redis' | 'redis-server' | 'chromium'

export interface SkipNote {
  service: MissingService
  /** What was missing, e.g. "unreachable at redis://127.0.0.1:6379: connect ECONNREFUSED". */
  detail: string
  file: string
}

export function noteSkipped(service: MissingService, detail: string): void {
  const dir = process.env[SKIP_NOTES_ENV]
  if (!dir) return
  const note: SkipNote = { service, detail, file: expect.getState().testPath ?? 'unknown file' }
  // One short line per write: O_APPEND keeps lines from parallel files whole.
  appendFileSync(join(dir, SKIP_NOTES_FILE), JSON.stringify(note) + '\n')
}

/** A connection URL fit to print: any password replaced. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable URL)'
  }
}
